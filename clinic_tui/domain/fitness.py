"""Submaximal cycle-test equations (VO2max), their input rules, and BMI.

Two tests, as DESIGN.md names them (sources, checks and worked examples in docs/fitness.md):

- the revised Ekblom-Bak test (``ekblom-bak-2016``): 4 min at the standard 0.5 kp at 60 rpm
  (about 30 W), then 4 min at a higher individual work rate; each stage's HR is the mean of the
  readings at 3:15, 3:30, 3:45 and 4:00;
- Åstrand-Ryhming (``astrand-ryhming``): one 6-minute stage, HR the mean of minutes 5 and 6,
  corrected for age with Åstrand's 1960 factors.

Every estimate records the equation id and version, its inputs and its warnings.  Inputs the test
does not allow raise ``DomainError`` with a code and params per problem, never only a sentence.
The meeting screen recomputes on every keystroke: ``preview_*`` take whatever has been typed so
far and say which field is implausible and why, and give the estimate once everything is there.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from clinic_tui.domain.provenance import DomainError, Notice, Param, Problem, Rule

__all__ = [
    "ASTRAND_AGE_FACTORS",
    "ASTRAND_RYHMING",
    "ASTRAND_RYHMING_CONSTANTS",
    "BMI_EQUATION_VERSION",
    "EKBLOM_BAK_2016",
    "EKBLOM_BAK_2016_COEFFICIENTS",
    "EKBLOM_BAK_AGE_RANGE",
    "HIGH_STAGE_HR_MIN",
    "LIMITS",
    "RELATIVE_VO2MAX",
    "EkblomBakCoefficients",
    "Limit",
    "Preview",
    "Sex",
    "VO2maxEstimate",
    "astrand_age_factor",
    "astrand_ryhming",
    "bmi",
    "check_astrand_ryhming",
    "check_ekblom_bak_2016",
    "demo_cycle_test",
    "ekblom_bak_2016",
    "estimate_astrand_ryhming",
    "estimate_ekblom_bak_2016",
    "high_stage_hr_min",
    "preview_astrand_ryhming",
    "preview_ekblom_bak_2016",
    "relative_vo2max",
]

BMI_EQUATION_VERSION = "bmi.v1"


class Sex(StrEnum):
    """The two sex-specific equation sets (the person's legal sex, as in ``personnummer.sex``)."""

    FEMALE = "female"
    MALE = "male"


# --- the equations, their coefficients and sources --------------------------------------------

EKBLOM_BAK_2016 = Rule(
    "ekblom-bak-2016",
    1,
    "Björkman F, Ekblom-Bak E, Ekblom Ö, Ekblom B. Validity of the revised Ekblom Bak cycle "
    "ergometer test in adults. Eur J Appl Physiol 2016;116:1627-38. doi:10.1007/s00421-016-3412-0",
)
ASTRAND_RYHMING = Rule(
    "astrand-ryhming",
    1,
    "Åstrand P-O, Ryhming I. A nomogram for calculation of aerobic capacity (physical fitness) from "
    "pulse rate during submaximal work. J Appl Physiol 1954;7:218-21 (algebraic form as in issue 10); "
    "age factors: Åstrand I. Aerobic work capacity in men and women with special reference to age. "
    "Acta Physiol Scand 1960;49(Suppl 169):1-92",
)
RELATIVE_VO2MAX = Rule("vo2max-relative", 1, "VO2max (mL/kg/min) = VO2max (L/min) × 1000 / body weight (kg)")


@dataclass(frozen=True, slots=True)
class EkblomBakCoefficients:
    """ln VO2max (L/min) = constant + age·a + (ΔHR/ΔPO)·b + ΔPO·c + HRstd·d."""

    constant: float
    age: float
    dhr_per_dpo: float
    dpo: float
    hr_standard: float


#: Björkman et al. 2016 (EKBLOM_BAK_2016.source), the revised sex-specific models, as given in
#: issue 10.  ΔHR = hr_high − hr_low (/min), ΔPO = watts_high − watts_low (W), HRstd = hr_low.
#: Check against the paper: docs/fitness.md ("Ekblom-Bak coefficients").
EKBLOM_BAK_2016_COEFFICIENTS: dict[Sex, EkblomBakCoefficients] = {
    Sex.FEMALE: EkblomBakCoefficients(1.84390, -0.00673, -0.62578, 0.00175, -0.00471),
    Sex.MALE: EkblomBakCoefficients(2.04900, -0.00858, -0.90742, 0.00178, -0.00290),
}
#: ages the revised equation was validated for (Björkman et al. 2016, abstract)
EKBLOM_BAK_AGE_RANGE = (20, 86)
#: fitness levels it was validated for, mL/kg/min (same source); outside -> a warning
EKBLOM_BAK_VALIDATED_FITNESS = (19, 76)
#: the standard low stage, 0.5 kp at 60 rpm = 180 kpm/min ≈ 29.4 W, "≈30 W" in the paper
EKBLOM_BAK_STANDARD_WATTS = 30
EKBLOM_BAK_STANDARD_TOLERANCE = 5

#: Åstrand & Ryhming 1954 (ASTRAND_RYHMING.source): VO2 at the work rate = a·W + b (L/min), and
#: VO2max = VO2 · (hr_ref − hr_rest) / (hr − hr_rest), per sex: (hr_ref, hr_rest)
ASTRAND_VO2_PER_WATT = 0.014
ASTRAND_VO2_OFFSET = 0.129
ASTRAND_RYHMING_CONSTANTS: dict[Sex, tuple[int, int]] = {Sex.MALE: (195, 61), Sex.FEMALE: (198, 72)}
#: Åstrand I 1960 age correction factors (age, factor); linear between, end values outside
ASTRAND_AGE_FACTORS: tuple[tuple[int, float], ...] = (
    (15, 1.10),
    (25, 1.00),
    (35, 0.87),
    (40, 0.83),
    (45, 0.78),
    (50, 0.75),
    (55, 0.71),
    (60, 0.68),
    (65, 0.65),
)

#: the work-stage heart rate must reach this for either test to be valid (issue 10 rule, as in
#: the Swedish health-profile test protocols): 120/min, 110/min from age 60
HIGH_STAGE_HR_MIN = 120
HIGH_STAGE_HR_MIN_FROM_60 = 110
HIGH_STAGE_HR_LOWER_FROM_AGE = 60


@dataclass(frozen=True, slots=True)
class Limit:
    """Inclusive bounds of a plausible input on a cycle test."""

    min: float
    max: float
    unit: str


#: plausible inputs for a cycle test on an adult: a value outside cannot be a usable test result
LIMITS: dict[str, Limit] = {
    "age": Limit(15, 100, "a"),
    "hr": Limit(40, 220, "/min"),
    "watts": Limit(10, 500, "W"),
    "weight_kg": Limit(30, 300, "kg"),
    "height_cm": Limit(120, 230, "cm"),
}
_LIMIT_OF = {
    "age": "age",
    "hr_low": "hr",
    "hr_high": "hr",
    "hr": "hr",
    "watts_low": "watts",
    "watts_high": "watts",
    "watts": "watts",
    "weight_kg": "weight_kg",
    "height_cm": "height_cm",
}


# --- results ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VO2maxEstimate:
    """One estimate with everything needed to reproduce it."""

    equation_id: str
    equation_version: int
    inputs: Mapping[str, Param]
    vo2max_l_min: float
    weight_kg: float | None = None
    vo2max_ml_kg_min: float | None = None
    relative_rule_id: str | None = None
    relative_rule_version: int | None = None
    warnings: tuple[Notice, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "equation_id": self.equation_id,
            "equation_version": self.equation_version,
            "inputs": dict(self.inputs),
            "vo2max_l_min": self.vo2max_l_min,
            "weight_kg": self.weight_kg,
            "vo2max_ml_kg_min": self.vo2max_ml_kg_min,
            "relative_rule_id": self.relative_rule_id,
            "relative_rule_version": self.relative_rule_version,
            "warnings": [w.as_dict() for w in self.warnings],
        }


@dataclass(frozen=True, slots=True)
class Preview:
    """What the meeting screen shows while typing: problems per field, fields still empty, and
    the estimate once every required field is there and plausible (an implausible weight is
    reported but only withholds the relative value)."""

    problems: tuple[Problem, ...] = ()
    missing: tuple[str, ...] = ()
    estimate: VO2maxEstimate | None = None

    def problems_for(self, field_name: str) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.field == field_name)


