"""The action table's rows for the people's rights: the privacy officer acts on the person's request
(any person held, restricted or not), reads values only in an export; integrations act only for
their organization's kind and only on people related to it; nobody else gets these actions."""

from datetime import UTC, date, datetime, timedelta

import pytest

from clinic_server.access.policy import (
    ACTIONS,
    INTEGRATION_ROLE,
    Action,
    Actor,
    ConsentFact,
    PersonFacts,
    authorize,
)
from clinic_tui.domain.categories import ALL_CATEGORIES, Category
from clinic_tui.domain.roles import Basis, Purpose, Role

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
OFFICER = Actor("o1", "elsa", Role.PRIVACY_OFFICER, "org-office", "operator")
NURSE = Actor("n1", "anna", Role.NURSE, "org-north", "care_provider")
SUPERVISOR = Actor("s1", "david", Role.SUPERVISOR, "org-north", "care_provider")
COACH = Actor("c1", "cecilia", Role.COACH, "org-imr", "imr")
APP = Actor("k1", "patient app", INTEGRATION_ROLE, "org-app", "imaginecare")
IMR_APP = Actor("k2", "onboarding", INTEGRATION_ROLE, "org-imr", "imr")
CARE_APP = Actor("k3", "clinic system", INTEGRATION_ROLE, "org-north", "care_provider")

SUBJECT_ACTIONS = [a for a, r in ACTIONS.items() if r.subject]


def _person(*, restricted=False, birth=date(1960, 1, 1), related=("org-north", "org-app")) -> PersonFacts:
    consent = ConsentFact(
        "org-north", frozenset(ALL_CATEGORIES), "care", NOW - timedelta(days=9), None, "active"
    )
    return PersonFacts("p1", birth, restricted, consents=(consent,), related_organizations=frozenset(related))


def test_the_subject_rows_are_the_officers_and_record_the_request_purpose():
    assert set(SUBJECT_ACTIONS) >= {
        Action.SUBJECT_LOOKUP,
        Action.SUBJECT_EXTRACT,
        Action.SUBJECT_EXPORT,
        Action.SUBJECT_RECTIFY,
        Action.SUBJECT_RESTRICTION,
        Action.SUBJECT_OBJECTION,
        Action.SUBJECT_ERASE,
        Action.CHANGE_CONSENT,
    }
    for action in SUBJECT_ACTIONS:
        assert ACTIONS[action].roles == {Role.PRIVACY_OFFICER}, action
        d = authorize(OFFICER, action, _person(), NOW)
        assert d.permitted and d.basis == Basis.DATA_SUBJECT_REQUEST, action
        assert d.purpose == Purpose.DATA_SUBJECT_REQUEST, action


@pytest.mark.parametrize("actor", [NURSE, SUPERVISOR, COACH], ids=lambda a: a.role)
def test_nobody_else_may_act_for_the_person(actor):
    for action in SUBJECT_ACTIONS:
        assert not authorize(actor, action, _person(), NOW).permitted, (actor.role, action)
    assert not authorize(actor, Action.RETENTION_PREVIEW, None, NOW).permitted


def test_the_officer_sees_values_only_in_an_export():
    assert authorize(OFFICER, Action.SUBJECT_EXPORT, _person(), NOW).allowed == ALL_CATEGORIES
    for action in (
        Action.SUBJECT_LOOKUP,
        Action.SUBJECT_EXTRACT,
        Action.SUBJECT_ERASE,
        Action.CHANGE_CONSENT,
    ):
        assert authorize(OFFICER, action, _person(), NOW).allowed == frozenset(), action
    # a correction returns only the identity and contact fields she typed
    assert authorize(OFFICER, Action.SUBJECT_RECTIFY, _person(), NOW).allowed == {
        Category.IDENTITY,
        Category.CONTACT,
    }
    # and her role reads no record through the clinical actions
    assert not authorize(OFFICER, Action.READ_RECORD, _person(), NOW).permitted


def test_a_request_is_handled_whatever_a_restriction_or_an_age_would_deny():
    restricted, minor = _person(restricted=True), _person(birth=date(2010, 1, 1))
    for action in (
        Action.SUBJECT_EXTRACT,
        Action.SUBJECT_EXPORT,
        Action.SUBJECT_ERASE,
        Action.SUBJECT_RESTRICTION,
    ):
        assert authorize(OFFICER, action, restricted, NOW).permitted
        assert authorize(OFFICER, action, minor, NOW).permitted
    assert not authorize(NURSE, Action.READ_RECORD, restricted, NOW).permitted


def test_integrations_act_for_their_kind_and_only_on_people_related_to_them():
    assert authorize(APP, Action.REGISTER_PERSON, None, NOW).permitted
    assert not authorize(IMR_APP, Action.REGISTER_PERSON, None, NOW).permitted
    assert authorize(IMR_APP, Action.IMPORT_PARTICIPANTS, None, NOW).permitted
    assert not authorize(APP, Action.IMPORT_PARTICIPANTS, None, NOW).permitted
    # a care provider's own system has no rows at all
    for action in ACTIONS:
        assert not authorize(CARE_APP, action, _person(), NOW).permitted, action
    related = _person()
    d = authorize(APP, Action.CHANGE_CONSENT, related, NOW)
    assert d.permitted and d.basis == Basis.DATA_SUBJECT_REQUEST and not d.allowed
    stranger = _person(related=("org-north",))
    assert not authorize(APP, Action.CHANGE_CONSENT, stranger, NOW).permitted
    assert not authorize(APP, Action.SUBJECT_EXPORT, related, NOW).permitted
    assert not authorize(IMR_APP, Action.CLOSE_ACCOUNT, _person(related=("org-imr",)), NOW).permitted
    assert authorize(IMR_APP, Action.SUBJECT_REQUEST, _person(related=("org-imr",)), NOW).permitted
    # no integration reads a record or the audit log
    for action in (Action.READ_RECORD, Action.LIST_PEOPLE, Action.READ_AUDIT, Action.OWN_ACCOUNT):
        assert not authorize(APP, action, related, NOW).permitted
