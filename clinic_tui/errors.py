"""What the UI says when something fails: error code + params -> (title, text, severity).

The server sends a code (``ErrorCode``) and the facts the text may use (``params``); the client
sends its own codes for failures that never reached a server (``ClientErrorCode``). This module is
the one place that words them, through the translation function, so every error reads the same
wherever it is shown (a toast from the app's one handler, a login form, a dialog).

The params each code's text uses, when the server sends them (each text has a wording for when
they are missing, so an older server still reads well):

=====================  =====================================================================
code                   params
=====================  =====================================================================
locked_out             ``seconds`` (or the body's ``retry_after``)
not_permitted          ``resource``: person, measurements, alert, alert_queue, audit_log,
                       consents, restriction, thresholds, break_glass; ``rule``: restricted,
                       under_18, role, basis (why break-the-glass or a change was refused)
not_found              ``resource``: person, personnummer, consent, grant, alert, employer, report
invalid_request        ``field`` (e.g. snooze_until, cursor, since, severity, loinc);
                       ``problem``: missing, past, too_far, no_offset, unknown; ``max_days``
conflict               ``by`` (display name), ``to_state``, ``at`` (ISO time), ``state``
invalid_transition     ``action``, ``state``; ``other_alert`` (an active alert of the same rule)
note_required          ``action``
invalid_threshold      ``key``
invalid_personnummer   (none)
already_reviewed       ``by`` (username), ``at`` (ISO time)
bad_response (client)  ``status``
unreachable (client)   ``url``
untrusted_certificate (client)  ``url``
=====================  =====================================================================

A code this client has no text for (a newer server's) shows the server's English message,
marked as such: the only place a server sentence reaches the screen.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from clinic_tui import labels
from clinic_tui.api.client import ApiError, ClientErrorCode
from clinic_tui.api.schemas import ErrorCode
from clinic_tui.i18n import N_, _

Severity = Literal["information", "warning", "error"]

__all__ = ["WORDING", "Problem", "Wording", "describe"]


@dataclass(frozen=True)
class Problem:
    """What to show: already translated, with the params filled in (plain text, never markup)."""

    title: str
    text: str
    severity: Severity


@dataclass(frozen=True)
class Wording:
    title: str
    #: texts in order of preference: the first whose fields all have a value is shown
    texts: tuple[str, ...]
    severity: Severity = "error"
    #: params whose values pick a text of ``cases`` first ("resource", or "resource/rule", ...)
    by: tuple[str, ...] = ()
    cases: Mapping[str, str] = field(default_factory=dict)


_SESSION_ENDED = Wording(N_("Session ended"), (N_("Your session has ended; please log in again."),))

WORDING: dict[str, Wording] = {
    ErrorCode.NOT_AUTHENTICATED: _SESSION_ENDED,
    ErrorCode.TOKEN_EXPIRED: _SESSION_ENDED,
    ErrorCode.INVALID_TOKEN: _SESSION_ENDED,
    ErrorCode.SESSION_EXPIRED: _SESSION_ENDED,
    ErrorCode.INVALID_CREDENTIALS: Wording(N_("Not logged in"), (N_("Wrong username, password or code."),)),
    ErrorCode.OTP_REQUIRED: Wording(
        N_("Code needed"), (N_("Enter the 6-digit code from your authenticator app."),), "warning"
    ),
    ErrorCode.LOCKED_OUT: Wording(
        N_("Locked out for now"),
        (
            N_("Too many failed attempts. Try again in {seconds} seconds."),
            N_("Too many failed attempts. Try again later."),
        ),
    ),
    ErrorCode.NOT_PERMITTED: Wording(
        N_("Not permitted"),
        (N_("You do not have access to this."),),
        "warning",
        by=("resource", "rule"),
        cases={
            "person": N_("You do not have access to this person's record."),
            "measurements": N_("You do not have access to this person's measurements."),
            "alert": N_("You do not have access to this alert."),
            "alert_queue": N_("The alert queue is for nurses."),
            "audit_log": N_("The audit log is open to supervisors only."),
            "consents": N_("A person's consents are handled by the care organization's nurses."),
            "restriction": N_("Only a supervisor may restrict or release a person's processing."),
            "thresholds": N_("You do not have access to this patient's thresholds."),
            "thresholds/basis": N_(
                "Changing thresholds needs a consent naming your organization (not break-the-glass)."
            ),
            "break_glass": N_("Break-the-glass access is not allowed for this person."),
            "break_glass/role": N_("Only nurses may use break-the-glass access."),
            "break_glass/restricted": N_(
                "Break-the-glass access is not allowed for this person: their processing is restricted "
                "(GDPR art. 18)."
            ),
            "break_glass/under_18": N_(
                "Break-the-glass access is not allowed for this person: they are under 18."
            ),
        },
    ),
    ErrorCode.NOT_FOUND: Wording(
        N_("Not found"),
        (N_("The server has no such record."),),
        "warning",
        by=("resource",),
        cases={
            "person": N_("No such person."),
            "personnummer": N_("No record found for that personnummer."),
            "consent": N_("This person has no such consent with your organization."),
            "grant": N_("No such break-the-glass grant in your organization."),
            "alert": N_("No such alert."),
            "employer": N_("No employer by that name."),
            "report": N_("No such report."),
        },
    ),
    ErrorCode.INVALID_REQUEST: Wording(
        N_("Not accepted"),
        (
            N_("The server did not accept the value of {field}; nothing was changed."),
            N_("The server did not accept this request; nothing was changed."),
        ),
        by=("problem",),
        cases={
            "missing": N_("{field} is missing; nothing was changed."),
            "past": N_("That time has already passed: pick a later one."),
            "too_far": N_("That is too far ahead: at most {max_days} days."),
            "no_offset": N_("{field} needs a time zone; nothing was changed."),
            "unknown": N_("{field}: the server does not know this value; nothing was changed."),
        },
    ),
    ErrorCode.CONFLICT: Wording(
        N_("The alert changed meanwhile"),
        (
            N_("{by} {did} this alert at {at}; it is now {state}. Reload it and decide again."),
            N_("This alert changed meanwhile; it is now {state}. Reload it and decide again."),
            N_("This alert changed meanwhile. Reload it and decide again."),
        ),
        "warning",
    ),
    ErrorCode.INVALID_TRANSITION: Wording(
        N_("Not possible now"),
        (
            N_("Alert {other_alert} for the same rule is already active for this patient; work on that one."),
            N_("This alert cannot be {done} now: it is {state}."),
            N_("This alert cannot be changed that way now."),
        ),
        "warning",
        by=("action", "state"),
        cases={
            "resolve/open": N_("This alert cannot be resolved yet: acknowledge it first."),
            "escalate/open": N_("This alert cannot be escalated yet: acknowledge it first."),
            "unsnooze/open": N_("This alert is not snoozed."),
            "unsnooze/acknowledged": N_("This alert is not snoozed."),
        },
    ),
    ErrorCode.NOTE_REQUIRED: Wording(
        N_("A note is required"),
        (N_("A note is required for this: say what was done, or who took it over."),),
        "warning",
    ),
    ErrorCode.RECIPIENT_REQUIRED: Wording(
        N_("A recipient is required"),
        (N_("Name who takes the alert over (e.g. Dr. Lind, cardiology); nothing was changed."),),
        "warning",
    ),
    ErrorCode.INVALID_THRESHOLD: Wording(
        N_("Not accepted"),
        (
            N_("The threshold {key} was not accepted; nothing was changed."),
            N_("The thresholds were not accepted; nothing was changed."),
        ),
    ),
    ErrorCode.INVALID_DEVICE_KEY: Wording(N_("Device refused"), (N_("Unknown or inactive device key."),)),
    ErrorCode.INVALID_BATCH: Wording(
        N_("Not accepted"), (N_("The batch of measurements was not accepted."),)
    ),
    ErrorCode.INVALID_PERSONNUMMER: Wording(
        N_("Not accepted"), (N_("That is not a valid personnummer."),), "warning"
    ),
    ErrorCode.ALREADY_WITHDRAWN: Wording(
        N_("Already done"), (N_("This consent was already withdrawn."),), "warning"
    ),
    ErrorCode.ALREADY_HAS_ACCESS: Wording(
        N_("Already shared"),
        (N_("You already have access to this person's record through their consent."),),
        "information",
    ),
    ErrorCode.ALREADY_REVIEWED: Wording(
        N_("Already reviewed"),
        (
            N_("This access was already reviewed by {by} at {at}."),
            N_("This access was already reviewed."),
        ),
        "warning",
    ),
    ErrorCode.SERVER_ERROR: Wording(
        N_("Server error"),
        (N_("The server ran into an error; nothing was changed. Try again, or tell your administrator."),),
    ),
    ErrorCode.SERVICE_UNAVAILABLE: Wording(
        N_("Server unavailable"),
        (N_("The server cannot reach its database right now; nothing was changed. Try again in a moment."),),
        "warning",
    ),
    ErrorCode.INVALID_CLIENT_KEY: Wording(
        N_("Integration key refused"), (N_("The integration key was not accepted."),)
    ),
    ErrorCode.UNDER_AGE: Wording(
        N_("Under 18"), (N_("The service cannot be used by persons under 18."),), "warning"
    ),
    ErrorCode.ALREADY_REGISTERED: Wording(
        N_("Already registered"), (N_("This person already has an account."),), "warning"
    ),
    ErrorCode.INVALID_CONSENT: Wording(
        N_("Consent not valid"),
        (N_("The consent is not valid ({field})."), N_("The consent is not valid; nothing was changed.")),
        "warning",
    ),
    ErrorCode.INVALID_ROSTER: Wording(
        N_("Roster not imported"),
        (
            N_("The roster has {errors} problem(s), on lines {lines}; nothing was imported."),
            N_("The roster has problems; nothing was imported."),
        ),
        "warning",
    ),
    ErrorCode.INVALID_CORRECTION: Wording(
        N_("Correction not saved"),
        (
            N_("The correction of {field} is not valid; nothing was changed."),
            N_("The correction is not valid."),
        ),
        "warning",
    ),
    ErrorCode.CONFIRMATION_REQUIRED: Wording(
        N_("Preview first"),
        (N_("This deletes the person's data: look at the preview first, then confirm it."),),
        "warning",
    ),
    ErrorCode.CONFIRMATION_STALE: Wording(
        N_("The data changed"),
        (N_("What would be deleted changed since the preview: preview again, then confirm."),),
        "warning",
    ),
    ErrorCode.LEGAL_HOLD: Wording(
        N_("Legal hold"),
        (N_("A legal hold keeps this person's data until it is released or lapses."),),
        "warning",
    ),
    ErrorCode.CONSENT_MISSING: Wording(
        N_("Consent missing"),
        (
            N_("The participant's consent does not cover {missing}."),
            N_("The participant's consent does not cover this."),
        ),
        "warning",
    ),
    ErrorCode.INVALID_VALUES: Wording(
        N_("Check the values"),
        (N_("Some values are not plausible; each is marked where it was typed. Nothing was saved."),),
        "warning",
    ),
    ErrorCode.IDEMPOTENCY_KEY_REUSED: Wording(
        N_("Already saved differently"),
        (N_("This draft's key was already used for a different meeting; nothing was saved twice."),),
        "warning",
    ),
    ErrorCode.REPORT_TOO_FEW: Wording(
        N_("Too few participants"),
        (
            N_("Fewer than {min_cell} people took part in {period}: no report can be issued."),
            N_("Too few people took part: no report can be issued."),
        ),
        "warning",
    ),
    ErrorCode.REPORT_PERIOD_OPEN: Wording(
        N_("Year not over"),
        (
            N_("{period} is not over yet: a report is final, so it is issued once the year has ended."),
            N_("The year is not over yet: a report is issued once the year has ended."),
        ),
        "warning",
    ),
    ErrorCode.REPORT_ALREADY_ISSUED: Wording(
        N_("Already issued"),
        (
            N_(
                "The report for {period} was issued before and is final; the data changed since, so "
                "it cannot be issued again. Open the issued report instead."
            ),
            N_("This report was issued before and is final. Open the issued report instead."),
        ),
        "warning",
    ),
    ErrorCode.REPORT_DIFFERENCING: Wording(
        N_("Report refused"),
        (
            N_(
                "Compared with an issued report, so few people differ that subtracting the two could "
                "single them out. No report was issued."
            ),
        ),
        "warning",
    ),
    ErrorCode.REPORT_KEY_UNAVAILABLE: Wording(
        N_("Reports unavailable"),
        (
            N_(
                "The server's report key is missing or not the one earlier reports used; ask the "
                "administrator. No report was issued."
            ),
        ),
    ),
    ClientErrorCode.UNREACHABLE: Wording(
        N_("Server unreachable"),
        (N_("Cannot reach the server at {url}."), N_("Cannot reach the server.")),
    ),
    ClientErrorCode.TIMEOUT: Wording(
        N_("Server unreachable"), (N_("The server did not answer in time. Nothing was lost; try again."),)
    ),
    ClientErrorCode.UNTRUSTED_CERTIFICATE: Wording(
        N_("Certificate not trusted"),
        (
            N_(
                "The certificate of {url} could not be verified, so nothing was sent. Ask your "
                "administrator for the organization's CA file and start with --ca-file FILE."
            ),
            N_(
                "The server's certificate could not be verified, so nothing was sent. Ask your "
                "administrator for the organization's CA file and start with --ca-file FILE."
            ),
        ),
    ),
    ClientErrorCode.BAD_RESPONSE: Wording(
        N_("Unexpected answer"),
        (
            N_("The server answered with status {status}."),
            N_("The server gave an answer this app cannot read."),
        ),
    ),
}


def _local(value: object) -> str | None:
    """An ISO time from the server, in the user's zone."""
    try:
        at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return at.astimezone().strftime("%Y-%m-%d %H:%M")


