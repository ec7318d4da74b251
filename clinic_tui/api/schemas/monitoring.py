"""Wire schemas of privacy monitoring: findings and their verdicts, the rules, one audit record in
full, an exported log, and the identity a supervisor may look up to judge a relation.

Findings carry their reason as a key and params (``clinic_tui.domain.findings.REASON_KEYS``) for
the client to word, and name the person by opaque id: the name and personnummer come only from
``PersonIdentityOut``, one audited look-up at a time.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import date, datetime

from pydantic import ConfigDict, Field

from clinic_tui.api.schemas import AuditEventOut, BreakGlassReview, VerdictOut, Wire
from clinic_tui.domain.findings import FindingState, RuleId, Verdict


class ReasonOut(Wire):
    """Why a rule fired: a translation key and its params (never a sentence, never a personal value)."""

    key: str
    params: dict


class FindingSummary(Wire):
    id: int
    rule_id: RuleId
    rule_version: int
    #: the user whose accesses these are
    user_id: str
    username: str
    #: the person concerned, by opaque id (None for rules about many people: volume, probing)
    person_id: str | None = None
    first_ts: datetime
    last_ts: datetime
    reason: ReasonOut
    evidence_count: int
    #: new, or the latest verdict
    state: FindingState
    #: how many verdicts it has (send as ``expected_version`` with the next one)
    version: int
    detected_at: datetime
    updated_at: datetime


class FindingPage(Wire):
    items: list[FindingSummary]
    #: pass as ``before_id`` for the next (older) page; None on the last page
    next_before_id: int | None = None
    #: the organization's findings per state (all rules), for the queue's header
    counts: dict[str, int] = {}


class FindingDetail(FindingSummary):
    #: the evidence records, oldest first (at most 500; ``evidence_count`` has them all)
    evidence: list[AuditEventOut]
    verdicts: list[VerdictOut]


class VerdictRequest(Wire):
    model_config = ConfigDict(str_strip_whitespace=True)
    verdict: Verdict
    #: what was found out, and why this verdict
    note: str = Field(min_length=1, max_length=2000)
    #: the number of verdicts you saw: refused with a conflict if someone judged it meanwhile
    expected_version: int | None = Field(default=None, ge=0, le=10_000)


class GrantDetail(BreakGlassReview):
    """One break-the-glass access with its records: the grant and the reads made under it."""

    records: list[AuditEventOut]


class RuleInfo(Wire):
    id: RuleId
    version: int
    reason_key: str
    #: the params its reason carries
    params: list[str]
    #: the thresholds of this version (days, minutes, counts)
    thresholds: dict[str, int]


class RuleList(Wire):
    items: list[RuleInfo]


class AuditRecordOut(AuditEventOut):
    """One audit record in full: every stored field, with its place in the hash chain."""

    prev_hash: str
    hash: str


class PersonIdentityOut(Wire):
    """Who a person is (identity only), for judging a relation between a user and the person."""

    person_id: str
    given_name: str
    family_name: str
    personnummer: str
    birth_date: date


class AuditExport(Wire):
    """A filtered audit log, exported (``format=json``; ``format=csv`` has the same records)."""

    exported_at: datetime
    filters: dict
    count: int
    #: more records matched than one export holds: continue with ``next_before_seq``
    truncated: bool
    next_before_seq: int | None = None
    items: list[AuditEventOut]


#: the columns of the CSV export, in order
CSV_COLUMNS: tuple[str, ...] = (
    "seq",
    "ts",
    "username",
    "user_id",
    "role",
    "organization_id",
    "action",
    "action_name",
    "resource_type",
    "resource_id",
    "person_id",
    "categories",
    "purpose",
    "outcome",
    "reason",
    "request_id",
    "client_name",
    "client_version",
    "details",
)

#: a cell starting with one of these is read as a formula by spreadsheets (OWASP, "CSV Injection"):
#: it is written with a leading apostrophe
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | dict):
        text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    else:
        text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_text(records: Iterable[AuditEventOut]) -> str:
    """The records as CSV (``CSV_COLUMNS``; categories and details as JSON), safe to open in a
    spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in records:
        writer.writerow([_cell(getattr(r, c)) for c in CSV_COLUMNS])
    return out.getvalue()
