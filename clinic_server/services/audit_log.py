"""The supervisor's audit duties: the access log, one record in full, the export, the chain check,
break-the-glass reviews and their verdicts.

A supervisor sees the records of her own organization's users, and of the records no user can be
named for: those about nobody in particular (the minute's aggregate of unauthenticated failures,
scheduled jobs), and device writes about people who gave her organization a consent (the data is
written for the organizations the person consented to; another organization's patient is not hers
to see). ``visible_events`` says so once for the log, one record and the export. Records carry who,
what, when, why and the outcome, never a value of personal data (a person appears by id only).

The log hides routine records by default (the screens' polling, token refreshes, device writes,
background jobs: ``clinic_tui.domain.findings.ROUTINE_ACTIONS``), counting what it hid; it can fold
them instead, or show them. Alert actions are named in the records (acknowledge, resolve, ...);
records from before, stored as "transition" with the action in the details, are shown and found by
the same names.
"""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy import ColumnElement, Select, and_, func, not_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from clinic_server.access.guard import Guard
from clinic_server.access.policy import Action
from clinic_server.audit.chain import verify
from clinic_server.db.models import AuditEvent, BreakGlassGrant, BreakGlassVerdict, Consent, User
from clinic_server.errors import refused
from clinic_tui.api.schemas import (
    AuditEventOut,
    AuditFold,
    AuditPage,
    AuditVerifyOut,
    BreakGlassReview,
    BreakGlassReviewList,
    ErrorCode,
    VerdictOut,
)
from clinic_tui.api.schemas.monitoring import AuditExport, AuditRecordOut, GrantDetail
from clinic_tui.domain.alert_lifecycle import AlertAction
from clinic_tui.domain.findings import ROUTINE_ACTIONS, GrantState, Verdict, is_routine
from clinic_tui.domain.roles import Outcome, Purpose

#: the most records one export holds (continue from ``next_before_seq``)
EXPORT_MAX = 100_000
#: routine=fold reads at most this many records for one page
FOLD_BUDGET = 5_000
#: routine=hide counts the hidden records up to this many
HIDDEN_COUNT_MAX = 10_000
#: the ways routine records may be shown
ROUTINE_MODES = ("hide", "fold", "show")
_ALERT_ACTIONS = tuple(sorted(str(a) for a in AlertAction))
_PERSON_FILTER = re.compile(r"^(?:patient\s+)?([0-9a-f]{6,32})$")


def action_name(action: str, details: dict | None) -> str:
    """The action as people name it: alert actions were recorded as "transition" with the action
    in the details before the record named them itself."""
    if action == "transition" and isinstance(details, dict) and details.get("action") in _ALERT_ACTIONS:
        return str(details["action"])
    return action


def event_out(e: AuditEvent) -> AuditEventOut:
    out = AuditEventOut.model_validate(e, from_attributes=True)
    return out.model_copy(
        update={"action_name": action_name(e.action, e.details), "routine": is_routine(e.action, e.outcome)}
    )


def visible_events(guard: Guard) -> Select:
    """The records a supervisor may see (the log, one record, the export all start here): her own
    organization's users' records; of the records no user can be named for, those about nobody in
    particular and device writes about people who consented to her organization."""
    org = guard.actor.organization_id
    consented = select(Consent.person_id).where(Consent.organization_id == org)
    return select(AuditEvent).where(
        or_(
            AuditEvent.organization_id == org,
            and_(
                AuditEvent.organization_id.is_(None),
                or_(AuditEvent.person_id.is_(None), AuditEvent.person_id.in_(consented)),
            ),
        )
    )


def person_clause(value: str) -> ColumnElement[bool]:
    """``person:`` takes the id the log shows: the full id, its first 6 or more characters, or the
    pseudonym ("Patient 3fa2c1"). A prefix is a range of the index, not a LIKE."""
    m = _PERSON_FILTER.match(value.strip().lower())
    if m is None:
        raise refused(
            422,
            ErrorCode.INVALID_REQUEST,
            "person: give the person's id as the log shows it (6 to 32 characters 0-9, a-f)",
            outcome=Outcome.DENIED,
            field="person_id",
        )
    prefix = m.group(1)
    if len(prefix) == 32:
        return AuditEvent.person_id == prefix
    return and_(AuditEvent.person_id >= prefix, AuditEvent.person_id < prefix + "g")


