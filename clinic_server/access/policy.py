"""The single access decision point.

Default deny, deny overrides. ``decide`` is pure: it takes the facts about one person and one
actor at one instant and returns which categories may be read, which are withheld, on what basis,
and a reason string that goes into the audit record. ``load_facts`` gathers those facts from the
database in a few set-based queries, so every endpoint asks the same question the same way.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from clinic_server.db.models import BreakGlassGrant, CoachAssignment, Consent, Employer, Person
from clinic_tui.domain.categories import ALL_CATEGORIES, HEALTH_CATEGORIES, Category

#: what IMR may process on its legitimate interest while the employer's contract runs
#: (IMR policy, "Kontakt- och identitetsuppgifter" and "Sysselsättning")
LEGITIMATE_INTEREST_CATEGORIES: frozenset[Category] = frozenset(
    {Category.IDENTITY, Category.CONTACT, Category.OCCUPATION}
)

#: what a time-boxed break-the-glass grant opens (vital interests: what care needs in an emergency)
BREAK_GLASS_CATEGORIES: frozenset[Category] = frozenset(
    {
        Category.IDENTITY,
        Category.CONTACT,
        Category.CONDITIONS,
        Category.VITALS,
        Category.MEDICATIONS,
        Category.HISTORY,
        Category.QUESTIONNAIRES,
    }
)

ADULT_AGE = 18


@dataclass(frozen=True)
class Actor:
    user_id: str
    username: str
    role: str
    organization_id: str
    organization_kind: str


@dataclass(frozen=True)
class ConsentFact:
    organization_id: str
    categories: frozenset[str]
    purpose: str
    valid_from: datetime
    valid_until: datetime | None
    status: str

    def active_at(self, now: datetime) -> bool:
        return (
            self.status == "active"
            and self.valid_from <= now
            and (self.valid_until is None or now < self.valid_until)
        )


@dataclass(frozen=True)
class PersonFacts:
    person_id: str
    birth_date: date
    restricted: bool
    consents: tuple[ConsentFact, ...] = ()
    #: coaches with an active assignment to this person
    coach_ids: frozenset[str] = frozenset()
    employer_contract_start: date | None = None
    employer_contract_end: date | None = None
    #: expiry of the actor's own active break-the-glass grant on this person, if any
    break_glass_until: datetime | None = None


@dataclass(frozen=True)
class Decision:
    allowed: frozenset[Category]
    withheld: frozenset[Category]
    basis: str
    reason: str
    purpose: str
    break_glass_until: datetime | None = None
    extra: dict = field(default_factory=dict)

    @property
    def permitted(self) -> bool:
        return bool(self.allowed)


def age_on(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def purpose_for(actor: Actor) -> str:
    return {"nurse": "care", "coach": "coaching", "supervisor": "audit"}.get(actor.role, "unknown")


def _deny(reason: str, requested: frozenset[Category], purpose: str) -> Decision:
    return Decision(frozenset(), requested, "none", reason, purpose)


def decide(
    actor: Actor,
    person: PersonFacts,
    now: datetime,
    requested: frozenset[Category] = ALL_CATEGORIES,
) -> Decision:
    """May ``actor`` read the ``requested`` categories of ``person`` at ``now``?"""
    purpose = purpose_for(actor)
    if actor.role == "supervisor":
        return _deny("supervisors never read personal categories", requested, purpose)
    if actor.role not in ("nurse", "coach"):
        return _deny(f"role {actor.role!r} has no access to personal data", requested, purpose)
    # deny overrides, whatever the basis
    if person.restricted:
        return _deny("processing restricted (GDPR art. 18)", requested, purpose)
    if age_on(person.birth_date, now.date()) < ADULT_AGE:
        return _deny("person is under 18", requested, purpose)

    if actor.role == "nurse":
        granted: set[Category] = set()
        for c in person.consents:
            if c.organization_id == actor.organization_id and c.purpose == "care" and c.active_at(now):
                granted |= {Category(x) for x in c.categories if x in Category._value2member_map_}
        if granted:
            allowed = frozenset(granted) & requested
            return Decision(
                allowed,
                requested - allowed,
                "consent",
                "active consent names the care organization",
                purpose,
            )
        if person.break_glass_until is not None and now < person.break_glass_until:
            allowed = BREAK_GLASS_CATEGORIES & requested
            return Decision(
                allowed,
                requested - allowed,
                "break_glass",
                "active break-the-glass grant (vital interests)",
                "emergency",
                break_glass_until=person.break_glass_until,
            )
        return _deny("no active consent names the care organization", requested, purpose)

    # coach
    if actor.organization_kind != "imr":
        return _deny("coach is not employed by IMR", requested, purpose)
    if actor.user_id not in person.coach_ids:
        return _deny("person is not assigned to this coach", requested, purpose)
    granted = set()
    for c in person.consents:
        if c.organization_id == actor.organization_id and c.purpose == "coaching" and c.active_at(now):
            granted |= {Category(x) for x in c.categories if x in HEALTH_CATEGORIES}
    today = now.date()
    contract_runs = (
        person.employer_contract_start is not None
        and person.employer_contract_start <= today
        and (person.employer_contract_end is None or today <= person.employer_contract_end)
    )
    if contract_runs:
        granted |= LEGITIMATE_INTEREST_CATEGORIES
    allowed = frozenset(granted) & requested
    if not allowed:
        return _deny("no consent to IMR and no running employer contract", requested, purpose)
    basis = "consent" if allowed & HEALTH_CATEGORIES else "legitimate_interest"
    return Decision(allowed, requested - allowed, basis, f"assigned participant ({basis})", purpose)


def _midnight(day: date, tz) -> datetime:
    """The start of ``day`` in ``tz``: where ``decide``, which compares ``now.date()``, turns a day."""
    return datetime.combine(day, time.min, tzinfo=tz)


def _adult_from(birth: date) -> date:
    """The first day ``age_on`` counts ``ADULT_AGE`` years (1 March for someone born on 29 February)."""
    try:
        return birth.replace(year=birth.year + ADULT_AGE)
    except ValueError:
        return date(birth.year + ADULT_AGE, 3, 1)


def stable_until(person: PersonFacts, now: datetime) -> datetime | None:
    """The first instant after ``now`` at which ``decide`` may answer differently on these facts.

    Only the clock moves: a consent starts or runs out, the person turns 18, a break-the-glass
    grant expires, an employer contract starts or ends (``decide`` compares ``now.date()``, so
    those take effect at midnight in ``now``'s time zone: UTC on the server). Until then, for
    any actor and any requested categories, ``decide(actor, person, t, requested) ==
    decide(actor, person, now, requested)`` for every ``t`` in the same time zone. None: never.
    """
    moments: list[datetime] = []
    for c in person.consents:
        moments += [c.valid_from, *([c.valid_until] if c.valid_until is not None else [])]
    if person.break_glass_until is not None:
        moments.append(person.break_glass_until)
    days: list[date] = []
    if person.birth_date.year + ADULT_AGE <= date.max.year:
        days.append(_adult_from(person.birth_date))
    if person.employer_contract_start is not None:
        days.append(person.employer_contract_start)
    if person.employer_contract_end is not None and person.employer_contract_end < date.max:
        days.append(person.employer_contract_end + timedelta(days=1))
    moments += [_midnight(d, now.tzinfo) for d in days]
    return min((m for m in moments if m > now), default=None)


# --------------------------------------------------------------------------- loading facts


def candidate_person_ids(session: Session, actor: Actor, now: datetime) -> list[str]:
    """People who might be visible to ``actor`` at ``now`` or later: a superset, narrowed by ``decide``.

    Consents that start later are included, so that ``stable_until`` over these people's facts
    also covers people who become visible by the clock alone (``clinic_server/visibility.py``).
    """
    if actor.role == "nurse":
        consented = select(Consent.person_id).where(
            Consent.organization_id == actor.organization_id,
            Consent.status == "active",
            or_(Consent.valid_until.is_(None), Consent.valid_until > now),
        )
        glass = select(BreakGlassGrant.person_id).where(
            BreakGlassGrant.user_id == actor.user_id, BreakGlassGrant.expires_at > now
        )
        stmt = consented.union(glass)
    elif actor.role == "coach":
        stmt = select(CoachAssignment.person_id).where(
            and_(CoachAssignment.coach_id == actor.user_id, CoachAssignment.active.is_(True))
        )
    else:
        return []
    return list(session.scalars(stmt))


_FACT_COLUMNS = (
    Person.id,
    Person.birth_date,
    Person.restricted,
    Employer.contract_start,
    Employer.contract_end,
    Consent.id,
    Consent.organization_id,
    Consent.categories,
    Consent.purpose,
    Consent.valid_from,
    Consent.valid_until,
    Consent.status,
)


def load_facts(
    session: Session, actor: Actor, person_ids: Iterable[str], now: datetime
) -> dict[str, PersonFacts]:
    """What ``decide`` needs about each person, for this actor: one query per 500 people.

    Each row is a person (with the employer's contract) joined to each of their consents (any
    organization, any state: ``decide`` judges them) and, by the actor's role, to the active coach
    assignments (coach) or the actor's own unexpired break-the-glass grants (nurse). Plain rows,
    not ORM objects: this runs for every person on a list (2,000 in the alert queue).
    """
    ids = list(dict.fromkeys(person_ids))
    if not ids:
        return {}
    extra = None
    if actor.role == "coach":
        extra = (
            select(CoachAssignment.person_id.label("pid"), CoachAssignment.coach_id.label("value"))
            .where(CoachAssignment.active.is_(True))
            .subquery()
        )
    elif actor.role == "nurse":
        extra = (
            select(BreakGlassGrant.person_id.label("pid"), BreakGlassGrant.expires_at.label("value"))
            .where(BreakGlassGrant.user_id == actor.user_id, BreakGlassGrant.expires_at > now)
            .subquery()
        )
    stmt = (
        select(*_FACT_COLUMNS, *([extra.c.value] if extra is not None else []))
        .select_from(Person)
        .outerjoin(Employer, Employer.id == Person.employer_id)
        .outerjoin(Consent, Consent.person_id == Person.id)
    )
    if extra is not None:
        stmt = stmt.outerjoin(extra, extra.c.pid == Person.id)
    people: dict[str, tuple] = {}
    consents: dict[str, dict[str, ConsentFact]] = defaultdict(dict)
    extras: dict[str, set] = defaultdict(set)
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start : chunk_start + 500]
        for row in session.execute(stmt.where(Person.id.in_(chunk))):
            pid = row[0]
            people[pid] = row[1:5]
            if row[5] is not None and row[5] not in consents[pid]:
                consents[pid][row[5]] = ConsentFact(
                    row[6], frozenset(row[7]), row[8], row[9], row[10], row[11]
                )
            if extra is not None and row[12] is not None:
                extras[pid].add(row[12])
    out: dict[str, PersonFacts] = {}
    for pid, (birth, restricted, c_start, c_end) in people.items():
        found = extras.get(pid, set())
        out[pid] = PersonFacts(
            person_id=pid,
            birth_date=birth,
            restricted=restricted,
            consents=tuple(consents.get(pid, {}).values()),
            coach_ids=frozenset(found) if actor.role == "coach" else frozenset(),
            employer_contract_start=c_start,
            employer_contract_end=c_end,
            break_glass_until=max(found) if actor.role == "nurse" and found else None,
        )
    return out


def monitoring_permitted(person: PersonFacts, now: datetime) -> bool:
    """May the system process ``person``'s measurements into alerts at ``now``?

    Asked of ``decide`` itself, as the alert engine of each care organization the person has a
    care consent with (no break-the-glass counts): vitals must be allowed to one of them.
    """
    organizations = {c.organization_id for c in person.consents if c.purpose == "care"}
    facts = (
        person if person.break_glass_until is None else dataclasses.replace(person, break_glass_until=None)
    )
    return any(
        Category.VITALS
        in decide(Actor("system", "alert-engine", "nurse", org, "care_provider"), facts, now, _VITALS).allowed
        for org in organizations
    )


_VITALS = frozenset({Category.VITALS})
