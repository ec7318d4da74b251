"""The automated assessment of one meeting (profiling, GDPR art. 22), with its explanation.

``assess_meeting`` turns what was measured and answered at a meeting into conclusions: fitness
category, BMI and waist categories, blood-pressure grade, and lifestyle risk flags from the
questionnaire. Each conclusion carries the rule id and version that made it and a one-line
explanation as a key plus the inputs it used, so the client can translate it and the person can
see why. An input that is missing or unusable makes that conclusion "not assessed" (value None),
never a guess. A person who objected to profiling gets no conclusions at all.

The coach's free-text notes are not part of this: they are the coach's, kept apart by the server.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from clinic_tui.domain import classification as cls
from clinic_tui.domain.fitness import VO2maxEstimate, relative_vo2max
from clinic_tui.domain.provenance import DomainError, Param, Rule
from clinic_tui.domain.questionnaire import HEALTH_PROFILE_V1, Questionnaire, validate_answers

__all__ = [
    "CONCLUSION_CODES",
    "EXPLANATION_KEYS",
    "FLAGGED",
    "LIFESTYLE_RULES",
    "NOT_FLAGGED",
    "PROFILING",
    "Assessment",
    "Conclusion",
    "Explanation",
    "MeetingFacts",
    "assess_meeting",
]

PROFILING = Rule(
    "imr-profiling", 1, "the rules listed in LIFESTYLE_RULES and clinic_tui.domain.classification"
)

FLAGGED = "flagged"
NOT_FLAGGED = "not_flagged"

#: the questionnaire versions these rules are written for
SUPPORTED_QUESTIONNAIRES: frozenset[tuple[str, int]] = frozenset(
    {(HEALTH_PROFILE_V1.id, HEALTH_PROFILE_V1.version)}
)

#: lifestyle rules: thresholds beside their sources (docs/fitness.md explains each)
LIFESTYLE_RULES: dict[str, Rule] = {
    "lifestyle.insufficient_activity": Rule(
        "lifestyle-activity",
        1,
        "WHO guidelines on physical activity and sedentary behaviour 2020 (Bull FC et al. Br J Sports "
        "Med 2020;54:1451-62): at least 150 min/week moderate activity, vigorous minutes count double; "
        "Folkhälsomyndigheten's indicator 'at least 150 minutes of pulse-raising activity a week'. "
        "Each answer counts at the lowest minutes it admits.",
    ),
    "lifestyle.prolonged_sitting": Rule(
        "lifestyle-sitting",
        1,
        "Ekelund U et al. Lancet 2016;388:1302-10: higher mortality with more than 8 h/day sitting "
        "unless offset by 60-75 min/day of moderate activity. Flagged from 8 h/day.",
    ),
    "lifestyle.low_fruit_vegetables": Rule(
        "lifestyle-fruit-vegetables",
        1,
        "Nordic Nutrition Recommendations 2012 / Livsmedelsverket: at least 500 g of fruit and "
        "vegetables a day; Folkhälsomyndigheten counts one eating occasion as about 100 g, so fewer "
        "than 5 occasions a day (lowest the answers admit) is flagged.",
    ),
    "lifestyle.low_fish": Rule(
        "lifestyle-fish",
        1,
        "Livsmedelsverket dietary advice: fish or shellfish 2-3 times a week; fewer than 2 is flagged.",
    ),
    "lifestyle.risky_alcohol": Rule(
        "lifestyle-alcohol-audit-c",
        1,
        "AUDIT-C (Bush K et al. Arch Intern Med 1998;158:1789-95; items of WHO's AUDIT, Babor 2001); "
        "risk threshold as in Folkhälsomyndigheten's national survey: 5 points or more for women, "
        "6 or more for men.",
    ),
    "lifestyle.tobacco_use": Rule(
        "lifestyle-tobacco",
        1,
        "Socialstyrelsen, Nationella riktlinjer för prevention och behandling vid ohälsosamma "
        "levnadsvanor 2018 (tobacco use): smoking or snus, daily or now and then.",
    ),
    "lifestyle.high_stress": Rule(
        "lifestyle-stress",
        1,
        "Elo A-L, Leppänen A, Jahkola A. Validity of a single-item measure of stress symptoms. Scand J "
        "Work Environ Health 2003;29:444-51: 'rather much' or 'very much' stress.",
    ),
    "lifestyle.poor_recovery": Rule(
        "lifestyle-recovery",
        1,
        "IMR rule, no published cut-off: rested and recovered 'seldom' or 'never or almost never'.",
    ),
    "lifestyle.short_sleep": Rule(
        "lifestyle-sleep-duration",
        1,
        "Watson NF et al. Recommended amount of sleep for a healthy adult (AASM/SRS consensus). Sleep "
        "2015;38:843-4: 7 hours or more; fewer is flagged.",
    ),
    "lifestyle.poor_sleep_quality": Rule(
        "lifestyle-sleep-quality",
        1,
        "IMR rule, no published cut-off: sleep rated 'poor' or 'very poor'.",
    ),
    "lifestyle.poor_self_rated_health": Rule(
        "lifestyle-self-rated-health",
        1,
        "Folkhälsomyndigheten, Hälsa på lika villkor: general health rated 'poor' or 'very poor'.",
    ),
    "lifestyle.frequent_symptoms": Rule(
        "lifestyle-symptoms",
        1,
        "IMR rule, no published cut-off: any symptom about once a week or more often.",
    ),
}

#: every conclusion, in the order the assessment lists them
CONCLUSION_CODES: tuple[str, ...] = (
    "fitness.category",
    "bmi.category",
    "waist.category",
    "bp.grade",
    *LIFESTYLE_RULES,
)

#: every explanation key the client must translate, with the params it gets
EXPLANATION_KEYS: dict[str, tuple[str, ...]] = {
    "missing_inputs": ("missing",),
    "input_not_usable": ("reason", "field"),
    "questionnaire_not_supported": ("questionnaire", "version"),
    "fitness_category_from_vo2max": (
        "sex",
        "age",
        "age_band",
        "equation",
        "equation_version",
        "vo2max_l_min",
        "weight_kg",
        "vo2max_ml_kg_min",
    ),
    "bmi_from_weight_height": ("weight_kg", "height_cm", "bmi"),
    "waist_by_sex": ("sex", "waist_cm"),
    "bp_from_reading": ("systolic", "diastolic", "isolated_systolic"),
    "activity_minutes": ("everyday", "exercise", "weighted_minutes", "threshold"),
    "sitting_hours": ("sitting", "threshold_hours"),
    "fruit_vegetable_times": ("vegetables", "fruit", "times_per_day", "threshold"),
    "fish_times": ("fish", "threshold_per_week"),
    "audit_c_score": ("frequency", "typical_quantity", "heavy_episodes", "score", "threshold", "sex"),
    "tobacco_answers": ("smoking", "snus"),
    "stress_answer": ("stress",),
    "recovery_answer": ("rested",),
    "sleep_hours": ("sleep_duration", "threshold_hours"),
    "sleep_quality_answer": ("sleep_quality",),
    "self_rated_health_answer": ("self_rated",),
    "symptom_answers": ("frequent", "count"),
}


@dataclass(frozen=True, slots=True)
class Explanation:
    """One line, as a translation key and the inputs it names."""

    key: str
    params: Mapping[str, Param] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {"key": self.key, "params": dict(self.params)}


@dataclass(frozen=True, slots=True)
class Conclusion:
    code: str
    #: a category code, FLAGGED / NOT_FLAGGED, or None when not assessed
    value: str | None
    rule_id: str
    rule_version: int
    explanation: Explanation
    qualifiers: tuple[str, ...] = ()

    @property
    def assessed(self) -> bool:
        return self.value is not None

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "value": self.value,
            "rule_id": self.rule_id,
            "rule_version": self.rule_version,
            "explanation": self.explanation.as_dict(),
            "qualifiers": list(self.qualifiers),
        }


@dataclass(frozen=True, slots=True)
class Assessment:
    ruleset_id: str
    ruleset_version: int
    #: "assessed", or "objected" (the person objected to profiling: no conclusions)
    status: str
    conclusions: tuple[Conclusion, ...] = ()

    def conclusion(self, code: str) -> Conclusion:
        for c in self.conclusions:
            if c.code == code:
                return c
        raise KeyError(code)

    def as_dict(self) -> dict[str, object]:
        return {
            "ruleset_id": self.ruleset_id,
            "ruleset_version": self.ruleset_version,
            "status": self.status,
            "conclusions": [c.as_dict() for c in self.conclusions],
        }


@dataclass(frozen=True, slots=True)
class MeetingFacts:
    """What a meeting recorded; None means not measured / not answered."""

    sex: str | None = None
    age: float | None = None
    height_cm: float | None = None
    weight_kg: float | None = None
    waist_cm: float | None = None
    systolic: float | None = None
    diastolic: float | None = None
    #: the cycle test's estimate; its relative value is recomputed from this meeting's weight
    fitness: VO2maxEstimate | None = None
    questionnaire_id: str | None = None
    questionnaire_version: int | None = None
    answers: Mapping[str, str] = field(default_factory=dict)


# --- helpers ---------------------------------------------------------------------------------------


def _not_assessed(code: str, rule: Rule, explanation: Explanation) -> Conclusion:
    return Conclusion(code, None, rule.id, rule.version, explanation)


def _missing(code: str, rule: Rule, names: list[str]) -> Conclusion:
    return _not_assessed(code, rule, Explanation("missing_inputs", {"missing": ",".join(names)}))


def _unusable(code: str, rule: Rule, err: DomainError) -> Conclusion:
    params: dict[str, Param] = {k: v for k, v in err.params.items() if k != "field"}
    params.update({"reason": err.code, "field": err.field})
    return _not_assessed(code, rule, Explanation("input_not_usable", params))


def _round(v: float | None, digits: int) -> float | None:
    return None if v is None else round(v, digits)


# --- measured values -------------------------------------------------------------------------------


def _fitness(f: MeetingFacts) -> Conclusion:
    code, rule = "fitness.category", cls.FITNESS_CATEGORY
    missing = [n for n in ("sex", "age", "weight_kg") if getattr(f, n) is None]
    if f.fitness is None:
        missing.insert(0, "fitness_test")
    if missing:
        return _missing(code, rule, missing)
    estimate, weight_kg = f.fitness, f.weight_kg
    assert estimate is not None and weight_kg is not None  # narrowed by the missing check above
    try:
        rel = relative_vo2max(estimate.vo2max_l_min, weight_kg)
        r = cls.fitness_category(sex=f.sex, age=f.age, vo2max_ml_kg_min=rel)  # type: ignore[arg-type]
    except DomainError as err:
        return _unusable(code, rule, err)
    return Conclusion(
        code,
        r.value,
        r.rule_id,
        r.rule_version,
        Explanation(
            "fitness_category_from_vo2max",
            {
                "sex": r.inputs["sex"],
                "age": f.age,
                "age_band": r.inputs["age_band"],
                "equation": estimate.equation_id,
                "equation_version": estimate.equation_version,
                "vo2max_l_min": _round(estimate.vo2max_l_min, 2),
                "weight_kg": weight_kg,
                "vo2max_ml_kg_min": _round(rel, 1),
            },
        ),
    )


def _measured(
    code: str,
    rule: Rule,
    names: tuple[str, ...],
    f: MeetingFacts,
    classify: Callable[..., cls.Classification],
    key: str,
    explain: Callable[[cls.Classification], dict[str, Param]],
) -> Conclusion:
    missing = [n for n in names if getattr(f, n) is None]
    if missing:
        return _missing(code, rule, missing)
    try:
        r = classify(**{n: getattr(f, n) for n in names})
    except DomainError as err:
        return _unusable(code, rule, err)
    return Conclusion(code, r.value, r.rule_id, r.rule_version, Explanation(key, explain(r)), r.qualifiers)


# --- questionnaire rules ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Answers:
    questionnaire: Questionnaire
    given: Mapping[str, str]

    def value(self, qid: str) -> float:
        value = self.questionnaire.question(qid).answer(self.given[qid]).value
        assert value is not None, f"{qid} has no scored scale"  # the questionnaire tests check this
        return value


def _flag(code: str, flagged: bool, key: str, params: dict[str, Param]) -> Conclusion:
    rule = LIFESTYLE_RULES[code]
    return Conclusion(
        code, FLAGGED if flagged else NOT_FLAGGED, rule.id, rule.version, Explanation(key, params)
    )


def _activity(a: _Answers, f: MeetingFacts) -> Conclusion:
    weighted = a.value("physical_activity.everyday") + 2 * a.value("exercise.vigorous")
    return _flag(
        "lifestyle.insufficient_activity",
        weighted < 150,
        "activity_minutes",
        {
            "everyday": a.given["physical_activity.everyday"],
            "exercise": a.given["exercise.vigorous"],
            "weighted_minutes": int(weighted),
            "threshold": 150,
        },
    )


def _sitting(a: _Answers, f: MeetingFacts) -> Conclusion:
    return _flag(
        "lifestyle.prolonged_sitting",
        a.value("sitting.daily") >= 8,
        "sitting_hours",
        {"sitting": a.given["sitting.daily"], "threshold_hours": 8},
    )


def _fruit_vegetables(a: _Answers, f: MeetingFacts) -> Conclusion:
    times = a.value("diet.vegetables") + a.value("diet.fruit")
    return _flag(
        "lifestyle.low_fruit_vegetables",
        times < 5,
        "fruit_vegetable_times",
        {
            "vegetables": a.given["diet.vegetables"],
            "fruit": a.given["diet.fruit"],
            "times_per_day": round(times, 2),
            "threshold": 5,
        },
    )


def _fish(a: _Answers, f: MeetingFacts) -> Conclusion:
    return _flag(
        "lifestyle.low_fish",
        a.value("diet.fish") < 2,
        "fish_times",
        {"fish": a.given["diet.fish"], "threshold_per_week": 2},
    )


_AUDIT_C_THRESHOLD = {"female": 5, "male": 6}


def _alcohol(a: _Answers, f: MeetingFacts) -> Conclusion:
    score = a.value("alcohol.frequency")
    if a.given["alcohol.frequency"] != "never":
        score += a.value("alcohol.typical_quantity") + a.value("alcohol.heavy_episodes")
    threshold = _AUDIT_C_THRESHOLD[str(f.sex)]
    return _flag(
        "lifestyle.risky_alcohol",
        score >= threshold,
        "audit_c_score",
        {
            "frequency": a.given["alcohol.frequency"],
            "typical_quantity": a.given.get("alcohol.typical_quantity"),
            "heavy_episodes": a.given.get("alcohol.heavy_episodes"),
            "score": int(score),
            "threshold": threshold,
            "sex": str(f.sex),
        },
    )


_TOBACCO_USE = frozenset({"daily", "occasionally"})


def _tobacco(a: _Answers, f: MeetingFacts) -> Conclusion:
    smoking, snus = a.given["tobacco.smoking"], a.given["tobacco.snus"]
    return _flag(
        "lifestyle.tobacco_use",
        smoking in _TOBACCO_USE or snus in _TOBACCO_USE,
        "tobacco_answers",
        {"smoking": smoking, "snus": snus},
    )


def _one_answer(
    code: str, qid: str, flagged_answers: frozenset[str], key: str, param: str
) -> Callable[[_Answers, MeetingFacts], Conclusion]:
    """A flag that one answer of one question raises."""

    def rule(a: _Answers, f: MeetingFacts) -> Conclusion:
        return _flag(code, a.given[qid] in flagged_answers, key, {param: a.given[qid]})

    return rule


def _short_sleep(a: _Answers, f: MeetingFacts) -> Conclusion:
    return _flag(
        "lifestyle.short_sleep",
        a.value("sleep.duration") < 7,
        "sleep_hours",
        {"sleep_duration": a.given["sleep.duration"], "threshold_hours": 7},
    )


_SYMPTOMS = (
    "symptoms.neck_shoulders",
    "symptoms.back",
    "symptoms.headache",
    "symptoms.fatigue",
    "symptoms.stomach",
)
_FREQUENT = frozenset({"weekly", "daily"})


def _symptoms(a: _Answers, f: MeetingFacts) -> Conclusion:
    frequent = [q.split(".", 1)[1] for q in _SYMPTOMS if a.given[q] in _FREQUENT]
    return _flag(
        "lifestyle.frequent_symptoms",
        bool(frequent),
        "symptom_answers",
        {"frequent": ",".join(frequent), "count": len(frequent)},
    )


_POOR = frozenset({"poor", "very_poor"})

#: lifestyle conclusion -> (questions it reads, whether it needs the person's sex, the rule)
_LIFESTYLE: dict[str, tuple[tuple[str, ...], bool, Callable[[_Answers, MeetingFacts], Conclusion]]] = {
    "lifestyle.insufficient_activity": (
        ("physical_activity.everyday", "exercise.vigorous"),
        False,
        _activity,
    ),
    "lifestyle.prolonged_sitting": (("sitting.daily",), False, _sitting),
    "lifestyle.low_fruit_vegetables": (("diet.vegetables", "diet.fruit"), False, _fruit_vegetables),
    "lifestyle.low_fish": (("diet.fish",), False, _fish),
    "lifestyle.risky_alcohol": (
        ("alcohol.frequency", "alcohol.typical_quantity", "alcohol.heavy_episodes"),
        True,
        _alcohol,
    ),
    "lifestyle.tobacco_use": (("tobacco.smoking", "tobacco.snus"), False, _tobacco),
    "lifestyle.high_stress": (
        ("stress.current",),
        False,
        _one_answer(
            "lifestyle.high_stress",
            "stress.current",
            frozenset({"rather_much", "very_much"}),
            "stress_answer",
            "stress",
        ),
    ),
    "lifestyle.poor_recovery": (
        ("recovery.rested",),
        False,
        _one_answer(
            "lifestyle.poor_recovery",
            "recovery.rested",
            frozenset({"seldom", "never"}),
            "recovery_answer",
            "rested",
        ),
    ),
    "lifestyle.short_sleep": (("sleep.duration",), False, _short_sleep),
    "lifestyle.poor_sleep_quality": (
        ("sleep.quality",),
        False,
        _one_answer(
            "lifestyle.poor_sleep_quality", "sleep.quality", _POOR, "sleep_quality_answer", "sleep_quality"
        ),
    ),
    "lifestyle.poor_self_rated_health": (
        ("perceived_health.self_rated",),
        False,
        _one_answer(
            "lifestyle.poor_self_rated_health",
            "perceived_health.self_rated",
            _POOR,
            "self_rated_health_answer",
            "self_rated",
        ),
    ),
    "lifestyle.frequent_symptoms": (_SYMPTOMS, False, _symptoms),
}


def _lifestyle(f: MeetingFacts) -> list[Conclusion]:
    qkey = (f.questionnaire_id, f.questionnaire_version)
    if f.questionnaire_id is None:
        return [_missing(code, LIFESTYLE_RULES[code], ["questionnaire"]) for code in _LIFESTYLE]
    if qkey not in SUPPORTED_QUESTIONNAIRES:
        explanation = Explanation(
            "questionnaire_not_supported",
            {"questionnaire": str(f.questionnaire_id), "version": str(f.questionnaire_version)},
        )
        return [_not_assessed(code, LIFESTYLE_RULES[code], explanation) for code in _LIFESTYLE]
    questionnaire = HEALTH_PROFILE_V1
    unusable = {p.field: p.code for p in validate_answers(f.answers, questionnaire) if p.field}
    answers = _Answers(questionnaire, f.answers)
    out: list[Conclusion] = []
    for code, (questions, needs_sex, rule) in _LIFESTYLE.items():
        lifestyle_rule = LIFESTYLE_RULES[code]
        asked = [q for q in questions if questionnaire.applies(questionnaire.question(q), f.answers)]
        bad = [q for q in asked if q in unusable]
        if bad:
            explanation = Explanation("input_not_usable", {"reason": unusable[bad[0]], "field": bad[0]})
            out.append(_not_assessed(code, lifestyle_rule, explanation))
            continue
        missing = [q for q in asked if q not in f.answers]
        if needs_sex and f.sex is None:
            missing.append("sex")
        if missing:
            out.append(_missing(code, lifestyle_rule, missing))
            continue
        if needs_sex and f.sex not in _AUDIT_C_THRESHOLD:
            explanation = Explanation("input_not_usable", {"reason": "value.unknown_code", "field": "sex"})
            out.append(_not_assessed(code, lifestyle_rule, explanation))
            continue
        out.append(rule(answers, f))
    return out


def assess_meeting(facts: MeetingFacts, *, objected_to_profiling: bool) -> Assessment:
    """The automated assessment of one meeting. ``objected_to_profiling`` must be passed: a person
    who objected gets an assessment with status "objected" and no conclusions."""
    if objected_to_profiling:
        return Assessment(PROFILING.id, PROFILING.version, "objected")
    f = facts
    conclusions = [
        _fitness(f),
        _measured(
            "bmi.category",
            cls.BMI_CATEGORY,
            ("weight_kg", "height_cm"),
            f,
            cls.bmi_category,
            "bmi_from_weight_height",
            lambda r: {"weight_kg": f.weight_kg, "height_cm": f.height_cm, "bmi": r.inputs["bmi"]},
        ),
        _measured(
            "waist.category",
            cls.WAIST_CATEGORY,
            ("sex", "waist_cm"),
            f,
            cls.waist_category,
            "waist_by_sex",
            lambda r: {"sex": r.inputs["sex"], "waist_cm": f.waist_cm},
        ),
        _measured(
            "bp.grade",
            cls.BP_GRADE,
            ("systolic", "diastolic"),
            f,
            cls.bp_grade,
            "bp_from_reading",
            lambda r: {
                "systolic": f.systolic,
                "diastolic": f.diastolic,
                "isolated_systolic": "isolated_systolic" in r.qualifiers,
            },
        ),
        *_lifestyle(f),
    ]
    return Assessment(PROFILING.id, PROFILING.version, "assessed", tuple(conclusions))
