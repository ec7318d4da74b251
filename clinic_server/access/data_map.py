"""The data map: which table and column holds which kind of data about a person, and how it links.

One declaration, read by projection (what a response may show of a category), and by the people's
rights (register extract, export, erasure and anonymization, retention) as they are built. Every
table that refers to a person is here, with every column classified, so a new column is either
placed in the map or ``tests/unit/test_data_map.py`` fails.

A column is one of:

- a data ``Category`` (``identity``, ``vitals``, ...): personal data, shown only where the policy
  allows that category;
- ``Kind.RECORD_CATEGORY``: the row's category is named by this column (``record_entry.category``);
- ``Kind.RELATION``: a fact about the person's relationship with us (a consent, an assignment, a
  grant, a device, a notice): personal data that is not health data, shown to the person, the
  privacy officer and whoever administers it;
- ``Kind.LINK``: the key that ties the row to the person (or the person's own id);
- ``Kind.TECHNICAL``: ids, versions and timestamps of our own that say nothing about the person
  beyond the row's existence;
- ``Kind.AUDIT``: the access log: it names the person only by opaque id and is kept (legal
  obligation), so it survives erasure without any personal data.

Each holding also says what erasure does to its rows (``Erasure``), which columns an IMR
anonymization keeps (``anonymized``), until when retained rows are kept (``retain_until``) and which
column dates a row (``dated_by``, the register extract's date ranges). ``services/erasure.py``,
``services/extract.py``, ``services/fhir_export.py`` and ``jobs/retention.py`` iterate over
``HOLDINGS``: a table added here is erased, counted, exported (its exporter is required by a test)
and covered by retention without further code.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from clinic_tui.domain.categories import Category


class Kind(StrEnum):
    RECORD_CATEGORY = "record_category"
    RELATION = "relation"
    LINK = "link"
    TECHNICAL = "technical"
    AUDIT = "audit"


Class = Category | Kind


class Erasure(StrEnum):
    """What erasing a person does to a holding's rows."""

    #: the rows go
    DELETE = "delete"
    #: IMR anonymization: the ``anonymized`` columns of the rows a statistics consent covers are
    #: copied, coarsened and unlinked, into ``anonymized_record``; then the rows go (a deletion,
    #: for an ImagineCare erasure)
    ANONYMIZE = "anonymize"
    #: a law requires the rows: unlinked from the person and kept until ``retain_until``
    RETAIN = "retain"
    #: no personal data in it (the audit log names people by opaque id only)
    KEEP = "keep"


@dataclass(frozen=True)
class Holding:
    """One table that holds data about a person."""

    table: str
    #: the column that holds the person's id (``id`` for the person table itself)
    link: str
    columns: dict[str, Class]
    #: what the policies say happens to the rows on erasure
    on_erasure: Erasure = Erasure.DELETE
    #: the table's rows are reached through another holding (``alert_event`` via ``alert``)
    via: str | None = None
    #: the column that dates a row (the extract's "from ... to ...")
    dated_by: str | None = None
    #: ``Erasure.ANONYMIZE``: the columns an anonymized record keeps (dates coarsened to the month)
    anonymized: tuple[str, ...] = ()
    #: ``Erasure.RETAIN``: the date column after which the retained rows go too
    retain_until: str | None = None
    #: for tables whose rows are of several categories: the column naming each row's (or, a JSON
    #: list, the categories a row is of: ``coaching_revision.categories``)
    record_category: str | None = None
    #: a versioned part reached ``via`` a parent whose column of this name is its current revision
    #: (``coaching_meeting.current_revision``); the part's rows carry ``revision``, and an
    #: anonymization keeps only the current row of each part (a corrected value is not statistics)
    current: str | None = None

    def of(self, category: Category) -> list[str]:
        """The columns of this table that hold ``category``."""
        return [c for c, cls in self.columns.items() if cls == category]

    @property
    def categories(self) -> frozenset[Category]:
        """The categories this table's columns hold (a ``record_category`` table: any of its rows')."""
        return frozenset(c for c in self.columns.values() if isinstance(c, Category))


