"""``policy.stable_until``: until that instant the clock alone never changes a decision.

This is what lets the alert queue reuse a decision between requests (clinic_server/visibility.py),
so it is checked as a property over random facts, actors, categories and instants, with every
time placed near ``now`` (minutes to days either side) so that boundaries are actually crossed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from clinic_server.access.policy import Actor, ConsentFact, PersonFacts, decide, stable_until
from clinic_tui.domain.categories import ALL_CATEGORIES

NOW = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)  # half an hour before a date boundary
ORGS = ("care-a", "care-b", "imr")

offsets = st.integers(min_value=-3 * 86400, max_value=3 * 86400).map(lambda s: timedelta(seconds=s))
day_offsets = st.integers(min_value=-3, max_value=3).map(lambda d: timedelta(days=d))


@st.composite
def consents(draw) -> ConsentFact:
    start = NOW + draw(offsets)
    end = draw(st.none() | offsets.map(lambda o: NOW + o))
    return ConsentFact(
        organization_id=draw(st.sampled_from(ORGS)),
        categories=frozenset(draw(st.sets(st.sampled_from(sorted(ALL_CATEGORIES)), max_size=5))),
        purpose=draw(st.sampled_from(["care", "coaching"])),
        valid_from=start,
        valid_until=end,
        status=draw(st.sampled_from(["active", "active", "withdrawn"])),
    )


@st.composite
def people(draw) -> PersonFacts:
    # born 18 years ago give or take a few days, or plainly adult, or on 29 February
    birth = draw(
        st.sampled_from([date(2008, 11, 22), date(1960, 5, 17), date(2008, 2, 29)])
        | day_offsets.map(lambda d: date(2008, 11, 23) + d)
    )
    start = draw(st.none() | day_offsets.map(lambda d: NOW.date() + d))
    end = draw(st.none() | day_offsets.map(lambda d: NOW.date() + d))
    return PersonFacts(
        person_id="p",
        birth_date=birth,
        restricted=draw(st.booleans()),
        consents=tuple(draw(st.lists(consents(), max_size=4))),
        coach_ids=frozenset(draw(st.sets(st.sampled_from(["coach-1", "coach-2"])))),
        employer_contract_start=start,
        employer_contract_end=end,
        break_glass_until=draw(st.none() | offsets.map(lambda o: NOW + o)),
    )


actors = st.builds(
    Actor,
    user_id=st.sampled_from(["coach-1", "nurse-1"]),
    username=st.just("u"),
    role=st.sampled_from(["nurse", "coach", "supervisor"]),
    organization_id=st.sampled_from(ORGS),
    organization_kind=st.sampled_from(["care_provider", "imr"]),
)
requested = st.sets(st.sampled_from(sorted(ALL_CATEGORIES)), min_size=1).map(frozenset)


ZONES = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))])


@settings(max_examples=400, deadline=None)
@given(
    person=people(),
    actor=actors,
    categories=requested,
    fraction=st.floats(0, 1, exclude_max=True),
    zone=ZONES,
)
def test_no_decision_changes_before_stable_until(person, actor, categories, fraction, zone):
    now = NOW.astimezone(zone)  # the server passes UTC; the promise holds in any one zone
    until = stable_until(person, now)
    assert until is None or until > now
    horizon = until if until is not None else now + timedelta(days=30)
    expected = decide(actor, person, now, categories)
    # whole microseconds, strictly before the horizon (a float product can round up onto it)
    last = (horizon - now) // timedelta(microseconds=1) - 1
    inside = now + timedelta(microseconds=int(last * fraction))
    for t in (inside, horizon - timedelta(microseconds=1)):
        assert decide(actor, person, t.astimezone(zone), categories) == expected, (t, until)


def test_each_kind_of_boundary_is_found():
    adult = date(1960, 5, 17)
    vitals = frozenset({"vitals"})
    care = ConsentFact("care-a", vitals, "care", NOW - timedelta(days=1), None, "active")
    base = PersonFacts("p", adult, False, (care,))
    assert stable_until(base, NOW) is None
    day = timedelta(days=1)
    ends = ConsentFact("care-a", vitals, "care", NOW - day, NOW + timedelta(minutes=5), "active")
    assert stable_until(PersonFacts("p", adult, False, (ends,)), NOW) == NOW + timedelta(minutes=5)
    starts = ConsentFact("care-a", vitals, "care", NOW + timedelta(hours=2), None, "active")
    assert stable_until(PersonFacts("p", adult, False, (care, starts)), NOW) == NOW + timedelta(hours=2)
    glass = PersonFacts("p", adult, False, (), break_glass_until=NOW + timedelta(minutes=40))
    assert stable_until(glass, NOW) == NOW + timedelta(minutes=40)
    # turns 18 tomorrow (UTC midnight); born 29 February: counted from 1 March in a common year
    tomorrow = datetime(2026, 11, 23, tzinfo=UTC)
    assert stable_until(PersonFacts("p", date(2008, 11, 23), False), NOW) == tomorrow
    leap = datetime(2026, 2, 20, tzinfo=UTC)
    assert stable_until(PersonFacts("p", date(2008, 2, 29), False), leap) == datetime(2026, 3, 1, tzinfo=UTC)
    # an employer contract ending today still runs today: it stops counting at tomorrow's midnight
    contract = PersonFacts("p", adult, False, (), employer_contract_end=NOW.date())
    assert stable_until(contract, NOW) == tomorrow


def test_a_fraction_just_under_one_stays_before_the_horizon():
    """The failing example CI found: a grant ending one second after ``now``.

    ``(horizon - now) * 0.9999999999999998`` rounds to the horizon itself, where the grant has
    ended; the property must only sample instants strictly before ``stable_until``.
    """
    person = PersonFacts("p", date(2008, 11, 22), False, (), break_glass_until=NOW + timedelta(seconds=1))
    actor = Actor("nurse-1", "u", "nurse", "care-a", "care_provider")
    assert stable_until(person, NOW) == NOW + timedelta(seconds=1)
    test_no_decision_changes_before_stable_until.hypothesis.inner_test(
        person, actor, frozenset({"conditions"}), 0.9999999999999998, UTC
    )
