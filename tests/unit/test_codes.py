import math

import pytest

from clinic_tui.domain import codes
from clinic_tui.domain.categories import (
    ALL_CATEGORIES,
    CATEGORY_LABELS,
    HEALTH_CATEGORIES,
    Category,
)
from clinic_tui.domain.codes import MeasurementError, validate
from clinic_tui.domain.fitness import BMI_EQUATION_VERSION, bmi

EXPECTED = {
    "weight": ("29463-7", "kg", 2, 400),
    "systolic": ("8480-6", "mm[Hg]", 40, 300),
    "diastolic": ("8462-4", "mm[Hg]", 20, 200),
    "heart_rate": ("8867-4", "/min", 20, 300),
    "glucose": ("14743-9", "mmol/L", 0.5, 50),
    "spo2": ("59408-5", "%", 50, 100),
    "steps": ("41950-7", "/d", 0, 100_000),
    "sleep": ("93832-4", "h", 0, 24),
    "waist": ("8280-0", "cm", 30, 250),
    "bmi": ("39156-5", "kg/m2", 8, 100),
}


def test_exact_measurement_table():
    assert set(codes.BY_KEY) == set(EXPECTED)
    assert len(codes.MEASUREMENTS) == len(EXPECTED)
    for key, (loinc, unit, lo, hi) in EXPECTED.items():
        mt = codes.BY_KEY[key]
        assert codes.MEASUREMENTS[loinc] is mt
        assert (mt.key, mt.loinc, mt.unit, mt.plausible_min, mt.plausible_max) == (
            key,
            loinc,
            unit,
            lo,
            hi,
        )


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_range_bounds_inclusive(key):
    loinc, unit, lo, hi = EXPECTED[key]
    assert validate(loinc, unit, lo).key == key
    assert validate(loinc, unit, hi).key == key
    step = 0.01
    for bad in (lo - step, hi + step):
        with pytest.raises(MeasurementError, match="allowed range"):
            validate(loinc, unit, bad)


def test_unknown_code():
    with pytest.raises(MeasurementError, match="unknown"):
        validate("1234-5", "kg", 80)


def test_wrong_unit_names_expected_unit():
    with pytest.raises(MeasurementError, match=r"expected 'mmol/L'"):
        validate("14743-9", "mg/dL", 90)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite(value):
    with pytest.raises(MeasurementError, match="finite"):
        validate("29463-7", "kg", value)


@pytest.mark.parametrize("value", ["80", None, True])
def test_non_numeric(value):
    with pytest.raises(MeasurementError, match="number"):
        validate("29463-7", "kg", value)


def test_impossible_message_names_range():
    with pytest.raises(MeasurementError, match="2–400 kg"):
        validate("29463-7", "kg", 1000)


def test_conditions():
    assert codes.CONDITIONS == {
        "heart_failure": "Heart failure",
        "hypertension": "Hypertension",
        "diabetes_t2": "Type 2 diabetes",
        "copd": "COPD",
    }
    assert codes.CONDITION_SNOMED == {
        "heart_failure": "84114007",
        "hypertension": "38341003",
        "diabetes_t2": "44054006",
        "copd": "13645005",
    }


def test_categories():
    assert len(ALL_CATEGORIES) == 12
    assert all(c.value == c.name.lower() for c in Category)
    assert ALL_CATEGORIES - HEALTH_CATEGORIES == {
        Category.IDENTITY,
        Category.CONTACT,
        Category.OCCUPATION,
    }
    assert set(CATEGORY_LABELS) == set(ALL_CATEGORIES)
    assert Category("fitness_tests") is Category.FITNESS_TESTS


def test_bmi():
    assert bmi(80, 180) == 24.7
    assert BMI_EQUATION_VERSION == "bmi.v1"
    for w, h in ((0, 180), (80, 0), (-1, 180), (80, math.nan)):
        with pytest.raises(ValueError):
            bmi(w, h)
