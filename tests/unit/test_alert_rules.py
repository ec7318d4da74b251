from datetime import UTC, datetime, timedelta

import pytest

from clinic_tui.domain.alerts import (
    RULES,
    Finding,
    Reading,
    Severity,
    Thresholds,
    days_with_readings_in_prior_week,
    evaluate_missing,
    evaluate_reading,
    severity_rank,
)
from clinic_tui.domain.codes import BY_KEY

T = Thresholds()
NOW = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)
SYS = BY_KEY["systolic"].loinc
DIA = BY_KEY["diastolic"].loinc
GLU = BY_KEY["glucose"].loinc
SPO2 = BY_KEY["spo2"].loinc
HR = BY_KEY["heart_rate"].loinc
WEIGHT = BY_KEY["weight"].loinc


def rules_for(loinc, value, conditions=frozenset(), recent=()):
    findings = evaluate_reading(
        Reading(loinc, value, NOW), conditions=conditions, thresholds=T, recent=recent
    )
    return [f.rule_id for f in findings]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(159, []), (160, ["bp.grade2"]), (179, ["bp.grade2"]), (180, ["bp.grade3"]), (181, ["bp.grade3"])],
)
def test_systolic_boundaries(value, expected):
    assert rules_for(SYS, value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(99, []), (100, ["bp.grade2"]), (109, ["bp.grade2"]), (110, ["bp.grade3"]), (111, ["bp.grade3"])],
)
def test_diastolic_boundaries(value, expected):
    assert rules_for(DIA, value) == expected


def test_bp_components_use_own_limits():
    # 110 is grade 3 for diastolic but normal for systolic.
    assert rules_for(SYS, 110) == []
    assert rules_for(DIA, 160) == ["bp.grade3"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (2.9, ["glucose.hypo.l2"]),
        (3.0, ["glucose.hypo.l1"]),
        (3.8, ["glucose.hypo.l1"]),
        (3.9, []),
        (13.9, []),
        (14.0, ["glucose.hyper"]),
    ],
)
def test_glucose_boundaries(value, expected):
    assert rules_for(GLU, value) == expected


@pytest.mark.parametrize(
    ("value", "copd", "expected"),
    [
        (87, True, ["spo2.low"]),
        (88, True, []),
        (91, True, []),
        (92, True, []),
        (87, False, ["spo2.low"]),
        (88, False, ["spo2.low"]),
        (91, False, ["spo2.low"]),
        (92, False, []),
    ],
)
def test_spo2_boundaries(value, copd, expected):
    conditions = frozenset({"copd"}) if copd else frozenset({"hypertension"})
    assert rules_for(SPO2, value, conditions) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(39, ["hr.brady"]), (40, []), (41, []), (129, []), (130, []), (131, ["hr.tachy"])],
)
def test_heart_rate_boundaries(value, expected):
    assert rules_for(HR, value) == expected


def w(value, days_ago):
    return Reading(WEIGHT, value, NOW - timedelta(days=days_ago))


HF = frozenset({"heart_failure"})


@pytest.mark.parametrize(("new", "expected"), [(81.9, []), (82.0, ["hf.weight_gain"])])
def test_weight_gain_boundary(new, expected):
    recent = [w(80.0, 2), w(80.5, 1)]
    assert rules_for(WEIGHT, new, HF, recent) == expected


def test_weight_gain_boundary_with_float_noise():
    # 81.9 - 79.9 is not exactly 2.0 in binary floating point.
    assert rules_for(WEIGHT, 81.9, HF, [w(79.9, 1)]) == ["hf.weight_gain"]
    assert rules_for(WEIGHT, 81.8, HF, [w(79.9, 1)]) == []


def test_weight_gain_uses_window_minimum_not_previous_reading():
    # Previous reading (81.5) is higher than the window minimum (80.0).
    recent = [w(81.5, 0.5), w(80.0, 2.5), w(81.0, 1.5)]
    findings = evaluate_reading(Reading(WEIGHT, 82.0, NOW), conditions=HF, thresholds=T, recent=recent)
    assert [f.rule_id for f in findings] == ["hf.weight_gain"]
    f = findings[0]
    assert f.inputs["window_min"] == 80.0
    assert f.inputs["gain_kg"] == 2.0
    assert f.inputs["threshold"] == 2.0
    assert f.rule_version == 1
    assert f.severity is Severity.MEDIUM
    assert rules_for(WEIGHT, 81.9, HF, recent) == []


