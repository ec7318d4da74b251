"""Reference-table classifications: every category edge, refusals, and monotonicity."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic_tui.domain import classification as c
from clinic_tui.domain.provenance import DomainError

# --- fitness category (Åstrand) ----------------------------------------------------------------------

# every row of the table at both edges of every category: (sex, age, whole mL/kg/min, category)
ASTRAND_ROWS = {
    "female": [
        ((20, 29), [(28, 29), (34, 35), (43, 44), (48, 49)]),
        ((30, 39), [(27, 28), (33, 34), (41, 42), (47, 48)]),
        ((40, 49), [(25, 26), (31, 32), (40, 41), (45, 46)]),
        ((50, 65), [(21, 22), (28, 29), (36, 37), (41, 42)]),
    ],
    "male": [
        ((20, 29), [(38, 39), (43, 44), (51, 52), (56, 57)]),
        ((30, 39), [(34, 35), (39, 40), (47, 48), (51, 52)]),
        ((40, 49), [(30, 31), (35, 36), (43, 44), (47, 48)]),
        ((50, 59), [(25, 26), (31, 32), (39, 40), (43, 44)]),
        ((60, 69), [(21, 22), (26, 27), (35, 36), (39, 40)]),
    ],
}
EDGE_CASES = [
    (sex, age, below, above, lower_cat, upper_cat)
    for sex, rows in ASTRAND_ROWS.items()
    for (first, last), edges in rows
    for age in (first, last)
    for (below, above), lower_cat, upper_cat in zip(
        edges, c.FITNESS_CATEGORIES[:-1], c.FITNESS_CATEGORIES[1:], strict=True
    )
]


@pytest.mark.parametrize(("sex", "age", "below", "above", "lower_cat", "upper_cat"), EDGE_CASES)
def test_fitness_category_edges(sex, age, below, above, lower_cat, upper_cat):
    assert c.fitness_category(sex=sex, age=age, vo2max_ml_kg_min=below).value == lower_cat
    assert c.fitness_category(sex=sex, age=age, vo2max_ml_kg_min=above).value == upper_cat


def test_fitness_category_rounds_half_up_to_the_whole_number_shown():
    # women 30-39: "high" from 42
    assert c.fitness_category(sex="female", age=35, vo2max_ml_kg_min=41.49).value == "average"
    assert c.fitness_category(sex="female", age=35, vo2max_ml_kg_min=41.5).value == "high"


def test_fitness_category_records_rule_and_inputs():
    r = c.fitness_category(sex="male", age=47.9, vo2max_ml_kg_min=40.2)
    assert (r.rule_id, r.rule_version, r.value) == ("fitness-category-astrand", 1, "average")
    assert r.inputs == {"sex": "male", "age": 47.9, "age_band": "40-49", "vo2max_ml_kg_min": 40.2}
    assert r.as_dict()["value"] == "average"


@pytest.mark.parametrize(
    ("sex", "age", "lo", "hi"), [("female", 19.9, 20, 65), ("female", 66, 20, 65), ("male", 70, 20, 69)]
)
def test_fitness_category_refuses_ages_outside_the_table(sex, age, lo, hi):
    with pytest.raises(DomainError) as exc:
        c.fitness_category(sex=sex, age=age, vo2max_ml_kg_min=40)
    assert exc.value.code == "classification.age_outside_reference"
    assert (exc.value.params["min"], exc.value.params["max"]) == (lo, hi)


@pytest.mark.parametrize("age", [65, 65.9])
def test_women_band_reaches_65(age):
    assert c.fitness_category(sex="female", age=age, vo2max_ml_kg_min=30).inputs["age_band"] == "50-65"


@given(
    sex=st.sampled_from(["female", "male"]),
    age=st.floats(20, 65),
    a=st.floats(1, 120),
    b=st.floats(1, 120),
)
def test_fitness_category_monotone_in_vo2max(sex, age, a, b):
    lo, hi = sorted((a, b))
    rank = c.FITNESS_CATEGORIES.index
    assert rank(c.fitness_category(sex=sex, age=age, vo2max_ml_kg_min=lo).value) <= rank(
        c.fitness_category(sex=sex, age=age, vo2max_ml_kg_min=hi).value
    )


@given(sex=st.sampled_from(["female", "male"]), v=st.floats(1, 120), a=st.integers(20, 64))
def test_same_value_never_rates_lower_in_an_older_band(sex, v, a):
    # the table's thresholds fall with age, so a value never earns a lower category when older
    rank = c.FITNESS_CATEGORIES.index
    young = c.fitness_category(sex=sex, age=a, vo2max_ml_kg_min=v).value
    older = c.fitness_category(sex=sex, age=a + 1, vo2max_ml_kg_min=v).value
    assert rank(older) >= rank(young)


# --- BMI (WHO) -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weight", "height", "bmi", "category"),
    [
        (59.9, 180, 18.5, "normal"),  # 59.9/1.8² = 18.488 -> 18.5
        (59.6, 180, 18.4, "underweight"),
        (80.9, 180, 25.0, "overweight"),  # 80.9/3.24 = 24.969 -> 25.0
        (80.8, 180, 24.9, "normal"),  # 24.938 -> 24.9
        (97.2, 180, 30.0, "obesity_class_1"),
        (113.4, 180, 35.0, "obesity_class_2"),
        (129.6, 180, 40.0, "obesity_class_3"),
        (129.4, 180, 39.9, "obesity_class_2"),
        (82.0, 178, 25.9, "overweight"),  # the example
    ],
)
def test_bmi_category_edges(weight, height, bmi, category):
    r = c.bmi_category(weight_kg=weight, height_cm=height)
    assert (r.inputs["bmi"], r.value) == (bmi, category)
    assert (r.rule_id, r.rule_version, r.inputs["bmi_equation"]) == ("bmi-category-who", 1, "bmi.v1")


@pytest.mark.parametrize(("weight", "height", "field"), [(29, 170, "weight_kg"), (70, 119, "height_cm")])
def test_bmi_category_refuses_implausible_input(weight, height, field):
    with pytest.raises(DomainError) as exc:
        c.bmi_category(weight_kg=weight, height_cm=height)
    assert (exc.value.code, exc.value.field) == ("value.out_of_range", field)


@given(h=st.floats(120, 230), a=st.floats(30, 300), b=st.floats(30, 300))
def test_bmi_category_monotone_in_weight(h, a, b):
    lo, hi = sorted((a, b))
    names = [n for n, _ in c.BMI_CUTOFFS]
    assert names.index(c.bmi_category(weight_kg=lo, height_cm=h).value) <= names.index(
        c.bmi_category(weight_kg=hi, height_cm=h).value
    )


# --- waist (WHO/IDF) ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sex", "waist", "category"),
    [
        ("male", 93.9, "not_increased"),
        ("male", 94.0, "increased"),
        ("male", 102.0, "increased"),
        ("male", 102.1, "substantially_increased"),
        ("female", 79.9, "not_increased"),
        ("female", 80.0, "increased"),
        ("female", 88.0, "increased"),
        ("female", 88.1, "substantially_increased"),
    ],
)
def test_waist_category_edges(sex, waist, category):
    r = c.waist_category(sex=sex, waist_cm=waist)
    assert r.value == category
    assert (r.rule_id, r.rule_version, r.inputs) == (
        "waist-category-who-idf",
        1,
        {"sex": sex, "waist_cm": waist},
    )


def test_waist_refuses_unknown_sex_and_impossible_values():
    with pytest.raises(DomainError) as exc:
        c.waist_category(sex="x", waist_cm=90)
    assert exc.value.code == "value.unknown_code"
    with pytest.raises(DomainError) as exc:
        c.waist_category(sex="male", waist_cm=29)
    assert exc.value.code == "value.out_of_range"


# --- blood pressure (ESC/ESH 2018) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sys_", "dia", "category", "qualifiers"),
    [
        (119, 79, "optimal", ()),
        (120, 79, "normal", ()),
        (119, 80, "normal", ()),
        (129, 84, "normal", ()),
        (130, 70, "high_normal", ()),
        (110, 85, "high_normal", ()),
        (139, 89, "high_normal", ()),
        (140, 89, "grade_1", ("isolated_systolic",)),
        (140, 90, "grade_1", ()),
        (125, 90, "grade_1", ()),
        (159, 99, "grade_1", ()),
        (160, 80, "grade_2", ("isolated_systolic",)),
        (150, 100, "grade_2", ()),
        (179, 109, "grade_2", ()),
        (180, 70, "grade_3", ("isolated_systolic",)),
        (170, 110, "grade_3", ()),
        (135, 112, "grade_3", ()),
    ],
)
def test_bp_grade_edges(sys_, dia, category, qualifiers):
    r = c.bp_grade(systolic=sys_, diastolic=dia)
    assert (r.value, r.qualifiers) == (category, qualifiers)
    assert (r.rule_id, r.rule_version) == ("bp-grade-esc-esh-2018", 1)


def test_bp_refuses_diastolic_not_below_systolic():
    with pytest.raises(DomainError) as exc:
        c.bp_grade(systolic=90, diastolic=90)
    assert (exc.value.code, exc.value.field) == ("bp.diastolic_not_below_systolic", "diastolic")


@given(s1=st.integers(80, 250), s2=st.integers(80, 250), d1=st.integers(40, 79), d2=st.integers(40, 79))
def test_bp_grade_monotone(s1, s2, d1, d2):
    rank = c.BP_CATEGORIES.index
    lo = c.bp_grade(systolic=min(s1, s2), diastolic=min(d1, d2))
    hi = c.bp_grade(systolic=max(s1, s2), diastolic=max(d1, d2))
    assert rank(lo.value) <= rank(hi.value)
