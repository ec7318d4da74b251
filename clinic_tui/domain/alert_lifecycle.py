"""The alert lifecycle, defined once: states, actions, transitions, and what "active" means.

    open ──acknowledge──> acknowledged ──resolve──> resolved
      │                        └───────escalate──> escalated
      └─snooze─> snoozed (until a time) ──time up / unsnooze──> back to the state it was snoozed from

A snoozed alert is active: it stays in the queue, marked snoozed until its time, and then comes
back as it was (open or acknowledged) by itself; nothing is rewritten when the time passes, the
state is read through ``effective_state``. ``reopen`` brings a closed (or acknowledged, or snoozed)
alert back to open. Both the server (state machine, queries) and the client (which keys apply,
what a row shows) use these definitions.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

__all__ = [
    "ACTIVE_STATES",
    "CLOSED_STATES",
    "MAX_SNOOZE",
    "NEEDS_NOTE",
    "TRANSITIONS",
    "AlertAction",
    "AlertState",
    "allowed_actions",
    "effective_state",
    "target_state",
]


class AlertState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"
    ESCALATED = "escalated"


class AlertAction(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"
    ESCALATE = "escalate"
    SNOOZE = "snooze"
    UNSNOOZE = "unsnooze"
    REOPEN = "reopen"


#: in the queue (a snoozed alert included: it shows as snoozed until its time)
ACTIVE_STATES: frozenset[AlertState] = frozenset(
    {AlertState.OPEN, AlertState.ACKNOWLEDGED, AlertState.SNOOZED}
)
CLOSED_STATES: frozenset[AlertState] = frozenset({AlertState.RESOLVED, AlertState.ESCALATED})
#: the states an alert may be snoozed from, and return to
SNOOZABLE: frozenset[AlertState] = frozenset({AlertState.OPEN, AlertState.ACKNOWLEDGED})

#: action -> the effective states it may start from
TRANSITIONS: dict[AlertAction, frozenset[AlertState]] = {
    AlertAction.ACKNOWLEDGE: frozenset({AlertState.OPEN}),
    AlertAction.RESOLVE: frozenset({AlertState.ACKNOWLEDGED}),
    AlertAction.ESCALATE: frozenset({AlertState.ACKNOWLEDGED}),
    AlertAction.SNOOZE: SNOOZABLE | {AlertState.SNOOZED},
    AlertAction.UNSNOOZE: frozenset({AlertState.SNOOZED}),
    AlertAction.REOPEN: frozenset(
        {AlertState.ACKNOWLEDGED, AlertState.SNOOZED, AlertState.RESOLVED, AlertState.ESCALATED}
    ),
}
#: actions that need a note (what was done, or who took it over)
NEEDS_NOTE: frozenset[AlertAction] = frozenset({AlertAction.RESOLVE, AlertAction.ESCALATE})
#: the longest snooze
MAX_SNOOZE = timedelta(days=30)


def effective_state(
    state: str, snoozed_until: datetime | None, snoozed_from: str | None, now: datetime
) -> AlertState:
    """The state as of ``now``: a snooze whose time is up reads as the state it was snoozed from."""
    s = AlertState(state)
    if s is AlertState.SNOOZED and (snoozed_until is None or snoozed_until <= now):
        return AlertState(snoozed_from) if snoozed_from in SNOOZABLE else AlertState.OPEN
    return s


def target_state(action: AlertAction, current: AlertState, snoozed_from: str | None) -> AlertState:
    """Where ``action`` leads from ``current`` (which must be in ``TRANSITIONS[action]``)."""
    if action is AlertAction.ACKNOWLEDGE:
        return AlertState.ACKNOWLEDGED
    if action is AlertAction.RESOLVE:
        return AlertState.RESOLVED
    if action is AlertAction.ESCALATE:
        return AlertState.ESCALATED
    if action is AlertAction.SNOOZE:
        return AlertState.SNOOZED
    if action is AlertAction.UNSNOOZE:
        return AlertState(snoozed_from) if snoozed_from in SNOOZABLE else AlertState.OPEN
    return AlertState.OPEN


def allowed_actions(current: AlertState) -> frozenset[AlertAction]:
    """The actions that apply to an alert in effective state ``current`` (what a footer offers)."""
    return frozenset(a for a, starts in TRANSITIONS.items() if current in starts)