# --- input checks -------------------------------------------------------------------------------


def _is_number(v: object) -> bool:
    return not isinstance(v, bool) and isinstance(v, int | float) and math.isfinite(v)


def _check_value(name: str, value: object) -> Problem | None:
    if not _is_number(value):
        return Problem(name, "value.not_a_number")
    lim = LIMITS[_LIMIT_OF[name]]
    if not lim.min <= value <= lim.max:  # type: ignore[operator]
        return Problem(
            name, "value.out_of_range", {"value": value, "min": lim.min, "max": lim.max, "unit": lim.unit}
        )
    return None


def _check_sex(value: object) -> Problem | None:
    if value in (Sex.FEMALE, Sex.MALE):
        return None
    return Problem("sex", "value.unknown_code", {"value": str(value)})


def high_stage_hr_min(age: float | None) -> int:
    """The lowest work-stage HR that makes a valid test; with no (plausible) age, the lenient one,
    so a value is never called implausible before the age that decides it is known."""
    if age is None or age >= HIGH_STAGE_HR_LOWER_FROM_AGE:
        return HIGH_STAGE_HR_MIN_FROM_60
    return HIGH_STAGE_HR_MIN


def _check_fields(values: dict[str, object]) -> tuple[list[Problem], dict[str, float]]:
    """Check each given (not None) field on its own; return problems and the fields that passed."""
    problems: list[Problem] = []
    ok: dict[str, float] = {}
    for name, value in values.items():
        if value is None:
            continue
        p = _check_sex(value) if name == "sex" else _check_value(name, value)
        if p is None:
            ok[name] = value  # type: ignore[assignment]
        else:
            problems.append(p)
    return problems, ok