def test_weight_gain_window_edge():
    # Exactly 3 days old counts; older does not.
    assert rules_for(WEIGHT, 82.0, HF, [w(80.0, 3)]) == ["hf.weight_gain"]
    old_min = [w(79.0, 3.01), w(80.5, 2)]
    assert rules_for(WEIGHT, 82.0, HF, old_min) == []
    assert rules_for(WEIGHT, 82.5, HF, old_min) == ["hf.weight_gain"]


def test_weight_gain_ignores_future_readings_and_order():
    recent = [w(79.0, -1), w(80.0, 1)]  # first is after the evaluated reading
    assert rules_for(WEIGHT, 81.5, HF, recent) == []
    assert rules_for(WEIGHT, 82.0, HF, list(reversed(recent))) == ["hf.weight_gain"]


def test_weight_gain_only_for_heart_failure():
    assert rules_for(WEIGHT, 90.0, frozenset({"hypertension"}), [w(80.0, 1)]) == []
    assert rules_for(WEIGHT, 90.0, HF, []) == []


def last_at(days_ago):
    return NOW - timedelta(days=days_ago)


def test_missing_boundary():
    assert evaluate_missing(last_at(2.9), 7, NOW, T) is None
    f = evaluate_missing(last_at(3.0), 7, NOW, T)
    assert isinstance(f, Finding)
    assert (f.rule_id, f.severity, f.rule_version) == ("data.missing", Severity.LOW, 1)
    assert f.loinc is None and f.value is None
    assert f.inputs["threshold"] == 3
    assert f.inputs["daily_days_in_prior_week"] == 7


def test_missing_daily_sender_boundary():
    assert evaluate_missing(last_at(5), 5, NOW, T) is not None
    assert evaluate_missing(last_at(5), 4, NOW, T) is None  # not a daily sender
    assert evaluate_missing(None, 0, NOW, T) is None


def test_days_with_readings_in_prior_week():
    last = NOW
    times = [last - timedelta(hours=h) for h in (1, 2, 30, 50, 170, 200)] + [last]
    # windows: 1h,2h -> day 0; 30h -> day 1; 50h -> day 2; 170h -> day 7 (>168h) excluded, 200h excluded
    assert days_with_readings_in_prior_week(times, last) == 3
    daily = [last - timedelta(days=d) for d in range(1, 8)]
    assert days_with_readings_in_prior_week(daily, last) == 7


def test_findings_record_inputs_and_version():
    (f,) = evaluate_reading(Reading(SYS, 185, NOW), conditions=frozenset(), thresholds=T, recent=[])
    assert f.inputs["value"] == 185 and f.inputs["threshold"] == 180
    assert f.loinc == SYS and f.value == 185
    assert f.rule_version == RULES["bp.grade3"].version


def test_unrelated_code_has_no_findings():
    assert rules_for(BY_KEY["steps"].loinc, 0) == []


def test_rules_registry():
    assert set(RULES) == {
        "bp.grade3",
        "bp.grade2",
        "glucose.hypo.l2",
        "glucose.hypo.l1",
        "glucose.hyper",
        "spo2.low",
        "hr.brady",
        "hr.tachy",
        "hf.weight_gain",
        "data.missing",
    }
    version, severity, description = RULES["spo2.low"][:3]
    assert version == 1 and severity is Severity.HIGH and description


def test_severity_rank():
    assert [severity_rank(s) for s in (Severity.HIGH, Severity.MEDIUM, Severity.LOW)] == [0, 1, 2]
    assert severity_rank("low") == 2


def test_thresholds_overrides():
    t = T.with_overrides({"spo2_low_copd": 86, "missing_days": 2})
    assert t.spo2_low_copd == 86 and t.missing_days == 2 and t.spo2_low == 92
    assert T.spo2_low_copd == 88
    f = evaluate_reading(Reading(SPO2, 87, NOW), conditions=frozenset({"copd"}), thresholds=t, recent=[])
    assert f == []


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"nope": 1}, "nope"),
        ({"hr_low": "40"}, "hr_low"),
        ({"hr_low": True}, "hr_low"),
        ({"hr_low": float("nan")}, "hr_low"),
        ({"hr_low": -1}, "hr_low"),
        ({"hr_low": 200}, "hr_low"),
        ({"bp_grade3_sys": 150}, "bp_grade3_sys"),
    ],
)
def test_thresholds_override_errors_name_key(overrides, key):
    with pytest.raises(ValueError, match=key):
        T.with_overrides(overrides)


def test_reading_requires_aware_datetime():
    with pytest.raises(ValueError):
        Reading(SYS, 120, datetime(2025, 1, 1))
