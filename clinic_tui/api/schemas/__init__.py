"""Wire schemas shared by the server (response models) and the client (parsing).

This module holds the core contract (errors, sessions, people, alerts, consent, audit); each
later area has a module of its own beside it (``schemas/coach.py`` and so on).

Every personal-data response says which categories were withheld, so the UI can show
"not shared by the patient" instead of a blank.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from clinic_tui.api.schemas.bounds import Count, Instant, Number, Time, line, text
from clinic_tui.domain import alert_lifecycle as lifecycle
from clinic_tui.domain.alerts import Severity
from clinic_tui.domain.findings import GrantState, Verdict
from clinic_tui.domain.roles import Role


class Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorCode(StrEnum):
    """Why a request was refused. The client shows text of its own for each code (with ``params``);
    ``ErrorBody.message`` is an English explanation for logs and API consumers, never UI text."""

    NOT_AUTHENTICATED = "not_authenticated"
    TOKEN_EXPIRED = "token_expired"  # noqa: S105 - an error code, not a secret
    INVALID_TOKEN = "invalid_token"  # noqa: S105 - an error code, not a secret
    SESSION_EXPIRED = "session_expired"
    INVALID_CREDENTIALS = "invalid_credentials"
    OTP_REQUIRED = "otp_required"
    LOCKED_OUT = "locked_out"
    NOT_PERMITTED = "not_permitted"
    NOT_FOUND = "not_found"
    INVALID_REQUEST = "invalid_request"
    CONFLICT = "conflict"
    INVALID_TRANSITION = "invalid_transition"
    NOTE_REQUIRED = "note_required"
    RECIPIENT_REQUIRED = "recipient_required"
    INVALID_THRESHOLD = "invalid_threshold"
    INVALID_DEVICE_KEY = "invalid_device_key"
    INVALID_BATCH = "invalid_batch"
    INVALID_PERSONNUMMER = "invalid_personnummer"
    ALREADY_WITHDRAWN = "already_withdrawn"
    ALREADY_HAS_ACCESS = "already_has_access"
    ALREADY_REVIEWED = "already_reviewed"
    #: the participant's consent does not cover what the request needs; ``params.missing`` names
    #: the categories (comma-separated), the only refusal that names anything (policy.py explains)
    CONSENT_MISSING = "consent_missing"
    #: values a rule refuses; ``problems`` lists each with its field path, domain code and params
    INVALID_VALUES = "invalid_values"
    #: an ``Idempotency-Key`` already used by this user here for a different request
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    SERVER_ERROR = "server_error"
    #: the server cannot reach its database for the moment (503, ``retry_after``): nothing was
    #: changed, and the same request can be sent again (a write with its idempotency key)
    SERVICE_UNAVAILABLE = "service_unavailable"
    # the people's rights (schemas/rights.py)
    INVALID_CLIENT_KEY = "invalid_client_key"
    UNDER_AGE = "under_age"
    ALREADY_REGISTERED = "already_registered"
    INVALID_CONSENT = "invalid_consent"
    INVALID_ROSTER = "invalid_roster"
    INVALID_CORRECTION = "invalid_correction"
    CONFIRMATION_REQUIRED = "confirmation_required"
    CONFIRMATION_STALE = "confirmation_stale"
    LEGAL_HOLD = "legal_hold"
    # employer reports (docs/reports.md): why one could not be issued
    REPORT_TOO_FEW = "report_too_few"
    REPORT_PERIOD_OPEN = "report_period_open"
    REPORT_ALREADY_ISSUED = "report_already_issued"
    REPORT_DIFFERENCING = "report_differencing"
    REPORT_KEY_UNAVAILABLE = "report_key_unavailable"


#: a parameter of an error: something the client may put into its own text
ErrorParam = str | int | float | bool | None


class ProblemOut(Wire):
    """One refused value: its field path (``fitness_test.hr_high``), a domain code
    (``clinic_tui.domain.provenance.MESSAGES``) and the params the client's text for it uses."""

    field: str | None = None
    code: str
    params: dict[str, ErrorParam] = {}