def _check_work_hr(problems: list[Problem], ok: dict[str, float], hr_field: str) -> None:
    if hr_field in ok:
        minimum = high_stage_hr_min(ok.get("age"))
        if ok[hr_field] < minimum:
            problems.append(
                Problem(hr_field, "fitness.hr_high_below_minimum", {"value": ok[hr_field], "min": minimum})
            )


def _ordered(problems: list[Problem], order: tuple[str, ...]) -> tuple[Problem, ...]:
    rank = {name: i for i, name in enumerate(order)}
    return tuple(sorted(problems, key=lambda p: rank.get(p.field or "", len(order))))


_EB_FIELDS = ("sex", "age", "watts_low", "hr_low", "watts_high", "hr_high", "weight_kg")
_EB_REQUIRED = _EB_FIELDS[:-1]
_AR_FIELDS = ("sex", "age", "watts", "hr", "weight_kg")
_AR_REQUIRED = _AR_FIELDS[:-1]


def check_ekblom_bak_2016(
    *,
    sex: object = None,
    age: object = None,
    hr_low: object = None,
    hr_high: object = None,
    watts_low: object = None,
    watts_high: object = None,
    weight_kg: object = None,
) -> tuple[Problem, ...]:
    """Every problem with the fields typed so far (None = not typed yet), in protocol order.

    A rule between two fields is checked once both are plausible on their own."""
    values = {
        "sex": sex,
        "age": age,
        "watts_low": watts_low,
        "hr_low": hr_low,
        "watts_high": watts_high,
        "hr_high": hr_high,
        "weight_kg": weight_kg,
    }
    problems, ok = _check_fields(values)
    if "age" in ok and not EKBLOM_BAK_AGE_RANGE[0] <= ok["age"] <= EKBLOM_BAK_AGE_RANGE[1]:
        problems.append(
            Problem(
                "age",
                "fitness.age_outside_equation",
                {
                    "value": ok["age"],
                    "min": EKBLOM_BAK_AGE_RANGE[0],
                    "max": EKBLOM_BAK_AGE_RANGE[1],
                    "equation": EKBLOM_BAK_2016.id,
                },
            )
        )
    _check_work_hr(problems, ok, "hr_high")
    if "hr_low" in ok and "hr_high" in ok and ok["hr_high"] <= ok["hr_low"]:
        problems.append(
            Problem(
                "hr_high", "fitness.hr_high_not_above_low", {"hr_low": ok["hr_low"], "hr_high": ok["hr_high"]}
            )
        )
    if "watts_low" in ok and "watts_high" in ok and ok["watts_high"] <= ok["watts_low"]:
        problems.append(
            Problem(
                "watts_high",
                "fitness.work_rate_not_increasing",
                {"watts_low": ok["watts_low"], "watts_high": ok["watts_high"]},
            )
        )
    return _ordered(problems, _EB_FIELDS)


