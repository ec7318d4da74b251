"""The nurse's alert queue, its change feed, and alert transitions.

Who sees what (``policy.ACTIONS[ALERT_QUEUE]``): a nurse sees the alerts of people whose active
consent to her organization covers vitals (break-the-glass opens one record, not the queue), with
the name where the consent also covers identity and the pseudonym otherwise. An alert is data of
the categories it derives from, so it is projected like any record: where conditions are withheld,
an alert of a rule that only runs for a diagnosis (heart-failure weight gain) is not shown at all,
and the others are shown without what the diagnosis chose (the COPD oxygen limit), in their text,
their inputs, the counts and search alike.

The queue is a keyset query over ``ix_alert_queue`` (state, severity_rank, opened_at, id): one
ordered, limited index range per state, merged; never a sort of every open alert in Python.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType

from sqlalchemy import ColumnElement, and_, exists, func, literal_column, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from clinic_server.access.facts import load_facts
from clinic_server.access.guard import Guard
from clinic_server.access.policy import Action, Decision
from clinic_server.access.projection import pseudonym
from clinic_server.access.visible_sql import allows
from clinic_server.db import utcnow
from clinic_server.db.models import Alert, AlertEvent, Person, User
from clinic_server.db.queries import decode_cursor, encode_cursor, keyset_page, member_of
from clinic_server.errors import denied, refused
from clinic_server.services.alert_engine import effective_state
from clinic_tui.api.schemas import (
    AlertChanges,
    AlertCounts,
    AlertItem,
    AlertPage,
    AlertTransition,
    ErrorCode,
)
from clinic_tui.domain import alert_lifecycle as lifecycle
from clinic_tui.domain.alerts import RULES, Severity, project_inputs, severity_rank
from clinic_tui.domain.categories import Category
from clinic_tui.domain.codes import MEASUREMENTS
from clinic_tui.domain.text import fold

log = logging.getLogger("clinic_server.services.alerts")

#: how far back each answer of the change feed reaches past the previous one (commit lag)
CHANGES_OVERLAP = timedelta(seconds=5)
CHANGES_MAX = 1000
#: rules whose alerts exist only for people with a diagnosis
DIAGNOSIS_RULES = tuple(sorted(r for r, info in RULES.items() if info.needs_conditions))
#: rules whose wording or inputs depend on a diagnosis
WORDED_BY_DIAGNOSIS = frozenset(
    r for r, info in RULES.items() if info.condition_inputs or info.needs_conditions
)
LIFECYCLE = (
    "The lifecycle is open → acknowledged → resolved or escalated; snooze hides an alert until a time, "
    "reopen brings it back."
)
#: state reached -> what the English message says was done
PAST = {"open": "reopened"}
#: (action, state) -> what to do instead, for the English message
HINTS = {
    ("resolve", "open"): "acknowledge it first",
    ("escalate", "open"): "acknowledge it first",
    ("acknowledge", "acknowledged"): "it is already acknowledged",
    ("reopen", "open"): "it is already open",
    ("unsnooze", "open"): "it is not snoozed",
    ("unsnooze", "acknowledged"): "it is not snoozed",
}


# --------------------------------------------------------------------------- who and what is shown


@dataclass(frozen=True)
class Visible:
    """The people whose alerts the caller may see, as SQL (``access/visible_sql.py``, which mirrors
    ``policy.decide``): an exact pre-filter, never the authority. Whatever a response shows is
    decided again, per person shown, by ``authorize`` (``shown_people``). Each is a condition on a
    ``person`` row."""

    #: the person's consent to the caller's organization covers vitals (the queue is about them)
    vitals: ColumnElement[bool]
    #: it covers conditions (their diagnosis-only alerts are shown)
    conditions: ColumnElement[bool]
    #: it covers identity (named; their names are told apart)
    identity: ColumnElement[bool]

    def shown(self, session: Session, *, drive_index: bool = True) -> ColumnElement[bool]:
        """Alerts of these people, without the diagnosis-only rules of those who withhold conditions.

        ``drive_index=True`` (the counts: every matching alert is read): ``person_id IN (the
        people)``, which the planner may run as one hash of them. ``False`` (a page: an ordered
        walk of the queue index, stopped at the limit; the change feed: what changed since the last
        poll): a test per alert read, so the query costs the alerts it reads, not the people the
        nurse may see. On PostgreSQL that is a
        correlated ``EXISTS`` under an ``OR`` (so not turned into a join) whose correlation adds a
        redundant ``id >= x`` to ``id = x`` (one primary-key probe still, but not a test the planner
        can hash): a join or a hash would build the set of every visible person first, and the
        planner does not see what that costs (its estimate of the consents' JSON test is far too
        low). On SQLite ``x || ''`` keeps it from driving the query by the person
        index (as in ``db.queries.member_of``)."""
        if drive_index:
            return and_(
                Alert.person_id.in_(select(Person.id).where(self.vitals)),
                or_(
                    Alert.rule_id.not_in(DIAGNOSIS_RULES),
                    Alert.person_id.in_(select(Person.id).where(self.conditions)),
                ),
            )
        if session.get_bind().dialect.name == "postgresql":

            def among(allowed: ColumnElement[bool]) -> ColumnElement[bool]:
                return per_row(Alert.person_id, allowed)

        else:

            def among(allowed: ColumnElement[bool]) -> ColumnElement[bool]:
                return Alert.person_id.concat(literal_column("''")).in_(select(Person.id).where(allowed))

        return and_(among(self.vitals), or_(Alert.rule_id.not_in(DIAGNOSIS_RULES), among(self.conditions)))


def per_row(person_id, allowed: ColumnElement[bool]) -> ColumnElement[bool]:
    """PostgreSQL: ``allowed`` of the person ``person_id`` names, tested once per row of the
    enclosing query (``Visible.shown`` says why: never a join or hash over every visible person)."""
    one = and_(Person.id == person_id, Person.id >= person_id)
    return or_(exists(select(Person.id).where(one, allowed)), literal_column("false"))


@dataclass(frozen=True)
class Shown:
    """The people a response shows, decided one by one (``authorize``), and how much of each."""

    decisions: Mapping[str, Decision]
    identity: frozenset[str]
    conditions: frozenset[str]
    #: the name where identity is shared, the pseudonym otherwise
    labels: Mapping[str, str]

    def may_show(self, a: Alert) -> bool:
        return a.person_id in self.decisions and (
            a.rule_id not in DIAGNOSIS_RULES or a.person_id in self.conditions
        )


def visible_people(guard: Guard, *, verb: str) -> Visible:
    """Who the caller's queue is about, as SQL; refuses (audited) a role that has no queue."""
    guard.about(Action.ALERT_QUEUE, verb=verb, resource_type="alert")
    guard.require_role(Action.ALERT_QUEUE)
    session, actor, now = guard.session, guard.actor, guard.now
    return Visible(
        *(
            allows(session, actor, now, category, consent_only=True)
            for category in (Category.VITALS, Category.CONDITIONS, Category.IDENTITY)
        )
    )


