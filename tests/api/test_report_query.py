"""The employer report's query on a real database: who counts, with which meeting and values."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from clinic_server.services.reports.queries import participants
from clinic_tui.domain import classification as cls
from clinic_tui.domain.categories import Category
from tests.coaching_util import COACHING
from tests.report_util import correct_measurements, last_year, store_meeting

NOW = datetime.now(UTC)
YEAR = last_year()


@pytest.fixture
def imr_world(world):
    imr = world.org("IMR", kind="imr")
    care = world.org("Vårdcentralen Norra")
    nordbygg = world.employer("Nordbygg AB", date(2020, 1, 1))
    other = world.employer("Solgruppen AB", date(2020, 1, 1))
    coach = world.user("cecilia", "coach", imr)
    return world, imr, care, nordbygg, other, coach


def test_each_participant_counts_once_with_the_latest_meeting_of_the_year(imr_world, session):
    world, imr, care, nordbygg, other, coach = imr_world
    p = world.person("Frida", "Fullsson", birth=date(1978, 4, 12), employer=nordbygg)
    world.consent(p, imr, categories=COACHING, purpose="coaching")
    store_meeting(session, p, coach, date(YEAR - 1, 11, 1), weight=120.0)  # the year before
    store_meeting(session, p, coach, date(YEAR, 3, 1), weight=60.0)
    latest = store_meeting(session, p, coach, date(YEAR, 9, 1), weight=95.0, waist=110.0, systolic=165.0)
    store_meeting(session, p, coach, date(YEAR + 1, 1, 5), weight=50.0)  # the year after
    session.commit()

    [one] = participants(session, nordbygg.id, YEAR, NOW)
    assert one.person_id == p.id and one.sex == p.sex
    # 95 kg at 178 cm: BMI 30.0 (obesity class I), as the classification rule says
    assert one.bmi_category == cls.bmi_category(weight_kg=95.0, height_cm=178.0).value == "obesity_class_1"
    assert one.waist_category == "substantially_increased"
    assert one.bp_grade == "grade_2"
    assert one.answers["tobacco.snus"] == "daily"
    assert one.vo2max_ml_kg_min is not None
    age = YEAR - 1978 - (1 if (9, 1) < (4, 12) else 0)
    assert one.fitness_category == (
        cls.fitness_category(sex=p.sex, age=age, vo2max_ml_kg_min=one.vo2max_ml_kg_min).value
    )
    assert one.consented == frozenset(COACHING)
    assert latest


def test_a_correction_counts_and_the_first_revision_does_not(imr_world, session):
    world, imr, care, nordbygg, other, coach = imr_world
    p = world.person(birth=date(1980, 1, 1), employer=nordbygg)
    world.consent(p, imr, categories=COACHING, purpose="coaching")
    mid = store_meeting(session, p, coach, date(YEAR, 5, 5), weight=70.0, height=178.0)  # normal
    correct_measurements(session, mid, p, weight=100.0, height=178.0)  # obesity class I
    session.commit()
    [one] = participants(session, nordbygg.id, YEAR, NOW)
    assert one.bmi_category == "obesity_class_1"


def test_age_band_is_on_the_meeting_date(imr_world, session):
    world, imr, care, nordbygg, other, coach = imr_world
    # 30 on 10 June of the report year: a meeting on 9 June is in 18-29
    p = world.person(birth=date(YEAR - 30, 6, 10), employer=nordbygg)
    world.consent(p, imr, categories=COACHING, purpose="coaching")
    store_meeting(session, p, coach, date(YEAR, 6, 9))
    q = world.person(birth=date(YEAR - 30, 6, 10), employer=nordbygg)
    world.consent(q, imr, categories=COACHING, purpose="coaching")
    store_meeting(session, q, coach, date(YEAR, 6, 10))
    session.commit()
    bands = {x.person_id: x.age_band for x in participants(session, nordbygg.id, YEAR, NOW)}
    assert bands == {p.id: "18-29", q.id: "30-39"}


def test_only_an_active_consent_to_imr_counts_for_the_health_tables(imr_world, session):
    world, imr, care, nordbygg, other, coach = imr_world
    fitness = world.person(employer=nordbygg)
    world.consent(fitness, imr, categories=[Category.FITNESS_TESTS], purpose="coaching")
    withdrawn = world.person(employer=nordbygg)
    world.consent(withdrawn, imr, categories=COACHING, purpose="coaching", status="withdrawn")
    expired = world.person(employer=nordbygg)
    world.consent(expired, imr, categories=COACHING, purpose="coaching", valid_until=NOW - timedelta(days=2))
    care_only = world.person(employer=nordbygg)
    world.consent(care_only, care, categories=COACHING, purpose="care")
    nothing = world.person(employer=nordbygg)
    for p in (fitness, withdrawn, expired, care_only, nothing):
        store_meeting(session, p, coach, date(YEAR, 4, 1))
    session.commit()
    got = {x.person_id: x.consented for x in participants(session, nordbygg.id, YEAR, NOW)}
    # everyone took part; only the fitness-test consent covers anything
    assert got == {
        fitness.id: frozenset({Category.FITNESS_TESTS}),
        withdrawn.id: frozenset(),
        expired.id: frozenset(),
        care_only.id: frozenset(),
        nothing.id: frozenset(),
    }


def test_other_employers_restricted_people_and_other_years_do_not_count(imr_world, session):
    world, imr, care, nordbygg, other, coach = imr_world
    ours = world.person(employer=nordbygg)
    theirs = world.person(employer=other)
    restricted = world.person(employer=nordbygg, restricted=True)
    later = world.person(employer=nordbygg)
    for p in (ours, theirs, restricted, later):
        world.consent(p, imr, categories=COACHING, purpose="coaching")
    for p in (ours, theirs, restricted):
        store_meeting(session, p, coach, date(YEAR, 12, 31))
    store_meeting(session, later, coach, date(YEAR + 1, 1, 1))
    session.commit()
    assert [x.person_id for x in participants(session, nordbygg.id, YEAR, NOW)] == [ours.id]
    assert [x.person_id for x in participants(session, other.id, YEAR, NOW)] == [theirs.id]


def test_a_value_the_rules_cannot_classify_is_left_out(imr_world, session):
    world, imr, care, nordbygg, other, coach = imr_world
    # a woman of 67 on the meeting date: outside Åstrand's table for women (20-65)
    p = world.person(birth=date(YEAR - 67, 1, 1), employer=nordbygg)
    p.sex = "female"
    world.consent(p, imr, categories=COACHING, purpose="coaching")
    store_meeting(session, p, coach, date(YEAR, 6, 1), vo2_l_min=2.0)
    session.commit()
    [one] = participants(session, nordbygg.id, YEAR, NOW)
    assert one.vo2max_ml_kg_min is not None and one.fitness_category is None
    assert one.age_band == "60+"
