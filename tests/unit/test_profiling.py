"""The automated assessment of a meeting: conclusions, explanations, "not assessed", objection."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic_tui.domain import fitness
from clinic_tui.domain.profiling import (
    CONCLUSION_CODES,
    EXPLANATION_KEYS,
    FLAGGED,
    LIFESTYLE_RULES,
    NOT_FLAGGED,
    MeetingFacts,
    assess_meeting,
)
from clinic_tui.domain.questionnaire import CURRENT

NOT_ASSESSED_KEYS = {"missing_inputs", "input_not_usable", "questionnaire_not_supported"}

HEALTHY_ANSWERS = {
    "physical_activity.everyday": "min_150_299",
    "exercise.vigorous": "min_60_89",
    "sitting.daily": "h_4_5",
    "diet.vegetables": "daily_3",
    "diet.fruit": "daily_2",
    "diet.fish": "weekly_2_plus",
    "diet.sweets": "weekly_1_2",
    "alcohol.frequency": "monthly_or_less",
    "alcohol.typical_quantity": "d_1_2",
    "alcohol.heavy_episodes": "never",
    "tobacco.smoking": "never",
    "tobacco.snus": "quit_6_months_plus",
    "stress.current": "to_some_extent",
    "recovery.rested": "sometimes",
    "sleep.duration": "h_7",
    "sleep.quality": "fair",
    "perceived_health.self_rated": "good",
    "symptoms.neck_shoulders": "monthly",
    "symptoms.back": "rarely",
    "symptoms.headache": "never",
    "symptoms.fatigue": "monthly",
    "symptoms.stomach": "never",
}


def man(**over):
    est = fitness.estimate_ekblom_bak_2016(
        sex="male", age=48, hr_low=95, hr_high=135, watts_low=30, watts_high=150
    )
    base = {
        "sex": "male",
        "age": 48,
        "height_cm": 178,
        "weight_kg": 82.0,
        "waist_cm": 96.0,
        "systolic": 142,
        "diastolic": 88,
        "fitness": est,
        "questionnaire_id": CURRENT.id,
        "questionnaire_version": CURRENT.version,
        "answers": dict(HEALTHY_ANSWERS),
    }
    return MeetingFacts(**{**base, **over})


def assess(facts):
    return assess_meeting(facts, objected_to_profiling=False)


def test_full_meeting_worked_example():
    a = assess(man())
    assert (a.ruleset_id, a.ruleset_version, a.status) == ("imr-profiling", 1, "assessed")
    assert [c.code for c in a.conclusions] == list(CONCLUSION_CODES)

    # 3.57079 L/min (worked in test_fitness_equations) * 1000 / 82 kg = 43.55 -> 44: men 40-49 "high" (44-47)
    fit = a.conclusion("fitness.category")
    assert (fit.value, fit.rule_id, fit.rule_version) == ("high", "fitness-category-astrand", 1)
    assert fit.explanation.key == "fitness_category_from_vo2max"
    assert fit.explanation.params == {
        "sex": "male",
        "age": 48,
        "age_band": "40-49",
        "equation": "ekblom-bak-2016",
        "equation_version": 1,
        "vo2max_l_min": 3.57,
        "weight_kg": 82.0,
        "vo2max_ml_kg_min": 43.5,
    }
    # the example: 82.0 kg, 178 cm -> 25.9 -> overweight
    b = a.conclusion("bmi.category")
    assert (b.value, b.rule_id) == ("overweight", "bmi-category-who")
    assert b.explanation.as_dict() == {
        "key": "bmi_from_weight_height",
        "params": {"weight_kg": 82.0, "height_cm": 178, "bmi": 25.9},
    }
    assert a.conclusion("waist.category").value == "increased"  # 96 cm, men 94-102
    bp = a.conclusion("bp.grade")
    assert (bp.value, bp.qualifiers) == ("grade_1", ("isolated_systolic",))
    assert bp.explanation.params == {"systolic": 142, "diastolic": 88, "isolated_systolic": True}

    for code in LIFESTYLE_RULES:
        c = a.conclusion(code)
        assert c.value == NOT_FLAGGED, (code, c.explanation)
        assert (c.rule_id, c.rule_version) == (LIFESTYLE_RULES[code].id, LIFESTYLE_RULES[code].version)
    # everyday 150 + 2 * 60 exercise = 270 weighted minutes
    assert a.conclusion("lifestyle.insufficient_activity").explanation.params["weighted_minutes"] == 270
    # AUDIT-C 1 + 0 + 0
    assert a.conclusion("lifestyle.risky_alcohol").explanation.params["score"] == 1


def test_assessment_is_json_and_names_its_inputs():
    d = assess(man()).as_dict()
    assert json.loads(json.dumps(d)) == d
    for c in d["conclusions"]:
        key = c["explanation"]["key"]
        assert set(c["explanation"]["params"]) == set(EXPLANATION_KEYS[key]), key


def test_objection_gives_no_assessment():
    a = assess_meeting(man(), objected_to_profiling=True)
    assert (a.status, a.conclusions) == ("objected", ())
    with pytest.raises(TypeError):
        assess_meeting(man())  # the caller must say whether the person objected


def test_nothing_recorded_means_nothing_assessed():
    a = assess(MeetingFacts())
    assert [c.code for c in a.conclusions] == list(CONCLUSION_CODES)
    assert all(c.value is None and not c.assessed for c in a.conclusions)
    assert a.conclusion("fitness.category").explanation.params == {
        "missing": "fitness_test,sex,age,weight_kg"
    }
    assert a.conclusion("bmi.category").explanation.params == {"missing": "weight_kg,height_cm"}
    assert a.conclusion("bp.grade").explanation.params == {"missing": "systolic,diastolic"}
    assert a.conclusion("lifestyle.high_stress").explanation.params == {"missing": "questionnaire"}


@pytest.mark.parametrize(
    ("over", "code", "missing"),
    [
        ({"weight_kg": None}, "fitness.category", "weight_kg"),
        ({"fitness": None}, "fitness.category", "fitness_test"),
        ({"height_cm": None}, "bmi.category", "height_cm"),
        ({"sex": None}, "waist.category", "sex"),
        ({"diastolic": None}, "bp.grade", "diastolic"),
        ({"sex": None}, "lifestyle.risky_alcohol", "sex"),
    ],
)
def test_one_missing_input_leaves_that_conclusion_not_assessed(over, code, missing):
    a = assess(man(**over))
    c = a.conclusion(code)
    assert c.value is None
    assert c.explanation.key == "missing_inputs" and missing in c.explanation.params["missing"].split(",")


@pytest.mark.parametrize("qid", sorted(HEALTHY_ANSWERS))
def test_one_unanswered_question_leaves_only_its_rule_not_assessed(qid):
    answers = {k: v for k, v in HEALTHY_ANSWERS.items() if k != qid}
    if qid == "alcohol.frequency":
        answers.pop("alcohol.typical_quantity")
        answers.pop("alcohol.heavy_episodes")
    a = assess(man(answers=answers))
    not_assessed = {c.code for c in a.conclusions if c.value is None}
    expected = {
        code
        for code in LIFESTYLE_RULES
        if qid in a.conclusion(code).explanation.params.get("missing", "").split(",")
    }
    assert not_assessed == expected
    if qid != "diet.sweets":  # no rule reads it
        assert len(expected) == 1


def test_weight_of_the_meeting_decides_the_relative_value():
    # the same test at a heavier weight: 3.57079 * 1000 / 100 = 35.7 -> 36: men 40-49 "average" (36-43)
    est = fitness.estimate_ekblom_bak_2016(
        sex="male", age=48, hr_low=95, hr_high=135, watts_low=30, watts_high=150, weight_kg=82
    )
    c = assess(man(fitness=est, weight_kg=100.0)).conclusion("fitness.category")
    assert (c.value, c.explanation.params["vo2max_ml_kg_min"]) == ("average", 35.7)


def test_age_outside_the_fitness_table_is_not_assessed_with_its_reason():
    c = assess(man(age=72)).conclusion("fitness.category")
    assert c.value is None
    assert c.explanation.key == "input_not_usable"
    assert c.explanation.params == {
        "reason": "classification.age_outside_reference",
        "field": "age",
        "age": 72,
        "min": 20,
        "max": 69,
        "sex": "male",
    }


@pytest.mark.parametrize(
    ("over", "code", "reason"),
    [
        ({"waist_cm": 400.0}, "waist.category", "value.out_of_range"),
        ({"sex": "unknown"}, "waist.category", "value.unknown_code"),
        ({"sex": "unknown"}, "lifestyle.risky_alcohol", "value.unknown_code"),
        ({"systolic": 80, "diastolic": 90}, "bp.grade", "bp.diastolic_not_below_systolic"),
        ({"weight_kg": 10.0}, "bmi.category", "value.out_of_range"),
    ],
)
def test_unusable_inputs_are_not_assessed_never_guessed(over, code, reason):
    c = assess(man(**over)).conclusion(code)
    assert c.value is None
    assert (c.explanation.key, c.explanation.params["reason"]) == ("input_not_usable", reason)


def test_unknown_answer_code_leaves_its_rule_not_assessed():
    a = assess(man(answers={**HEALTHY_ANSWERS, "sleep.duration": "h_99"}))
    c = a.conclusion("lifestyle.short_sleep")
    assert c.value is None
    assert c.explanation.params == {"reason": "questionnaire.unknown_answer", "field": "sleep.duration"}
    assert a.conclusion("lifestyle.poor_sleep_quality").value == NOT_FLAGGED


def test_unsupported_questionnaire_version():
    a = assess(man(questionnaire_version=2))
    for code in LIFESTYLE_RULES:
        c = a.conclusion(code)
        assert c.value is None and c.explanation.key == "questionnaire_not_supported"
    assert a.conclusion("bmi.category").value == "overweight"


# --- each lifestyle rule at its edge ----------------------------------------------------------------


def flag(code, sex="male", **answers):
    return assess(man(sex=sex, answers={**HEALTHY_ANSWERS, **answers})).conclusion(code)


@pytest.mark.parametrize(
    ("everyday", "exercise", "weighted", "flagged"),
    [
        ("min_90_149", "min_30_59", 150, False),  # 90 + 2*30
        ("min_60_89", "min_30_59", 120, True),
        ("min_150_299", "none", 150, False),
        ("min_90_149", "min_1_29", 92, True),
        ("none", "min_90_119", 180, False),
    ],
)
def test_activity(everyday, exercise, weighted, flagged):
    c = flag(
        "lifestyle.insufficient_activity",
        **{"physical_activity.everyday": everyday, "exercise.vigorous": exercise},
    )
    assert c.value == (FLAGGED if flagged else NOT_FLAGGED)
    assert c.explanation.params == {
        "everyday": everyday,
        "exercise": exercise,
        "weighted_minutes": weighted,
        "threshold": 150,
    }


@pytest.mark.parametrize(("answer", "flagged"), [("h_6_7", False), ("h_8_10", True), ("h_11_plus", True)])
def test_sitting(answer, flagged):
    assert flag("lifestyle.prolonged_sitting", **{"sitting.daily": answer}).value == (
        FLAGGED if flagged else NOT_FLAGGED
    )


@pytest.mark.parametrize(
    ("veg", "fruit", "flagged"),
    [
        ("daily_3", "daily_2", False),
        ("daily_2", "daily_2", True),
        ("daily_4_plus", "daily_1", False),
        ("weekly_1_6", "daily_4_plus", True),
    ],
)
def test_fruit_vegetables(veg, fruit, flagged):
    c = flag("lifestyle.low_fruit_vegetables", **{"diet.vegetables": veg, "diet.fruit": fruit})
    assert c.value == (FLAGGED if flagged else NOT_FLAGGED)


@pytest.mark.parametrize(
    ("answer", "flagged"), [("weekly_1", True), ("weekly_2_plus", False), ("lt_monthly", True)]
)
def test_fish(answer, flagged):
    assert flag("lifestyle.low_fish", **{"diet.fish": answer}).value == (FLAGGED if flagged else NOT_FLAGGED)


@pytest.mark.parametrize(
    ("sex", "freq", "qty", "heavy", "score", "flagged"),
    [
        ("female", "monthly_2_4", "d_3_4", "lt_monthly", 4, False),  # 2 + 1 + 1
        ("female", "monthly_2_4", "d_3_4", "monthly", 5, True),  # 2 + 1 + 2
        ("male", "monthly_2_4", "d_3_4", "monthly", 5, False),
        ("male", "weekly_2_3", "d_3_4", "monthly", 6, True),  # 3 + 1 + 2
        ("male", "never", None, None, 0, False),
        ("male", "weekly_4_plus", "d_10_plus", "daily", 12, True),
    ],
)
def test_audit_c(sex, freq, qty, heavy, score, flagged):
    answers = {**HEALTHY_ANSWERS, "alcohol.frequency": freq}
    answers.pop("alcohol.typical_quantity")
    answers.pop("alcohol.heavy_episodes")
    if qty:
        answers.update({"alcohol.typical_quantity": qty, "alcohol.heavy_episodes": heavy})
    c = assess(man(sex=sex, answers=answers)).conclusion("lifestyle.risky_alcohol")
    assert c.value == (FLAGGED if flagged else NOT_FLAGGED)
    assert (c.explanation.params["score"], c.explanation.params["threshold"]) == (
        score,
        5 if sex == "female" else 6,
    )


def test_audit_c_needs_the_follow_ups_when_someone_drinks():
    answers = {**HEALTHY_ANSWERS, "alcohol.frequency": "weekly_2_3"}
    answers.pop("alcohol.heavy_episodes")
    c = assess(man(answers=answers)).conclusion("lifestyle.risky_alcohol")
    assert c.value is None and c.explanation.params == {"missing": "alcohol.heavy_episodes"}


@pytest.mark.parametrize(
    ("smoking", "snus", "flagged"),
    [
        ("never", "never", False),
        ("quit_lt_6_months", "never", False),
        ("occasionally", "never", True),
        ("never", "daily", True),
    ],
)
def test_tobacco(smoking, snus, flagged):
    c = flag("lifestyle.tobacco_use", **{"tobacco.smoking": smoking, "tobacco.snus": snus})
    assert c.value == (FLAGGED if flagged else NOT_FLAGGED)


@pytest.mark.parametrize(
    ("code", "qid", "flagged_answers"),
    [
        ("lifestyle.high_stress", "stress.current", {"rather_much", "very_much"}),
        ("lifestyle.poor_recovery", "recovery.rested", {"seldom", "never"}),
        ("lifestyle.poor_sleep_quality", "sleep.quality", {"poor", "very_poor"}),
        ("lifestyle.poor_self_rated_health", "perceived_health.self_rated", {"poor", "very_poor"}),
        ("lifestyle.short_sleep", "sleep.duration", {"h_lt_5", "h_5", "h_6"}),
    ],
)
def test_single_answer_flags_over_the_whole_scale(code, qid, flagged_answers):
    for answer in CURRENT.question(qid).codes:
        assert flag(code, **{qid: answer}).value == (FLAGGED if answer in flagged_answers else NOT_FLAGGED), (
            answer
        )


def test_symptoms():
    c = flag("lifestyle.frequent_symptoms", **{"symptoms.back": "weekly", "symptoms.headache": "daily"})
    assert c.value == FLAGGED and c.explanation.params == {"frequent": "back,headache", "count": 2}
    assert flag("lifestyle.frequent_symptoms", **{"symptoms.back": "monthly"}).value == NOT_FLAGGED


# --- properties -----------------------------------------------------------------------------------

answer_sets = st.dictionaries(
    st.sampled_from([q.id for q in CURRENT.questions]),
    st.sampled_from(sorted({c for q in CURRENT.questions for c in q.codes}) + ["bogus"]),
)
maybe = st.one_of(st.none(), st.floats(-10, 500, allow_nan=False))


@given(
    sex=st.sampled_from([None, "female", "male", "x"]),
    age=st.one_of(st.none(), st.integers(0, 110)),
    height=maybe,
    weight=maybe,
    waist=maybe,
    sys_=maybe,
    dia=maybe,
    answers=answer_sets,
    with_test=st.booleans(),
)
def test_any_facts_give_every_conclusion_and_never_raise(
    sex, age, height, weight, waist, sys_, dia, answers, with_test
):
    est = fitness.estimate_astrand_ryhming(sex="female", age=40, watts=100, hr=150) if with_test else None
    facts = MeetingFacts(
        sex=sex,
        age=age,
        height_cm=height,
        weight_kg=weight,
        waist_cm=waist,
        systolic=sys_,
        diastolic=dia,
        fitness=est,
        questionnaire_id=CURRENT.id,
        questionnaire_version=CURRENT.version,
        answers=answers,
    )
    a = assess(facts)
    assert [c.code for c in a.conclusions] == list(CONCLUSION_CODES)
    for c in a.conclusions:
        assert (c.value is None) == (c.explanation.key in NOT_ASSESSED_KEYS)
        assert set(c.explanation.params) >= set(EXPLANATION_KEYS[c.explanation.key])
    json.dumps(a.as_dict())
