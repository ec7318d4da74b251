"""The people a user may see, and one person's record, projected to what each decision allows."""

from __future__ import annotations

from sqlalchemy import select

from clinic_server.access import projection
from clinic_server.access.guard import Guard
from clinic_server.access.policy import Action, Decision
from clinic_server.db.models import Person
from clinic_server.errors import refused
from clinic_tui.api.schemas import ErrorCode, PatientDetail, PatientPage
from clinic_tui.domain.categories import Category
from clinic_tui.domain.codes import CONDITIONS
from clinic_tui.domain.roles import Outcome
from clinic_tui.domain.text import fold

#: the categories a list row carries, where allowed
SUMMARY_CATEGORIES = frozenset({Category.IDENTITY, Category.CONDITIONS})


def _haystack(person: Person, allowed: frozenset[Category]) -> list[str]:
    """What a search may match: only what the user may read (a withheld value never decides a match)."""
    hay = [projection.pseudonym(person.id), person.id[:6]]
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
    return [fold(h) for h in hay]


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    # str.isdigit alone takes "²", which int() refuses
    if not (cursor.isascii() and cursor.isdigit()) or len(cursor) > 9:
        raise refused(
            422,
            ErrorCode.INVALID_REQUEST,
            "cursor: not a cursor this server gave out; start from the first page",
            outcome=Outcome.DENIED,
            field="cursor",
        )
    return int(cursor)


def list_people(guard: Guard, *, q: str | None, cursor: str | None, limit: int) -> PatientPage:
    needle = fold((q or "").strip())
    decisions = guard.people(Action.LIST_PEOPLE, verb="search" if needle else "list", resource_type="person")
    offset = _offset(cursor)
    people = (
        list(guard.session.scalars(select(Person).where(Person.id.in_(list(decisions))))) if decisions else []
    )
    if needle:
        people = [p for p in people if any(needle in h for h in _haystack(p, decisions[p.id].allowed))]

    def sort_key(p: Person):
        # people whose identity is withheld sort after, by pseudonym: never by a withheld value
        if Category.IDENTITY in decisions[p.id].allowed:
            return (0, fold(p.family_name), fold(p.given_name), p.id)
        return (1, "", "", p.id)

    people.sort(key=sort_key)
    page = people[offset : offset + limit]
    guard.disclose({p.id: decisions[p.id].allowed & SUMMARY_CATEGORIES for p in page}, decisions)
    guard.scope.note(filtered=bool(needle))
    guard.scope.reason = f"{len(page)} people with an access basis"
    nxt = str(offset + limit) if offset + limit < len(people) else None
    return PatientPage(items=[projection.summary(p, decisions[p.id]) for p in page], next_cursor=nxt)


def detail(guard: Guard, person_id: str) -> PatientDetail:
    access = guard.person(person_id, Action.READ_RECORD, verb="read", resource_type="person")
    decision: Decision = access.decision
    out = projection.detail(guard.session, access.person, decision)
    guard.scope.returned(decision.allowed)
    guard.scope.note(withheld=sorted(decision.withheld))
    return out