_T = Kind.TECHNICAL
_L = Kind.LINK
_R = Kind.RELATION

_E = Erasure

HOLDINGS: tuple[Holding, ...] = (
    Holding(
        "person",
        "id",
        {
            "id": _L,
            "personnummer": Category.IDENTITY,
            "given_name": Category.IDENTITY,
            "family_name": Category.IDENTITY,
            "birth_date": Category.IDENTITY,
            "sex": Category.IDENTITY,
            "phone": Category.CONTACT,
            "email": Category.CONTACT,
            "address": Category.CONTACT,
            "employer_id": Category.OCCUPATION,
            "job_title": Category.OCCUPATION,
            # GDPR art. 18 and the monitoring pattern are facts of the person's relation to us
            "restricted": _R,
            "restricted_by_org_id": _R,
            "sends_daily": Category.VITALS,
            "created_at": _T,
        },
        dated_by="created_at",
    ),
    Holding(
        "condition",
        "person_id",
        {"id": _T, "person_id": _L, "code": Category.CONDITIONS, "onset": Category.CONDITIONS},
        on_erasure=_E.ANONYMIZE,
        dated_by="onset",
        anonymized=("code", "onset"),
    ),
    Holding(
        "record_entry",
        "person_id",
        {
            "id": _T,
            "person_id": _L,
            "category": Kind.RECORD_CATEGORY,
            # the text is of the category the row names
            "text": Kind.RECORD_CATEGORY,
            "author_id": _T,
            "created_at": _T,
        },
        dated_by="created_at",
        record_category="category",
    ),
    Holding(
        "consent",
        "person_id",
        {
            "id": _T,
            "person_id": _L,
            "organization_id": _R,
            "categories": _R,
            "purpose": _R,
            "valid_from": _R,
            "valid_until": _R,
            "status": _R,
            "withdrawn_at": _R,
            "created_at": _T,
        },
        dated_by="valid_from",
    ),
    Holding(
        "coach_assignment",
        "person_id",
        {"id": _T, "coach_id": _R, "person_id": _L, "active": _R, "created_at": _T},
        dated_by="created_at",
    ),
    Holding(
        "break_glass_grant",
        "person_id",
        {
            "id": _T,
            "user_id": _R,
            "person_id": _L,
            "reason": _R,
            "created_at": _R,
            "expires_at": _R,
            "reviewed_by_id": _R,
            "reviewed_at": _R,
            "review_note": _R,
        },
        dated_by="created_at",
    ),
    Holding(
        "person_notice",
        "person_id",
        {"id": _T, "person_id": _L, "kind": _R, "text": _R, "created_at": _R},
        dated_by="created_at",
    ),
    Holding(
        "device",
        "person_id",
        {"id": _T, "person_id": _L, "label": _R, "key_hash": _T, "active": _R, "created_at": _T},
        dated_by="created_at",
    ),
    Holding(
        "observation",
        "person_id",
        {
            "id": _T,
            "person_id": _L,
            "loinc": Category.VITALS,
            "value": Category.VITALS,
            "unit": Category.VITALS,
            "effective_at": Category.VITALS,
            "received_at": _T,
            "device_id": _T,
            "source_id": _T,
        },
        on_erasure=_E.ANONYMIZE,
        dated_by="effective_at",
        anonymized=("loinc", "value", "unit", "effective_at"),
    ),
    Holding(
        "threshold_override",
        "person_id",
        {
            "id": _T,
            "person_id": _L,
            "key": Category.VITALS,
            "value": Category.VITALS,
            "set_by_id": _T,
            "set_at": _T,
        },
        dated_by="set_at",
    ),
    Holding(
        "alert",
        "person_id",
        {
            "id": _T,
            "person_id": _L,
            "rule_id": Category.VITALS,
            "rule_version": _T,
            "severity": Category.VITALS,
            "severity_rank": Category.VITALS,
            "loinc": Category.VITALS,
            "value": Category.VITALS,
            "message": Category.VITALS,
            "neutral_message": Category.VITALS,
            "inputs": Category.VITALS,
            "state": Category.VITALS,
            "snoozed_until": Category.VITALS,
            "snoozed_from": Category.VITALS,
            "opened_at": Category.VITALS,
            "last_seen_at": Category.VITALS,
            "updated_at": _T,
            "version": _T,
        },
        dated_by="opened_at",
    ),
    Holding(
        "alert_event",
        "alert_id",
        {
            "id": _T,
            "alert_id": _L,
            "from_state": Category.VITALS,
            "to_state": Category.VITALS,
            "user_id": _T,
            "at": _T,
            "note": Category.VITALS,
            # who an escalation went to ("Dr. Lind, cardiology"): part of the handling, like the note
            "recipient": Category.VITALS,
        },
        via="alert",
        dated_by="at",
    ),
    Holding(
        "person_correction",
        "person_id",
        {
            "id": _T,
            "person_id": _L,
            "field": _R,
            "category": Kind.RECORD_CATEGORY,
            # the values are of the category the row names (identity or contact)
            "old_value": Kind.RECORD_CATEGORY,
            "new_value": Kind.RECORD_CATEGORY,
            "reason": _R,
            "corrected_by": _T,
            "corrected_at": _R,
        },
        dated_by="corrected_at",
        record_category="category",
    ),
    Holding(
        "objection",
        "person_id",
        {
            "id": _T,
            "person_id": _L,
            "kind": _R,
            "objected_at": _R,
            "recorded_by": _T,
            "withdrawn_at": _R,
        },
        dated_by="objected_at",
    ),
    Holding(
        "subject_request",
        "person_id",
        {
            "id": _T,
            "person_id": _L,
            "kind": _R,
            "received_on": _R,
            "recorded_by": _T,
            "recorded_at": _T,
            "status": _R,
            "completed_at": _R,
        },
        dated_by="received_on",
    ),
    Holding(
        "legal_hold",
        "person_id",
        {
            "id": _T,
            "person_id": _L,
            "reason": _R,
            "held_until": _R,
            "set_by": _T,
            "set_at": _R,
            "released_at": _R,
        },
        dated_by="set_at",
    ),
    Holding(
        "billing_record",
        "person_id",
        {
            "id": _T,
            "person_id": _L,
            # who was billed for the participant, and the participant's name as billed
            "employer_id": Category.OCCUPATION,
            "service": _R,
            "service_date": _R,
            "name": Category.IDENTITY,
            "fiscal_year_end": _T,
            "keep_until": _T,
            "created_at": _T,
        },
        on_erasure=_E.RETAIN,
        dated_by="service_date",
        retain_until="keep_until",
    ),
    # the coach's meetings: the meeting itself is a fact of the person's relation to IMR (that and
    # when they met a coach: what IMR bills the employer for on its legitimate interest); its parts
    # hold the categories a coach needs consent to (clinic_tui.domain.meeting.PART_CATEGORY)
    Holding(
        "coaching_meeting",
        "person_id",
        {
            "id": _T,
            "person_id": _L,
            "coach_id": _R,
            "held_on": _R,
            "kind": _R,
            "created_at": _T,
            "current_revision": _T,
        },
        # the meeting's date feeds retention (twelve months after the last meeting), not statistics
        dated_by="held_on",
    ),
    Holding(
        "coaching_revision",
        "meeting_id",
        {
            "id": _T,
            "meeting_id": _L,
            "number": _T,
            "author_id": _T,
            "created_at": _T,
            # the reason and the changed fields are of the categories the revision wrote
            "categories": Kind.RECORD_CATEGORY,
            "reason": Kind.RECORD_CATEGORY,
            "changes": Kind.RECORD_CATEGORY,
        },
        via="coaching_meeting",
        dated_by="created_at",
        record_category="categories",
    ),
    Holding(
        "coaching_measurement",
        "meeting_id",
        {
            "id": _T,
            "meeting_id": _L,
            "revision": _T,
            "height_cm": Category.VITALS,
            "weight_kg": Category.VITALS,
            "waist_cm": Category.VITALS,
            "systolic": Category.VITALS,
            "diastolic": Category.VITALS,
            "heart_rate": Category.VITALS,
            "bmi": Category.VITALS,
            "bmi_rule_id": Category.VITALS,
            "bmi_rule_version": Category.VITALS,
            "recorded_at": Category.VITALS,
        },
        via="coaching_meeting",
        dated_by="recorded_at",
        current="current_revision",
        on_erasure=_E.ANONYMIZE,
        anonymized=(
            "height_cm",
            "weight_kg",
            "waist_cm",
            "systolic",
            "diastolic",
            "heart_rate",
            "bmi",
            "bmi_rule_id",
            "bmi_rule_version",
            "recorded_at",
        ),
    ),
    Holding(
        "coaching_questionnaire",
        "meeting_id",
        {
            "id": _T,
            "meeting_id": _L,
            "revision": _T,
            "questionnaire_id": Category.QUESTIONNAIRES,
            "questionnaire_version": Category.QUESTIONNAIRES,
            "answers": Category.QUESTIONNAIRES,
            "recorded_at": Category.QUESTIONNAIRES,
        },
        via="coaching_meeting",
        dated_by="recorded_at",
        current="current_revision",
        on_erasure=_E.ANONYMIZE,
        anonymized=("questionnaire_id", "questionnaire_version", "answers", "recorded_at"),
    ),
    Holding(
        "coaching_fitness_test",
        "meeting_id",
        {
            "id": _T,
            "meeting_id": _L,
            "revision": _T,
            "equation_id": Category.FITNESS_TESTS,
            "equation_version": Category.FITNESS_TESTS,
            # sex, age and weight as the test used them are part of the test result
            "inputs": Category.FITNESS_TESTS,
            "weight_source": Category.FITNESS_TESTS,
            "vo2max_l_min": Category.FITNESS_TESTS,
            "vo2max_ml_kg_min": Category.FITNESS_TESTS,
            "relative_rule_id": Category.FITNESS_TESTS,
            "relative_rule_version": Category.FITNESS_TESTS,
            "warnings": Category.FITNESS_TESTS,
            "recorded_at": Category.FITNESS_TESTS,
        },
        via="coaching_meeting",
        dated_by="recorded_at",
        current="current_revision",
        on_erasure=_E.ANONYMIZE,
        anonymized=(
            "equation_id",
            "equation_version",
            "vo2max_l_min",
            "vo2max_ml_kg_min",
            "relative_rule_id",
            "relative_rule_version",
            "recorded_at",
        ),
    ),
    Holding(
        "coaching_note",
        "meeting_id",
        {"id": _T, "meeting_id": _L, "revision": _T, "text": Category.PROFILING, "recorded_at": _T},
        via="coaching_meeting",
        dated_by="recorded_at",
        current="current_revision",
    ),
    Holding(
        "coaching_assessment",
        "meeting_id",
        {
            "id": _T,
            "meeting_id": _L,
            "revision": _T,
            "ruleset_id": Category.PROFILING,
            "ruleset_version": Category.PROFILING,
            "status": Category.PROFILING,
            "conclusions": Category.PROFILING,
            "recorded_at": Category.PROFILING,
        },
        via="coaching_meeting",
        dated_by="recorded_at",
        current="current_revision",
        on_erasure=_E.ANONYMIZE,
        anonymized=("ruleset_id", "ruleset_version", "status", "conclusions", "recorded_at"),
    ),
    # an objection is the person's right exercised: a fact of their relation to IMR
    Holding(
        "profiling_objection",
        "person_id",
        {
            "id": _T,
            "person_id": _L,
            "recorded_at": _R,
            "recorded_by_id": _R,
            "withdrawn_at": _R,
            "withdrawn_by_id": _R,
        },
        dated_by="recorded_at",
    ),
    Holding(
        "audit_event",
        "person_id",
        {
            "seq": _T,
            "ts": _T,
            "user_id": _T,
            "username": _T,
            "role": _T,
            "organization_id": _T,
            "action": _T,
            "resource_type": _T,
            "resource_id": _T,
            "person_id": Kind.AUDIT,
            "categories": _T,
            "purpose": _T,
            "outcome": _T,
            "reason": _T,
            "request_id": _T,
            "client_name": _T,
            "client_version": _T,
            "details": Kind.AUDIT,
            "prev_hash": _T,
            "hash": _T,
            "shard": _T,
        },
        on_erasure=_E.KEEP,
        dated_by="ts",
    ),
    # privacy monitoring: like the audit log it names the person by opaque id and its params are
    # counts, windows and kinds, never a personal value; kept as the record of the log review
    Holding(
        "finding",
        "person_id",
        {
            "id": _T,
            "rule_id": _T,
            "rule_version": _T,
            "organization_id": _T,
            "user_id": _T,
            "username": _T,
            "person_id": Kind.AUDIT,
            "key": _T,
            "first_ts": _T,
            "last_ts": _T,
            "reason_key": _T,
            "params": _T,
            "evidence": _T,
            "evidence_count": _T,
            "created_at": _T,
            "updated_at": _T,
        },
        on_erasure=_E.KEEP,
        dated_by="first_ts",
    ),
    # kept with the finding it judges, as the record of the log review (a note is about the access)
    Holding(
        "finding_verdict",
        "finding_id",
        {
            "id": _T,
            "finding_id": _L,
            "ordinal": _T,
            "verdict": Kind.AUDIT,
            "note": Kind.AUDIT,
            "user_id": _T,
            "at": _T,
        },
        on_erasure=_E.KEEP,
        via="finding",
        dated_by="at",
    ),
    # who an issued employer report rested on (services/reports/store.py): the person's group (from
    # sex and birth date) and a keyed hash of their value, for the check against differencing; the
    # published report itself is anonymous and not here (issued_report)
    Holding(
        "report_population",
        "person_id",
        {
            "id": _T,
            "report_id": _T,
            "table_id": _T,
            "person_id": _L,
            "atom": Category.IDENTITY,
            "contribution": _T,
            "created_at": _T,
        },
        dated_by="created_at",
    ),
    Holding(
        "break_glass_verdict",
        "grant_id",
        {"id": _T, "grant_id": _L, "ordinal": _T, "verdict": _R, "note": _R, "user_id": _R, "at": _R},
        via="break_glass_grant",
        dated_by="at",
    ),
)