def shown_people(guard: Guard, visible: Visible, person_ids) -> Shown:
    """``authorize`` for each person a response is about to show (a page: at most its limit).

    The SQL pre-filter let them through; ``decide`` is still the authority: anyone it refuses is
    left out of the response (fail closed) and logged as an error, since the two must agree
    (``tests/api/test_visible_sql.py``)."""
    ids = sorted(set(person_ids))
    facts = load_facts(guard.session, guard.actor, ids, guard.now)
    decisions: dict[str, Decision] = {}
    for pid in ids:
        f = facts.get(pid)
        d = guard.would(Action.ALERT_QUEUE, f) if f is not None else None
        if d is None or not d.permitted:
            log.error("alert queue: the SQL visibility let through person %s, whom the policy refuses", pid)
            continue
        decisions[pid] = d
    identity = frozenset(pid for pid, d in decisions.items() if Category.IDENTITY in d.allowed)
    conditions = frozenset(pid for pid, d in decisions.items() if Category.CONDITIONS in d.allowed)
    labels = queue_labels(guard.session, visible, decisions, identity)
    return Shown(MappingProxyType(decisions), identity, conditions, MappingProxyType(labels))


def _everyone(guard: Guard, visible: Visible) -> Shown:
    """Everyone the caller may see, decided one by one: what a search by label needs (it matches
    the label of every person in the queue, not only of those on a page)."""
    decisions = guard.people(Action.ALERT_QUEUE, verb="list", resource_type="alert")
    identity = frozenset(pid for pid, d in decisions.items() if Category.IDENTITY in d.allowed)
    conditions = frozenset(pid for pid, d in decisions.items() if Category.CONDITIONS in d.allowed)
    labels = labels_for(guard.session, decisions, identity)
    return Shown(MappingProxyType(decisions), identity, conditions, MappingProxyType(labels))