def action_clause(value: str) -> ColumnElement[bool]:
    """``action:`` names alert actions too: acknowledge finds records of it stored either way, and
    transition finds every alert action."""
    value = value.strip().lower()
    if value == "transition":
        return or_(
            AuditEvent.action == "transition",
            and_(AuditEvent.action.in_(_ALERT_ACTIONS), AuditEvent.resource_type == "alert"),
        )
    if value in _ALERT_ACTIONS:
        return or_(
            AuditEvent.action == value,
            and_(AuditEvent.action == "transition", AuditEvent.details["action"].as_string() == value),
        )
    return AuditEvent.action == value


def routine_clause() -> ColumnElement[bool]:
    return and_(AuditEvent.outcome == Outcome.ALLOWED, AuditEvent.action.in_(sorted(ROUTINE_ACTIONS)))


@dataclass(frozen=True)
class LogFilter:
    """What the supervisor asked of the log (as the audit record notes it)."""

    username: str | None = None
    person_id: str | None = None
    outcome: str | None = None
    action: str | None = None

    @classmethod
    def of(cls, *, username=None, person_id=None, outcome=None, action=None) -> LogFilter:
        return cls(
            username.strip().lower() if username and username.strip() else None,
            person_id.strip().lower() if person_id and person_id.strip() else None,
            outcome or None,
            action.strip().lower() if action and action.strip() else None,
        )

    def noted(self) -> dict[str, str]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v}

    def clauses(self) -> list[ColumnElement[bool]]:
        out = []
        if self.username:
            out.append(AuditEvent.username == self.username)
        if self.person_id:
            out.append(person_clause(self.person_id))
        if self.outcome:
            out.append(AuditEvent.outcome == self.outcome)
        if self.action:
            out.append(action_clause(self.action))
        return out

    def about_person(self) -> str | None:
        """The person the query is about, when it names one in full."""
        if self.person_id:
            m = _PERSON_FILTER.match(self.person_id)
            if m and len(m.group(1)) == 32:
                return m.group(1)
        return None


def events(
    guard: Guard,
    *,
    before_seq: int | None,
    limit: int,
    username: str | None,
    person_id: str | None,
    outcome: str | None,
    action: str | None,
    routine: str = "hide",
) -> AuditPage:
    """The audit log, newest first, keyset-paged by sequence number; routine records hidden
    (counted), folded, or shown."""
    wanted = LogFilter.of(username=username, person_id=person_id, outcome=outcome, action=action)
    filters = wanted.noted()
    guard.duty(Action.READ_AUDIT, verb="audit_query", resource_type="audit_event")
    guard.scope.about(person_id=wanted.about_person())
    stmt = visible_events(guard)
    if before_seq is not None:
        stmt = stmt.where(AuditEvent.seq < before_seq)
    stmt = stmt.where(*wanted.clauses())
    if routine == "fold":
        page = _folded(guard, stmt, limit)
    else:
        if routine == "hide":
            stmt = stmt.where(not_(routine_clause()))
        rows = list(guard.session.scalars(stmt.order_by(AuditEvent.seq.desc()).limit(limit + 1)))
        more = len(rows) > limit
        rows = rows[:limit]
        page = AuditPage(items=[event_out(e) for e in rows], next_before_seq=rows[-1].seq if more else None)
        if routine == "hide":
            page.routine_hidden = _hidden(guard, wanted, before_seq, rows[-1].seq if more else None)
    seqs = [i.seq for i in page.items]
    guard.scope.note(
        filters=filters,
        before_seq=before_seq,
        routine=routine,
        seq_range=[min(seqs), max(seqs)] if seqs else None,
    )
    guard.scope.reason = f"audit log query: {len(page.items)} records"
    return page


