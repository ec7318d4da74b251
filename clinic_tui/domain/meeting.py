"""A health-profile meeting's parts, their data categories, and the rules for what is measured.

Shared by the server (validation, what a write needs consent for, what a read may show) and the
coach's screens (the same checks while typing, which parts a missing consent hides). A meeting
holds up to four recorded parts and one derived one:

| part | data category | what |
|---|---|---|
| ``measurements`` | vitals | height, weight, waist, resting blood pressure and heart rate; BMI derived |
| ``questionnaire`` | questionnaires | answers to a versioned questionnaire (``questionnaire.py``) |
| ``fitness_test`` | fitness_tests | a cycle test's inputs and its VO2max estimate (``fitness.py``) |
| ``notes`` | profiling | the coach's free text, kept apart from the automated assessment |
| ``assessment`` | profiling | the automated assessment (``profiling.py``), derived, never typed |

Field paths name a value across the parts (``measurements.weight_kg``, ``fitness_test.hr_high``,
``questionnaire.sleep.duration``, ``notes``, ``held_on``): problems carry them so a screen can show
each message beside its field, and a correction names the values it changes by them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from clinic_tui.domain.categories import Category
from clinic_tui.domain.codes import (
    BY_KEY,
    LOINC_BMI,
    LOINC_DIASTOLIC,
    LOINC_HEART_RATE,
    LOINC_SYSTOLIC,
    LOINC_WAIST,
    LOINC_WEIGHT,
)
from clinic_tui.domain.fitness import ASTRAND_RYHMING, EKBLOM_BAK_2016, LIMITS
from clinic_tui.domain.profiling import CONCLUSION_CODES, LIFESTYLE_RULES
from clinic_tui.domain.provenance import Problem, Rule

__all__ = [
    "BMI",
    "BMI_LOINC",
    "BMI_UNIT",
    "COACHING_CATEGORIES",
    "CONCLUSION_CATEGORIES",
    "FITNESS_TEST_INTERVAL_MONTHS",
    "LOINC_HEIGHT",
    "MEASUREMENTS",
    "PART_CATEGORY",
    "PROTOCOL_FIELDS",
    "MeetingKind",
    "MeetingMeasurement",
    "Part",
    "check_measurements",
    "check_meeting_date",
    "next_test_due",
    "part_of",
]

#: body height (LOINC 8302-2), not among the home-monitoring measurements of ``codes``
LOINC_HEIGHT = "8302-2"


class MeetingKind(StrEnum):
    FIRST = "first"
    FOLLOW_UP = "follow_up"


class Part(StrEnum):
    MEASUREMENTS = "measurements"
    QUESTIONNAIRE = "questionnaire"
    FITNESS_TEST = "fitness_test"
    NOTES = "notes"
    ASSESSMENT = "assessment"


#: the data category each part holds: what a coach needs the participant's consent to, to record
#: or read it (IMR's privacy policy: health data only with consent)
PART_CATEGORY: dict[Part, Category] = {
    Part.MEASUREMENTS: Category.VITALS,
    Part.QUESTIONNAIRE: Category.QUESTIONNAIRES,
    Part.FITNESS_TEST: Category.FITNESS_TESTS,
    Part.NOTES: Category.PROFILING,
    Part.ASSESSMENT: Category.PROFILING,
}
#: the categories a coach's meeting work is about
COACHING_CATEGORIES: frozenset[Category] = frozenset(PART_CATEGORY.values())

#: the categories each conclusion of the assessment reads (besides profiling, which it is): a
#: conclusion is shown only where all of them are allowed, since its explanation names the inputs
CONCLUSION_CATEGORIES: dict[str, frozenset[Category]] = {
    "fitness.category": frozenset({Category.FITNESS_TESTS}),
    "bmi.category": frozenset({Category.VITALS}),
    "waist.category": frozenset({Category.VITALS}),
    "bp.grade": frozenset({Category.VITALS}),
    **{code: frozenset({Category.QUESTIONNAIRES}) for code in LIFESTYLE_RULES},
}
assert set(CONCLUSION_CATEGORIES) == set(CONCLUSION_CODES)


@dataclass(frozen=True, slots=True)
class MeetingMeasurement:
    """One value measured at a meeting: LOINC code, UCUM unit and the plausible (inclusive) range."""

    key: str
    loinc: str
    unit: str
    min: float
    max: float
    decimals: int


def _from_codes(key: str, code_key: str) -> MeetingMeasurement:
    mt = BY_KEY[code_key]
    return MeetingMeasurement(key, mt.loinc, mt.unit, mt.plausible_min, mt.plausible_max, mt.decimals)


#: in the order of the meeting (what the screen's fields follow). Height and weight use the adult
#: limits of the cycle test (``fitness.LIMITS``), so a weight the test refuses is never stored; the
#: others the physiological limits ingestion uses (``codes``).
MEASUREMENTS: dict[str, MeetingMeasurement] = {
    m.key: m
    for m in (
        MeetingMeasurement(
            "height_cm", LOINC_HEIGHT, "cm", LIMITS["height_cm"].min, LIMITS["height_cm"].max, 1
        ),
        MeetingMeasurement(
            "weight_kg", LOINC_WEIGHT, "kg", LIMITS["weight_kg"].min, LIMITS["weight_kg"].max, 1
        ),
        _from_codes("waist_cm", "waist"),
        _from_codes("systolic", "systolic"),
        _from_codes("diastolic", "diastolic"),
        _from_codes("heart_rate", "heart_rate"),
    )
}
assert MEASUREMENTS["waist_cm"].loinc == LOINC_WAIST
assert (MEASUREMENTS["systolic"].loinc, MEASUREMENTS["diastolic"].loinc) == (LOINC_SYSTOLIC, LOINC_DIASTOLIC)
assert MEASUREMENTS["heart_rate"].loinc == LOINC_HEART_RATE

#: BMI, derived from the meeting's weight and height by ``fitness.bmi`` (``bmi.v1``), LOINC 39156-5
BMI = Rule("bmi", 1, "body mass index = weight (kg) / height (m)², one decimal (fitness.bmi, bmi.v1)")
BMI_LOINC = LOINC_BMI
BMI_UNIT = "kg/m2"

#: the inputs a coach types for each cycle-test protocol, in the order of the protocol; sex and
#: age come from the participant, the weight from the meeting's measurements unless typed here
PROTOCOL_FIELDS: dict[str, tuple[str, ...]] = {
    EKBLOM_BAK_2016.id: ("watts_low", "hr_low", "watts_high", "hr_high", "weight_kg"),
    ASTRAND_RYHMING.id: ("watts", "hr", "weight_kg"),
}

#: a participant's fitness test is due again this many months after the last one (IMR's yearly
#: health profile: an assumption of this project, not a published rule)
FITNESS_TEST_INTERVAL_MONTHS = 12


def _is_number(v: object) -> bool:
    return not isinstance(v, bool) and isinstance(v, int | float) and math.isfinite(v)


def check_measurements(values: Mapping[str, object], *, prefix: str = "measurements.") -> tuple[Problem, ...]:
    """Every problem with the measurements given so far (None = not measured), in meeting order.

    Blood pressure is one reading: systolic and diastolic come together, diastolic below systolic.
    Field names carry ``prefix`` (the part's field path)."""
    problems: list[Problem] = []
    ok: dict[str, float] = {}
    for key, m in MEASUREMENTS.items():
        value = values.get(key)
        if value is None:
            continue
        name = prefix + key
        if not _is_number(value):
            problems.append(Problem(name, "value.not_a_number"))
        elif not m.min <= value <= m.max:  # type: ignore[operator]
            problems.append(
                Problem(
                    name, "value.out_of_range", {"value": value, "min": m.min, "max": m.max, "unit": m.unit}
                )
            )
        else:
            ok[key] = value  # type: ignore[assignment]
    sys_given, dia_given = values.get("systolic") is not None, values.get("diastolic") is not None
    if sys_given != dia_given:
        problems.append(Problem(prefix + ("diastolic" if sys_given else "systolic"), "value.missing"))
    if "systolic" in ok and "diastolic" in ok and ok["diastolic"] >= ok["systolic"]:
        problems.append(
            Problem(
                prefix + "diastolic",
                "bp.diastolic_not_below_systolic",
                {"systolic": ok["systolic"], "diastolic": ok["diastolic"]},
            )
        )
    order = {prefix + k: i for i, k in enumerate(MEASUREMENTS)}
    return tuple(sorted(problems, key=lambda p: order.get(p.field or "", len(order))))


def check_meeting_date(held_on: date, *, today: date, birth_date: date | None = None) -> tuple[Problem, ...]:
    """A meeting is held today or earlier, and not before the participant was born."""
    if held_on > today:
        return (
            Problem(
                "held_on",
                "meeting.date_in_future",
                {"value": held_on.isoformat(), "today": today.isoformat()},
            ),
        )
    if birth_date is not None and held_on < birth_date:
        return (Problem("held_on", "meeting.date_before_birth", {"value": held_on.isoformat()}),)
    return ()


def _add_months(d: date, months: int) -> date:
    month = d.month - 1 + months
    year, month = d.year + month // 12, month % 12 + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has a 28th")


def next_test_due(last_test_on: date | None) -> date | None:
    """When the next fitness test is due: ``FITNESS_TEST_INTERVAL_MONTHS`` after the last, or at
    once (None) when there has been none."""
    return None if last_test_on is None else _add_months(last_test_on, FITNESS_TEST_INTERVAL_MONTHS)


def part_of(field_path: str) -> Part | None:
    """The part a field path belongs to (``fitness_test.hr_high`` -> fitness_test), or None."""
    head = field_path.split(".", 1)[0]
    return Part(head) if head in Part._value2member_map_ else None