def check_astrand_ryhming(
    *,
    sex: object = None,
    age: object = None,
    watts: object = None,
    hr: object = None,
    weight_kg: object = None,
) -> tuple[Problem, ...]:
    """Every problem with the fields typed so far (None = not typed yet), in protocol order."""
    problems, ok = _check_fields({"sex": sex, "age": age, "watts": watts, "hr": hr, "weight_kg": weight_kg})
    _check_work_hr(problems, ok, "hr")
    return _ordered(problems, _AR_FIELDS)


def _missing(values: Mapping[str, object], required: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(name for name in required if values.get(name) is None)


def _raise_if_unusable(
    values: Mapping[str, object], required: tuple[str, ...], problems: tuple[Problem, ...]
) -> None:
    missing = [Problem(name, "value.missing") for name in _missing(values, required)]
    if missing or problems:
        raise DomainError([*missing, *problems])


# --- computations -------------------------------------------------------------------------------


def relative_vo2max(vo2max_l_min: float, weight_kg: float) -> float:
    """VO2max in mL/kg/min from L/min and the meeting's body weight (rule ``vo2max-relative`` v1)."""
    p = _check_value("weight_kg", weight_kg)
    if p is not None:
        raise DomainError([p])
    if not _is_number(vo2max_l_min) or vo2max_l_min <= 0:
        raise DomainError([Problem("vo2max_l_min", "value.not_a_number")])
    return vo2max_l_min * 1000.0 / weight_kg


def _estimate(
    rule: Rule, inputs: dict[str, Param], vo2max: float, weight_kg: float | None, warnings: list[Notice]
) -> VO2maxEstimate:
    rel = None if weight_kg is None else relative_vo2max(vo2max, weight_kg)
    if rule is EKBLOM_BAK_2016 and rel is not None:
        lo, hi = EKBLOM_BAK_VALIDATED_FITNESS
        if not lo <= rel <= hi:
            warnings.append(
                Notice(
                    "ekblom_bak.outside_validated_fitness",
                    {"vo2max_ml_kg_min": round(rel, 1), "min": lo, "max": hi},
                )
            )
    return VO2maxEstimate(
        equation_id=rule.id,
        equation_version=rule.version,
        inputs=inputs,
        vo2max_l_min=vo2max,
        weight_kg=weight_kg,
        vo2max_ml_kg_min=rel,
        relative_rule_id=None if rel is None else RELATIVE_VO2MAX.id,
        relative_rule_version=None if rel is None else RELATIVE_VO2MAX.version,
        warnings=tuple(warnings),
    )


def estimate_ekblom_bak_2016(
    *,
    sex: str,
    age: float,
    hr_low: float,
    hr_high: float,
    watts_low: float,
    watts_high: float,
    weight_kg: float | None = None,
) -> VO2maxEstimate:
    """VO2max (L/min) by the revised Ekblom-Bak test; with ``weight_kg`` also mL/kg/min.

    Raises DomainError (every problem, with codes) when the inputs are not a valid test."""
    values = {
        "sex": sex,
        "age": age,
        "hr_low": hr_low,
        "hr_high": hr_high,
        "watts_low": watts_low,
        "watts_high": watts_high,
    }
    _raise_if_unusable(values, _EB_REQUIRED, check_ekblom_bak_2016(**values, weight_kg=weight_kg))
    c = EKBLOM_BAK_2016_COEFFICIENTS[Sex(sex)]
    dhr = hr_high - hr_low
    dpo = watts_high - watts_low
    vo2max = math.exp(
        c.constant + c.age * age + c.dhr_per_dpo * (dhr / dpo) + c.dpo * dpo + c.hr_standard * hr_low
    )
    warnings: list[Notice] = []
    if abs(watts_low - EKBLOM_BAK_STANDARD_WATTS) > EKBLOM_BAK_STANDARD_TOLERANCE:
        warnings.append(
            Notice(
                "ekblom_bak.nonstandard_low_work_rate",
                {"watts_low": watts_low, "standard": EKBLOM_BAK_STANDARD_WATTS},
            )
        )
    inputs: dict[str, Param] = {"sex": str(Sex(sex)), **{k: v for k, v in values.items() if k != "sex"}}
    return _estimate(EKBLOM_BAK_2016, inputs, vo2max, weight_kg, warnings)


def ekblom_bak_2016(
    *, sex: str, age: float, hr_low: float, hr_high: float, watts_low: float, watts_high: float
) -> float:
    """VO2max in L/min by the revised Ekblom-Bak test (Björkman et al. 2016); see the estimate_ form
    for the equation id, inputs and warnings."""
    return estimate_ekblom_bak_2016(
        sex=sex, age=age, hr_low=hr_low, hr_high=hr_high, watts_low=watts_low, watts_high=watts_high
    ).vo2max_l_min


def _astrand_factor(age: float) -> tuple[float, Notice | None]:
    first_age, first_factor = ASTRAND_AGE_FACTORS[0]
    last_age, last_factor = ASTRAND_AGE_FACTORS[-1]
    if age < first_age:
        return first_factor, Notice(
            "astrand.age_factor_end_value", {"age": age, "end_age": first_age, "factor": first_factor}
        )
    if age > last_age:
        return last_factor, Notice(
            "astrand.age_factor_end_value", {"age": age, "end_age": last_age, "factor": last_factor}
        )
    for (a0, f0), (a1, f1) in zip(ASTRAND_AGE_FACTORS, ASTRAND_AGE_FACTORS[1:], strict=False):
        if a0 <= age <= a1:
            return f0 + (f1 - f0) * (age - a0) / (a1 - a0), None
    raise AssertionError("unreachable: the table covers every age between its ends")


def astrand_age_factor(age: float) -> float:
    """Åstrand 1960 age correction factor: linear between the table's ages, its end values outside."""
    if not _is_number(age):
        raise DomainError([Problem("age", "value.not_a_number")])
    return _astrand_factor(age)[0]


def estimate_astrand_ryhming(
    *, sex: str, age: float, watts: float, hr: float, weight_kg: float | None = None
) -> VO2maxEstimate:
    """Age-corrected VO2max (L/min) by Åstrand-Ryhming; with ``weight_kg`` also mL/kg/min.

    Ages outside 15–65 use the table's end factor and carry a warning."""
    values = {"sex": sex, "age": age, "watts": watts, "hr": hr}
    _raise_if_unusable(values, _AR_REQUIRED, check_astrand_ryhming(**values, weight_kg=weight_kg))
    hr_ref, hr_rest = ASTRAND_RYHMING_CONSTANTS[Sex(sex)]
    vo2_at_work = ASTRAND_VO2_PER_WATT * watts + ASTRAND_VO2_OFFSET
    factor, notice = _astrand_factor(age)
    vo2max = vo2_at_work * (hr_ref - hr_rest) / (hr - hr_rest) * factor
    inputs: dict[str, Param] = {"sex": str(Sex(sex)), "age": age, "watts": watts, "hr": hr}
    return _estimate(ASTRAND_RYHMING, inputs, vo2max, weight_kg, [notice] if notice else [])


def astrand_ryhming(*, sex: str, age: float, watts: float, hr: float) -> float:
    """Age-corrected VO2max in L/min by Åstrand-Ryhming; see the estimate_ form for warnings."""
    return estimate_astrand_ryhming(sex=sex, age=age, watts=watts, hr=hr).vo2max_l_min


def _preview(check, estimate, required: tuple[str, ...], values: dict[str, object]) -> Preview:
    problems = check(**values)
    missing = _missing(values, required)
    # weight only adds the relative value: while it is implausible (half typed) the L/min estimate stays
    weight_ok = not any(p.field == "weight_kg" for p in problems)
    if missing or any(p.field != "weight_kg" for p in problems):
        return Preview(problems=problems, missing=missing)
    return Preview(
        problems=problems,
        estimate=estimate(**{**values, "weight_kg": values["weight_kg"] if weight_ok else None}),
    )


def preview_ekblom_bak_2016(
    *,
    sex: object = None,
    age: object = None,
    hr_low: object = None,
    hr_high: object = None,
    watts_low: object = None,
    watts_high: object = None,
    weight_kg: object = None,
) -> Preview:
    """For the live estimate: the problems so far, what is still missing, or the estimate."""
    values = {
        "sex": sex,
        "age": age,
        "hr_low": hr_low,
        "hr_high": hr_high,
        "watts_low": watts_low,
        "watts_high": watts_high,
        "weight_kg": weight_kg,
    }
    return _preview(check_ekblom_bak_2016, estimate_ekblom_bak_2016, _EB_REQUIRED, values)


def preview_astrand_ryhming(
    *,
    sex: object = None,
    age: object = None,
    watts: object = None,
    hr: object = None,
    weight_kg: object = None,
) -> Preview:
    """For the live estimate: the problems so far, what is still missing, or the estimate."""
    values = {"sex": sex, "age": age, "watts": watts, "hr": hr, "weight_kg": weight_kg}
    return _preview(check_astrand_ryhming, estimate_astrand_ryhming, _AR_REQUIRED, values)


# --- demo data ----------------------------------------------------------------------------------

#: the demo's high stage aims at this share of the age-predicted HRmax (Tanaka H, Monahan KD,
#: Seals DR. J Am Coll Cardiol 2001;37:153-6: HRmax = 208 − 0.7·age), a moderately hard stage
_DEMO_HR_SHARE = 0.75
_DEMO_HR_CEILING = 170
_DEMO_WATTS_STEP = 5
#: demo targets, L/min: the range of adult VO2max the revised equation was built on (19-76 mL/kg/min)
_DEMO_TARGET_RANGE = (1.0, 6.0)


def demo_cycle_test(
    *, sex: str, age: float, target_vo2max_l_min: float, hr_low: float | None = None
) -> dict[str, float | str]:
    """Plausible revised Ekblom-Bak inputs whose estimate is ``target_vo2max_l_min`` (to within the
    rounding of hr_high to a whole beat), for the demo seed.

    The low stage is the standard 30 W; the high stage is the 5 W step whose solved hr_high comes
    closest to 75 % of the age-predicted HRmax while staying a valid test. The same high stage read
    as one Åstrand stage (watts_high, hr_high) gives that test's estimate too."""
    s = Sex(sex)
    if not _is_number(target_vo2max_l_min):
        raise DomainError([Problem("target_vo2max_l_min", "value.not_a_number")])
    lo, hi = _DEMO_TARGET_RANGE
    if not lo <= target_vo2max_l_min <= hi:
        raise DomainError(
            [
                Problem(
                    "target_vo2max_l_min",
                    "value.out_of_range",
                    {"value": target_vo2max_l_min, "min": lo, "max": hi, "unit": "L/min"},
                )
            ]
        )
    if hr_low is None:
        hr_low = 100.0 if s is Sex.FEMALE else 95.0
    problems = check_ekblom_bak_2016(sex=s, age=age, hr_low=hr_low)
    if problems:
        raise DomainError(problems)
    c = EKBLOM_BAK_2016_COEFFICIENTS[s]
    minimum = high_stage_hr_min(age)
    aim = min(max(_DEMO_HR_SHARE * (208 - 0.7 * age), minimum + 10), _DEMO_HR_CEILING)
    best: tuple[float, int, float] | None = None
    target_ln = math.log(target_vo2max_l_min)
    for watts_high in range(EKBLOM_BAK_STANDARD_WATTS + 20, 400, _DEMO_WATTS_STEP):
        dpo = watts_high - EKBLOM_BAK_STANDARD_WATTS
        rest = c.constant + c.age * age + c.dpo * dpo + c.hr_standard * hr_low
        hr_high = round(hr_low + (target_ln - rest) * dpo / c.dhr_per_dpo)
        if not (max(minimum, hr_low + 10) <= hr_high <= _DEMO_HR_CEILING):
            continue
        score = abs(hr_high - aim)
        if best is None or score < best[0]:
            best = (score, watts_high, hr_high)
    if best is None:
        raise DomainError(
            [
                Problem(
                    None,
                    "fitness.demo_target_unreachable",
                    {"sex": str(s), "age": age, "target_vo2max_l_min": target_vo2max_l_min},
                )
            ]
        )
    _, watts_high, hr_high = best
    return {
        "sex": str(s),
        "age": age,
        "watts_low": EKBLOM_BAK_STANDARD_WATTS,
        "hr_low": hr_low,
        "watts_high": watts_high,
        "hr_high": hr_high,
    }


# --- BMI ----------------------------------------------------------------------------------------


def bmi(weight_kg: float, height_cm: float) -> float:
    """Body mass index, kg/m², rounded to 1 decimal (equation ``bmi.v1``)."""
    for name, v in (("weight_kg", weight_kg), ("height_cm", height_cm)):
        if not math.isfinite(v) or v <= 0:
            raise ValueError(f"{name} must be a positive finite number")
    height_m = height_cm / 100
    return round(weight_kg / (height_m * height_m), 1)
