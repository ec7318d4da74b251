"""The nurse's alert queue, its change feed, and alert transitions.

Who sees what: a nurse sees the alerts of people whose active consent to her organization covers
vitals (``policy.decide``; break-the-glass opens one record, not the queue), with the name when the
consent also covers identity and the pseudonym otherwise. Only such a nurse may act on an alert.

The queue is a keyset query over ``ix_alert_queue`` (state, severity_rank, opened_at, id): one
ordered, limited index range per state, merged; never a sort of every open alert in Python.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy import ColumnElement, and_, func, literal, or_, select, tuple_, union_all, update
from sqlalchemy.exc import IntegrityError

from clinic_server.access import policy, projection
from clinic_server.access.visibility import DecisionCache
from clinic_server.api.deps import ApiError, Ctx, CtxDep
from clinic_server.db import UTCDateTime, utcnow
from clinic_server.db.models import Alert, AlertEvent, Person, User
from clinic_server.services.alert_engine import ACTIVE_STATES, ALL_STATES, effective_state, member_of
from clinic_tui.api.schemas import AlertChanges, AlertCounts, AlertItem, AlertPage, AlertTransition
from clinic_tui.domain import alert_lifecycle as lifecycle
from clinic_tui.domain.alerts import severity_rank
from clinic_tui.domain.categories import Category
from clinic_tui.domain.codes import MEASUREMENTS

router = APIRouter(prefix="/alerts", tags=["alerts"])

ALERT_CATEGORIES = frozenset({Category.VITALS, Category.IDENTITY})
NOT_PERMITTED = "You do not have access to this alert."
#: how far back each answer of the change feed reaches past the previous one (commit lag)
CHANGES_OVERLAP = timedelta(seconds=5)
CHANGES_MAX = 1000
ACT_REASON = "acting on alerts needs a nurse whose organization the person's consent names, covering vitals"
LIFECYCLE = (
    "The lifecycle is open → acknowledged → resolved or escalated; snooze hides an alert until a time, "
    "reopen brings it back."
)

PAST = {
    "acknowledged": "acknowledged",
    "resolved": "resolved",
    "escalated": "escalated",
    "snoozed": "snoozed",
    "open": "reopened",
}
HINTS = {
    ("resolve", "open"): "acknowledge it first",
    ("escalate", "open"): "acknowledge it first",
    ("acknowledge", "acknowledged"): "it is already acknowledged",
    ("reopen", "open"): "it is already open",
    ("unsnooze", "open"): "it is not snoozed",
    ("unsnooze", "acknowledged"): "it is not snoozed",
}


# --------------------------------------------------------------------------- shared helpers


@dataclass(frozen=True)
class Visible:
    """The people whose alerts the caller may see, those whose name she may see, and their labels."""

    #: sorted once, when decided: every query of the request binds them as they are
    vitals: tuple[str, ...]
    identity: frozenset[str]
    #: for everyone in ``vitals``: the name where identity is shared, the pseudonym otherwise
    labels: Mapping[str, str]


NOBODY = Visible((), frozenset(), MappingProxyType({}))


def visible_people(ctx: Ctx) -> Visible:
    """``policy.decide`` for every person the nurse might see, reused while it holds (visibility.py)."""
    if ctx.actor.role != "nurse":
        return NOBODY
    cache: DecisionCache[Visible] = ctx.request.app.state.visible_cache
    return cache.get(ctx.session, ctx.actor, ctx.now, lambda: _decide_visible(ctx))


def _decide_visible(ctx: Ctx) -> tuple[Visible, datetime | None]:
    ids = policy.candidate_person_ids(ctx.session, ctx.actor, ctx.now)
    facts = policy.load_facts(ctx.session, ctx.actor, ids, ctx.now)
    vitals, identity = set(), set()
    for pid, f in facts.items():
        d = policy.decide(ctx.actor, f, ctx.now, ALERT_CATEGORIES)
        if d.basis == "consent" and Category.VITALS in d.allowed:
            vitals.add(pid)
            if Category.IDENTITY in d.allowed:
                identity.add(pid)
    until = min(
        (t for f in facts.values() if (t := policy.stable_until(f, ctx.now)) is not None), default=None
    )
    labels = MappingProxyType(labels_for(ctx.session, vitals, identity))
    return Visible(tuple(sorted(vitals)), frozenset(identity), labels), until


def labels_for(session, person_ids, identity: frozenset[str] | set[str]) -> dict[str, str]:
    """Name where identity is shared, pseudonym otherwise."""
    out = {pid: projection.pseudonym(pid) for pid in person_ids}
    named = [pid for pid in out if pid in identity]
    for i in range(0, len(named), 500):
        for pid, given, family in session.execute(
            select(Person.id, Person.given_name, Person.family_name).where(Person.id.in_(named[i : i + 500]))
        ):
            out[pid] = f"{given} {family}"
    return out


def alert_item(a: Alert, label: str, now: datetime, model=AlertItem, **extra):
    mt = MEASUREMENTS.get(a.loinc) if a.loinc else None
    state = effective_state(a, now)
    return model(
        id=a.id,
        person_id=a.person_id,
        label=label,
        rule_id=a.rule_id,
        rule_version=a.rule_version,
        severity=a.severity,
        loinc=a.loinc,
        value=a.value,
        unit=mt.unit if mt else None,
        message=a.message,
        state=state,
        opened_at=a.opened_at,
        last_seen_at=a.last_seen_at,
        updated_at=a.updated_at,
        version=a.version,
        snoozed_until=a.snoozed_until if state == "snoozed" else None,
        snoozed_from=a.snoozed_from if state == "snoozed" else None,
        **extra,
    )


def fail(ctx: Ctx, status: int, code: str, message: str, **record) -> ApiError:
    """Refuse a request the policy allowed (bad state, missing note...): roll back, audit, raise."""
    ctx.session.rollback()
    ctx.record(outcome="error", reason=message, **record)
    return ApiError(status, code, message)


def _counts(ctx: Ctx, visible: Sequence[str]) -> AlertCounts:
    counts = {"high": 0, "medium": 0, "low": 0}
    if visible:
        rows = ctx.session.execute(
            select(Alert.severity, func.count())
            .where(
                member_of(ctx.session, Alert.person_id, visible),
                or_(Alert.state == "open", _expired_snooze_back_to("open", ctx.now)),
            )
            .group_by(Alert.severity)
        )
        for sev, n in rows:
            counts[sev] = counts.get(sev, 0) + n
    return AlertCounts(**counts)


# --------------------------------------------------------------------------- cursor


def encode_cursor(rank: int, opened_at: datetime, alert_id: int) -> str:
    raw = json.dumps([rank, opened_at.isoformat(), alert_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        rank, at, alert_id = json.loads(raw)
        opened = datetime.fromisoformat(at)
        if not isinstance(rank, int) or not isinstance(alert_id, int) or opened.tzinfo is None:
            raise ValueError
        return rank, opened, alert_id
    except (ValueError, TypeError, binascii.Error):
        raise ValueError("invalid cursor") from None


# --------------------------------------------------------------------------- queue


def _expired_snooze_back_to(state: str, now: datetime) -> ColumnElement[bool]:
    """Snoozed alerts whose time is up and which so read as ``state`` (lifecycle.effective_state)."""
    back = Alert.snoozed_from == state
    if state == lifecycle.AlertState.OPEN:
        back = or_(back, Alert.snoozed_from.is_(None))
    return and_(Alert.state == "snoozed", Alert.snoozed_until <= now, back)


def _state_parts(state: str, now: datetime) -> list[ColumnElement[bool]]:
    """One condition per index range: ``state = X`` (plus the snooze test where it matters)."""
    if state == "open":
        return [Alert.state == "open", _expired_snooze_back_to("open", now)]
    if state == "active":
        return [Alert.state == s for s in ACTIVE_STATES]
    return [Alert.state == s for s in ALL_STATES]


def page_ids(
    session,
    *,
    parts: list[ColumnElement[bool]],
    filters: list[ColumnElement[bool]],
    after: tuple[int, datetime, int] | None,
    limit: int,
) -> list[tuple[int, int, datetime]]:
    """Keyset page: (id, severity_rank, opened_at) of the next ``limit`` + 1 alerts."""
    key = (Alert.severity_rank, Alert.opened_at, Alert.id)
    selects = []
    for part in parts:
        # each part walks ix_alert_queue in order and stops at the limit (the person filter is
        # built with member_of(drive_index=False) so SQLite does not fetch-and-sort by person)
        stmt = select(Alert.id.label("id"), Alert.severity_rank.label("r"), Alert.opened_at.label("t")).where(
            part, *filters
        )
        if after is not None:
            rank, at, aid = after
            stmt = stmt.where(tuple_(*key) > tuple_(literal(rank), literal(at, UTCDateTime()), literal(aid)))
        selects.append(stmt.order_by(*key).limit(limit + 1))
    if len(selects) == 1:
        return [tuple(r) for r in session.execute(selects[0])]
    merged = union_all(*(select(s.subquery()) for s in selects)).subquery()
    stmt = select(merged.c.id, merged.c.r, merged.c.t).order_by(merged.c.r, merged.c.t, merged.c.id)
    return [tuple(r) for r in session.execute(stmt.limit(limit + 1))]


def _parse_severity(severity: str | None) -> list[int] | None:
    if not severity:
        return None
    ranks = []
    for part in severity.split(","):
        name = part.strip().lower()
        if name not in ("high", "medium", "low"):
            raise ValueError(f"unknown severity {part.strip()!r}: use high, medium or low")
        ranks.append(severity_rank(name))
    return sorted(set(ranks))


@router.get("", response_model=AlertPage, responses={403: {}, 422: {}})
def alert_queue(
    ctx: CtxDep,
    state: Annotated[
        Literal["open", "active", "all"], Query(description="open (default), active, all")
    ] = "open",
    severity: Annotated[
        str | None, Query(max_length=30, description="high, medium, low; comma-separated")
    ] = None,
    q: Annotated[
        str | None,
        Query(max_length=100, description="patient name (where shared), pseudonym, rule or message"),
    ] = None,
    after: Annotated[
        str | None, Query(max_length=200, description="next_cursor of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> AlertPage:
    """The caller's alert queue: most severe first, then oldest first; keyset-paged."""
    purpose = policy.purpose_for(ctx.actor)
    ctx.expect(action="list", resource_type="alert", purpose=purpose)
    if ctx.actor.role != "nurse":
        raise ctx.deny(
            message="The alert queue is for nurses.",
            action="list",
            resource_type="alert",
            reason=f"role {ctx.actor.role!r} has no alert queue",
            purpose=purpose,
        )
    audit_base = {"action": "list", "resource_type": "alert", "purpose": purpose}
    try:
        ranks = _parse_severity(severity)
        cursor = decode_cursor(after) if after else None
    except ValueError as exc:
        raise fail(ctx, 422, "invalid_request", f"{exc}", **audit_base) from None
    visible = visible_people(ctx)
    needle = (q or "").strip().lower()
    rows: list[tuple[int, int, datetime]] = []
    if visible.vitals:
        filters: list[ColumnElement[bool]] = [
            member_of(ctx.session, Alert.person_id, visible.vitals, drive_index=False)
        ]
        if ranks is not None:
            filters.append(Alert.severity_rank.in_(ranks))
        if needle:
            # the name only where identity is shared: a withheld value never decides a match
            by_label = [pid for pid, label in visible.labels.items() if needle in label.lower()]
            filters.append(
                or_(
                    member_of(ctx.session, Alert.person_id, by_label, drive_index=False),
                    func.lower(Alert.rule_id).contains(needle, autoescape=True),
                    func.lower(Alert.message).contains(needle, autoescape=True),
                )
            )
        rows = page_ids(
            ctx.session, parts=_state_parts(state, ctx.now), filters=filters, after=cursor, limit=limit
        )
    more = len(rows) > limit
    rows = rows[:limit]
    by_id = {a.id: a for a in ctx.session.scalars(select(Alert).where(Alert.id.in_([r[0] for r in rows])))}
    alerts = [by_id[r[0]] for r in rows]
    items = [alert_item(a, visible.labels[a.person_id], ctx.now) for a in alerts]
    counts = _counts(ctx, visible.vitals)
    people = sorted({a.person_id for a in alerts})
    named = any(pid in visible.identity for pid in people)
    ctx.record(
        outcome="allowed",
        reason=f"{len(items)} alerts of {len(people)} people with a consent covering vitals",
        categories=({"vitals", "identity"} if named else {"vitals"}) if items else set(),
        details={
            "person_ids": people,
            "state": state,
            "filtered": bool(needle or ranks),
            "paged": bool(after),
        },
        **audit_base,
    )
    last = alerts[-1] if alerts else None
    return AlertPage(
        items=items,
        counts=counts,
        next_cursor=encode_cursor(last.severity_rank, last.opened_at, last.id) if more and last else None,
        server_time=ctx.now,
    )


