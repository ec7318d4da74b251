"""The facts ``policy.decide`` reads, loaded from the database in a few set-based queries.

Every decision is computed afresh on every request from these facts (there is no cache of
answers to go stale): the person, their employer's contract, every consent they gave (any
organization, any state), and, by the actor's role, the active coach assignments (coach), the
actor's own unexpired break-the-glass grants (nurse) or the organizations of the coaches assigned
to them (roles that judge a person's relationship with their organization).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Select, and_, bindparam, or_, select
from sqlalchemy.orm import Session

from clinic_server.access.policy import INTEGRATION_ROLE, Actor, ConsentFact, PersonFacts, decide
from clinic_server.db.models import BreakGlassGrant, CoachAssignment, Consent, Employer, Person, User
from clinic_server.db.queries import member_of
from clinic_tui.domain.categories import Category
from clinic_tui.domain.roles import OrganizationKind, Purpose, Role

#: actors whose actions ask whether the person has a relationship with their organization: through
#: a consent (any state) or an assigned coach of the organization
_RELATION_ROLES = (Role.SUPERVISOR, Role.PRIVACY_OFFICER, INTEGRATION_ROLE)

#: the system's own reading of facts (the alert engine): it holds no grant and no assignment
SYSTEM_ACTOR = Actor("", "system", "system", "", "")


def candidate_person_ids(session: Session, actor: Actor, now: datetime) -> list[str]:
    """People who might be visible to ``actor`` at ``now``: a superset, narrowed by ``decide``."""
    if actor.role == Role.NURSE:
        consented = select(Consent.person_id).where(
            Consent.organization_id == actor.organization_id,
            Consent.status == "active",
            Consent.valid_from <= now,
            or_(Consent.valid_until.is_(None), Consent.valid_until > now),
        )
        glass = select(BreakGlassGrant.person_id).where(
            BreakGlassGrant.user_id == actor.user_id, BreakGlassGrant.expires_at > now
        )
        stmt = consented.union(glass)
    elif actor.role == Role.COACH:
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


def _extra(role: str):
    """The role-specific fact, as (person id, value) rows: coach ids, grant expiries or coach orgs.
    The nurse's grants bind ``facts_user`` and ``facts_now`` (``_params``)."""
    if role == Role.COACH:
        return (
            select(CoachAssignment.person_id.label("pid"), CoachAssignment.coach_id.label("value"))
            .where(CoachAssignment.active.is_(True))
            .subquery()
        )
    if role == Role.NURSE:
        return (
            select(BreakGlassGrant.person_id.label("pid"), BreakGlassGrant.expires_at.label("value"))
            .where(
                BreakGlassGrant.user_id == bindparam("facts_user"),
                BreakGlassGrant.expires_at > bindparam("facts_now"),
            )
            .subquery()
        )
    if role == "relation":
        return (
            select(CoachAssignment.person_id.label("pid"), User.organization_id.label("value"))
            .join(User, User.id == CoachAssignment.coach_id)
            .subquery()
        )
    return None


#: the facts statements, built once per kind of role and lead: building one on every request cost
#: more Python than the (cached) compile it led to
_STATEMENTS: dict[tuple[str, bool], Select] = {}


def _statement(actor: Actor, lead) -> Select:
    """Each person's facts as rows: ``lead`` (``Person.id``, or the ``Person`` entity, then for the
    one person ``facts_person``), the rest of ``_FACT_COLUMNS`` and the role's extra value; one row
    per consent and extra value."""
    if actor.role in (Role.COACH, Role.NURSE):
        role = actor.role
    else:
        role = "relation" if actor.role in _RELATION_ROLES else ""
    key = (role, lead is Person)
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        extra = _extra(role)
        stmt = (
            select(lead, *_FACT_COLUMNS[1:], *([extra.c.value] if extra is not None else []))
            .select_from(Person)
            .outerjoin(Employer, Employer.id == Person.employer_id)
            .outerjoin(Consent, Consent.person_id == Person.id)
        )
        if extra is not None:
            stmt = stmt.outerjoin(extra, extra.c.pid == Person.id)
        if lead is Person:
            stmt = stmt.where(Person.id == bindparam("facts_person"))
        _STATEMENTS[key] = stmt
    return stmt


