"""The cycle-test equations: worked examples, every input limit, warnings, and properties."""

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from clinic_tui.domain import fitness as f
from clinic_tui.domain.provenance import MESSAGES, DomainError, Problem

EB_OK = {"sex": "female", "age": 40, "hr_low": 100, "hr_high": 140, "watts_low": 30, "watts_high": 105}
AR_OK = {"sex": "male", "age": 25, "watts": 150, "hr": 150}


def codes(problems):
    return [(p.field, p.code) for p in problems]


# --- worked examples (arithmetic by hand, coefficients from Björkman et al. 2016 / issue 10) -------


def test_ekblom_bak_woman_worked_example():
    # dHR = 40, dPO = 75, dHR/dPO = 0.533333
    # 1.84390 - 0.00673*40 - 0.62578*0.533333 + 0.00175*75 - 0.00471*100
    # = 1.84390 - 0.26920 - 0.333749 + 0.13125 - 0.47100 = 0.901201; exp(0.901201) = 2.46256
    assert f.ekblom_bak_2016(**EB_OK) == pytest.approx(2.46256, abs=5e-5)


def test_ekblom_bak_man_worked_example():
    # dHR = 40, dPO = 120, dHR/dPO = 0.333333
    # 2.04900 - 0.00858*48 - 0.90742*0.333333 + 0.00178*120 - 0.00290*95
    # = 2.04900 - 0.41184 - 0.302473 + 0.21360 - 0.27550 = 1.272787; exp(1.272787) = 3.57079
    v = f.ekblom_bak_2016(sex="male", age=48, hr_low=95, hr_high=135, watts_low=30, watts_high=150)
    assert v == pytest.approx(3.57079, abs=5e-5)


def test_astrand_man_worked_example():
    # VO2 = 0.014*150 + 0.129 = 2.229 L/min; * (195-61)/(150-61) = 2.229*134/89 = 3.35602; age 25: *1.00
    assert f.astrand_ryhming(**AR_OK) == pytest.approx(3.35602, abs=5e-5)


def test_astrand_woman_worked_example():
    # VO2 = 0.014*100 + 0.129 = 1.529; * (198-72)/(150-72) = 1.529*126/78 = 2.469923; age 40: *0.83
    v = f.astrand_ryhming(sex="female", age=40, watts=100, hr=150)
    assert v == pytest.approx(2.050036, abs=5e-6)


def test_coefficients_are_the_published_ones():
    # one table, the numbers issue 10 quotes from Björkman et al. 2016
    w, m = f.EKBLOM_BAK_2016_COEFFICIENTS[f.Sex.FEMALE], f.EKBLOM_BAK_2016_COEFFICIENTS[f.Sex.MALE]
    assert (w.constant, w.age, w.dhr_per_dpo, w.dpo, w.hr_standard) == (
        1.84390,
        -0.00673,
        -0.62578,
        0.00175,
        -0.00471,
    )
    assert (m.constant, m.age, m.dhr_per_dpo, m.dpo, m.hr_standard) == (
        2.04900,
        -0.00858,
        -0.90742,
        0.00178,
        -0.00290,
    )
    assert "1627-38" in f.EKBLOM_BAK_2016.source


@pytest.mark.parametrize(
    ("age", "factor"),
    [
        (15, 1.10),
        (25, 1.00),
        (30, 0.935),  # halfway 1.00 -> 0.87
        (35, 0.87),
        (40, 0.83),
        (42.5, 0.805),
        (45, 0.78),
        (50, 0.75),
        (55, 0.71),
        (60, 0.68),
        (62, 0.668),  # 0.68 + (0.65-0.68)*2/5
        (65, 0.65),
        (14, 1.10),
        (80, 0.65),
    ],
)
def test_astrand_age_factor(age, factor):
    assert f.astrand_age_factor(age) == pytest.approx(factor)


# --- results carry id, version, inputs, warnings ------------------------------------------------


def test_estimate_records_equation_inputs_and_relative_value():
    est = f.estimate_ekblom_bak_2016(**EB_OK, weight_kg=64.0)
    assert (est.equation_id, est.equation_version) == ("ekblom-bak-2016", 1)
    assert est.inputs == EB_OK
    assert est.vo2max_ml_kg_min == pytest.approx(est.vo2max_l_min * 1000 / 64.0)
    assert (est.relative_rule_id, est.relative_rule_version) == ("vo2max-relative", 1)
    assert est.warnings == ()
    d = est.as_dict()
    assert d["equation_id"] == "ekblom-bak-2016" and d["inputs"]["hr_high"] == 140 and d["warnings"] == []