@router.get("/changes", response_model=AlertChanges, responses={403: {}, 422: {}})
def alert_changes(
    ctx: CtxDep,
    since: Annotated[datetime, Query(description="ISO time with offset: next_since of the previous poll")],
) -> AlertChanges:
    """Alerts (any state) changed since ``since``, for polling; update the queue by id."""
    purpose = policy.purpose_for(ctx.actor)
    audit_base = {"action": "list", "resource_type": "alert", "purpose": purpose}
    ctx.expect(**audit_base)
    if ctx.actor.role != "nurse":
        raise ctx.deny(
            message="The alert queue is for nurses.",
            reason=f"role {ctx.actor.role!r} has no alert queue",
            **audit_base,
        )
    if since.tzinfo is None:
        raise fail(ctx, 422, "invalid_request", "since needs a UTC offset (e.g. ...Z)", **audit_base)
    visible = visible_people(ctx)
    found: dict[int, Alert] = {}
    if visible.vitals:
        mine = member_of(ctx.session, Alert.person_id, visible.vitals)
        for a in ctx.session.scalars(
            select(Alert)
            .where(Alert.updated_at >= since, mine)
            .order_by(Alert.updated_at, Alert.id)
            .limit(CHANGES_MAX + 1)
        ):
            found[a.id] = a
        # snoozes that ran out since the last poll changed state without a write
        for a in ctx.session.scalars(
            select(Alert).where(
                Alert.state == "snoozed", Alert.snoozed_until > since, Alert.snoozed_until <= ctx.now, mine
            )
        ):
            found[a.id] = a
    alerts = sorted(found.values(), key=lambda a: (a.updated_at, a.id))
    truncated = len(alerts) > CHANGES_MAX
    alerts = alerts[:CHANGES_MAX]
    people = sorted({a.person_id for a in alerts})
    named = any(pid in visible.identity for pid in people)
    ctx.record(
        outcome="allowed",
        reason=f"{len(alerts)} changed alerts of {len(people)} people with a consent covering vitals",
        categories=({"vitals", "identity"} if named else {"vitals"}) if alerts else set(),
        details={"person_ids": people, "changes_since": since.isoformat(), "truncated": truncated},
        **audit_base,
    )
    return AlertChanges(
        items=[alert_item(a, visible.labels[a.person_id], ctx.now) for a in alerts],
        counts=_counts(ctx, visible.vitals),
        since=since,
        next_since=ctx.now - CHANGES_OVERLAP,
        truncated=truncated,
    )


