"""Which people's data is due for removal, by which retention rule (the retention job's question).

The rules (``clinic_tui/domain/rights.py`` holds their ids, versions, sources and date arithmetic):

- IMR (anonymized, IMR "Lagringsperiod"): the earliest of (i) the day the person asked to be
  anonymized, (ii) six months after their employer's contract with IMR ended, (iii) twelve months
  after their last meeting;
- ImagineCare (deleted): the day the account ended, i.e. when no consent to ImagineCare AB itself
  (``ConsentPurpose.SELF_CARE``) is active any more (withdrawn or expired);
- bookkeeping (``Erasure.RETAIN`` holdings): retained billing rows go after their keep-until day.

A person under a legal hold is kept whatever rule applies.

"Last meeting" is the latest date any registered source gives (``register_last_meeting``). The
meetings table arrives with the coach's work; until a source is registered, or for a participant
with no meeting yet, the last contact counts instead: the latest of the participant's IMR consent
activity (given, withdrawn), coach assignment and onboarding. Days are UTC calendar days.

A person both ImagineCare and IMR hold data about is deleted when the ImagineCare account ends
(ImagineCare promises to delete "all your personal information"; deleting more than IMR would
never harms the person). Billing rows are retained regardless.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from clinic_server.db.models import (
    BillingRecord,
    CoachAssignment,
    CoachingMeeting,
    Consent,
    Employer,
    Organization,
    Person,
    SubjectRequest,
    User,
)
from clinic_server.services.erasure import count_expired_retained, held
from clinic_tui.domain.rights import (
    IMAGINECARE_ACCOUNT_CLOSED,
    ConsentPurpose,
    Due,
    ErasureMode,
    RequestKind,
    imr_due,
)
from clinic_tui.domain.roles import OrganizationKind

#: each returns ``select(person_id, at)``: one row per meeting (``at`` a date or UTC datetime)
LastMeetingSource = Callable[[], Select]
LAST_MEETING_SOURCES: list[LastMeetingSource] = []


def register_last_meeting(source: LastMeetingSource) -> LastMeetingSource:
    """Make a table of meetings count as "last meeting" for IMR's twelve-month rule."""
    if source not in LAST_MEETING_SOURCES:
        LAST_MEETING_SOURCES.append(source)
    return source


#: the coach's health-profile meetings: IMR's "12 månader efter ditt senaste deltagande i ett möte"
register_last_meeting(lambda: select(CoachingMeeting.person_id, CoachingMeeting.held_on))


def _day(value: date | datetime | None) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).date()
    return value


def _latest(rows: Iterable[tuple[str, date | datetime | None]], into: dict[str, date]) -> None:
    for pid, at in rows:
        d = _day(at)
        if d is not None and (pid not in into or d > into[pid]):
            into[pid] = d


@dataclass(frozen=True)
class PersonDue:
    person_id: str
    controller: OrganizationKind
    due: Due
    mode: ErasureMode


def _scoped(stmt: Select, column, ids: Sequence[str] | None) -> Select:
    return stmt if ids is None else stmt.where(column.in_(ids))


def imr_orgs(session: Session) -> list[str]:
    return list(session.scalars(select(Organization.id).where(Organization.kind == OrganizationKind.IMR)))


def imr_participants(session: Session, ids: Sequence[str] | None = None) -> set[str]:
    """People IMR holds data about: an employer of theirs is IMR's customer, or a consent to IMR,
    or an IMR coach assigned."""
    orgs = imr_orgs(session)
    out = set(
        session.scalars(_scoped(select(Person.id).where(Person.employer_id.is_not(None)), Person.id, ids))
    )
    if orgs:
        out |= set(
            session.scalars(
                _scoped(
                    select(Consent.person_id).where(Consent.organization_id.in_(orgs)), Consent.person_id, ids
                )
            )
        )
        out |= set(
            session.scalars(
                _scoped(
                    select(CoachAssignment.person_id)
                    .join(User, User.id == CoachAssignment.coach_id)
                    .where(User.organization_id.in_(orgs)),
                    CoachAssignment.person_id,
                    ids,
                )
            )
        )
    return out


def last_contact(session: Session, ids: Sequence[str] | None = None) -> dict[str, date]:
    """Per IMR participant: the day of the last meeting or, lacking one, of the last contact."""
    meetings: dict[str, date] = {}
    for source in LAST_MEETING_SOURCES:
        sub = source().subquery()
        pid, at = sub.c[0], sub.c[1]
        _latest(session.execute(_scoped(select(pid, func.max(at)).group_by(pid), pid, ids)), meetings)
    contact: dict[str, date] = {}
    orgs = imr_orgs(session)
    if orgs:
        for col in (Consent.valid_from, Consent.withdrawn_at):
            stmt = (
                select(Consent.person_id, func.max(col))
                .where(Consent.organization_id.in_(orgs))
                .group_by(Consent.person_id)
            )
            _latest(session.execute(_scoped(stmt, Consent.person_id, ids)), contact)
        stmt = (
            select(CoachAssignment.person_id, func.max(CoachAssignment.created_at))
            .join(User, User.id == CoachAssignment.coach_id)
            .where(User.organization_id.in_(orgs))
            .group_by(CoachAssignment.person_id)
        )
        _latest(session.execute(_scoped(stmt, CoachAssignment.person_id, ids)), contact)
    onboarded = select(Person.id, Person.created_at).where(Person.employer_id.is_not(None))
    _latest(session.execute(_scoped(onboarded, Person.id, ids)), contact)
    return {**contact, **meetings}


