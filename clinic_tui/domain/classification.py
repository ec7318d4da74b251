"""Published reference tables that turn one measured value into a category code.

Fitness category by sex and age (Åstrand), BMI (WHO), waist circumference (WHO/IDF) and resting
blood pressure (ESC/ESH 2018). Each function returns a ``Classification``: a code (never English
text), the rule id and version, and the inputs it used. Every table sits beside its source;
docs/fitness.md lists them with what could and could not be checked.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from clinic_tui.domain.codes import BY_KEY
from clinic_tui.domain.fitness import LIMITS, Sex, bmi
from clinic_tui.domain.provenance import DomainError, Param, Problem, Rule

__all__ = [
    "BMI_CATEGORY",
    "BMI_CUTOFFS",
    "BP_CATEGORIES",
    "BP_GRADE",
    "FITNESS_CATEGORIES",
    "FITNESS_CATEGORY",
    "FITNESS_TABLE",
    "WAIST_CATEGORY",
    "WAIST_CUTOFFS",
    "Classification",
    "bmi_category",
    "bp_grade",
    "fitness_category",
    "waist_category",
]


@dataclass(frozen=True, slots=True)
class Classification:
    """A category code with the rule that gave it and the inputs it used."""

    rule_id: str
    rule_version: int
    value: str
    inputs: Mapping[str, Param]
    #: further codes qualifying the value (e.g. ``isolated_systolic`` on a hypertension grade)
    qualifiers: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "rule_id": self.rule_id,
            "rule_version": self.rule_version,
            "value": self.value,
            "inputs": dict(self.inputs),
            "qualifiers": list(self.qualifiers),
        }


def _number(name: str, value: object, lo: float, hi: float, unit: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DomainError([Problem(name, "value.not_a_number")])
    if not lo <= value <= hi:
        raise DomainError(
            [Problem(name, "value.out_of_range", {"value": value, "min": lo, "max": hi, "unit": unit})]
        )
    return float(value)


def _sex(value: object) -> Sex:
    if value in (Sex.FEMALE, Sex.MALE):
        return Sex(value)
    raise DomainError([Problem("sex", "value.unknown_code", {"value": str(value)})])


def _measurement(key: str, value: object, name: str | None = None) -> float:
    """A vital in its plausible range from ``codes`` (the limits ingestion uses)."""
    mt = BY_KEY[key]
    return _number(name or key, value, mt.plausible_min, mt.plausible_max, mt.unit)


def _limited(name: str, value: object) -> float:
    """An adult's weight or height in the cycle-test limits of ``fitness.LIMITS``."""
    lim = LIMITS[name]
    return _number(name, value, lim.min, lim.max, lim.unit)


# --- fitness category ------------------------------------------------------------------------------

FITNESS_CATEGORY = Rule(
    "fitness-category-astrand",
    1,
    "Åstrand I. Aerobic work capacity in men and women with special reference to age. Acta Physiol "
    "Scand 1960;49(Suppl 169):1-92, as tabulated in Åstrand P-O, Rodahl K. Textbook of Work "
    "Physiology (McGraw-Hill): maximal oxygen uptake, mL/kg/min, by sex and age",
)
#: the five categories, lowest first (Swedish: låg, något låg, medel, hög, mycket hög)
FITNESS_CATEGORIES: tuple[str, ...] = ("low", "fairly_low", "average", "high", "very_high")
#: Åstrand table (FITNESS_CATEGORY.source): per sex, (first age, last age, lowest whole mL/kg/min
#: of fairly_low, average, high, very_high); "low" is everything below fairly_low.
FITNESS_TABLE: dict[Sex, tuple[tuple[int, int, tuple[int, int, int, int]], ...]] = {
    Sex.FEMALE: (
        (20, 29, (29, 35, 44, 49)),
        (30, 39, (28, 34, 42, 48)),
        (40, 49, (26, 32, 41, 46)),
        (50, 65, (22, 29, 37, 42)),
    ),
    Sex.MALE: (
        (20, 29, (39, 44, 52, 57)),
        (30, 39, (35, 40, 48, 52)),
        (40, 49, (31, 36, 44, 48)),
        (50, 59, (26, 32, 40, 44)),
        (60, 69, (22, 27, 36, 40)),
    ),
}


def fitness_category(*, sex: str, age: float, vo2max_ml_kg_min: float) -> Classification:
    """Category of relative VO2max for the person's sex and age band (Åstrand's table).

    The table is in whole mL/kg/min, so the value is rounded half up before it is looked up: the
    category always matches the whole number the coach sees. An age outside the table's bands
    is refused (``classification.age_outside_reference``), never stretched to the nearest band."""
    s = _sex(sex)
    a = _number("age", age, 0, 130, "a")
    v = _number("vo2max_ml_kg_min", vo2max_ml_kg_min, 1, 120, "mL/kg/min")
    whole_years = math.floor(a)
    rows = FITNESS_TABLE[s]
    row = next((r for r in rows if r[0] <= whole_years <= r[1]), None)
    if row is None:
        raise DomainError(
            [
                Problem(
                    "age",
                    "classification.age_outside_reference",
                    {"age": age, "min": rows[0][0], "max": rows[-1][1], "sex": str(s)},
                )
            ]
        )
    first, last, cutoffs = row
    whole = math.floor(v + 0.5)
    rank = sum(1 for c in cutoffs if whole >= c)
    return Classification(
        FITNESS_CATEGORY.id,
        FITNESS_CATEGORY.version,
        FITNESS_CATEGORIES[rank],
        {"sex": str(s), "age": age, "age_band": f"{first}-{last}", "vo2max_ml_kg_min": vo2max_ml_kg_min},
    )