def _params(actor: Actor, now: datetime, **more) -> dict:
    return {"facts_user": actor.user_id, "facts_now": now, **more} if actor.role == Role.NURSE else more


def load_facts(
    session: Session, actor: Actor, person_ids: Iterable[str], now: datetime
) -> dict[str, PersonFacts]:
    """What ``decide`` needs about each person, for this actor: one query, however many people.

    Plain rows, not ORM objects: this runs for every person on a list (2,000 in the alert queue).
    """
    ids = list(dict.fromkeys(person_ids))
    if not ids:
        return {}
    # one statement with the ids as one bound array (PostgreSQL) or JSON text (SQLite): a plain IN
    # list of 500 placeholders per chunk cost more to render, parse and plan than to run
    stmt = _statement(actor, Person.id).where(member_of(session, Person.id, ids))
    return _facts(actor, session.execute(stmt, _params(actor, now)))


def load_person(
    session: Session, actor: Actor, person_id: str, now: datetime
) -> tuple[Person, PersonFacts] | None:
    """``session.get(Person, person_id)`` and ``load_facts`` for that person in one statement (one
    round trip less on a single-person request); None for an unknown id. The same rows as
    ``load_facts``, so the same facts; the person is the session's own object (with its eager
    loads), as ``session.get`` gives it."""
    rows = session.execute(_statement(actor, Person), _params(actor, now, facts_person=person_id)).all()
    if not rows:
        return None
    person = rows[0][0]
    return person, _facts(actor, ((person.id, *row[1:]) for row in rows))[person.id]


def _facts(actor: Actor, rows: Iterable) -> dict[str, PersonFacts]:
    people: dict[str, tuple] = {}
    consents: dict[str, dict[str, ConsentFact]] = defaultdict(dict)
    extras: dict[str, set] = defaultdict(set)
    for row in rows:
        pid = row[0]
        people[pid] = row[1:5]
        if row[5] is not None and row[5] not in consents[pid]:
            consents[pid][row[5]] = ConsentFact(row[6], frozenset(row[7]), row[8], row[9], row[10], row[11])
        if len(row) > 12 and row[12] is not None:  # the role's extra value
            extras[pid].add(row[12])
    out: dict[str, PersonFacts] = {}
    is_imr = actor.organization_kind == OrganizationKind.IMR
    imr = frozenset({actor.organization_id}) if is_imr else frozenset()
    for pid, (birth, restricted, c_start, c_end) in people.items():
        found = extras.get(pid, set())
        given = tuple(consents.get(pid, {}).values())
        out[pid] = PersonFacts(
            person_id=pid,
            birth_date=birth,
            restricted=restricted,
            consents=given,
            coach_ids=frozenset(found) if actor.role == Role.COACH else frozenset(),
            employer_contract_start=c_start,
            employer_contract_end=c_end,
            break_glass_until=max(found) if actor.role == Role.NURSE and found else None,
            related_organizations=frozenset({c.organization_id for c in given})
            | (frozenset(found) if actor.role in _RELATION_ROLES else frozenset())
            # an employer's participants are IMR's (its customers' roster), with or without a consent
            | (imr if c_start is not None else frozenset()),
        )
    return out


def monitoring_permitted(person: PersonFacts, now: datetime) -> bool:
    """May the system process ``person``'s measurements into alerts at ``now``?

    Asked of ``decide`` itself, as the alert engine of each care organization the person has a
    care consent with (no break-the-glass counts): vitals must be allowed to one of them.
    """
    organizations = {c.organization_id for c in person.consents if c.purpose == Purpose.CARE}
    facts = (
        person if person.break_glass_until is None else dataclasses.replace(person, break_glass_until=None)
    )
    return any(
        Category.VITALS
        in decide(
            Actor("system", "alert-engine", Role.NURSE, org, OrganizationKind.CARE_PROVIDER),
            facts,
            now,
            _VITALS,
        ).allowed
        for org in organizations
    )


_VITALS = frozenset({Category.VITALS})