def _full_name(given, family):
    return given + " " + family


def queue_labels(session: Session, visible: Visible, person_ids, identity: frozenset[str]) -> dict[str, str]:
    """``labels_for`` of these people as the whole queue tells them apart: a name is qualified where
    another person named in the queue (anyone whose consent covers vitals and identity) has it
    too. Only the people sharing a name with one of these are read: three small statements (the
    names; who bears them; which of those the queue names), none over every visible person."""
    out = {pid: pseudonym(pid) for pid in person_ids}
    named = [pid for pid in out if pid in identity]
    if not named:
        return out
    names = sorted(
        set(
            session.scalars(
                select(_full_name(Person.given_name, Person.family_name)).where(
                    member_of(session, Person.id, named)
                )
            )
        )
    )
    found = session.execute(
        select(
            Person.id, Person.given_name, Person.family_name, Person.birth_date, Person.personnummer
        ).where(_full_name(Person.given_name, Person.family_name).in_(names))
    ).all()
    # of those, the ones named in the queue (tested per row: not a join over every consent)
    both = and_(visible.vitals, visible.identity)
    other = aliased(Person)
    if session.get_bind().dialect.name == "postgresql":
        stmt = select(other.id).where(
            member_of(session, other.id, [r[0] for r in found]), per_row(other.id, both)
        )
    else:
        stmt = select(Person.id).where(member_of(session, Person.id, [r[0] for r in found]), both)
    queued = set(session.scalars(stmt))
    rows = [r for r in found if r[0] in queued]
    for pid, label in _qualified(rows).items():
        if pid in identity and pid in out:  # only the people decide names (the SQL only counts)
            out[pid] = label
    return out


def labels_for(session: Session, person_ids, identity: frozenset[str] | set[str]) -> dict[str, str]:
    """Name where identity is shared, pseudonym otherwise. People who share a name are told apart
    by their birth date, and where that is shared too by their personnummer (issue 13.11): both
    are identity, which the reader has for everyone named."""
    out = {pid: pseudonym(pid) for pid in person_ids}
    named = [pid for pid in out if pid in identity]
    rows = []
    if named:
        rows = session.execute(
            select(
                Person.id, Person.given_name, Person.family_name, Person.birth_date, Person.personnummer
            ).where(member_of(session, Person.id, named))
        ).all()
    out.update(_qualified(rows))
    return out


def _qualified(rows) -> dict[str, str]:
    """Each row's name, qualified where another row has the same (birth date, then personnummer)."""
    out: dict[str, str] = {}
    names = Counter(f"{given} {family}" for _pid, given, family, _born, _pnr in rows)
    born = Counter((f"{given} {family}", b) for _pid, given, family, b, _pnr in rows)
    for pid, given, family, birth, pnr in rows:
        name = f"{given} {family}"
        if names[name] == 1:
            out[pid] = name
        elif born[(name, birth)] == 1:
            out[pid] = f"{name} ({birth.isoformat()})"
        else:
            out[pid] = f"{name} ({pnr[:8]}-{pnr[8:]})"
    return out


def alert_item(a: Alert, label: str, decision: Decision, now: datetime, model=AlertItem, **extra):
    """One alert as the reader may see it (text and inputs projected to the decision)."""
    mt = MEASUREMENTS.get(a.loinc) if a.loinc else None
    state = effective_state(a, now)
    conditions = Category.CONDITIONS in decision.allowed
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
        message=a.message if conditions else a.neutral_message,
        params=project_inputs(a.rule_id, a.inputs or {}, conditions),
        state=state,
        opened_at=a.opened_at,
        last_seen_at=a.last_seen_at,
        updated_at=a.updated_at,
        version=a.version,
        snoozed_until=a.snoozed_until if state == lifecycle.AlertState.SNOOZED else None,
        snoozed_from=a.snoozed_from if state == lifecycle.AlertState.SNOOZED else None,
        **extra,
    )