# --------------------------------------------------------------------------- transitions


def _conflict(ctx: Ctx, alert_id: int, record: dict) -> ApiError:
    ctx.session.rollback()
    alert = ctx.session.get(Alert, alert_id, populate_existing=True)
    state = effective_state(alert, ctx.now)
    row = ctx.session.execute(
        select(AlertEvent.to_state, AlertEvent.at, User.display_name)
        .join(User, User.id == AlertEvent.user_id)
        .where(AlertEvent.alert_id == alert_id)
        .order_by(AlertEvent.at.desc(), AlertEvent.id.desc())
        .limit(1)
    ).first()
    if row is not None:
        to_state, at, who = row
        message = (
            f"{who} {PAST.get(to_state, to_state)} this alert at {at:%H:%M} UTC on {at:%Y-%m-%d}; "
            f"it is now {state} (version {alert.version}). Reload it and decide again."
        )
    else:
        message = f"This alert changed meanwhile; it is now {state} (version {alert.version}). Reload it."
    ctx.record(outcome="error", reason=f"version conflict: {message}", **record)
    return ApiError(409, "conflict", message)


@router.post("/{alert_id}/transition", response_model=AlertItem, responses={403: {}, 409: {}, 422: {}})
def transition(alert_id: int, body: AlertTransition, ctx: CtxDep) -> AlertItem:
    """acknowledge, resolve, escalate, snooze or reopen, naming the version you saw."""
    purpose = policy.purpose_for(ctx.actor)
    base = {
        "action": "transition",
        "resource_type": "alert",
        "resource_id": str(alert_id),
        "purpose": purpose,
    }
    ctx.expect(**base)
    alert = ctx.session.get(Alert, alert_id)
    if alert is None:
        raise ctx.deny(message=NOT_PERMITTED, reason="no such alert", **base)
    person_id = alert.person_id
    base["person_id"] = person_id
    facts = policy.load_facts(ctx.session, ctx.actor, [person_id], ctx.now).get(person_id)
    decision = policy.decide(ctx.actor, facts, ctx.now, ALERT_CATEGORIES) if facts else None
    if (
        ctx.actor.role != "nurse"
        or decision is None
        or decision.basis != "consent"
        or Category.VITALS not in decision.allowed
    ):
        reason = ACT_REASON
        if decision is not None and not decision.permitted:
            reason = decision.reason
        raise ctx.deny(message=NOT_PERMITTED, reason=reason, **base)
    record = base | {"categories": {"vitals"}}
    current = effective_state(alert, ctx.now)
    if alert.version != body.expected_version:
        raise _conflict(
            ctx, alert_id, record | {"details": {"action": body.action, "expected": body.expected_version}}
        )
    action = lifecycle.AlertAction(body.action)
    if current not in lifecycle.TRANSITIONS[action]:
        hint = HINTS.get((body.action, current))
        message = f"Cannot {body.action} this alert: it is {current}" + (f"; {hint}" if hint else "")
        message += f". {LIFECYCLE}"
        raise fail(ctx, 409, "invalid_transition", message, **record)
    note = (body.note or "").strip() or None
    target = lifecycle.target_state(action, current, alert.snoozed_from)
    if action in lifecycle.NEEDS_NOTE and note is None:
        raise fail(
            ctx,
            422,
            "note_required",
            f"A note is required to {body.action} an alert: say what was done or who took it over.",
            **record,
        )
    snooze_until = None
    if body.action == "snooze":
        snooze_until = body.snooze_until
        if snooze_until is None:
            raise fail(
                ctx, 422, "invalid_request", "Snoozing needs snooze_until: when should it return?", **record
            )
        if snooze_until.tzinfo is None:
            raise fail(ctx, 422, "invalid_request", "snooze_until needs a UTC offset (e.g. ...Z).", **record)
        if snooze_until <= ctx.now:
            raise fail(
                ctx, 422, "invalid_request", "snooze_until is in the past: pick a later time.", **record
            )
        if snooze_until > ctx.now + lifecycle.MAX_SNOOZE:
            raise fail(ctx, 422, "invalid_request", "An alert can be snoozed for at most 30 days.", **record)
    elif body.snooze_until is not None:
        raise fail(ctx, 422, "invalid_request", "snooze_until only goes with the snooze action.", **record)
    if target in lifecycle.ACTIVE_STATES and alert.state not in lifecycle.ACTIVE_STATES:
        other = ctx.session.scalar(
            select(Alert.id).where(
                Alert.person_id == person_id,
                Alert.rule_id == alert.rule_id,
                Alert.state.in_(ACTIVE_STATES),
                Alert.id != alert.id,
            )
        )
        if other is not None:
            raise fail(
                ctx,
                409,
                "invalid_transition",
                f"Cannot reopen: alert {other} for the same rule is already active for this patient; "
                "work on that one.",
                **record,
            )

    changed_at = utcnow()
    try:
        result = ctx.session.execute(
            update(Alert)
            .where(Alert.id == alert_id, Alert.version == body.expected_version)
            .values(
                state=target,
                version=Alert.version + 1,
                updated_at=changed_at,
                snoozed_until=snooze_until,
                # a re-snooze keeps the state the alert returns to; any other action clears it
                snoozed_from=(current if current != "snoozed" else alert.snoozed_from)
                if target == "snoozed"
                else None,
            )
            .execution_options(synchronize_session=False)
        )
    except IntegrityError:
        raise fail(
            ctx,
            409,
            "invalid_transition",
            "Another alert for the same rule became active meanwhile.",
            **record,
        ) from None
    if result.rowcount == 0:
        raise _conflict(
            ctx, alert_id, record | {"details": {"action": body.action, "expected": body.expected_version}}
        )
    ctx.session.add(
        AlertEvent(
            alert_id=alert_id,
            from_state=current,
            to_state=target,
            user_id=ctx.user.id,
            at=changed_at,
            note=note,
        )
    )
    ctx.record(
        outcome="allowed",
        reason=decision.reason,
        details={
            "action": body.action,
            "from": current,
            "to": target,
            "version": body.expected_version + 1,
            "note": note is not None,
        },
        **record,
    )
    ctx.session.refresh(alert)
    named = Category.IDENTITY in decision.allowed
    label = labels_for(ctx.session, [person_id], {person_id} if named else set())[person_id]
    return alert_item(alert, label, ctx.now)