def test_estimate_without_weight_has_no_relative_value():
    est = f.estimate_astrand_ryhming(**AR_OK)
    assert (est.equation_id, est.equation_version) == ("astrand-ryhming", 1)
    assert est.vo2max_ml_kg_min is None and est.relative_rule_id is None


def test_relative_vo2max_worked_example():
    assert f.relative_vo2max(3.0, 75.0) == pytest.approx(40.0)


@pytest.mark.parametrize(("age", "end_age", "factor"), [(66, 65, 0.65), (100, 65, 0.65)])
def test_astrand_age_outside_table_uses_end_value_with_warning(age, end_age, factor):
    est = f.estimate_astrand_ryhming(sex="male", age=age, watts=150, hr=150)
    assert est.vo2max_l_min == pytest.approx(2.229 * 134 / 89 * factor)
    assert [(w.code, dict(w.params)) for w in est.warnings] == [
        ("astrand.age_factor_end_value", {"age": age, "end_age": end_age, "factor": factor})
    ]
    assert "65" in est.warnings[0].message


@pytest.mark.parametrize("age", [15, 65])
def test_astrand_table_ends_give_no_warning(age):
    assert f.estimate_astrand_ryhming(sex="male", age=age, watts=150, hr=150).warnings == ()


@pytest.mark.parametrize(
    ("watts_low", "warned"), [(24, True), (25, False), (30, False), (35, False), (36, True)]
)
def test_ekblom_bak_nonstandard_low_stage_is_warned(watts_low, warned):
    est = f.estimate_ekblom_bak_2016(**{**EB_OK, "watts_low": watts_low})
    assert [w.code for w in est.warnings] == (["ekblom_bak.nonstandard_low_work_rate"] if warned else [])


def test_ekblom_bak_outside_validated_fitness_is_warned():
    # 2.46 L/min at 30 kg would be 82 mL/kg/min, above the validated 19-76
    est = f.estimate_ekblom_bak_2016(**EB_OK, weight_kg=30)
    assert [w.code for w in est.warnings] == ["ekblom_bak.outside_validated_fitness"]
    assert est.warnings[0].params["max"] == 76


# --- limits: each at its edge (accepted) and just past it (refused, with a code) ------------------


def refused(fn, **kwargs):
    with pytest.raises(DomainError) as exc:
        fn(**kwargs)
    return exc.value


@pytest.mark.parametrize(("age", "ok"), [(19.9, False), (20, True), (86, True), (86.1, False)])
def test_ekblom_bak_age_range(age, ok):
    if ok:
        assert f.ekblom_bak_2016(**{**EB_OK, "age": age}) > 0
    else:
        err = refused(f.ekblom_bak_2016, **{**EB_OK, "age": age})
        assert err.code == "fitness.age_outside_equation"
        assert err.params == {
            "value": age,
            "min": 20,
            "max": 86,
            "equation": "ekblom-bak-2016",
            "field": "age",
        }


@pytest.mark.parametrize(("age", "ok"), [(14.9, False), (15, True), (100, True), (100.5, False)])
def test_general_age_bounds(age, ok):
    if ok:
        assert f.astrand_ryhming(**{**AR_OK, "age": age}) > 0
    else:
        err = refused(f.astrand_ryhming, **{**AR_OK, "age": age})
        assert (err.code, err.field, err.params["min"], err.params["max"]) == (
            "value.out_of_range",
            "age",
            15,
            100,
        )


@pytest.mark.parametrize(
    ("age", "hr_high", "ok"),
    [
        (59, 119.9, False),
        (59, 120, True),
        (60, 119, True),
        (60, 110, True),
        (60, 109.9, False),
        (86, 110, True),
    ],
)
def test_high_stage_hr_minimum_120_and_110_from_60(age, hr_high, ok):
    inputs = {**EB_OK, "age": age, "hr_low": 90, "hr_high": hr_high}
    if ok:
        assert f.ekblom_bak_2016(**inputs) > 0
    else:
        err = refused(f.ekblom_bak_2016, **inputs)
        assert err.code == "fitness.hr_high_below_minimum" and err.field == "hr_high"
        assert err.params["min"] == (110 if age >= 60 else 120)


