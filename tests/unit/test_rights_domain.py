"""Retention arithmetic to the day, and the purposes and bases the register extract states."""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic_tui.domain.categories import ALL_CATEGORIES, HEALTH_CATEGORIES, Category
from clinic_tui.domain.rights import (
    BOOKKEEPING,
    IMR_ANONYMIZATION_REQUEST,
    IMR_CONTRACT_ENDED,
    IMR_LAST_MEETING,
    PROCESSING,
    RETENTION_RULES,
    add_months,
    age_band,
    bookkeeping_keep_until,
    fiscal_year_end,
    imr_due,
)
from clinic_tui.domain.roles import Basis, OrganizationKind


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 1, 15), 6, date(2026, 7, 15)),
        (date(2026, 8, 31), 6, date(2027, 2, 28)),  # no 31 February: the month's last day
        (date(2027, 8, 31), 6, date(2028, 2, 29)),  # leap year
        (date(2026, 12, 31), 12, date(2027, 12, 31)),
        (date(2028, 2, 29), 12, date(2029, 2, 28)),
        (date(2026, 7, 1), 6, date(2027, 1, 1)),
    ],
)
def test_add_months(start, months, expected):
    assert add_months(start, months) == expected


@given(st.dates(min_value=date(1950, 1, 1), max_value=date(2100, 1, 1)), st.integers(0, 240))
def test_add_months_never_overshoots_the_target_month(d, n):
    out = add_months(d, n)
    assert (out.year * 12 + out.month) - (d.year * 12 + d.month) == n
    assert out.day <= d.day


def test_the_twelve_month_edge_to_the_day():
    due = imr_due(anonymization_requested=None, contract_end=None, last_meeting=date(2026, 3, 10))
    assert due.rule == IMR_LAST_MEETING and due.on == date(2027, 3, 10)
    assert not due.is_due(date(2027, 3, 9))  # the last day it is kept
    assert due.is_due(date(2027, 3, 10))


def test_a_meeting_on_the_last_day_keeps_the_data_another_twelve_months():
    first = imr_due(anonymization_requested=None, contract_end=None, last_meeting=date(2026, 3, 10))
    last_day = first.on - timedelta(days=1)
    again = imr_due(anonymization_requested=None, contract_end=None, last_meeting=last_day)
    assert again.on == date(2028, 3, 9) and not again.is_due(first.on)


def test_the_six_month_edge_to_the_day():
    due = imr_due(anonymization_requested=None, contract_end=date(2026, 6, 30), last_meeting=date(2026, 6, 1))
    assert due.rule == IMR_CONTRACT_ENDED and due.on == date(2026, 12, 30)
    assert not due.is_due(date(2026, 12, 29)) and due.is_due(date(2026, 12, 30))


def test_the_earliest_rule_applies_and_a_request_is_due_at_once():
    due = imr_due(
        anonymization_requested=date(2026, 5, 2), contract_end=date(2026, 3, 1), last_meeting=date(2026, 1, 1)
    )
    assert due.rule == IMR_ANONYMIZATION_REQUEST and due.on == date(2026, 5, 2)
    assert imr_due(anonymization_requested=None, contract_end=None, last_meeting=None) is None
    # a tie goes to the rule the policy lists first
    tie = imr_due(anonymization_requested=None, contract_end=date(2026, 1, 1), last_meeting=date(2025, 7, 1))
    assert tie.on == date(2026, 7, 1) and tie.rule == IMR_CONTRACT_ENDED


@pytest.mark.parametrize(
    ("served", "end_month", "fiscal_end", "kept_through"),
    [
        (date(2025, 6, 1), 12, date(2025, 12, 31), date(2032, 12, 31)),
        (date(2025, 12, 31), 12, date(2025, 12, 31), date(2032, 12, 31)),
        (date(2026, 1, 1), 12, date(2026, 12, 31), date(2033, 12, 31)),
        # a fiscal year ending 30 June: bookkeeping follows the calendar year in which it ended
        (date(2025, 7, 1), 6, date(2026, 6, 30), date(2033, 12, 31)),
        (date(2025, 6, 30), 6, date(2025, 6, 30), date(2032, 12, 31)),
        (date(2024, 2, 10), 2, date(2024, 2, 29), date(2031, 12, 31)),
    ],
)
def test_the_seventh_year_rule(served, end_month, fiscal_end, kept_through):
    assert fiscal_year_end(served, end_month) == fiscal_end
    assert bookkeeping_keep_until(fiscal_end) == kept_through


def test_fiscal_year_end_rejects_a_month_that_is_not_one():
    with pytest.raises(ValueError):
        fiscal_year_end(date(2026, 1, 1), 13)


def test_age_bands():
    assert age_band(1971, 2026) == "50-59"
    assert age_band(1971, 2021) == "50-59"
    assert age_band(1971, 2020) == "40-49"
    assert age_band(2030, 2026) == "0-9"


def test_every_rule_has_an_id_a_version_and_its_source():
    assert set(RETENTION_RULES) == {r.id for r in RETENTION_RULES.values()}
    for rule in RETENTION_RULES.values():
        assert rule.version >= 1 and len(rule.source) > 20
    assert "sjunde" in BOOKKEEPING.source


def test_every_category_a_controller_holds_has_a_purpose_and_a_basis():
    imagine = {c for (k, c) in PROCESSING if k == OrganizationKind.IMAGINECARE}
    imr = {c for (k, c) in PROCESSING if k == OrganizationKind.IMR}
    # ImagineCare does not collect occupation, fitness tests or profiling; IMR holds the rest
    assert imagine == ALL_CATEGORIES - {Category.OCCUPATION, Category.FITNESS_TESTS, Category.PROFILING}
    assert imr == ALL_CATEGORIES
    for (kind, cat), items in PROCESSING.items():
        assert items
        # health data rests on consent for the purposes it is collected for (both policies)
        if cat in HEALTH_CATEGORIES:
            assert items[0].basis == Basis.CONSENT, (kind, cat)
        for p in items:
            assert p.source.startswith(("ImagineCare", "IMR"))
