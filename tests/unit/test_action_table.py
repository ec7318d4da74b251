"""The action table beside ``decide``: who may do what, on which basis, needing which categories."""

from datetime import UTC, date, datetime, timedelta

import pytest

from clinic_server.access.policy import (
    ACTIONS,
    Action,
    Actor,
    ConsentFact,
    PersonFacts,
    authorize,
)
from clinic_tui.domain.categories import ALL_CATEGORIES, Category
from clinic_tui.domain.roles import Basis, Purpose, Role

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
NURSE = Actor("n1", "anna", Role.NURSE, "org-north", "care_provider")
OTHER_NURSE = Actor("n2", "bertil", Role.NURSE, "org-south", "care_provider")
SUPERVISOR = Actor("s1", "david", Role.SUPERVISOR, "org-north", "care_provider")
COACH = Actor("c1", "cecilia", Role.COACH, "org-imr", "imr")


def _person(categories=ALL_CATEGORIES, *, glass: bool = False, restricted: bool = False) -> PersonFacts:
    consent = ConsentFact("org-north", frozenset(categories), "care", NOW - timedelta(days=9), None, "active")
    return PersonFacts(
        "p1",
        date(1960, 1, 1),
        restricted,
        consents=(consent,) if categories else (),
        break_glass_until=NOW + timedelta(minutes=30) if glass else None,
        related_organizations=frozenset({"org-north"}) if categories else frozenset(),
    )


def test_every_action_has_a_row():
    assert set(ACTIONS) == set(Action)


def test_acting_on_alerts_needs_a_nurse_with_a_consent_covering_vitals():
    ok = authorize(NURSE, Action.ACT_ON_ALERT, _person(), NOW)
    assert ok.permitted and ok.basis == Basis.CONSENT and Category.VITALS in ok.allowed
    # no vitals in the consent: refused, although the nurse may read the record
    no_vitals = _person({Category.IDENTITY, Category.CONTACT})
    assert authorize(NURSE, Action.READ_RECORD, no_vitals, NOW).permitted
    refused = authorize(NURSE, Action.ACT_ON_ALERT, no_vitals, NOW)
    assert not refused.permitted and "vitals not shared" in refused.reason
    # break-the-glass opens the record and the trend, never the alert actions
    glass = _person(set(), glass=True)
    assert authorize(NURSE, Action.READ_SERIES, glass, NOW).basis == Basis.BREAK_GLASS
    assert authorize(NURSE, Action.READ_SERIES, glass, NOW).purpose == Purpose.EMERGENCY
    assert not authorize(NURSE, Action.ACT_ON_ALERT, glass, NOW).permitted
    assert not authorize(NURSE, Action.SET_THRESHOLDS, glass, NOW).permitted
    # a coach never acts on alerts
    assert "may not" in authorize(COACH, Action.ACT_ON_ALERT, _person(), NOW).reason


def test_deny_overrides_every_row():
    restricted = _person(restricted=True)
    for action, req in ACTIONS.items():
        if req.per_person and not req.related and NURSE.role in req.roles:
            assert not authorize(NURSE, action, restricted, NOW).permitted, action


@pytest.mark.parametrize("action", [Action.READ_AUDIT, Action.VERIFY_AUDIT, Action.REVIEW_BREAK_GLASS])
def test_audit_duties_are_the_supervisors_and_read_no_categories(action):
    d = authorize(SUPERVISOR, action, None, NOW)
    assert d.permitted and d.basis == Basis.DUTY and d.purpose == Purpose.AUDIT and not d.allowed
    assert not authorize(NURSE, action, None, NOW).permitted


def test_a_supervisor_restricts_only_people_related_to_her_organization():
    assert authorize(SUPERVISOR, Action.SET_RESTRICTION, _person(), NOW).permitted
    stranger = _person(set())
    assert not authorize(SUPERVISOR, Action.SET_RESTRICTION, stranger, NOW).permitted
    assert not authorize(NURSE, Action.SET_RESTRICTION, _person(), NOW).permitted


def test_a_supervisor_reads_nobody_on_her_list():
    assert not authorize(SUPERVISOR, Action.LIST_PEOPLE, _person(), NOW).permitted
    assert not authorize(OTHER_NURSE, Action.LIST_PEOPLE, _person(), NOW).permitted