BY_TABLE: dict[str, Holding] = {h.table: h for h in HOLDINGS}

#: tables that hold no data about any one person (users, organizations, jobs, the audit head...)
NOT_ABOUT_PEOPLE: frozenset[str] = frozenset(
    {
        "organization",
        "employer",
        "app_user",
        "login_throttle",
        "failure_tally",
        "refresh_token",
        "audit_head",
        # the audit shards' heads and the checkpoints binding them: sequence numbers and hashes
        "audit_shard_head",
        "audit_checkpoint",
        "job_run",
        # a client's key for a write and the opaque id of what it made, for a limited time
        "idempotency_key",
        "alembic_version",
        # an organization's system calling the API (its key's hash)
        "integration_client",
        # values kept after an IMR anonymization: no person, no exact date, no grouping key
        "anonymized_record",
        # about users (staff), not the people whose data the service holds: the findings scan's
        # cursor, users' active hours, the keyed hashes linking a user to their own identity, and
        # the employers a coach serves
        "finding_cursor",
        "user_activity",
        "user_link",
        "coach_employer",
        # an employer report as published: aggregates only, protected so that no one is singled out
        "issued_report",
    }
)


def holdings_of(category: Category) -> Iterator[tuple[Holding, list[str]]]:
    """Every table and its columns that hold ``category`` (record entries: by their category column)."""
    for h in HOLDINGS:
        cols = h.of(category)
        if cols:
            yield h, cols


def person_columns(category: Category) -> list[str]:
    """The person table's columns that hold ``category`` (what projection shows of it)."""
    return BY_TABLE["person"].of(category)