@pytest.mark.parametrize(
    ("age", "hr", "ok"), [(59, 119, False), (59, 120, True), (60, 110, True), (61, 109, False)]
)
def test_astrand_work_hr_minimum(age, hr, ok):
    inputs = {**AR_OK, "age": age, "hr": hr}
    if ok:
        assert f.astrand_ryhming(**inputs) > 0
    else:
        assert refused(f.astrand_ryhming, **inputs).code == "fitness.hr_high_below_minimum"


@pytest.mark.parametrize("field", ["hr_low", "hr_high"])
@pytest.mark.parametrize(("hr", "ok"), [(39.9, False), (40, True), (220, True), (220.1, False)])
def test_any_heart_rate_within_40_220(field, hr, ok):
    bound = [p for p in f.check_ekblom_bak_2016(**{field: hr}) if p.code == "value.out_of_range"]
    assert [p.field for p in bound] == ([] if ok else [field])


def test_hr_out_of_range_params():
    p = f.check_astrand_ryhming(hr=221)[0]
    assert (p.field, p.code, dict(p.params)) == (
        "hr",
        "value.out_of_range",
        {"value": 221, "min": 40, "max": 220, "unit": "/min"},
    )


@pytest.mark.parametrize(
    ("hr_low", "hr_high", "ok"), [(130, 130, False), (131, 130, False), (129.75, 130, True)]
)
def test_hr_high_must_be_above_hr_low(hr_low, hr_high, ok):
    inputs = {**EB_OK, "hr_low": hr_low, "hr_high": hr_high}
    if ok:
        assert f.ekblom_bak_2016(**inputs) > 0
    else:
        err = refused(f.ekblom_bak_2016, **inputs)
        assert (err.code, err.field) == ("fitness.hr_high_not_above_low", "hr_high")
        assert err.params == {"hr_low": hr_low, "hr_high": hr_high, "field": "hr_high"}


@pytest.mark.parametrize(("watts_high", "ok"), [(29, False), (30, False), (30.5, True)])
def test_work_rate_difference_must_be_positive(watts_high, ok):
    inputs = {**EB_OK, "watts_high": watts_high, "hr_high": 121}
    if ok:
        assert f.ekblom_bak_2016(**inputs) > 0
    else:
        err = refused(f.ekblom_bak_2016, **inputs)
        assert (err.code, err.field) == ("fitness.work_rate_not_increasing", "watts_high")


@pytest.mark.parametrize(("watts", "ok"), [(9.9, False), (10, True), (500, True), (500.1, False)])
def test_watts_bounds(watts, ok):
    problems = f.check_astrand_ryhming(watts=watts)
    assert codes(problems) == ([] if ok else [("watts", "value.out_of_range")])


@pytest.mark.parametrize(("weight", "ok"), [(29.9, False), (30, True), (300, True), (300.1, False)])
def test_weight_bounds(weight, ok):
    problems = f.check_astrand_ryhming(weight_kg=weight)
    assert codes(problems) == ([] if ok else [("weight_kg", "value.out_of_range")])
    if not ok:
        assert refused(f.relative_vo2max, vo2max_l_min=3.0, weight_kg=weight).code == "value.out_of_range"


@pytest.mark.parametrize("bad", [math.nan, math.inf, "120", True, None])
def test_non_numbers_are_refused_with_a_code(bad):
    err = refused(f.estimate_astrand_ryhming, **{**AR_OK, "hr": bad})
    assert err.field == "hr"
    assert err.code == ("value.missing" if bad is None else "value.not_a_number")


def test_unknown_sex_is_refused():
    err = refused(f.ekblom_bak_2016, **{**EB_OK, "sex": "other"})
    assert (err.code, err.field, err.params["value"]) == ("value.unknown_code", "sex", "other")


def test_error_lists_every_problem_in_protocol_order():
    err = refused(f.ekblom_bak_2016, sex="male", age=18, hr_low=100, hr_high=100, watts_low=30, watts_high=30)
    assert codes(err.problems) == [
        ("age", "fitness.age_outside_equation"),
        ("watts_high", "fitness.work_rate_not_increasing"),
        ("hr_high", "fitness.hr_high_below_minimum"),
        ("hr_high", "fitness.hr_high_not_above_low"),
    ]
    assert "20–86" in str(err)


