"""One patient's measurements, alerts and alert thresholds (category vitals) for the patient screen."""

from __future__ import annotations

from dataclasses import fields
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from sqlalchemy import select

from clinic_server.access import policy
from clinic_server.access.policy import Decision
from clinic_server.api.deps import Ctx, CtxDep
from clinic_server.api.routes.alerts import alert_item, fail, labels_for
from clinic_server.db.models import Alert, AlertEvent, Observation, Person, ThresholdOverride, User
from clinic_server.services import alert_engine as alerting
from clinic_tui.api.schemas import (
    AlertEventOut,
    ObservationSeries,
    PatientAlert,
    PatientAlerts,
    SeriesAlert,
    SeriesPoint,
    SeriesRange,
    ThresholdLine,
    ThresholdSettings,
    ThresholdValue,
)
from clinic_tui.domain.alerts import Thresholds
from clinic_tui.domain.categories import Category
from clinic_tui.domain.codes import (
    LOINC_DIASTOLIC,
    LOINC_GLUCOSE,
    LOINC_HEART_RATE,
    LOINC_SPO2,
    LOINC_SYSTOLIC,
    MEASUREMENTS,
)
from clinic_tui.domain.downsample import lttb

router = APIRouter(prefix="/patients", tags=["vitals"])

NOT_PERMITTED = "You do not have access to this person's measurements."
REQUESTED = frozenset({Category.VITALS, Category.IDENTITY, Category.CONDITIONS})
RANGES = {
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
    "1y": timedelta(days=365),
}

#: loinc -> (threshold key, label, direction, severity) lines to draw on that code's chart
LINES: dict[str, list[tuple[str, str, str, str]]] = {
    LOINC_SYSTOLIC: [
        ("bp_grade2_sys", "Grade 2", "above", "medium"),
        ("bp_grade3_sys", "Grade 3", "above", "high"),
    ],
    LOINC_DIASTOLIC: [
        ("bp_grade2_dia", "Grade 2", "above", "medium"),
        ("bp_grade3_dia", "Grade 3", "above", "high"),
    ],
    LOINC_GLUCOSE: [
        ("glucose_l2_low", "Hypo level 2", "below", "high"),
        ("glucose_l1_low", "Hypo level 1", "below", "medium"),
        ("glucose_high", "Hyperglycaemia", "above", "medium"),
    ],
    LOINC_SPO2: [
        ("spo2_low_copd", "Low SpO2 (COPD)", "below", "high"),
        ("spo2_low", "Low SpO2", "below", "high"),
    ],
    LOINC_HEART_RATE: [
        ("hr_low", "Bradycardia", "below", "high"),
        ("hr_high", "Tachycardia", "above", "high"),
    ],
}


def _access(
    ctx: Ctx,
    person_id: str,
    *,
    action: str,
    resource_type: str,
    resource_id: str | None = None,
    nurse_only: bool = False,
    act: bool = False,
) -> tuple[Person, Decision, dict]:
    """Load the person and decide; deny (audited) unless vitals may be read (or, with ``act``, changed)."""
    purpose = policy.purpose_for(ctx.actor)
    base = {
        "action": action,
        "resource_type": resource_type,
        "resource_id": resource_id or person_id[:64],
        "purpose": purpose,
    }
    ctx.expect(**base)
    person = ctx.session.get(Person, person_id) if len(person_id) <= 32 else None
    if person is None:
        raise ctx.deny(message=NOT_PERMITTED, reason="no such person", **base)
    base["person_id"] = person.id
    decision = policy.decide(
        ctx.actor,
        policy.load_facts(ctx.session, ctx.actor, [person.id], ctx.now)[person.id],
        ctx.now,
        REQUESTED,
    )
    base["purpose"] = decision.purpose
    if Category.VITALS not in decision.allowed:
        reason = decision.reason if not decision.permitted else "vitals not shared with this user"
        raise ctx.deny(message=NOT_PERMITTED, reason=reason, **base)
    if (nurse_only or act) and ctx.actor.role != "nurse":
        raise ctx.deny(
            message=NOT_PERMITTED, reason="alerts and thresholds are care data: nurses only", **base
        )
    if act and decision.basis != "consent":
        raise ctx.deny(
            message="Changing thresholds needs a consent naming your organization (not break-the-glass).",
            reason="changing thresholds needs a consent naming the care organization",
            **base,
        )
    return person, decision, base