def _imr_dues(session: Session, ids: Sequence[str] | None) -> dict[str, Due]:
    participants = imr_participants(session, ids)
    if not participants:
        return {}
    contract_end: dict[str, date] = {}
    stmt = select(Person.id, Employer.contract_end).join(Employer, Employer.id == Person.employer_id)
    for pid, end in session.execute(_scoped(stmt, Person.id, ids)):
        if end is not None:
            contract_end[pid] = end
    requested: dict[str, date] = {}
    stmt = (
        select(SubjectRequest.person_id, func.min(SubjectRequest.received_on))
        .where(SubjectRequest.kind == RequestKind.ANONYMIZATION, SubjectRequest.status == "open")
        .group_by(SubjectRequest.person_id)
    )
    for pid, on in session.execute(_scoped(stmt, SubjectRequest.person_id, ids)):
        requested[pid] = on
    last = last_contact(session, ids)
    out = {}
    for pid in participants:
        due = imr_due(
            anonymization_requested=requested.get(pid),
            contract_end=contract_end.get(pid),
            last_meeting=last.get(pid),
        )
        if due is not None:
            out[pid] = due
    return out


def account_ends(session: Session, ids: Sequence[str] | None, now: datetime) -> dict[str, date | None]:
    """Per ImagineCare account holder: the day the account ended, or None while it is active."""
    stmt = select(
        Consent.person_id, Consent.status, Consent.valid_from, Consent.valid_until, Consent.withdrawn_at
    ).where(Consent.purpose == ConsentPurpose.SELF_CARE)
    ends: dict[str, list[date | None]] = defaultdict(list)
    for pid, status, start, until, withdrawn in session.execute(_scoped(stmt, Consent.person_id, ids)):
        if status == "active" and start <= now and (until is None or now < until):
            ends[pid].append(None)  # an active consent: the account is alive
        elif status == "active" and start > now:
            ends[pid].append(None)  # not yet begun: alive
        else:
            ends[pid].append(_day(withdrawn if status != "active" else until))
    return {pid: (None if None in days else max(d for d in days if d)) for pid, days in ends.items()}


def _imagine_dues(session: Session, ids: Sequence[str] | None, now: datetime) -> dict[str, Due]:
    return {
        pid: Due(end, IMAGINECARE_ACCOUNT_CLOSED)
        for pid, end in account_ends(session, ids, now).items()
        if end is not None
    }


@dataclass(frozen=True)
class Assessment:
    """The retention job's view at one moment: who is due, who is held, what bookkeeping expires."""

    due: list[PersonDue]
    #: people a rule applies to but a legal hold keeps
    held: list[PersonDue]
    billing_due: int


def dues(session: Session, now: datetime, ids: Sequence[str] | None = None) -> dict[str, list[PersonDue]]:
    """Every rule that sets a removal date for each person (due or not yet), per person."""
    out: dict[str, list[PersonDue]] = defaultdict(list)
    for pid, due in _imr_dues(session, ids).items():
        out[pid].append(PersonDue(pid, OrganizationKind.IMR, due, ErasureMode.ANONYMIZE))
    for pid, due in _imagine_dues(session, ids, now).items():
        out[pid].append(PersonDue(pid, OrganizationKind.IMAGINECARE, due, ErasureMode.DELETE))
    return out


def assess(session: Session, now: datetime, ids: Sequence[str] | None = None) -> Assessment:
    """Who a retention run at ``now`` removes (the UTC day of ``now`` decides), and by which rule.

    Of several rules due for one person, a deletion (ImagineCare) comes before an anonymization,
    then the earliest date.
    """
    today = now.astimezone(UTC).date()
    chosen: dict[str, PersonDue] = {}
    for pid, items in dues(session, now, ids).items():
        ripe = [d for d in items if d.due.is_due(today)]
        if ripe:
            chosen[pid] = min(ripe, key=lambda d: (d.mode != ErasureMode.DELETE, d.due.on))
    holds = held(session, sorted(chosen), today)
    due = [d for pid, d in sorted(chosen.items()) if pid not in holds]
    kept = [d for pid, d in sorted(chosen.items()) if pid in holds]
    return Assessment(due, kept, count_expired_retained(session, today))


def billing_until(session: Session, person_id: str) -> date | None:
    """The last day any billing record of the person is kept (bookkeeping)."""
    return session.scalar(
        select(func.max(BillingRecord.keep_until)).where(BillingRecord.person_id == person_id)
    )