def test_every_code_has_an_english_message_and_unknown_codes_are_refused():
    assert all(isinstance(m, str) and m for m in MESSAGES.values())
    with pytest.raises(ValueError, match="unknown problem code"):
        Problem("x", "no.such.code")


# --- partial validation for the live estimate ----------------------------------------------------


def test_preview_while_typing():
    p = f.preview_ekblom_bak_2016(sex="female", age=40)
    assert p.problems == () and p.estimate is None
    assert p.missing == ("watts_low", "hr_low", "watts_high", "hr_high")  # protocol order

    p = f.preview_ekblom_bak_2016(sex="female", age=40, watts_low=30, hr_low=100, watts_high=105, hr_high=14)
    assert codes(p.problems) == [("hr_high", "value.out_of_range")]
    assert p.estimate is None and p.missing == ()

    p = f.preview_ekblom_bak_2016(**EB_OK, weight_kg=64)
    assert p.problems == () and p.missing == ()
    assert p.estimate.vo2max_l_min == pytest.approx(f.ekblom_bak_2016(**EB_OK))


def test_preview_keeps_the_estimate_while_the_weight_is_half_typed():
    p = f.preview_ekblom_bak_2016(**EB_OK, weight_kg=6)
    assert codes(p.problems) == [("weight_kg", "value.out_of_range")]
    assert p.estimate is not None and p.estimate.vo2max_ml_kg_min is None
    assert p.estimate.vo2max_l_min == pytest.approx(f.ekblom_bak_2016(**EB_OK))


def test_preview_waits_for_age_before_applying_the_120_minimum():
    # 115/min is valid from age 60 and not below: without an age it is not called implausible
    assert f.check_ekblom_bak_2016(hr_high=115) == ()
    assert codes(f.check_ekblom_bak_2016(hr_high=115, age=59)) == [
        ("hr_high", "fitness.hr_high_below_minimum")
    ]
    assert f.check_ekblom_bak_2016(hr_high=115, age=60) == ()
    # an implausible age does not decide the threshold either
    assert codes(f.check_ekblom_bak_2016(hr_high=115, age=400)) == [("age", "value.out_of_range")]


def test_preview_cross_field_rule_only_once_both_fields_are_plausible():
    assert codes(f.check_ekblom_bak_2016(hr_low=300, hr_high=130)) == [("hr_low", "value.out_of_range")]


def test_preview_problems_for_one_field():
    p = f.preview_astrand_ryhming(sex="male", age=30, watts=5, hr=100)
    assert [x.code for x in p.problems_for("watts")] == ["value.out_of_range"]
    assert [x.code for x in p.problems_for("hr")] == ["fitness.hr_high_below_minimum"]
    assert p.problems_for("age") == ()


# --- properties -----------------------------------------------------------------------------------

sexes = st.sampled_from(["female", "male"])
ages = st.floats(20, 86)
work_hr = st.floats(120, 219)


@given(sex=sexes, age=ages, hr_low=st.floats(60, 110), hr_a=work_hr, hr_b=work_hr, dpo=st.floats(20, 250))
def test_ekblom_bak_higher_work_hr_never_higher_vo2max(sex, age, hr_low, hr_a, hr_b, dpo):
    lo, hi = sorted((hr_a, hr_b))
    kw = {"sex": sex, "age": age, "hr_low": hr_low, "watts_low": 30, "watts_high": 30 + dpo}
    assert f.ekblom_bak_2016(**kw, hr_high=hi) <= f.ekblom_bak_2016(**kw, hr_high=lo)


@given(sex=sexes, age=ages, hr_low=st.floats(60, 100), shift=st.floats(0, 20), dhr=st.floats(25, 90))
def test_ekblom_bak_both_heart_rates_higher_never_higher_vo2max(sex, age, hr_low, shift, dhr):
    assume(hr_low + dhr >= 120 and hr_low + shift + dhr <= 220)
    kw = {"sex": sex, "age": age, "watts_low": 30, "watts_high": 130}
    base = f.ekblom_bak_2016(**kw, hr_low=hr_low, hr_high=hr_low + dhr)
    assert f.ekblom_bak_2016(**kw, hr_low=hr_low + shift, hr_high=hr_low + shift + dhr) <= base