class ErrorBody(Wire):
    code: str
    message: str
    #: the facts the client's text for ``code`` may use (a state, a name, a time, a field...)
    params: dict[str, ErrorParam] = {}
    retry_after: int | None = None
    #: with ``invalid_values``: every refused value, so a screen can show each beside its field
    problems: list[ProblemOut] = []


class DemoAccount(Wire):
    username: str
    role: Role
    organization: str
    password: str


class ServerInfo(Wire):
    name: str
    version: str
    api: str = "v1"
    demo: bool
    demo_accounts: list[DemoAccount] = []


class LoginRequest(Wire):
    username: line(80, min_length=1)
    #: any characters at all (ASVS 5.0 V6.2.5): it is only ever hashed, never stored or shown
    password: str = Field(min_length=1, max_length=1024)
    otp: line(10) | None = None


class RefreshRequest(Wire):
    refresh_token: line(200, min_length=10)


class UserInfo(Wire):
    id: str
    username: str
    display_name: str
    role: Role
    organization_id: str
    organization_name: str


class TokenPair(Wire):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int
    user: UserInfo


class PatientSummary(Wire):
    id: str
    #: what to call the person on screen: the name when identity is shared, else a pseudonym
    label: str
    given_name: str | None = None
    family_name: str | None = None
    personnummer: str | None = None
    birth_date: date | None = None
    sex: str | None = None
    #: the conditions' English names (for logs and API consumers) ...
    conditions: list[str] | None = None
    #: ... and their codes (``clinic_tui.domain.codes.CONDITIONS``), in the same order: the client
    #: names them in its language from these (None from a server that did not send them)
    condition_codes: list[str] | None = None
    #: categories this user may see for this person
    shared: list[str]
    #: categories that exist in the model but are not shared with this user
    withheld: list[str]
    #: "consent", "legitimate_interest" or "break_glass"
    access_basis: str
    break_glass_until: datetime | None = None


class PatientPage(Wire):
    items: list[PatientSummary]
    next_cursor: str | None = None


class Contact(Wire):
    phone: str | None = None
    email: str | None = None
    address: str | None = None


class Occupation(Wire):
    employer: str | None = None
    job_title: str | None = None


class LatestValue(Wire):
    loinc: str
    key: str
    display: str
    value: float
    unit: str
    effective_at: datetime


class RecordOut(Wire):
    id: int
    category: str
    text: str
    created_at: datetime


class PatientDetail(PatientSummary):
    contact: Contact | None = None
    occupation: Occupation | None = None
    latest: list[LatestValue] | None = None
    records: list[RecordOut] = []


# --- measurements and alerts ---

AlertState = lifecycle.AlertState
AlertAction = lifecycle.AlertAction
SeverityName = Severity
SeriesRange = Literal["7d", "30d", "90d", "1y"]


class IngestObservation(Wire):
    """One measurement as a device posts it (LOINC code, UCUM unit, UTC-offset time)."""

    #: the device's own id for this measurement: posting it again never stores it twice
    source_id: line(100, min_length=1)
    loinc: line(16, min_length=1)
    unit: line(16)
    value: Number
    #: must carry a UTC offset and lie no more than 5 minutes ahead of the server clock (the missing
    #: offset is reported by the service with its own hint, so it is not refused here)
    effective_at: Time


class IngestBatch(Wire):
    observations: list[IngestObservation] = Field(min_length=1, max_length=1000)


class IngestItemResult(Wire):
    index: int
    source_id: str | None = None
    status: Literal["stored", "duplicate", "rejected"]
    message: str


class IngestResult(Wire):
    device_id: str
    stored: int
    duplicates: int
    rejected: int
    message: str
    items: list[IngestItemResult]