def _categories(decision: Decision, *extra: Category) -> set[str]:
    return {Category.VITALS, *(c for c in extra if c in decision.allowed)}


# --------------------------------------------------------------------------- series


@router.get("/{person_id}/observations", response_model=ObservationSeries, responses={403: {}, 422: {}})
def observation_series(
    person_id: str,
    ctx: CtxDep,
    loinc: Annotated[str, Query(max_length=16, description="LOINC code, e.g. 8480-6")],
    range_: Annotated[SeriesRange, Query(alias="range")] = "30d",
    points: Annotated[int, Query(ge=3, le=2000, description="chart width: at most this many points")] = 120,
) -> ObservationSeries:
    """A trend series downsampled (LTTB) to ``points``, with the thresholds and alerts in range."""
    person, decision, base = _access(
        ctx, person_id, action="read", resource_type="observation", resource_id=loinc
    )
    mt = MEASUREMENTS.get(loinc)
    if mt is None:
        raise fail(ctx, 422, "invalid_request", f"unknown measurement code {loinc!r}", **base)
    end = ctx.now
    start = end - RANGES[range_]
    rows = ctx.session.execute(
        select(Observation.effective_at, Observation.value)
        .where(
            Observation.person_id == person.id,
            Observation.loinc == loinc,
            Observation.effective_at >= start,
            Observation.effective_at <= end,
        )
        .order_by(Observation.effective_at, Observation.id)
    ).all()
    times = {at.timestamp(): at for at, _ in rows}
    sampled = lttb([(at.timestamp(), value) for at, value in rows], points)
    series = [SeriesPoint(at=times[x], value=y) for x, y in sampled]

    overrides = {o.key for o in alerting.overrides_for(ctx.session, [person.id])[person.id]}
    th = alerting.thresholds_for(ctx.session, [person.id])[person.id]
    lines = LINES.get(loinc, [])
    if loinc == LOINC_SPO2 and Category.CONDITIONS in decision.allowed:
        copd = "copd" in {c.code for c in person.conditions}
        lines = [ln for ln in lines if (ln[0] == "spo2_low_copd") == copd]
    thresholds = [
        ThresholdLine(
            key=k, value=getattr(th, k), label=label, direction=d, severity=s, overridden=k in overrides
        )
        for k, label, d, s in lines
    ]
    alerts = ctx.session.scalars(
        select(Alert)
        .where(
            Alert.person_id == person.id,
            Alert.loinc == loinc,
            Alert.last_seen_at >= start,
            Alert.opened_at <= end,
        )
        .order_by(Alert.opened_at, Alert.id)
    )
    alert_out = [
        SeriesAlert(
            id=a.id,
            rule_id=a.rule_id,
            severity=a.severity,
            state=alerting.effective_state(a, ctx.now),
            opened_at=a.opened_at,
            last_seen_at=a.last_seen_at,
            value=a.value,
        )
        for a in alerts
    ]
    ctx.record(
        outcome="allowed",
        reason=decision.reason,
        categories={Category.VITALS},
        details={"loinc": loinc, "range": range_, "total": len(rows), "points": len(series)},
        **base,
    )
    return ObservationSeries(
        person_id=person.id,
        loinc=loinc,
        key=mt.key,
        display=mt.display,
        unit=mt.unit,
        range=range_,
        start=start,
        end=end,
        total=len(rows),
        points=series,
        thresholds=thresholds,
        alerts=alert_out,
    )


# --------------------------------------------------------------------------- patient alerts


