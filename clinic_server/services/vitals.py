"""One person's measurements (a downsampled trend for a chart) and their alerts with events.

Both are vitals. The trend carries the person's alerts only for readers who may read their alerts
(nurses: alerts are care data), projected like the queue's; alert events name the nurse and carry
the note only within the reader's own organization.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from clinic_server.access.guard import Guard
from clinic_server.access.policy import Action
from clinic_server.db.models import Alert, AlertEvent, Observation, User
from clinic_server.errors import refused
from clinic_server.services import alert_engine
from clinic_server.services.alerts import (
    WORDED_BY_DIAGNOSIS,
    alert_item,
    event_facts,
    labels_for,
)
from clinic_tui.api.schemas import (
    AlertEventOut,
    ErrorCode,
    ObservationSeries,
    PatientAlert,
    PatientAlerts,
    SeriesAlert,
    SeriesPoint,
    ThresholdLine,
)
from clinic_tui.domain.alerts import RULES, chart_lines, project_inputs
from clinic_tui.domain.categories import Category
from clinic_tui.domain.codes import MEASUREMENTS
from clinic_tui.domain.downsample import lttb

RANGES = {
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
    "1y": timedelta(days=365),
}


def _hidden_rules(conditions_shared: bool) -> set[str]:
    """Rules whose alerts the reader may not see (those that exist only for a diagnosis)."""
    return set() if conditions_shared else {r for r, info in RULES.items() if info.needs_conditions}


def series(guard: Guard, person_id: str, *, loinc: str, range_: str, points: int) -> ObservationSeries:
    """A trend series downsampled (LTTB) to ``points``, with the thresholds and, for nurses, the alerts."""
    access = guard.person(
        person_id, Action.READ_SERIES, verb="read", resource_type="observation", resource_id=loinc
    )
    mt = MEASUREMENTS.get(loinc)
    if mt is None:
        raise refused(
            422, ErrorCode.INVALID_REQUEST, f"unknown measurement code {loinc[:16]!r}", field="loinc"
        )
    session, person = guard.session, access.person
    end = guard.now
    start = end - RANGES[range_]
    rows = session.execute(
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
    out_points = [SeriesPoint(at=times[x], value=y) for x, y in sampled]

    conditions_shared = access.may(Category.CONDITIONS)
    overrides = {o.key for o in alert_engine.overrides_for(session, [person.id])[person.id]}
    th = alert_engine.thresholds_for(session, [person.id])[person.id]
    codes = frozenset(c.code for c in person.conditions) if conditions_shared else None
    lines = chart_lines(loinc, codes)
    thresholds = [
        ThresholdLine(
            key=line.key,
            value=getattr(th, line.key),
            label=line.label,
            direction=line.direction,
            severity=line.severity,
            overridden=line.key in overrides,
        )
        for line in lines
    ]
    if codes is not None and any(line.condition or line.not_condition for line in lines):
        guard.scope.returned({Category.CONDITIONS})  # the lines drawn follow the diagnosis
    alert_out: list[SeriesAlert] = []
    # alerts are care data: only for readers who may read this person's alerts
    if guard.would(Action.READ_PATIENT_ALERTS, access.facts).permitted:
        hidden = _hidden_rules(conditions_shared)
        for a in session.scalars(
            select(Alert)
            .where(
                Alert.person_id == person.id,
                Alert.loinc == loinc,
                Alert.last_seen_at >= start,
                Alert.opened_at <= end,
            )
            .order_by(Alert.opened_at, Alert.id)
        ):
            if a.rule_id in hidden:
                continue
            alert_out.append(
                SeriesAlert(
                    id=a.id,
                    rule_id=a.rule_id,
                    severity=a.severity,
                    state=alert_engine.effective_state(a, guard.now),
                    opened_at=a.opened_at,
                    last_seen_at=a.last_seen_at,
                    value=a.value,
                )
            )
    guard.scope.returned({Category.VITALS})
    guard.scope.note(loinc=loinc, range=range_, total=len(rows), points=len(out_points))
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
        points=out_points,
        thresholds=thresholds,
        alerts=alert_out,
    )


def patient_alerts(guard: Guard, person_id: str, *, limit: int) -> PatientAlerts:
    """The patient's alerts in every state, newest first, each with its events."""
    access = guard.person(person_id, Action.READ_PATIENT_ALERTS, verb="read", resource_type="alert")
    session, person = guard.session, access.person
    conditions_shared = access.may(Category.CONDITIONS)
    hidden = _hidden_rules(conditions_shared)
    stmt = select(Alert).where(Alert.person_id == person.id)
    if hidden:
        stmt = stmt.where(Alert.rule_id.not_in(sorted(hidden)))
    alerts = list(session.scalars(stmt.order_by(Alert.opened_at.desc(), Alert.id.desc()).limit(limit)))
    events: dict[int, list[AlertEventOut]] = {a.id: [] for a in alerts}
    if alerts:
        for ev, who, org in session.execute(
            select(AlertEvent, User.display_name, User.organization_id)
            .join(User, User.id == AlertEvent.user_id)
            .where(AlertEvent.alert_id.in_(list(events)))
            .order_by(AlertEvent.at, AlertEvent.id)
        ):
            ours = org == guard.actor.organization_id
            events[ev.alert_id].append(
                AlertEventOut(
                    at=ev.at,
                    from_state=ev.from_state,
                    to_state=ev.to_state,
                    by=who if ours else None,
                    by_other_organization=not ours,
                    note=ev.note if ours else None,
                    recipient=ev.recipient if ours else None,
                )
            )
    named = access.may(Category.IDENTITY)
    label = labels_for(session, [person.id], {person.id} if named else set())[person.id]
    facts = event_facts(session, alerts, guard.actor.organization_id, guard.user.id)
    items = [
        alert_item(
            a,
            label,
            access.decision,
            guard.now,
            model=PatientAlert,
            inputs=project_inputs(a.rule_id, a.inputs or {}, conditions_shared),
            events=events[a.id],
            escalated_to=facts.escalated_to.get(a.id),
            mine=a.id in facts.mine,
        )
        for a in alerts
    ]
    guard.scope.returned({Category.VITALS} | ({Category.IDENTITY} if named else set()))
    if conditions_shared and any(a.rule_id in WORDED_BY_DIAGNOSIS for a in alerts):
        guard.scope.returned({Category.CONDITIONS})
    guard.scope.note(alerts=len(items))
    return PatientAlerts(person_id=person.id, label=label, items=items)