@dataclass(frozen=True)
class EventFacts:
    """What an answer says of its alerts from their history, read once (``event_facts``)."""

    #: alert id -> who an escalated alert was handed to, where a nurse of the reader's organization
    #: escalated it (like a note, the name stays within the organization that wrote it)
    escalated_to: Mapping[int, str]
    #: ids of the alerts whose latest event is the reader's (she took it on last)
    mine: frozenset[int]


def event_facts(session: Session, alerts: Sequence[Alert], organization_id: str, user_id: str) -> EventFacts:
    """One read of the alerts' events, in order: each escalated alert's recipient as the reader's
    organization may see it, and whether the reader acted last."""
    ids = [a.id for a in alerts]
    if not ids:
        return EventFacts({}, frozenset())
    escalated = {a.id for a in alerts if a.state == lifecycle.AlertState.ESCALATED}
    to: dict[int, str] = {}
    last: dict[int, str | None] = {}
    for alert_id, actor, to_state, recipient, org in session.execute(
        select(
            AlertEvent.alert_id,
            AlertEvent.user_id,
            AlertEvent.to_state,
            AlertEvent.recipient,
            User.organization_id,
        )
        .outerjoin(User, User.id == AlertEvent.user_id)
        .where(AlertEvent.alert_id.in_(ids))
        .order_by(AlertEvent.at, AlertEvent.id)
    ):
        last[alert_id] = actor
        if alert_id in escalated and to_state == lifecycle.AlertState.ESCALATED:
            if org == organization_id and recipient:
                to[alert_id] = recipient
            else:
                to.pop(alert_id, None)
    return EventFacts(to, frozenset(i for i, actor in last.items() if actor == user_id))


