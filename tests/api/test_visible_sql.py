"""The SQL rendering of the nurse's visibility (``access/visible_sql.py``) selects exactly the people
``policy.decide`` allows: on random worlds (the access-model property test's), at instants around
every boundary they hold (consents starting and ending, grants expiring, 18th birthdays), for
every category, on both bases and on the consent basis alone. A person the SQL let through whom
``decide`` would refuse is a leak; one it left out is a hidden alert: both fail here."""

from __future__ import annotations

import os
import random
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from clinic_server.access.facts import load_facts
from clinic_server.access.policy import ADULT_AGE, Actor, decide
from clinic_server.access.visible_sql import adult_cutoff, allowed_person_ids
from clinic_server.db.models import BreakGlassGrant, Consent, Organization, Person, User
from clinic_tui.domain import personnummer
from clinic_tui.domain.categories import Category
from clinic_tui.domain.personnummer import age_years
from clinic_tui.domain.roles import Basis
from tests.api.test_policy_properties import build, worlds
from tests.factories import password_hash

pytestmark = pytest.mark.api

#: instants relative to the world's "now": its consents start or end at -2 h, +2 h, -1 h, +1 h,
#: -24 h, +3 days and +30 days, its grants expire at -1 h or +1 h, its 18th birthdays fall a day
#: either side of today
OFFSETS = [
    timedelta(0),
    timedelta(minutes=90),
    timedelta(hours=-3),
    timedelta(hours=-1, seconds=-1),
    timedelta(hours=25),
    timedelta(days=-2),
    timedelta(days=4),
    timedelta(days=31),
]

#: names a consent may list that are not categories (``decide`` ignores them) or none at all
ODD_LISTS = [[], ["bogus"], ["vitals", "bogus"], ["Vitals"], ["identity"]]


def actor_of(user: User) -> Actor:
    return Actor(user.id, user.username, user.role, user.organization_id, user.organization.kind)


def check(session, actor: Actor, at: datetime) -> None:
    """For every category, SQL and ``decide`` agree on every person in the database."""
    everyone = list(session.scalars(select(Person.id)))
    facts = load_facts(session, actor, everyone, at)
    decisions = {pid: decide(actor, f, at) for pid, f in facts.items()}
    for category in Category:
        for consent_only in (False, True):
            stmt = allowed_person_ids(session, actor, at, category, consent_only=consent_only)
            got = set(session.scalars(stmt))
            want = {
                pid
                for pid, d in decisions.items()
                if category in d.allowed and (not consent_only or d.basis == Basis.CONSENT)
            }
            assert got == want, (actor.username, at, category, consent_only, got ^ want)


@settings(
    max_examples=int(os.environ.get("CLINIC_PROPERTY_EXAMPLES", "30")),
    deadline=None,
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=worlds(), data=st.data())
def test_the_sql_selects_exactly_whom_decide_allows(session, spec, data):
    built = build(session, spec)
    # consents listing names that are not categories, or nothing: they grant nothing, so the glass
    # still opens where they are the only ones (decide's ``if granted``)
    for _ in range(data.draw(st.integers(0, 3))):
        person = data.draw(st.sampled_from(built.people))
        session.add(
            Consent(
                person_id=person.id,
                organization_id=built.orgs[data.draw(st.sampled_from([0, 1]))].id,
                categories=data.draw(st.sampled_from(ODD_LISTS)),
                purpose="care",
                valid_from=built.now - timedelta(days=1),
                valid_until=None,
                status="active",
            )
        )
    # and more running grants, so consents that grant something else meet a live glass often
    nurses = [u for k, u in built.users.items() if built.specs[k].role == "nurse"]
    for _ in range(data.draw(st.integers(0, 3))):
        session.add(
            BreakGlassGrant(
                user_id=data.draw(st.sampled_from(nurses)).id,
                person_id=data.draw(st.sampled_from(built.people)).id,
                reason="generated for the SQL visibility test",
                created_at=built.now - timedelta(hours=2),
                expires_at=built.now + timedelta(hours=data.draw(st.sampled_from([-1, 1, 48]))),
            )
        )
    session.commit()
    for key, user in built.users.items():
        if built.specs[key].role != "nurse":
            continue
        for offset in OFFSETS:
            check(session, actor_of(user), built.now + offset)


def test_other_roles_see_no_one_and_the_coach_is_not_rendered(session):
    now = datetime.now(UTC)
    actor = Actor("u", "s", "supervisor", "o", "care_provider")
    assert list(session.scalars(allowed_person_ids(session, actor, now, Category.VITALS))) == []
    with pytest.raises(ValueError, match="coach"):
        allowed_person_ids(session, Actor("u", "c", "coach", "o", "imr"), now, Category.VITALS)


def test_adult_cutoff_is_age_years():
    """``b <= adult_cutoff(d)`` exactly when ``age_years(b, d) >= 18``, for every day of eight
    years (two 29 Februaries) and birth dates around each bound, leaplings included."""
    day = date(2023, 1, 1)
    while day < date(2031, 1, 1):
        cutoff = adult_cutoff(day)
        births = [cutoff + timedelta(days=k) for k in range(-3, 4)]
        births += [date(day.year - ADULT_AGE + k, m, d) for k in (-2, -1, 0, 1) for m, d in ((2, 28), (3, 1))]
        births += [date(y, 2, 29) for y in (2004, 2008, 2012, 2016) if abs(y - (day.year - ADULT_AGE)) <= 2]
        for b in births:
            assert (b <= cutoff) == (age_years(b, day) >= ADULT_AGE), (b, day)
        day += timedelta(days=1)


def test_a_leapling_turns_18_on_1_march_in_sql(session):
    """Born 29 February 2008: 17 on 28 February 2026, 18 on 1 March 2026, in SQL as in ``decide``."""
    org = Organization(name="Care leap", kind="care_provider")
    session.add(org)
    session.flush()
    nurse = User(
        username="leap-nurse",
        display_name="n",
        role="nurse",
        organization_id=org.id,
        password_hash=password_hash(),
    )
    session.add(nurse)
    rng = random.Random(29)
    for birth in (
        date(2008, 2, 29),
        date(2008, 2, 28),
        date(2008, 3, 1),
        date(2010, 2, 28),
        date(2010, 3, 1),
    ):
        person = Person(
            personnummer=personnummer.generate(rng, birth, "female"),
            given_name="L",
            family_name="P",
            birth_date=birth,
            sex="female",
        )
        session.add(person)
        session.flush()
        session.add(
            Consent(
                person_id=person.id,
                organization_id=org.id,
                categories=["vitals"],
                purpose="care",
                valid_from=datetime(2000, 1, 1, tzinfo=UTC),
                status="active",
            )
        )
        session.add(
            BreakGlassGrant(
                user_id=nurse.id,
                person_id=person.id,
                reason="leap",
                created_at=datetime(2000, 1, 1, tzinfo=UTC),
                expires_at=datetime(2040, 1, 1, tzinfo=UTC),
            )
        )
    session.commit()
    actor = actor_of(nurse)
    for at in (
        datetime(2026, 2, 28, 23, 59, tzinfo=UTC),
        datetime(2026, 3, 1, 0, 0, 1, tzinfo=UTC),
        datetime(2028, 2, 28, 12, tzinfo=UTC),
        datetime(2028, 2, 29, 12, tzinfo=UTC),
        datetime(2028, 3, 1, 12, tzinfo=UTC),
    ):
        check(session, actor, at)
