from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from clinic_tui.domain.alert_lifecycle import (
    ACTIVE_STATES,
    CLOSED_STATES,
    TRANSITIONS,
    AlertAction,
    AlertState,
    allowed_actions,
    effective_state,
    target_state,
)

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def test_every_state_is_either_active_or_closed():
    assert ACTIVE_STATES | CLOSED_STATES == set(AlertState)
    assert not ACTIVE_STATES & CLOSED_STATES


def test_a_snooze_reads_snoozed_until_its_time_then_as_it_was():
    soon = NOW + timedelta(minutes=1)
    assert effective_state("snoozed", soon, "acknowledged", NOW) is AlertState.SNOOZED
    assert effective_state("snoozed", NOW, "acknowledged", NOW) is AlertState.ACKNOWLEDGED
    assert effective_state("snoozed", NOW, "open", NOW) is AlertState.OPEN
    # snoozes recorded before snoozed_from existed come back open
    assert effective_state("snoozed", NOW, None, NOW) is AlertState.OPEN
    assert effective_state("resolved", None, None, NOW) is AlertState.RESOLVED


@given(st.sampled_from(list(AlertState)), st.sampled_from(["open", "acknowledged", None]))
def test_every_allowed_action_leads_to_a_state_the_lifecycle_knows(state, snoozed_from):
    for action in allowed_actions(state):
        assert state in TRANSITIONS[action]
        target = target_state(action, state, snoozed_from)
        assert target in AlertState
        if action is AlertAction.UNSNOOZE:
            assert target in (AlertState.OPEN, AlertState.ACKNOWLEDGED)


def test_closed_alerts_can_only_be_reopened():
    for state in CLOSED_STATES:
        assert allowed_actions(state) == {AlertAction.REOPEN}
