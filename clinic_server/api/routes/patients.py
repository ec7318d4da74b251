"""People a user may see, and one person's record, projected to what consent allows."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from clinic_server.access import policy, projection
from clinic_server.api.deps import ApiError, CtxDep
from clinic_server.db.models import Person
from clinic_tui.api.schemas import PatientDetail, PatientPage
from clinic_tui.domain.categories import Category
from clinic_tui.domain.codes import CONDITIONS

router = APIRouter(prefix="/patients", tags=["patients"])

NOT_PERMITTED = "You do not have access to this person's record."


def _matches(person: Person, allowed: frozenset[Category], needle: str) -> bool:
    """Search only over categories the user may read: a withheld value never decides a match."""
    hay: list[str] = []
    if Category.IDENTITY in allowed:
        hay += [
            person.given_name,
            person.family_name,
            f"{person.given_name} {person.family_name}",
            person.personnummer,
            f"{person.personnummer[:8]}-{person.personnummer[8:]}",
        ]
    if Category.CONDITIONS in allowed:
        hay += [CONDITIONS.get(c.code, c.code) for c in person.conditions]
    return any(needle in h.lower() for h in hay)


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    if not (cursor.isascii() and cursor.isdigit()):  # str.isdigit alone takes "²", which int() refuses
        raise ApiError(
            422, "invalid_request", "cursor: not a cursor this server gave out; start from the first page"
        )
    return int(cursor)


@router.get("", response_model=PatientPage)
def list_patients(
    ctx: CtxDep,
    q: Annotated[
        str | None, Query(max_length=100, description="filter on shared name, personnummer, condition")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> PatientPage:
    ctx.expect(action="list", resource_type="person", purpose=policy.purpose_for(ctx.actor))
    offset = _offset(cursor)
    ids = policy.candidate_person_ids(ctx.session, ctx.actor, ctx.now)
    facts = policy.load_facts(ctx.session, ctx.actor, ids, ctx.now)
    decisions = {pid: policy.decide(ctx.actor, f, ctx.now) for pid, f in facts.items()}
    visible = [pid for pid, d in decisions.items() if d.permitted]
    people = list(ctx.session.scalars(select(Person).where(Person.id.in_(visible)))) if visible else []
    needle = (q or "").strip().lower()
    if needle:
        people = [p for p in people if _matches(p, decisions[p.id].allowed, needle)]

    def sort_key(p: Person):
        # people whose identity is withheld sort after, by pseudonym: never by a withheld value
        if Category.IDENTITY in decisions[p.id].allowed:
            return (0, p.family_name.lower(), p.given_name.lower(), p.id)
        return (1, "", "", p.id)

    people.sort(key=sort_key)
    page = people[offset : offset + limit]
    items = [projection.summary(p, decisions[p.id]) for p in page]
    returned = set().union(
        *(decisions[p.id].allowed & {Category.IDENTITY, Category.CONDITIONS} for p in page)
    )
    ctx.record(
        action="search" if needle else "list",
        resource_type="person",
        outcome="allowed",
        reason=f"{len(page)} people with an access basis",
        purpose=policy.purpose_for(ctx.actor),
        categories=returned,
        details={"person_ids": [p.id for p in page], "filtered": bool(needle)},
    )
    nxt = str(offset + limit) if offset + limit < len(people) else None
    return PatientPage(items=items, next_cursor=nxt)


@router.get("/{person_id}", response_model=PatientDetail, responses={403: {}})
def get_patient(person_id: str, ctx: CtxDep) -> PatientDetail:
    purpose = policy.purpose_for(ctx.actor)
    ctx.expect(action="read", resource_type="person", resource_id=person_id[:64], purpose=purpose)
    person = ctx.session.get(Person, person_id[:32]) if len(person_id) <= 32 else None
    if person is None:
        # the same answer as "not permitted": the API is no oracle for who exists
        raise ctx.deny(
            message=NOT_PERMITTED,
            action="read",
            resource_type="person",
            resource_id=person_id[:64],
            reason="no such person",
            purpose=purpose,
        )
    facts = policy.load_facts(ctx.session, ctx.actor, [person.id], ctx.now)[person.id]
    decision = policy.decide(ctx.actor, facts, ctx.now)
    if not decision.permitted:
        raise ctx.deny(
            message=NOT_PERMITTED,
            action="read",
            resource_type="person",
            resource_id=person.id,
            person_id=person.id,
            reason=decision.reason,
            purpose=decision.purpose,
        )
    out = projection.detail(ctx.session, person, decision)
    ctx.record(
        action="read",
        resource_type="person",
        resource_id=person.id,
        person_id=person.id,
        outcome="allowed",
        reason=decision.reason,
        purpose=decision.purpose,
        categories=decision.allowed,
        details={"withheld": sorted(decision.withheld)},
    )
    return out