@given(
    sex=sexes,
    age=st.floats(15, 100),
    watts=st.floats(10, 500),
    hr_a=st.floats(120, 220),
    hr_b=st.floats(120, 220),
)
def test_astrand_higher_hr_never_higher_vo2max(sex, age, watts, hr_a, hr_b):
    lo, hi = sorted((hr_a, hr_b))
    kw = {"sex": sex, "age": age, "watts": watts}
    assert f.astrand_ryhming(**kw, hr=hi) <= f.astrand_ryhming(**kw, hr=lo)


@given(a=st.floats(0, 120), b=st.floats(0, 120))
def test_astrand_age_factor_monotone_non_increasing(a, b):
    lo, hi = sorted((a, b))
    assert f.astrand_age_factor(hi) <= f.astrand_age_factor(lo)


@given(a=st.floats(20, 86), b=st.floats(20, 86), sex=sexes)
def test_ekblom_bak_older_never_higher_vo2max(a, b, sex):
    lo, hi = sorted((a, b))
    assert f.ekblom_bak_2016(**{**EB_OK, "sex": sex, "age": hi}) <= f.ekblom_bak_2016(
        **{**EB_OK, "sex": sex, "age": lo}
    )


@given(
    sex=st.one_of(sexes, st.none(), st.text(max_size=3)),
    age=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
    hr_low=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
    hr_high=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
    watts_low=st.one_of(st.none(), st.floats(-10, 600)),
    watts_high=st.one_of(st.none(), st.floats(-10, 600)),
)
def test_preview_never_raises_and_estimates_only_when_clean(sex, age, hr_low, hr_high, watts_low, watts_high):
    kw = {"sex": sex, "age": age, "hr_low": hr_low, "hr_high": hr_high, "watts_low": watts_low}
    p = f.preview_ekblom_bak_2016(**kw, watts_high=watts_high)
    assert (p.estimate is not None) == (not p.missing and all(x.field == "weight_kg" for x in p.problems))
    if p.estimate is not None:
        assert math.isfinite(p.estimate.vo2max_l_min) and p.estimate.vo2max_l_min > 0
    for problem in p.problems:
        assert problem.message


# --- demo inputs ------------------------------------------------------------------------------------


DEMO_TARGETS = [("female", t) for t in (1.4, 1.8, 2.4, 3.0, 3.4)] + [
    ("male", t) for t in (2.0, 2.6, 3.6, 4.2, 4.8)
]


@pytest.mark.parametrize(("sex", "target"), DEMO_TARGETS)
@pytest.mark.parametrize("age", [20, 25, 35, 45, 55, 60, 65, 69])
def test_demo_cycle_test_gives_back_the_target(sex, age, target):
    inputs = f.demo_cycle_test(sex=sex, age=age, target_vo2max_l_min=target)
    assert f.check_ekblom_bak_2016(**inputs) == ()
    assert f.ekblom_bak_2016(**inputs) == pytest.approx(target, abs=0.1)
    assert inputs["watts_low"] == 30 and inputs["hr_high"] <= 170
    # the high stage read as an Åstrand stage is a valid test too
    assert f.astrand_ryhming(sex=sex, age=age, watts=inputs["watts_high"], hr=inputs["hr_high"]) > 0


def test_demo_reference_means():
    # Swedish health-profile reference means (Väisänen et al. 2024): about 3.6 L/min men, 2.4 women
    for sex, target in (("male", 3.6), ("female", 2.4)):
        inputs = f.demo_cycle_test(sex=sex, age=45, target_vo2max_l_min=target, hr_low=92)
        assert inputs["hr_low"] == 92
        assert f.ekblom_bak_2016(**inputs) == pytest.approx(target, abs=0.1)


@pytest.mark.parametrize(
    ("target", "code"),
    [(0.99, "value.out_of_range"), (6.01, "value.out_of_range"), (math.nan, "value.not_a_number")],
)
def test_demo_refuses_implausible_targets(target, code):
    err = refused(f.demo_cycle_test, sex="male", age=40, target_vo2max_l_min=target)
    assert (err.code, err.field) == (code, "target_vo2max_l_min")


def test_demo_refuses_a_target_no_valid_test_gives():
    # an 80-year-old woman at 5.5 L/min would need a work-stage HR below what the test accepts
    err = refused(f.demo_cycle_test, sex="female", age=80, target_vo2max_l_min=5.5)
    assert err.code == "fitness.demo_target_unreachable" and err.field is None
