"""What the supervisor's screens call the findings vocabulary: rule names, states, verdicts, and the
sentence a finding's reason (a key with params, ``clinic_tui.domain.findings.REASON_KEYS``) reads
as, in the user's language.

Headless (no Textual), like ``labels``: every table holds ``N_``-marked English, translated when
shown. A reason key or param this client does not know (a newer server's) is shown as it came,
never dropped.
"""

from __future__ import annotations

from collections.abc import Mapping

from clinic_tui.domain.findings import FindingState, GrantState, Relation, RuleId, Verdict
from clinic_tui.i18n import N_, _

RULE = {
    RuleId.BROWSING: N_("browsing"),
    RuleId.RELATION: N_("relation"),
    RuleId.EMERGENCY_UNREVIEWED: N_("emergency unreviewed"),
    RuleId.VOLUME: N_("unusual volume"),
    RuleId.OUT_OF_HOURS: N_("out of hours"),
    RuleId.PROBING: N_("probing"),
    RuleId.COACH_EMPLOYER: N_("other employer"),
}

STATE = {
    FindingState.NEW: N_("new"),
    FindingState.JUSTIFIED: N_("justified"),
    FindingState.NOT_JUSTIFIED: N_("not justified"),
    FindingState.NEEDS_FOLLOW_UP: N_("needs follow-up"),
    GrantState.PENDING: N_("pending"),
    GrantState.REVIEWED: N_("reviewed (note only)"),
    # the queue filters' extra choices
    "waiting": N_("waiting"),
    "all": N_("all"),
}

VERDICT = {
    Verdict.JUSTIFIED: N_("justified"),
    Verdict.NOT_JUSTIFIED: N_("not justified"),
    Verdict.NEEDS_FOLLOW_UP: N_("needs follow-up"),
}

RELATION = {
    Relation.SELF: N_("their own record"),
    Relation.COLLEAGUE: N_("a colleague's record"),
    Relation.SAME_SURNAME: N_("the record of someone with the same surname"),
    Relation.SAME_ADDRESS: N_("the record of someone at their home address"),
}

#: the sentence of each reason key; ``{…}`` are its params (formatted by ``_param``)
REASON = {
    "finding.browsing": N_(
        "Opened a record ({accesses} accesses) with no open alert in the last {alert_days} days, no care "
        "action by the organization in the last {care_days} days and no consent change in the last "
        "{consent_days} days."
    ),
    "finding.relation": N_("Read a record close to them: {relations} ({accesses} accesses)."),
    "finding.emergency_unreviewed": N_("Emergency access not reviewed within {hours} hours."),
    "finding.volume": N_(
        "Opened {people} different people within {minutes} minutes (threshold {threshold})."
    ),
    "finding.out_of_hours": N_(
        "Opened people at {hours} local time; usually works {usual_hours} ({baseline_days} days seen, "
        "{accesses} accesses)."
    ),
    "finding.probing": N_(
        "{denied} denied requests within {minutes} minutes (threshold {threshold}), about {people} people."
    ),
    "finding.coach_other_employer": N_(
        "Read a participant of an employer the coach does not serve ({accesses} accesses)."
    ),
}
#: variants chosen by a param's value
REVIEWED_LATE = N_("Emergency access reviewed only after {reviewed_after_hours} hours (limit {hours}).")
COACH_REFUSED = N_(
    "Tried to read a participant of an employer the coach does not serve ({accesses} attempts, refused)."
)


def _word(table: Mapping, value: object) -> str:
    word = table.get(value)
    return _(word) if word is not None else str(value)


def rule(value: object) -> str:
    return _word(RULE, value)


def state(value: object) -> str:
    return _word(STATE, value)


def verdict(value: object) -> str:
    return _word(VERDICT, value)


def _hour(value: object) -> str:
    return f"{value:02d}:00" if isinstance(value, int) else str(value)


def _param(name: str, value: object) -> str:
    if name == "relations" and isinstance(value, list):
        return ", ".join(_word(RELATION, v) for v in value) or "—"
    if name in ("hours", "usual_hours") and isinstance(value, list):
        return ", ".join(_hour(v) for v in value) or "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "—"
    if value is None:
        return "—"
    return str(value)


class _Params(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def reason_text(key: str, params: Mapping[str, object]) -> str:
    """The reason as a sentence; an unknown key as ``key (params)``."""
    template = REASON.get(key)
    if key == "finding.emergency_unreviewed" and params.get("reviewed_after_hours") is not None:
        template = REVIEWED_LATE
    elif key == "finding.coach_other_employer" and params.get("allowed") is False:
        template = COACH_REFUSED
    if template is None:
        shown = ", ".join(f"{k}={_param(k, v)}" for k, v in params.items())
        return f"{key} ({shown})" if shown else key
    return _(template).format_map(_Params({k: _param(k, v) for k, v in params.items()}))
