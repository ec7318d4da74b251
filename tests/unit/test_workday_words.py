"""What the UI says of numbers, dates, units and alerts, per language (issue 13.6, 13.7)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from clinic_tui import i18n, labels
from clinic_tui.domain.alerts import Thresholds, evaluate_reading
from clinic_tui.i18n import formats
from clinic_tui.widgets.trend_chart import _tick_label


@pytest.fixture
def sv():
    i18n.set_language("sv")
    yield
    i18n.set_language("en")


def test_numbers_in_swedish_have_a_decimal_comma_and_a_space_between_thousands(sv):
    assert formats.number(5539.9) == "5\xa0539,9"
    assert formats.number(2.6) == "2,6"
    assert formats.number(120.0) == "120"


def test_numbers_in_english():
    assert formats.number(5539.9) == "5,539.9" and formats.number(2.6) == "2.6"


def test_dates_and_times_follow_the_language(sv):
    moment = datetime(2025, 11, 30, 13, 5, tzinfo=UTC)
    assert formats.day_month(date(2025, 11, 30)) == "30 nov."
    assert formats.month_year(date(2025, 11, 30)) == "nov. 2025"
    assert formats.timestamp(moment).startswith("2025-11-30 ")  # 24-hour clock
    assert ":" in formats.timestamp(moment, with_date=False)


def test_the_one_year_axis_names_the_year():
    end = datetime(2026, 11, 30, 12, tzinfo=UTC)
    assert _tick_label(end, -365, 365) == "Nov 2025"
    assert _tick_label(end, 0, 30) == "30 Nov"


def test_no_ucum_code_is_shown(sv):
    assert labels.unit("mm[Hg]") == "mmHg"
    assert labels.unit("/d") == "per dag"
    assert labels.unit("kg") == "kg"  # (a unit people write as it is)
    assert labels.measurement("41950-7", "Steps per day") == "Steg per dag"
    assert labels.measurement("9999-9", "Something new") == "Something new"


@pytest.mark.parametrize(
    ("loinc", "value", "english", "swedish"),
    [
        (
            "8480-6",
            186,
            "Systolic blood pressure 186 mmHg ≥ 180 (grade 3)",
            "Systoliskt blodtryck 186 mmHg ≥ 180 (grad 3)",
        ),
        (
            "14743-9",
            2.6,
            "Glucose (capillary) 2.6 mmol/L < 3 (level 2 hypoglycaemia)",
            "Glukos (kapillärt) 2,6 mmol/L < 3 (hypoglykemi nivå 2)",
        ),
        ("8867-4", 138, "Heart rate 138 /min > 130", "Puls 138 /min > 130"),
    ],
)
def test_an_alert_is_worded_in_the_ui_language_from_its_rule_and_inputs(loinc, value, english, swedish):
    from clinic_tui.domain.alerts import Reading

    at = datetime(2026, 11, 30, 8, tzinfo=UTC)
    (finding,) = evaluate_reading(
        Reading(loinc, value, at), conditions=frozenset(), thresholds=Thresholds(), recent=[]
    )
    args = (finding.rule_id, finding.loinc, finding.inputs, finding.message)
    assert labels.alert_text(*args) == english
    try:
        i18n.set_language("sv")
        assert labels.alert_text(*args) == swedish
    finally:
        i18n.set_language("en")


def test_an_unknown_rule_shows_the_servers_message():
    assert labels.alert_text("new.rule", None, {}, "Something the server says") == "Something the server says"


def test_a_rule_version_this_client_does_not_know_shows_the_servers_message(sv):
    """A newer server may have changed what a rule's inputs mean: its English is shown as it came."""
    inputs = {"value": 186, "unit": "mm[Hg]", "threshold": 180, "comparison": ">="}
    english = "Systolic blood pressure 186 mmHg ≥ 180 (grade 3)"
    assert labels.alert_text("bp.grade3", "8480-6", inputs, english, version=2) == english
    assert labels.alert_text("bp.grade3", "8480-6", inputs, english, version=1).startswith("Systoliskt")


def test_conditions_and_threshold_lines_are_named_from_their_codes(sv):
    assert labels.conditions(["heart_failure", "copd", "new_code"], ["Heart failure", "COPD", "New"]) == [
        "Hjärtsvikt",
        "KOL",
        "New",  # a code this client does not know: as the server named it
    ]
    assert labels.conditions(None, ["Heart failure"]) == ["Heart failure"]  # an older server
    assert labels.threshold_line("bp_grade3_sys", "Grade 3") == "Grad 3"
    assert labels.threshold_line("new_line", "New line") == "New line"
