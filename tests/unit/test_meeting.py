"""A meeting's parts, categories and measurement rules (clinic_tui.domain.meeting)."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic_tui.domain.categories import Category
from clinic_tui.domain.meeting import (
    COACHING_CATEGORIES,
    CONCLUSION_CATEGORIES,
    MEASUREMENTS,
    PART_CATEGORY,
    Part,
    check_measurements,
    check_meeting_date,
    next_test_due,
    part_of,
)
from clinic_tui.domain.profiling import CONCLUSION_CODES
from clinic_tui.domain.provenance import MESSAGES


def codes(problems):
    return [(p.field, p.code) for p in problems]


def test_each_part_has_the_category_design_names():
    assert PART_CATEGORY[Part.MEASUREMENTS] == Category.VITALS
    assert PART_CATEGORY[Part.QUESTIONNAIRE] == Category.QUESTIONNAIRES
    assert PART_CATEGORY[Part.FITNESS_TEST] == Category.FITNESS_TESTS
    assert PART_CATEGORY[Part.NOTES] == PART_CATEGORY[Part.ASSESSMENT] == Category.PROFILING
    assert COACHING_CATEGORIES == {
        Category.VITALS,
        Category.QUESTIONNAIRES,
        Category.FITNESS_TESTS,
        Category.PROFILING,
    }
    assert set(CONCLUSION_CATEGORIES) == set(CONCLUSION_CODES)


def test_loinc_and_ucum_of_the_meeting_measurements():
    assert {k: (m.loinc, m.unit) for k, m in MEASUREMENTS.items()} == {
        "height_cm": ("8302-2", "cm"),
        "weight_kg": ("29463-7", "kg"),
        "waist_cm": ("8280-0", "cm"),
        "systolic": ("8480-6", "mm[Hg]"),
        "diastolic": ("8462-4", "mm[Hg]"),
        "heart_rate": ("8867-4", "/min"),
    }


def test_measurement_rules():
    assert check_measurements({"height_cm": 178, "weight_kg": 82, "systolic": 128, "diastolic": 82}) == ()
    assert codes(check_measurements({"weight_kg": 301})) == [("measurements.weight_kg", "value.out_of_range")]
    assert codes(check_measurements({"weight_kg": float("nan")})) == [
        ("measurements.weight_kg", "value.not_a_number")
    ]
    assert codes(check_measurements({"height_cm": True})) == [
        ("measurements.height_cm", "value.not_a_number")
    ]
    assert codes(check_measurements({"diastolic": 80})) == [("measurements.systolic", "value.missing")]
    assert codes(check_measurements({"systolic": 80, "diastolic": 80})) == [
        ("measurements.diastolic", "bp.diastolic_not_below_systolic")
    ]
    # in meeting order, and a pair rule only between plausible values
    assert codes(check_measurements({"systolic": 900, "diastolic": 95, "height_cm": 20}, prefix="")) == [
        ("height_cm", "value.out_of_range"),
        ("systolic", "value.out_of_range"),
    ]


@given(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(sorted(set(MEASUREMENTS) - {"systolic", "diastolic"})),
)
def test_a_value_is_refused_exactly_outside_its_range(value, key):
    m = MEASUREMENTS[key]
    found = check_measurements({key: value})
    assert bool(found) == (not m.min <= value <= m.max)


def test_meeting_date():
    today = date(2026, 11, 22)
    assert check_meeting_date(today, today=today) == ()
    assert codes(check_meeting_date(date(2026, 11, 23), today=today)) == [
        ("held_on", "meeting.date_in_future")
    ]
    assert codes(check_meeting_date(date(1950, 1, 1), today=today, birth_date=date(1960, 1, 1))) == [
        ("held_on", "meeting.date_before_birth")
    ]


@pytest.mark.parametrize(
    ("last", "due"),
    [(None, None), (date(2025, 3, 10), date(2026, 3, 10)), (date(2024, 2, 29), date(2025, 2, 28))],
)
def test_next_test_due(last, due):
    assert next_test_due(last) == due


def test_field_paths_name_their_part():
    assert part_of("fitness_test.hr_high") is Part.FITNESS_TEST
    assert part_of("questionnaire.sleep.duration") is Part.QUESTIONNAIRE
    assert part_of("notes") is Part.NOTES
    assert part_of("held_on") is None and part_of("bogus.x") is None


def test_every_code_a_meeting_or_correction_uses_has_a_message():
    for code in (
        "meeting.date_in_future",
        "meeting.date_before_birth",
        "meeting.empty",
        "correction.unknown_field",
        "correction.no_such_part",
        "correction.no_change",
        "correction.repeated_field",
    ):
        assert code in MESSAGES