class AlertItem(Wire):
    id: int
    person_id: str
    #: the name when identity is shared with the caller, else the pseudonym ("Patient 1a2b3c")
    label: str
    rule_id: str
    rule_version: int
    severity: SeverityName
    loinc: str | None = None
    value: float | None = None
    unit: str | None = None
    #: English text for logs and API consumers; the client renders its own from rule_id and params
    message: str
    #: what the rule saw (value, unit, threshold, comparison...), as far as the reader may see it
    params: dict = {}
    #: a snooze whose time is up reads as the state it was snoozed from
    state: AlertState
    opened_at: datetime
    last_seen_at: datetime
    updated_at: datetime
    #: send it back as ``expected_version`` with a transition
    version: int
    #: while snoozed: until when, and the state it comes back as (open or acknowledged)
    snoozed_until: datetime | None = None
    snoozed_from: AlertState | None = None
    #: while escalated: who it was handed to, when a nurse of the reader's organization escalated it
    escalated_to: str | None = None
    #: the reader was the last to act on it (its latest event is hers): the queue's Mine view
    mine: bool = False


class AlertCounts(Wire):
    """Open alerts per severity, over the patients the caller may see."""

    high: int = 0
    medium: int = 0
    low: int = 0


class AlertPage(Wire):
    items: list[AlertItem]
    counts: AlertCounts
    next_cursor: str | None = None
    server_time: datetime


class AlertChanges(Wire):
    #: alerts (any state) changed since ``since``, including snoozes that ran out
    items: list[AlertItem]
    counts: AlertCounts
    since: datetime
    #: pass this as ``since`` on the next poll (it overlaps a little: update items by id)
    next_since: datetime
    #: more changes than one answer holds: reload the queue instead
    truncated: bool = False


class AlertTransition(Wire):
    action: AlertAction
    expected_version: Count = Field(ge=1)
    #: required (non-blank) to resolve or escalate
    note: text(4000) | None = None
    #: required to snooze: when the alert comes back as open
    snooze_until: Instant | None = None
    #: required (non-blank) to escalate: who takes it over, by name ("Dr. Lind, cardiology")
    recipient: line(200) | None = None


class AlertEventOut(Wire):
    at: datetime
    from_state: str
    to_state: str
    #: the nurse who acted, when she is of the reader's organization; None for another organization
    by: str | None = None
    by_other_organization: bool = False
    #: the note, likewise only within the reader's organization
    note: str | None = None
    #: escalate: who it was handed to, likewise only within the reader's organization
    recipient: str | None = None


class PatientAlert(AlertItem):
    #: what the rule saw (values, thresholds, window) — how the alert can be explained
    inputs: dict
    events: list[AlertEventOut] = []


class PatientAlerts(Wire):
    person_id: str
    label: str
    items: list[PatientAlert]


class SeriesPoint(Wire):
    at: datetime
    value: float


class ThresholdLine(Wire):
    key: str
    value: float
    label: str
    #: "above": values at/over the line alert; "below": values under it alert
    direction: Literal["above", "below"]
    severity: SeverityName
    overridden: bool = False


class SeriesAlert(Wire):
    id: int
    rule_id: str
    severity: SeverityName
    state: AlertState
    opened_at: datetime
    last_seen_at: datetime
    value: float | None = None


class ObservationSeries(Wire):
    person_id: str
    loinc: str
    key: str
    display: str
    unit: str
    range: SeriesRange
    start: datetime
    end: datetime
    #: readings in the range before downsampling
    total: int
    #: at most ``points`` readings chosen by LTTB (extremes stay visible), oldest first
    points: list[SeriesPoint]
    thresholds: list[ThresholdLine]
    alerts: list[SeriesAlert]


class ThresholdValue(Wire):
    key: str
    value: float
    default: float
    overridden: bool
    set_by: str | None = None
    set_at: datetime | None = None


class ThresholdSettings(Wire):
    person_id: str
    items: list[ThresholdValue]


# --- consent, break-the-glass, audit ---


