"""Measurement types (LOINC + UCUM) and condition codes (SNOMED CT).

Plausible ranges are physiological possibility limits, not clinical alert
limits: a value outside them cannot be a real measurement and must be
rejected at ingestion.  Bounds are inclusive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "BY_KEY",
    "CONDITIONS",
    "CONDITION_SNOMED",
    "LOINC_BMI",
    "LOINC_DIASTOLIC",
    "LOINC_GLUCOSE",
    "LOINC_HEART_RATE",
    "LOINC_SLEEP",
    "LOINC_SPO2",
    "LOINC_STEPS",
    "LOINC_SYSTOLIC",
    "LOINC_WAIST",
    "LOINC_WEIGHT",
    "MEASUREMENTS",
    "MeasurementError",
    "MeasurementType",
    "validate",
]


@dataclass(frozen=True, slots=True)
class MeasurementType:
    key: str
    loinc: str
    display: str
    unit: str  # UCUM
    decimals: int
    plausible_min: float
    plausible_max: float


LOINC_WEIGHT = "29463-7"
LOINC_SYSTOLIC = "8480-6"
LOINC_DIASTOLIC = "8462-4"
LOINC_HEART_RATE = "8867-4"
LOINC_GLUCOSE = "14743-9"
LOINC_SPO2 = "59408-5"
LOINC_STEPS = "41950-7"
LOINC_SLEEP = "93832-4"
LOINC_WAIST = "8280-0"
LOINC_BMI = "39156-5"

_TYPES = (
    MeasurementType("weight", LOINC_WEIGHT, "Body weight", "kg", 1, 2, 400),
    MeasurementType("systolic", LOINC_SYSTOLIC, "Systolic blood pressure", "mm[Hg]", 0, 40, 300),
    MeasurementType("diastolic", LOINC_DIASTOLIC, "Diastolic blood pressure", "mm[Hg]", 0, 20, 200),
    MeasurementType("heart_rate", LOINC_HEART_RATE, "Heart rate", "/min", 0, 20, 300),
    MeasurementType("glucose", LOINC_GLUCOSE, "Glucose (capillary)", "mmol/L", 1, 0.5, 50),
    MeasurementType("spo2", LOINC_SPO2, "Oxygen saturation (SpO2)", "%", 0, 50, 100),
    MeasurementType("steps", LOINC_STEPS, "Steps per day", "/d", 0, 0, 100_000),
    MeasurementType("sleep", LOINC_SLEEP, "Sleep duration", "h", 1, 0, 24),
    MeasurementType("waist", LOINC_WAIST, "Waist circumference", "cm", 1, 30, 250),
    MeasurementType("bmi", LOINC_BMI, "Body mass index (BMI)", "kg/m2", 1, 8, 100),
)

MEASUREMENTS: dict[str, MeasurementType] = {t.loinc: t for t in _TYPES}
BY_KEY: dict[str, MeasurementType] = {t.key: t for t in _TYPES}

CONDITIONS: dict[str, str] = {
    "heart_failure": "Heart failure",
    "hypertension": "Hypertension",
    "diabetes_t2": "Type 2 diabetes",
    "copd": "COPD",
}

CONDITION_SNOMED: dict[str, str] = {
    "heart_failure": "84114007",
    "hypertension": "38341003",
    "diabetes_t2": "44054006",
    "copd": "13645005",
}


class MeasurementError(ValueError):
    """A measurement cannot be accepted (unknown code, wrong unit, impossible value)."""


def _fmt(x: float) -> str:
    return f"{x:g}"


def validate(loinc: str, unit: str, value: float) -> MeasurementType:
    """Check a measurement for ingestion and return its type, or raise MeasurementError."""
    mt = MEASUREMENTS.get(loinc)
    if mt is None:
        raise MeasurementError(f"unknown measurement code {loinc!r} (not a supported LOINC code)")
    if unit != mt.unit:
        raise MeasurementError(f"wrong unit {unit!r} for {mt.display}: expected {mt.unit!r}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MeasurementError(f"{mt.display} value must be a number")
    if not math.isfinite(value):
        raise MeasurementError(f"{mt.display} value must be a finite number")
    if not mt.plausible_min <= value <= mt.plausible_max:
        raise MeasurementError(
            f"{mt.display} {_fmt(value)} {mt.unit} is physiologically impossible: "
            f"allowed range is {_fmt(mt.plausible_min)}–{_fmt(mt.plausible_max)} {mt.unit}"
        )
    return mt