def _hidden(guard: Guard, wanted: LogFilter, before_seq: int | None, down_to: int | None) -> int:
    """How many routine records the page's span hid (up to ``HIDDEN_COUNT_MAX``)."""
    stmt = visible_events(guard).with_only_columns(AuditEvent.seq).where(*wanted.clauses(), routine_clause())
    if before_seq is not None:
        stmt = stmt.where(AuditEvent.seq < before_seq)
    if down_to is not None:
        stmt = stmt.where(AuditEvent.seq > down_to)
    limited = stmt.limit(HIDDEN_COUNT_MAX).subquery()
    return guard.session.scalar(select(func.count()).select_from(limited)) or 0


def _folded(guard: Guard, stmt: Select, limit: int) -> AuditPage:
    """Routine records folded per user and kind between the records shown, reading at most
    ``FOLD_BUDGET`` records: a few plain columns first, then the shown records in full and the
    folds' first and last times."""
    light = stmt.with_only_columns(
        AuditEvent.seq, AuditEvent.username, AuditEvent.action, AuditEvent.resource_type, AuditEvent.outcome
    )
    result = guard.session.execute(light.order_by(AuditEvent.seq.desc()).limit(FOLD_BUDGET + 1))
    shown: list[int] = []
    #: (username, action, resource_type, [last_seq, first_seq, count]) in the order found
    runs: list[tuple[str | None, str, str, list[int]]] = []
    gap: dict[tuple, list[int]] = {}
    read = 0
    more = False
    last = None
    for seq, username, action, resource_type, outcome in result:  # read lazily: stop when full
        if len(shown) >= limit or read >= FOLD_BUDGET:
            more = True
            break
        read += 1
        last = seq
        if not is_routine(action, outcome):
            gap.clear()
            shown.append(seq)
            continue
        run = gap.get((username, action, resource_type))
        if run is None:
            run = gap[(username, action, resource_type)] = [seq, seq, 1]
            runs.append((username, action, resource_type, run))
        else:
            run[1] = seq
            run[2] += 1
    result.close()
    session = guard.session
    full = {e.seq: e for e in session.scalars(select(AuditEvent).where(AuditEvent.seq.in_(shown)))}
    ends = sorted({s for *_k, run in runs for s in run[:2]})
    times: dict[int, object] = {}
    for k in range(0, len(ends), 500):
        times.update(
            session.execute(
                select(AuditEvent.seq, AuditEvent.ts).where(AuditEvent.seq.in_(ends[k : k + 500]))
            ).all()
        )
    folds = [
        AuditFold(
            username=username, action=action, resource_type=resource_type, count=count,
            first_seq=first, last_seq=latest, first_ts=times[first], last_ts=times[latest],
        )
        for username, action, resource_type, (latest, first, count) in runs
    ]  # fmt: skip
    items = [event_out(full[s]) for s in shown]
    return AuditPage(items=items, next_before_seq=last if more else None, folded=folds)


def record(guard: Guard, seq: int) -> AuditRecordOut:
    """One record in full (every field, with its hash-chain links), if the supervisor may see it."""
    guard.duty(Action.READ_AUDIT, verb="audit_record", resource_type="audit_event", resource_id=str(seq))
    e = guard.session.scalars(visible_events(guard).where(AuditEvent.seq == seq)).first()
    if e is None:
        raise refused(
            404,
            ErrorCode.NOT_FOUND,
            "No such record in your organization's audit log.",
            outcome=Outcome.DENIED,
            resource="audit_event",
        )
    guard.scope.about(person_id=e.person_id)
    guard.scope.reason = "one audit record"
    out = event_out(e)
    return AuditRecordOut(**out.model_dump(), prev_hash=e.prev_hash, hash=e.hash)