class ConsentOut(Wire):
    """One consent the person gave to the caller's organization (the consent itself, no data)."""

    id: str
    categories: list[str]
    #: "care" or "coaching"
    purpose: str
    valid_from: datetime
    valid_until: datetime | None = None
    #: "active" or "withdrawn" (an active consent past valid_until has expired)
    status: str
    withdrawn_at: datetime | None = None


class ConsentList(Wire):
    person_id: str
    items: list[ConsentOut]


class RestrictionRequest(Wire):
    restricted: bool


class RestrictionOut(Wire):
    person_id: str
    restricted: bool


class BreakGlassRequest(Wire):
    model_config = ConfigDict(str_strip_whitespace=True)
    #: why the record must be opened now; at least 10 characters after trimming
    reason: text(500, min_length=10)


class BreakGlassLookup(BreakGlassRequest):
    """Break the glass for someone not in the nurse's list: found by personnummer."""

    personnummer: line(13, min_length=10)


class BreakGlassGrantOut(Wire):
    id: str
    person_id: str
    expires_at: datetime


class AuditEventOut(Wire):
    """One audit record: who, what, when, why, outcome. Never any value of personal data."""

    seq: int
    ts: datetime
    user_id: str | None = None
    username: str | None = None
    role: str | None = None
    organization_id: str | None = None
    action: str
    resource_type: str
    resource_id: str | None = None
    #: the person concerned, by id only
    person_id: str | None = None
    #: the data categories the response carried
    categories: list[str]
    #: purpose of use: care, coaching, emergency, audit, authentication
    purpose: str
    #: allowed, denied or error
    outcome: str
    reason: str
    request_id: str
    client_name: str | None = None
    client_version: str | None = None
    details: dict
    #: the action as people name it: an alert action recorded as "transition" (before actions were
    #: named in the record) shows as acknowledge, resolve, escalate, snooze...
    action_name: str | None = None
    #: routine polling or background work (hidden from the log by default)
    routine: bool = False


class AuditFold(Wire):
    """Routine records folded into one line: one user's (or device's) polls of one kind between two
    shown records."""

    username: str | None = None
    action: str
    resource_type: str
    count: int
    first_seq: int
    last_seq: int
    first_ts: datetime
    last_ts: datetime


class AuditPage(Wire):
    items: list[AuditEventOut]
    #: pass as ``before_seq`` for the next (older) page; None on the last page
    next_before_seq: int | None = None
    #: routine=hide: routine records hidden in this page's span (counting stops at 10,000)
    routine_hidden: int = 0
    #: routine=fold: the routine records of this page's span, folded (newest first)
    folded: list[AuditFold] = []


class AuditVerifyOut(Wire):
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str | None = None


class VerdictOut(Wire):
    """One verdict of a supervisor; verdicts are history (every one a new row, never overwritten)."""

    #: 1 for the first verdict on its subject, 2 for the next...
    ordinal: int
    #: None: a review with a note only (how grants were reviewed before verdicts)
    verdict: Verdict | None = None
    note: str
    by: str
    at: datetime


class BreakGlassReview(Wire):
    """A break-the-glass grant, for the supervisor's review."""

    id: str
    user_id: str
    username: str
    person_id: str
    reason: str
    created_at: datetime
    expires_at: datetime
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    review_note: str | None = None
    #: pending, reviewed (a note only), or the latest verdict
    state: GrantState = GrantState.PENDING
    #: how many verdicts it has (send as ``expected_version`` with the next one)
    version: int = 0
    verdicts: list[VerdictOut] = []


class BreakGlassReviewList(Wire):
    items: list[BreakGlassReview]


class ReviewRequest(Wire):
    model_config = ConfigDict(str_strip_whitespace=True)
    note: text(2000, min_length=1)
    #: justified, not_justified or needs_follow_up; without one the review is a note only (it then
    #: counts only as the first review, as before verdicts existed)
    verdict: Verdict | None = None
    #: the number of verdicts you saw: refused with a conflict if someone judged it meanwhile
    expected_version: int | None = Field(default=None, ge=0, le=10_000)