def _fields(params: dict, retry_after: int | None) -> dict[str, str]:
    """The values a text may use: the params as text, vocabulary worded, times made local."""
    out = {k: str(v) for k, v in params.items() if v is not None and v != ""}
    if "seconds" not in out and retry_after is not None:
        out["seconds"] = str(retry_after)
    for name in ("state", "to_state"):
        if name in out:
            out[name] = labels.state(out[name])
    if "to_state" in params:
        out["did"] = labels.did(params["to_state"])
    if "action" in params:
        out["done"] = labels.done(params["action"])
    if "missing" in out:
        out["missing"] = labels.categories(out["missing"])
    if "at" in out:
        at = _local(out["at"])
        if at is None:
            del out["at"]
        else:
            out["at"] = at
    return out


def _names(template: str) -> set[str]:
    return {name for _text, name, _spec, _conv in string.Formatter().parse(template) if name}


def _candidates(wording: Wording, params: dict) -> list[str]:
    """The case picked by the params (the most specific key first), then the general texts."""
    values = [str(params[name]) for name in wording.by if params.get(name) not in (None, "")]
    keys = ["/".join(values[:n]) for n in range(len(values), 0, -1)]
    return [wording.cases[k] for k in keys if k in wording.cases] + list(wording.texts)


def _fill(wording: Wording, params: dict, fields: dict[str, str]) -> str | None:
    for text in _candidates(wording, params):
        translated = _(text)
        if _names(translated) <= fields.keys():
            return translated.format(**fields)
    return None


def describe(error: BaseException) -> Problem:
    """The title, text and severity to show for ``error`` (any exception a worker raised)."""
    if not isinstance(error, ApiError):
        return Problem(
            _("Unexpected error"), _("Unexpected error: {error}").format(error=repr(error)), "error"
        )
    wording = WORDING.get(error.code)
    text = _fill(wording, error.params, _fields(error.params, error.retry_after)) if wording else None
    if wording is None or text is None:
        return Problem(
            _("Message from the server (not translated)"),
            _("{message} (code {code}: this app has no text of its own for it)").format(
                message=error.message, code=error.code
            ),
            "error",
        )
    return Problem(_(wording.title), text, wording.severity)
