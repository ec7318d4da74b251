"""Who ``policy.decide`` lets a nurse read a category of, rendered as SQL: an exact pre-filter.

``decide`` stays the one authority. These statements only let a list (the alert queue) cut its
page, its counts and its change feed in the database instead of deciding for every person the
nurse might see on every request; the service then still calls ``decide`` (through ``authorize``)
for each person it returns and drops, fail-closed, anyone the two disagree on.

``allowed_person_ids(session, actor, now, category)`` is, for a nurse, exactly
``{p : category in decide(actor, facts(p), now, requested).allowed}`` for any ``requested`` that
holds ``category`` (``allowed`` is the granted set intersected with ``requested``). It mirrors
``policy.decide`` (policy.py, ``def decide`` and its nurse branch):

- line 187: ``person.restricted`` denies;
- line 189: ``age_years(birth_date, now.date()) < ADULT_AGE`` denies; rendered as
  ``birth_date <= adult_cutoff(now.date())``, the cutoff computed in Python with the same
  semantics (someone born on 29 February is a year older on 1 March);
- lines 192-204: the categories granted are the union over the person's consents to the actor's
  organization, for the purpose ``care``, active at ``now`` (``ConsentFact.active_at``: status
  ``active``, ``valid_from <= now``, no ``valid_until`` or ``now < valid_until``), of those of
  their listed names that are categories; if that union is not empty it is the answer (basis
  consent), *even where it lacks the category asked for*;
- lines 205-213: only where it is empty, the actor's own unexpired break-the-glass grant
  (``now < expires_at``) opens ``BREAK_GLASS_CATEGORIES`` (basis break-the-glass);
- line 214: otherwise nothing.

With ``consent_only=True`` it is the set of people for whom the category is allowed *on the basis
of a consent* (what ``authorize`` keeps for actions with ``bases=_CONSENT_ONLY``, the alert queue:
policy.py line 499).

Other roles: ``decide`` allows nothing to roles other than nurse and coach, so the statement
selects nobody; the coach's rule is not rendered (no list of the coach's asks for it: her
participants are decided per person), and asking for it is a caller's error (``ValueError``).

``tests/api/test_visible_sql.py`` checks on random worlds, on SQLite and PostgreSQL, that the
statement selects exactly the people ``decide`` allows.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    cast,
    exists,
    false,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from clinic_server.access.policy import ADULT_AGE, BREAK_GLASS_CATEGORIES, Actor
from clinic_server.db.models import BreakGlassGrant, Consent, Person
from clinic_tui.domain.categories import Category
from clinic_tui.domain.roles import Purpose, Role

#: every name a consent may list that ``decide`` counts as a category
_CATEGORY_NAMES = tuple(sorted(str(c) for c in Category))


def adult_cutoff(today: date) -> date:
    """The latest birth date of someone ``ADULT_AGE`` or older on ``today``, by ``age_years``:
    ``age_years(b, today) >= ADULT_AGE`` exactly when ``b <= adult_cutoff(today)``.

    ``age_years`` compares (month, day) pairs, so the bound is (today.year - 18, month, day) in
    date order; on 29 February of a year whose year - 18 has none, the latest such date is the
    28th (1 March already compares later)."""
    try:
        return today.replace(year=today.year - ADULT_AGE)
    except ValueError:  # 29 February
        return date(today.year - ADULT_AGE, 2, 28)


def _lists_any(session: Session, names: tuple[str, ...]) -> ColumnElement[bool]:
    """``Consent.categories`` (a JSON list) holds one of ``names`` as a string element."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # the column is JSON (migration 0001): as JSONB, ``?|`` tests string elements exactly
        return cast(Consent.categories, postgresql.JSONB).has_any(postgresql.array(names, type_=String))
    if dialect == "sqlite":
        each = func.json_each(Consent.categories).table_valued("value").alias("consent_category")
        return exists(select(literal_column("1")).select_from(each).where(each.c.value.in_(names)))
    raise ValueError(f"no JSON containment for the {dialect} database (SQLite and PostgreSQL only)")


def _care_consent(session: Session, actor: Actor, now: datetime, names: tuple[str, ...]):
    """An active care consent of this person to the actor's organization listing one of ``names``
    (correlated to ``Person``)."""
    return exists(
        select(Consent.id).where(
            Consent.person_id == Person.id,
            Consent.organization_id == actor.organization_id,
            Consent.purpose == Purpose.CARE,
            Consent.status == "active",
            Consent.valid_from <= now,
            or_(Consent.valid_until.is_(None), Consent.valid_until > now),
            _lists_any(session, names),
        )
    )


def allowed_person_ids(
    session: Session, actor: Actor, now: datetime, category: Category, *, consent_only: bool = False
) -> Select:
    """The ids of the people ``decide`` lets ``actor`` read ``category`` of at ``now`` (module
    docstring); ``consent_only``: on the basis of a consent only."""
    return select(Person.id).where(allows(session, actor, now, category, consent_only=consent_only))


def allows(
    session: Session, actor: Actor, now: datetime, category: Category, *, consent_only: bool = False
) -> ColumnElement[bool]:
    """``allowed_person_ids`` as a condition on a ``Person`` row (for a query that already reads
    ``person``, or to test one person per row of another table)."""
    if actor.role not in (Role.NURSE, Role.COACH):
        return false()
    if actor.role == Role.COACH:
        raise ValueError("the coach's visibility is decided per person (policy.decide), not as SQL")
    basis = _care_consent(session, actor, now, (str(category),))
    if not consent_only and category in BREAK_GLASS_CATEGORIES:
        glass = exists(
            select(BreakGlassGrant.id).where(
                BreakGlassGrant.person_id == Person.id,
                BreakGlassGrant.user_id == actor.user_id,
                BreakGlassGrant.expires_at > now,
            )
        )
        basis = or_(basis, and_(~_care_consent(session, actor, now, _CATEGORY_NAMES), glass))
    return and_(
        Person.restricted.is_(False),
        Person.birth_date <= adult_cutoff(now.date()),
        basis,
    )