def export(
    guard: Guard,
    *,
    before_seq: int | None,
    limit: int,
    username: str | None,
    person_id: str | None,
    outcome: str | None,
    action: str | None,
    routine: bool,
) -> AuditExport:
    """A filtered log for filing or analysis (newest first; at most ``EXPORT_MAX`` per export)."""
    wanted = LogFilter.of(username=username, person_id=person_id, outcome=outcome, action=action)
    guard.duty(Action.READ_AUDIT, verb="audit_export", resource_type="audit_event")
    guard.scope.about(person_id=wanted.about_person())
    stmt = visible_events(guard).where(*wanted.clauses())
    if before_seq is not None:
        stmt = stmt.where(AuditEvent.seq < before_seq)
    if not routine:
        stmt = stmt.where(not_(routine_clause()))
    limit = min(limit, EXPORT_MAX)
    rows = list(guard.session.scalars(stmt.order_by(AuditEvent.seq.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    filters = {**wanted.noted(), "routine": routine, **({"before_seq": before_seq} if before_seq else {})}
    guard.scope.note(
        filters=filters, count=len(rows), seq_range=[rows[-1].seq, rows[0].seq] if rows else None
    )
    guard.scope.reason = f"audit log export: {len(rows)} records"
    return AuditExport(
        exported_at=guard.now,
        filters=filters,
        count=len(rows),
        truncated=more,
        next_before_seq=rows[-1].seq if more else None,
        items=[event_out(e) for e in rows],
    )


def verify_chain(guard: Guard) -> AuditVerifyOut:
    """Check the whole hash chain; names the first record that does not fit."""
    guard.duty(Action.VERIFY_AUDIT, verb="audit_verify", resource_type="audit_event")
    result = verify(guard.session.connection())
    guard.scope.note(ok=result.ok, checked=result.checked, first_bad_seq=result.first_bad_seq)
    guard.scope.reason = result.describe()
    return AuditVerifyOut(
        ok=result.ok, checked=result.checked, first_bad_seq=result.first_bad_seq, problem=result.problem
    )


def _grant_state(verdicts: list[BreakGlassVerdict], grant: BreakGlassGrant) -> GrantState:
    if verdicts:
        latest = verdicts[-1].verdict
        return GrantState(latest) if latest else GrantState.REVIEWED
    return GrantState.REVIEWED if grant.reviewed_at is not None else GrantState.PENDING


def _review_out(
    grant: BreakGlassGrant,
    nurse: User,
    reviewer: User | None,
    verdicts: list[BreakGlassVerdict],
    names: dict[str, str],
) -> BreakGlassReview:
    return BreakGlassReview(
        id=grant.id,
        user_id=grant.user_id,
        username=nurse.username,
        person_id=grant.person_id,
        reason=grant.reason,
        created_at=grant.created_at,
        expires_at=grant.expires_at,
        reviewed_by=reviewer.username if reviewer else None,
        reviewed_at=grant.reviewed_at,
        review_note=grant.review_note,
        state=_grant_state(verdicts, grant),
        version=len(verdicts),
        verdicts=[verdict_out(v, names) for v in verdicts],
    )


def verdict_out(v, names: dict[str, str]) -> VerdictOut:
    return VerdictOut(
        ordinal=v.ordinal, verdict=v.verdict, note=v.note, by=names.get(v.user_id, "?"), at=v.at
    )


def _verdicts_of(session: Session, grant_ids: list[str]) -> dict[str, list[BreakGlassVerdict]]:
    out: dict[str, list[BreakGlassVerdict]] = defaultdict(list)
    for i in range(0, len(grant_ids), 500):
        for v in session.scalars(
            select(BreakGlassVerdict)
            .where(BreakGlassVerdict.grant_id.in_(grant_ids[i : i + 500]))
            .order_by(BreakGlassVerdict.grant_id, BreakGlassVerdict.ordinal)
        ):
            out[v.grant_id].append(v)
    return out


def usernames(session: Session, ids) -> dict[str, str]:
    ids = sorted({i for i in ids if i})
    return dict(session.execute(select(User.id, User.username).where(User.id.in_(ids))).all()) if ids else {}


def _reviews_out(session: Session, rows) -> list[BreakGlassReview]:
    verdicts = _verdicts_of(session, [g.id for g, _u in rows])
    names = usernames(
        session,
        [g.reviewed_by_id for g, _u in rows] + [v.user_id for vs in verdicts.values() for v in vs],
    )
    out = []
    for grant, nurse in rows:
        reviewer = SimpleNamespace(username=names[grant.reviewed_by_id]) if grant.reviewed_by_id else None
        out.append(_review_out(grant, nurse, reviewer, verdicts.get(grant.id, []), names))
    return out


def pending_reviews(guard: Guard, state: str = "pending") -> BreakGlassReviewList:
    """Break-the-glass grants by the organization's users, oldest first: by default those waiting
    for a supervisor (never reviewed, or judged "needs follow-up"); ``all``, or one state."""
    guard.duty(Action.REVIEW_BREAK_GLASS, verb="review_list", resource_type="break_glass_grant")
    stmt = (
        select(BreakGlassGrant, User)
        .join(User, User.id == BreakGlassGrant.user_id)
        .where(User.organization_id == guard.actor.organization_id)
        .order_by(BreakGlassGrant.created_at, BreakGlassGrant.id)
    )
    if state == "pending":
        judged = select(BreakGlassVerdict.grant_id).where(BreakGlassVerdict.verdict.is_not(None))
        waiting = or_(
            and_(BreakGlassGrant.reviewed_at.is_(None), BreakGlassGrant.id.not_in(judged)),
            BreakGlassGrant.id.in_(_latest_grant_verdict(Verdict.NEEDS_FOLLOW_UP)),
        )
        stmt = stmt.where(waiting)
    rows = guard.session.execute(stmt).all()
    items = _reviews_out(guard.session, rows)
    if state not in ("pending", "all"):
        items = [i for i in items if i.state == state]
    guard.scope.note(grant_ids=[i.id for i in items], state=state)
    guard.scope.reason = f"{len(items)} break-the-glass grants ({state})"
    return BreakGlassReviewList(items=items)


def _latest_grant_verdict(verdict: Verdict) -> Select:
    """Grants whose latest verdict is ``verdict``."""
    latest = (
        select(BreakGlassVerdict.grant_id, func.max(BreakGlassVerdict.ordinal).label("n"))
        .group_by(BreakGlassVerdict.grant_id)
        .subquery()
    )
    return (
        select(BreakGlassVerdict.grant_id)
        .join(
            latest,
            and_(latest.c.grant_id == BreakGlassVerdict.grant_id, latest.c.n == BreakGlassVerdict.ordinal),
        )
        .where(BreakGlassVerdict.verdict == verdict)
    )


def _own_grant(guard: Guard, grant_id: str) -> tuple[BreakGlassGrant, User]:
    session = guard.session
    grant = session.get(BreakGlassGrant, grant_id) if len(grant_id) <= 32 else None
    user = session.get(User, grant.user_id) if grant is not None else None
    if grant is None or user is None or user.organization_id != guard.actor.organization_id:
        raise refused(
            404,
            ErrorCode.NOT_FOUND,
            "No such break-the-glass grant in your organization.",
            outcome=Outcome.DENIED,
            resource="break_glass_grant",
        )
    guard.scope.about(person_id=grant.person_id)
    return grant, user


def grant_detail(guard: Guard, grant_id: str) -> GrantDetail:
    """One break-the-glass access: the grant, its verdict history, and its records (the grant and
    the reads made under it)."""
    guard.duty(
        Action.REVIEW_BREAK_GLASS, verb="review_read", resource_type="break_glass_grant", resource_id=grant_id
    )
    grant, user = _own_grant(guard, grant_id)
    review = _reviews_out(guard.session, [(grant, user)])[0]
    records = guard.session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.person_id == grant.person_id,
            AuditEvent.user_id == grant.user_id,
            AuditEvent.ts >= grant.created_at - timedelta(seconds=5),
            AuditEvent.ts <= grant.expires_at,
            or_(AuditEvent.action == "break_glass", AuditEvent.purpose == Purpose.EMERGENCY),
        )
        .order_by(AuditEvent.seq)
        .limit(500)
    ).all()
    guard.scope.note(records=len(records))
    guard.scope.reason = "one break-the-glass grant with its records"
    return GrantDetail(**review.model_dump(), records=[event_out(e) for e in records])


def review(
    guard: Guard,
    grant_id: str,
    note: str,
    verdict: Verdict | None = None,
    expected_version: int | None = None,
) -> BreakGlassReview:
    """Review a break-the-glass grant: a verdict (kept as history: every verdict a new row), or, as
    before verdicts existed, a note only, which counts as the first review."""
    guard.duty(
        Action.REVIEW_BREAK_GLASS, verb="review", resource_type="break_glass_grant", resource_id=grant_id
    )
    session = guard.session
    grant, nurse = _own_grant(guard, grant_id)
    count = session.scalar(
        select(func.count()).select_from(BreakGlassVerdict).where(BreakGlassVerdict.grant_id == grant.id)
    )
    if verdict is None or grant.reviewed_at is None:
        # conditional update: of two supervisors reviewing first at once, exactly one wins
        won = session.execute(
            update(BreakGlassGrant)
            .where(BreakGlassGrant.id == grant.id, BreakGlassGrant.reviewed_at.is_(None))
            .values(reviewed_by_id=guard.actor.user_id, reviewed_at=guard.now, review_note=note)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not won and verdict is None:
            raise _already_reviewed(guard, grant)
    if expected_version is not None and expected_version != count:
        raise verdict_conflict(
            guard, BreakGlassVerdict, BreakGlassVerdict.grant_id == grant.id, expected_version
        )
    add_verdict(
        guard, BreakGlassVerdict(grant_id=grant.id, ordinal=count + 1, verdict=verdict, note=note), count
    )
    # the note stays on the grant and the verdict: free text may name the person, and the audit
    # record is kept for ever
    guard.scope.note(
        grant_id=grant.id, note_given=True, verdict=str(verdict) if verdict else None, ordinal=count + 1
    )
    guard.scope.reason = "break-the-glass grant reviewed" + (f": {verdict}" if verdict else "")
    session.refresh(grant)
    return _reviews_out(session, [(grant, nurse)])[0]


def _already_reviewed(guard: Guard, grant: BreakGlassGrant):
    session = guard.session
    session.rollback()
    session.refresh(grant)
    reviewer = session.get(User, grant.reviewed_by_id) if grant.reviewed_by_id else None
    return refused(
        409,
        ErrorCode.ALREADY_REVIEWED,
        f"This grant was already reviewed by {reviewer.username if reviewer else 'someone'}"
        + (f" at {grant.reviewed_at:%Y-%m-%d %H:%M} UTC." if grant.reviewed_at else ".")
        + " Add a verdict to judge it again.",
        outcome=Outcome.DENIED,
        by=reviewer.username if reviewer else None,
        at=grant.reviewed_at.isoformat() if grant.reviewed_at else None,
    )


def verdict_conflict(guard: Guard, model, subject, expected: int):
    """Someone judged it meanwhile: say who, what and when (the caller reloads and decides again)."""
    session = guard.session
    session.rollback()
    latest = session.scalars(select(model).where(subject).order_by(model.ordinal.desc()).limit(1)).first()
    params: dict = {"expected_version": expected}
    message = "Someone judged this meanwhile; reload it and decide again."
    if latest is not None:
        by = usernames(session, [latest.user_id]).get(latest.user_id)
        params.update(version=latest.ordinal, by=by, verdict=latest.verdict, at=latest.at.isoformat())
        message = (
            f"{by} recorded verdict {latest.ordinal} ({latest.verdict or 'a note'}) at "
            f"{latest.at:%Y-%m-%d %H:%M} UTC; reload it and decide again."
        )
    return refused(409, ErrorCode.CONFLICT, message, outcome=Outcome.DENIED, **params)


def add_verdict(guard: Guard, row, seen: int) -> None:
    """Add one verdict row (the n-th of its subject). Two at once: the unique ordinal lets one in."""
    row.user_id = guard.actor.user_id
    row.at = guard.now
    session = guard.session
    try:
        session.add(row)
        session.flush()
    except IntegrityError:
        model = type(row)
        subject = (
            model.grant_id == row.grant_id
            if isinstance(row, BreakGlassVerdict)
            else model.finding_id == row.finding_id
        )
        raise verdict_conflict(guard, model, subject, seen) from None