# --- BMI -------------------------------------------------------------------------------------------

BMI_CATEGORY = Rule(
    "bmi-category-who",
    1,
    "WHO. Obesity: preventing and managing the global epidemic. Technical Report Series 894, "
    "Geneva 2000, table 2.1 (adults)",
)
#: WHO TRS 894 (BMI_CATEGORY.source): (category, lowest BMI of the category, kg/m²), lowest first
BMI_CUTOFFS: tuple[tuple[str, float], ...] = (
    ("underweight", 0.0),
    ("normal", 18.5),
    ("overweight", 25.0),
    ("obesity_class_1", 30.0),
    ("obesity_class_2", 35.0),
    ("obesity_class_3", 40.0),
)


def bmi_category(*, weight_kg: float, height_cm: float) -> Classification:
    """WHO BMI category from the meeting's weight and height.

    BMI is computed by ``fitness.bmi`` (``bmi.v1``, one decimal) and that displayed value is
    classified, so 24.96 kg/m² shows as 25.0 and is ``overweight``."""
    w = _limited("weight_kg", weight_kg)
    h = _limited("height_cm", height_cm)
    value = bmi(w, h)
    category = [name for name, lowest in BMI_CUTOFFS if value >= lowest][-1]
    return Classification(
        BMI_CATEGORY.id,
        BMI_CATEGORY.version,
        category,
        {"weight_kg": weight_kg, "height_cm": height_cm, "bmi": value, "bmi_equation": "bmi.v1"},
    )


# --- waist -----------------------------------------------------------------------------------------

WAIST_CATEGORY = Rule(
    "waist-category-who-idf",
    1,
    "WHO. Waist circumference and waist-hip ratio: report of a WHO expert consultation, Geneva "
    "2008 (published 2011), table on sex-specific cut-offs (Europid): increased risk >94 cm men, "
    ">80 cm women; substantially increased >102 cm men, >88 cm women. IDF. The IDF consensus "
    "worldwide definition of the metabolic syndrome, 2006: central obesity (Europid) ≥94 cm men, "
    "≥80 cm women",
)
#: per sex: (lowest cm of "increased" (IDF ≥), highest cm still "increased" (WHO >102 / >88))
WAIST_CUTOFFS: dict[Sex, tuple[float, float]] = {Sex.MALE: (94.0, 102.0), Sex.FEMALE: (80.0, 88.0)}


def waist_category(*, sex: str, waist_cm: float) -> Classification:
    """``not_increased``, ``increased`` (≥94 men / ≥80 women, IDF) or ``substantially_increased``
    (>102 men / >88 women, WHO) risk from waist circumference."""
    s = _sex(sex)
    w = _measurement("waist", waist_cm, "waist_cm")
    increased_from, increased_to = WAIST_CUTOFFS[s]
    if w > increased_to:
        value = "substantially_increased"
    elif w >= increased_from:
        value = "increased"
    else:
        value = "not_increased"
    return Classification(
        WAIST_CATEGORY.id, WAIST_CATEGORY.version, value, {"sex": str(s), "waist_cm": waist_cm}
    )


# --- blood pressure --------------------------------------------------------------------------------

BP_GRADE = Rule(
    "bp-grade-esc-esh-2018",
    1,
    "Williams B, Mancia G, et al. 2018 ESC/ESH Guidelines for the management of arterial "
    "hypertension. Eur Heart J 2018;39:3021-104, table 3 (office blood pressure categories)",
)
#: lowest first; a reading takes the higher of its systolic and diastolic category
BP_CATEGORIES: tuple[str, ...] = ("optimal", "normal", "high_normal", "grade_1", "grade_2", "grade_3")
#: ESC/ESH 2018 table 3 (BP_GRADE.source): lowest mm[Hg] of normal, high normal, grade 1, 2, 3
_SYSTOLIC_FROM = (120, 130, 140, 160, 180)
_DIASTOLIC_FROM = (80, 85, 90, 100, 110)


def bp_grade(*, systolic: float, diastolic: float) -> Classification:
    """ESC/ESH 2018 category of one resting office reading: the higher of the systolic and diastolic
    categories; ``isolated_systolic`` qualifies a grade when systolic ≥140 and diastolic <90.

    One reading at a meeting is a screening value, not a diagnosis of hypertension (which needs
    repeated measurements); docs/fitness.md says so for the coach."""
    sys_ = _measurement("systolic", systolic)
    dia = _measurement("diastolic", diastolic)
    if dia >= sys_:
        raise DomainError(
            [
                Problem(
                    "diastolic",
                    "bp.diastolic_not_below_systolic",
                    {"systolic": systolic, "diastolic": diastolic},
                )
            ]
        )
    rank = max(sum(1 for c in _SYSTOLIC_FROM if sys_ >= c), sum(1 for c in _DIASTOLIC_FROM if dia >= c))
    qualifiers = ("isolated_systolic",) if sys_ >= _SYSTOLIC_FROM[2] and dia < _DIASTOLIC_FROM[2] else ()
    return Classification(
        BP_GRADE.id,
        BP_GRADE.version,
        BP_CATEGORIES[rank],
        {"systolic": systolic, "diastolic": diastolic},
        qualifiers,
    )