def last_actor() -> ColumnElement:
    """The user of an alert's latest event (acknowledge, snooze, escalate, resolve, reopen...),
    correlated with ``Alert``: who last took it on."""
    return (
        select(AlertEvent.user_id)
        .where(AlertEvent.alert_id == Alert.id)
        .order_by(AlertEvent.at.desc(), AlertEvent.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def disclosed(alerts: Sequence[Alert], visible: Shown) -> dict[str, set[Category]]:
    """The categories each person's alerts in a response carry."""
    out: dict[str, set[Category]] = {}
    for a in alerts:
        cats = out.setdefault(a.person_id, {Category.VITALS})
        if a.person_id in visible.identity:
            cats.add(Category.IDENTITY)
        if a.person_id in visible.conditions and a.rule_id in WORDED_BY_DIAGNOSIS:
            cats.add(Category.CONDITIONS)
    return out


def _expired_snooze_back_to(state: str, now: datetime) -> ColumnElement[bool]:
    """Snoozed alerts whose time is up and which so read as ``state`` (lifecycle.effective_state)."""
    back = Alert.snoozed_from == state
    if state == lifecycle.AlertState.OPEN:
        back = or_(back, Alert.snoozed_from.is_(None))
    return and_(Alert.state == lifecycle.AlertState.SNOOZED, Alert.snoozed_until <= now, back)


def counts(session: Session, visible: Visible, now: datetime) -> AlertCounts:
    """Alerts not yet acknowledged (open, or back from a snooze as open), per severity."""
    found = {s: 0 for s in Severity}
    rows = session.execute(
        select(Alert.severity, func.count())
        .where(
            visible.shown(session),
            or_(Alert.state == lifecycle.AlertState.OPEN, _expired_snooze_back_to("open", now)),
        )
        .group_by(Alert.severity)
    )
    for sev, n in rows:
        found[Severity(sev)] += n
    return AlertCounts(**{str(s): n for s, n in found.items()})


# --------------------------------------------------------------------------- queue


def state_parts(state: str, now: datetime) -> list[ColumnElement[bool]]:
    """One condition per index range: ``state = X`` (plus the snooze test where it matters)."""
    if state == "open":
        return [Alert.state == lifecycle.AlertState.OPEN, _expired_snooze_back_to("open", now)]
    if state == lifecycle.AlertState.SNOOZED:  # a snooze whose time is up reads as open or acknowledged
        return [and_(Alert.state == lifecycle.AlertState.SNOOZED, Alert.snoozed_until > now)]
    if state in (lifecycle.AlertState.ESCALATED, lifecycle.AlertState.RESOLVED):
        return [Alert.state == state]
    if state == "mine":  # taken on: acknowledged, snoozed (unless back as open), escalated
        return [
            Alert.state == lifecycle.AlertState.ACKNOWLEDGED,
            and_(
                Alert.state == lifecycle.AlertState.SNOOZED,
                or_(Alert.snoozed_until > now, Alert.snoozed_from == lifecycle.AlertState.ACKNOWLEDGED),
            ),
            Alert.state == lifecycle.AlertState.ESCALATED,
        ]
    states = lifecycle.ACTIVE_STATES if state == "active" else lifecycle.AlertState
    return [Alert.state == s for s in sorted(states)]


QUEUE_KEY = (Alert.severity_rank, Alert.opened_at, Alert.id)


def _parse_severity(severity: str | None) -> list[int] | None:
    if not severity:
        return None
    ranks = []
    for part in severity.split(","):
        name = part.strip().lower()
        if name not in Severity._value2member_map_:
            raise refused(
                422,
                ErrorCode.INVALID_REQUEST,
                f"unknown severity {part.strip()[:20]!r}: use high, medium or low",
                field="severity",
            )
        ranks.append(severity_rank(name))
    return sorted(set(ranks))


def queue(
    guard: Guard,
    *,
    state: str,
    severity: str | None,
    q: str | None,
    after: str | None,
    limit: int,
    resolved_since: datetime | None = None,
):
    """The caller's alert queue: most severe first, then oldest first; keyset-paged.

    ``state="mine"``: the alerts the caller has taken on and not resolved — acknowledged, snoozed
    or escalated, whose latest event (``alert_event``) is hers; a colleague who acts on one after
    her makes it the colleague's.

    ``resolved_since`` (state "resolved" only) keeps the alerts resolved at or after it: the
    client sends its user's local midnight for "resolved today". A resolved alert's
    ``updated_at`` is when it was resolved: the alert engine merges findings only into active
    alerts, and any transition out of resolved (reopen) makes it something else.
    """
    ranks = _parse_severity(severity)
    if resolved_since is not None and state != lifecycle.AlertState.RESOLVED:
        raise refused(
            422,
            ErrorCode.INVALID_REQUEST,
            "resolved_since only goes with state=resolved.",
            field="resolved_since",
        )
    try:
        cursor = decode_cursor(after) if after else None
    except ValueError:
        raise refused(
            422, ErrorCode.INVALID_REQUEST, "after: not a cursor this server gave out", field="after"
        ) from None
    visible = visible_people(guard, verb="list")
    session, now = guard.session, guard.now
    needle = fold((q or "").strip())
    filters: list[ColumnElement[bool]] = [visible.shown(session, drive_index=False)]
    if ranks is not None:
        filters.append(Alert.severity_rank.in_(ranks))
    everyone = None
    if needle:
        # a search matches the label of anyone in the queue: it needs everyone's decision
        everyone = _everyone(guard, visible)
        filters.append(_matches(session, everyone, needle))
    if resolved_since is not None:
        filters.append(Alert.updated_at >= resolved_since)
    if state == "mine":
        filters.append(last_actor() == guard.user.id)
    rows = keyset_page(
        session, key=QUEUE_KEY, parts=state_parts(state, now), filters=filters, after=cursor, limit=limit
    )
    more = len(rows) > limit
    rows = rows[:limit]
    by_id = {a.id: a for a in session.scalars(select(Alert).where(Alert.id.in_([r[2] for r in rows])))}
    alerts = [by_id[r[2]] for r in rows]
    shown = everyone or shown_people(guard, visible, (a.person_id for a in alerts))
    alerts = _fail_closed(alerts, shown)
    items = _items(guard, alerts, shown)
    guard.disclose(disclosed(alerts, shown), shown.decisions)
    guard.scope.note(state=state, filtered=bool(needle or ranks), paged=bool(after))
    if resolved_since is not None:
        guard.scope.note(resolved_since=resolved_since.isoformat())
    guard.scope.reason = f"{len(items)} alerts of people with a consent covering vitals"
    last = alerts[-1] if alerts else None
    return AlertPage(
        items=items,
        counts=counts(session, visible, now),
        next_cursor=encode_cursor(last.severity_rank, last.opened_at, last.id) if more and last else None,
        server_time=now,
    )


def _items(guard: Guard, alerts: Sequence[Alert], shown: Shown) -> list[AlertItem]:
    """The alerts of a queue answer as sent, each projected by its person's decision."""
    facts = event_facts(guard.session, alerts, guard.actor.organization_id, guard.user.id)
    return [
        alert_item(
            a,
            shown.labels[a.person_id],
            shown.decisions[a.person_id],
            guard.now,
            escalated_to=facts.escalated_to.get(a.id),
            mine=a.id in facts.mine,
        )
        for a in alerts
    ]


def _fail_closed(alerts: list[Alert], shown: Shown) -> list[Alert]:
    """The alerts ``authorize`` lets the response show; any other is a disagreement of the SQL
    pre-filter with the policy: left out, and logged."""
    kept = [a for a in alerts if shown.may_show(a)]
    if len(kept) != len(alerts):
        log.error("alert queue: %d alerts the policy refuses were left out", len(alerts) - len(kept))
    return kept


def _matches(session: Session, visible: Shown, needle: str) -> ColumnElement[bool]:
    """Search over what the reader may see: a withheld value never decides a match.

    The shared name or the pseudonym, the rule, and the message as projected: the full one where
    conditions are shared, the neutral one elsewhere.
    """
    by_label = [pid for pid, label in visible.labels.items() if needle in fold(label)]
    with_conditions = [pid for pid in sorted(visible.decisions) if pid in visible.conditions]
    without = [pid for pid in sorted(visible.decisions) if pid not in visible.conditions]
    like = "%" + _escape_like(needle) + "%"
    return or_(
        member_of(session, Alert.person_id, by_label, drive_index=False),
        func.lower(Alert.rule_id).like(like, escape="\\"),
        and_(
            member_of(session, Alert.person_id, with_conditions, drive_index=False),
            func.lower(Alert.message).like(like, escape="\\"),
        ),
        and_(
            member_of(session, Alert.person_id, without, drive_index=False),
            func.lower(Alert.neutral_message).like(like, escape="\\"),
        ),
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def changes(guard: Guard, *, since: datetime) -> AlertChanges:
    """Alerts (any state) changed since ``since``, for polling; the client updates the queue by id."""
    if since.tzinfo is None:
        raise refused(422, ErrorCode.INVALID_REQUEST, "since needs a UTC offset (e.g. ...Z)", field="since")
    visible = visible_people(guard, verb="list")
    session, now = guard.session, guard.now
    found: dict[int, Alert] = {}
    # tested per alert read: the feed reads what changed (at most CHANGES_MAX + 1), not the queue
    filtered = visible.shown(session, drive_index=False)
    for a in session.scalars(
        select(Alert)
        .where(Alert.updated_at >= since, filtered)
        .order_by(Alert.updated_at, Alert.id)
        .limit(CHANGES_MAX + 1)
    ):
        found[a.id] = a
    # snoozes that ran out since the last poll changed state without a write
    for a in session.scalars(
        select(Alert).where(
            Alert.state == lifecycle.AlertState.SNOOZED,
            Alert.snoozed_until > since,
            Alert.snoozed_until <= now,
            filtered,
        )
    ):
        found[a.id] = a
    alerts = sorted(found.values(), key=lambda a: (a.updated_at, a.id))
    truncated = len(alerts) > CHANGES_MAX
    alerts = alerts[:CHANGES_MAX]
    shown = shown_people(guard, visible, (a.person_id for a in alerts))
    alerts = _fail_closed(alerts, shown)
    guard.disclose(disclosed(alerts, shown), shown.decisions)
    guard.scope.note(changes_since=since.isoformat(), truncated=truncated)
    guard.scope.reason = f"{len(alerts)} changed alerts of people with a consent covering vitals"
    return AlertChanges(
        items=_items(guard, alerts, shown),
        counts=counts(session, visible, now),
        since=since,
        next_since=now - CHANGES_OVERLAP,
        truncated=truncated,
    )


# --------------------------------------------------------------------------- transitions


def _conflict(guard: Guard, alert_id: int, action: str, expected: int):
    """Someone changed the alert first: say who did what, when, and what it is now."""
    session = guard.session
    session.rollback()
    alert = session.get(Alert, alert_id, populate_existing=True)
    state = effective_state(alert, guard.now)
    row = session.execute(
        select(AlertEvent.to_state, AlertEvent.at, User.display_name, User.organization_id)
        .join(User, User.id == AlertEvent.user_id)
        .where(AlertEvent.alert_id == alert_id)
        .order_by(AlertEvent.at.desc(), AlertEvent.id.desc())
        .limit(1)
    ).first()
    params: dict = {"state": str(state), "version": alert.version}
    if row is not None:
        to_state, at, who, org = row
        if org == guard.actor.organization_id:
            params["by"] = who
        params.update(to_state=to_state, at=at.isoformat())
        message = (
            f"{params.get('by', 'Someone')} {PAST.get(to_state, to_state)} this alert at {at:%H:%M} UTC on "
            f"{at:%Y-%m-%d}; it is now {state} (version {alert.version}). Reload it and decide again."
        )
    else:
        message = f"This alert changed meanwhile; it is now {state} (version {alert.version}). Reload it."
    guard.scope.note(action=action, expected=expected)
    return refused(409, ErrorCode.CONFLICT, message, **params)


def transition(guard: Guard, alert_id: int, body: AlertTransition) -> AlertItem:
    """acknowledge, resolve, escalate, snooze, unsnooze or reopen, naming the version seen."""
    session, now = guard.session, guard.now
    # the record names the action itself (acknowledge, resolve...); older records say "transition"
    # with the action in their details, and the audit log shows and finds both by the same name
    guard.about(Action.ACT_ON_ALERT, verb=str(body.action), resource_type="alert", resource_id=str(alert_id))
    alert = session.get(Alert, alert_id) if 0 < alert_id <= 2**31 - 1 else None
    if alert is None:
        raise denied("no such alert")
    access = guard.access(session.get(Person, alert.person_id), Action.ACT_ON_ALERT)
    conditions = Category.CONDITIONS in access.allowed
    if RULES[alert.rule_id].needs_conditions and not conditions:
        raise denied("the alert derives from conditions, which are not shared with this user")
    guard.scope.returned({Category.VITALS})
    action = lifecycle.AlertAction(body.action)
    current = effective_state(alert, now)
    if alert.version != body.expected_version:
        raise _conflict(guard, alert_id, action, body.expected_version)
    if current not in lifecycle.TRANSITIONS[action]:
        hint = HINTS.get((action, current))
        raise refused(
            409,
            ErrorCode.INVALID_TRANSITION,
            f"Cannot {action} this alert: it is {current}" + (f"; {hint}" if hint else "") + f". {LIFECYCLE}",
            action=str(action),
            state=str(current),
        )
    target = lifecycle.target_state(action, current, alert.snoozed_from)
    note = (body.note or "").strip() or None
    if action in lifecycle.NEEDS_NOTE and note is None:
        raise refused(
            422,
            ErrorCode.NOTE_REQUIRED,
            f"A note is required to {action} an alert: say what was done or who took it over.",
            action=str(action),
        )
    recipient = _recipient(action, body)
    snooze_until = _snooze_until(action, body, now)
    if target in lifecycle.ACTIVE_STATES and alert.state not in lifecycle.ACTIVE_STATES:
        other = session.scalar(
            select(Alert.id).where(
                Alert.person_id == alert.person_id,
                Alert.rule_id == alert.rule_id,
                Alert.state.in_(sorted(lifecycle.ACTIVE_STATES)),
                Alert.id != alert.id,
            )
        )
        if other is not None:
            raise refused(
                409,
                ErrorCode.INVALID_TRANSITION,
                f"Cannot reopen: alert {other} for the same rule is already active for this patient.",
                action=str(action),
                state=str(current),
                other_alert=other,
            )
    changed_at = utcnow()
    try:
        result = session.execute(
            update(Alert)
            .where(Alert.id == alert_id, Alert.version == body.expected_version)
            .values(
                state=target,
                version=Alert.version + 1,
                updated_at=changed_at,
                snoozed_until=snooze_until,
                # a re-snooze keeps the state the alert returns to; any other action clears it
                snoozed_from=(current if current != lifecycle.AlertState.SNOOZED else alert.snoozed_from)
                if target == lifecycle.AlertState.SNOOZED
                else None,
            )
            .execution_options(synchronize_session=False)
        )
    except IntegrityError:
        raise refused(
            409,
            ErrorCode.INVALID_TRANSITION,
            "Another alert for the same rule became active meanwhile.",
            action=str(action),
            state=str(current),
        ) from None
    if result.rowcount == 0:
        raise _conflict(guard, alert_id, action, body.expected_version)
    session.add(
        AlertEvent(
            alert_id=alert_id,
            from_state=current,
            to_state=target,
            user_id=guard.user.id,
            at=changed_at,
            note=note,
            recipient=recipient,
        )
    )
    guard.scope.note(
        action=str(action),
        **{"from": str(current)},
        to=str(target),
        version=body.expected_version + 1,
        note=note is not None,
        recipient=recipient is not None,
    )  # fmt: skip  (whether there was a note or a recipient: never their text)
    session.flush()
    session.refresh(alert)
    named = Category.IDENTITY in access.allowed
    label = labels_for(session, [alert.person_id], {alert.person_id} if named else set())[alert.person_id]
    if named:
        guard.scope.returned({Category.IDENTITY})
    if conditions and alert.rule_id in WORDED_BY_DIAGNOSIS:
        guard.scope.returned({Category.CONDITIONS})
    facts = event_facts(session, [alert], guard.actor.organization_id, guard.user.id)
    return alert_item(
        alert,
        label,
        access.decision,
        now,
        escalated_to=facts.escalated_to.get(alert.id),
        mine=alert.id in facts.mine,
    )


def _recipient(action: lifecycle.AlertAction, body: AlertTransition) -> str | None:
    """Escalating names who takes it over; no other action takes a recipient."""
    recipient = (body.recipient or "").strip() or None
    if action != lifecycle.AlertAction.ESCALATE:
        if recipient is not None:
            raise refused(
                422,
                ErrorCode.INVALID_REQUEST,
                "recipient only goes with the escalate action.",
                field="recipient",
            )
        return None
    if recipient is None:
        raise refused(
            422,
            ErrorCode.RECIPIENT_REQUIRED,
            "Escalating needs a recipient: name who takes it over (e.g. Dr. Lind, cardiology).",
            action=str(action),
            field="recipient",
        )
    return recipient


def _snooze_until(action: lifecycle.AlertAction, body: AlertTransition, now: datetime) -> datetime | None:
    if action != lifecycle.AlertAction.SNOOZE:
        if body.snooze_until is not None:
            raise refused(
                422,
                ErrorCode.INVALID_REQUEST,
                "snooze_until only goes with the snooze action.",
                field="snooze_until",
            )
        return None
    until = body.snooze_until
    if until is None:
        raise refused(
            422,
            ErrorCode.INVALID_REQUEST,
            "Snoozing needs snooze_until: when should it return?",
            field="snooze_until",
        )
    if until.tzinfo is None:
        raise refused(
            422,
            ErrorCode.INVALID_REQUEST,
            "snooze_until needs a UTC offset (e.g. ...Z).",
            field="snooze_until",
        )
    if until <= now:
        raise refused(
            422,
            ErrorCode.INVALID_REQUEST,
            "snooze_until is in the past: pick a later time.",
            field="snooze_until",
        )
    if until > now + lifecycle.MAX_SNOOZE:
        raise refused(
            422,
            ErrorCode.INVALID_REQUEST,
            "An alert can be snoozed for at most 30 days.",
            field="snooze_until",
        )
    return until