@router.get("/{person_id}/alerts", response_model=PatientAlerts, responses={403: {}})
def patient_alerts(
    person_id: str, ctx: CtxDep, limit: Annotated[int, Query(ge=1, le=500)] = 200
) -> PatientAlerts:
    """The patient's alerts in every state, newest first, each with its events and notes."""
    person, decision, base = _access(ctx, person_id, action="read", resource_type="alert", nurse_only=True)
    alerts = list(
        ctx.session.scalars(
            select(Alert)
            .where(Alert.person_id == person.id)
            .order_by(Alert.opened_at.desc(), Alert.id.desc())
            .limit(limit)
        )
    )
    events: dict[int, list[AlertEventOut]] = {a.id: [] for a in alerts}
    if alerts:
        for ev, who in ctx.session.execute(
            select(AlertEvent, User.display_name)
            .join(User, User.id == AlertEvent.user_id)
            .where(AlertEvent.alert_id.in_(list(events)))
            .order_by(AlertEvent.at, AlertEvent.id)
        ):
            events[ev.alert_id].append(
                AlertEventOut(at=ev.at, from_state=ev.from_state, to_state=ev.to_state, by=who, note=ev.note)
            )
    named = Category.IDENTITY in decision.allowed
    label = labels_for(ctx.session, [person.id], {person.id} if named else set())[person.id]
    items = [
        alert_item(a, label, ctx.now, model=PatientAlert, inputs=a.inputs, events=events[a.id])
        for a in alerts
    ]
    ctx.record(
        outcome="allowed",
        reason=decision.reason,
        categories=_categories(decision, Category.IDENTITY),
        details={"alerts": len(items)},
        **base,
    )
    return PatientAlerts(person_id=person.id, label=label, items=items)


# --------------------------------------------------------------------------- thresholds


def _settings(ctx: Ctx, person_id: str) -> ThresholdSettings:
    rows = alerting.overrides_for(ctx.session, [person_id])[person_id]
    by_key = {r.key: r for r in rows}
    names = (
        dict(
            ctx.session.execute(
                select(User.id, User.display_name).where(User.id.in_({r.set_by_id for r in rows}))
            ).all()
        )
        if rows
        else {}
    )
    default = Thresholds()
    effective = alerting.thresholds_for(ctx.session, [person_id])[person_id]
    items = []
    for f in fields(Thresholds):
        o = by_key.get(f.name)
        items.append(
            ThresholdValue(
                key=f.name,
                value=getattr(effective, f.name),
                default=getattr(default, f.name),
                overridden=o is not None,
                set_by=names.get(o.set_by_id) if o else None,
                set_at=o.set_at if o else None,
            )
        )
    return ThresholdSettings(person_id=person_id, items=items)


@router.get("/{person_id}/thresholds", response_model=ThresholdSettings, responses={403: {}})
def get_thresholds(person_id: str, ctx: CtxDep) -> ThresholdSettings:
    """The effective alert thresholds: defaults, and overrides with who set them when."""
    person, decision, base = _access(
        ctx, person_id, action="read", resource_type="thresholds", nurse_only=True
    )
    out = _settings(ctx, person.id)
    ctx.record(outcome="allowed", reason=decision.reason, categories={Category.VITALS}, **base)
    return out


@router.put("/{person_id}/thresholds", response_model=ThresholdSettings, responses={403: {}, 422: {}})
def put_thresholds(
    person_id: str,
    ctx: CtxDep,
    values: Annotated[dict[str, Any], Body(description="threshold key -> number; null restores the default")],
) -> ThresholdSettings:
    """Override some thresholds for this patient (validated together with the ones already set)."""
    person, decision, base = _access(ctx, person_id, action="update", resource_type="thresholds", act=True)
    if not values:
        raise fail(
            ctx, 422, "invalid_threshold", 'Send at least one threshold, e.g. {"hr_high": 140}.', **base
        )
    existing = {r.key: r for r in alerting.overrides_for(ctx.session, [person.id])[person.id]}
    merged = {k: r.value for k, r in existing.items()}
    for key, value in values.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    unknown = [k for k, v in values.items() if v is None and k not in {f.name for f in fields(Thresholds)}]
    try:
        if unknown:
            raise ValueError(f"unknown threshold {unknown[0]!r}")
        Thresholds().with_overrides(merged)
    except ValueError as exc:
        raise fail(ctx, 422, "invalid_threshold", f"{exc}; nothing was changed", **base) from None
    for key, value in values.items():
        row = existing.get(key)
        if value is None:
            if row is not None:
                ctx.session.delete(row)
        elif row is None:
            ctx.session.add(
                ThresholdOverride(
                    person_id=person.id, key=key, value=float(value), set_by_id=ctx.user.id, set_at=ctx.now
                )
            )
        else:
            row.value, row.set_by_id, row.set_at = float(value), ctx.user.id, ctx.now
    ctx.session.flush()
    out = _settings(ctx, person.id)
    ctx.record(
        outcome="allowed",
        reason=decision.reason,
        categories={Category.VITALS},
        details={
            "set": sorted(k for k, v in values.items() if v is not None),
            "cleared": sorted(k for k, v in values.items() if v is None),
        },
        **base,
    )
    return out
