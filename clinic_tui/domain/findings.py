"""Privacy monitoring vocabulary, defined once: the findings rules' ids, the reasons they give, and
the supervisor's verdicts.

A finding is a rule's claim that some accesses in the audit log deserve a supervisor's look
(log review, "loggkontroll"). Each rule has an id and a version; the finding says why it fired as a
translation key and parameters (never prose, never a personal value: people appear by opaque id),
and lists its evidence as audit sequence numbers. The supervisor answers with a verdict; verdicts
are kept as history (every verdict a new row), for findings and break-the-glass reviews alike.

The server (``clinic_server/services/findings``) evaluates the rules; the client shows the reason
through its catalogue, keyed by ``REASON_KEYS``.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "RULE_VERSIONS",
    "REASON_KEYS",
    "FindingState",
    "GrantState",
    "Relation",
    "RuleId",
    "Verdict",
    "is_routine",
]


class RuleId(StrEnum):
    #: a nurse opens a record with no alert, no recent care contact and no consent change
    BROWSING = "browsing"
    #: a user reads someone they are related to: themselves, a colleague, the same surname or address
    RELATION = "relation"
    #: a break-the-glass access nobody reviewed within 24 hours
    EMERGENCY_UNREVIEWED = "emergency_unreviewed"
    #: many distinct people opened within an hour
    VOLUME = "volume"
    #: people opened at an hour the user does not usually work
    OUT_OF_HOURS = "out_of_hours"
    #: repeated denied requests (someone trying doors)
    PROBING = "probing"
    #: a coach reading a participant of an employer the coach does not serve
    COACH_EMPLOYER = "coach_other_employer"


#: the version every finding records; a rule whose logic changes gets the next one
RULE_VERSIONS: dict[RuleId, int] = {rule: 1 for rule in RuleId}


class Relation(StrEnum):
    """How a user is related to the person whose data they read (the relation rule's reason)."""

    SELF = "self"
    COLLEAGUE = "colleague"
    SAME_SURNAME = "same_surname"
    SAME_ADDRESS = "same_address"


class Verdict(StrEnum):
    """A supervisor's judgement of a finding or of a break-the-glass access."""

    JUSTIFIED = "justified"
    NOT_JUSTIFIED = "not_justified"
    NEEDS_FOLLOW_UP = "needs_follow_up"


class FindingState(StrEnum):
    """Where a finding stands: new (no verdict yet) or its latest verdict."""

    NEW = "new"
    JUSTIFIED = "justified"
    NOT_JUSTIFIED = "not_justified"
    NEEDS_FOLLOW_UP = "needs_follow_up"


class GrantState(StrEnum):
    """Where a break-the-glass access stands in review."""

    #: nobody has reviewed it
    PENDING = "pending"
    #: reviewed with a note only (how reviews were recorded before verdicts)
    REVIEWED = "reviewed"
    JUSTIFIED = "justified"
    NOT_JUSTIFIED = "not_justified"
    NEEDS_FOLLOW_UP = "needs_follow_up"


#: states that still wait for a supervisor (the default queue)
WAITING_FINDING_STATES = frozenset({FindingState.NEW, FindingState.NEEDS_FOLLOW_UP})
WAITING_GRANT_STATES = frozenset({GrantState.PENDING, GrantState.NEEDS_FOLLOW_UP})

#: every reason key a finding can carry, with the params it gets (the client's catalogue has them)
REASON_KEYS: dict[str, tuple[str, ...]] = {
    # "Opened a record with no open alert in the last {alert_days} days, no care action by the
    # organization in the last {care_days} days and no consent change in the last {consent_days}."
    "finding.browsing": ("alert_days", "care_days", "consent_days", "accesses"),
    # "Read the record of {relations}" (self, a colleague, someone with the same surname/address)
    "finding.relation": ("relations", "accesses"),
    # "Emergency access not reviewed within {hours} hours" (reviewed_after_hours: None if never)
    "finding.emergency_unreviewed": ("hours", "reviewed_after_hours"),
    # "Opened {people} different people within {minutes} minutes (threshold {threshold})"
    "finding.volume": ("people", "minutes", "threshold"),
    # "Opened people at {hours} local time; usually works {usual_hours} ({baseline_days} days seen)"
    "finding.out_of_hours": ("hours", "usual_hours", "baseline_days", "accesses"),
    # "{denied} denied requests within {minutes} minutes (threshold {threshold})"
    "finding.probing": ("denied", "minutes", "threshold", "people"),
    # "Read a participant of an employer the coach does not serve" (allowed: whether it was let in)
    "finding.coach_other_employer": ("accesses", "allowed"),
}

#: audit actions that are routine polling or background work: hidden (or folded) in the audit view
#: unless asked for. Only allowed records are routine: a denied list is worth seeing.
ROUTINE_ACTIONS: frozenset[str] = frozenset({"list", "token_refresh", "ingest", "sweep", "findings_scan"})


def is_routine(action: str, outcome: str) -> bool:
    """Is a record of ``action`` with ``outcome`` routine (a screen refreshing, a device, a job)?"""
    return outcome == "allowed" and action in ROUTINE_ACTIONS
