"""Wire schemas of the people's rights: registration and consents (the patient app, IMR's
onboarding), and the privacy officer's register extract, export, rectification, restriction,
objection, requests, legal holds, erasure and retention preview.

The officer's models carry what is held and why (categories, counts, dates, bases), never a value,
except ``SubjectExport.bundle``: the person's own data, as a FHIR R4 Bundle.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import ConfigDict, Field

from clinic_tui.api.schemas import Wire
from clinic_tui.domain.categories import Category
from clinic_tui.domain.rights import ConsentPurpose, ErasureMode, ObjectionKind, RequestKind
from clinic_tui.domain.roles import OrganizationKind

#: the person fields a rectification may change (identity and contact)
RectifiableField = Literal["personnummer", "given_name", "family_name", "sex", "phone", "email", "address"]
Sex = Literal["female", "male", "other"]


class Stripped(Wire):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --------------------------------------------------------------------------- organizations, consents


class OrganizationOut(Wire):
    id: str
    name: str
    kind: OrganizationKind


class OrganizationList(Wire):
    items: list[OrganizationOut]


class SubjectConsent(Wire):
    """One consent, with the organization it names (the person's view of their consents)."""

    id: str
    organization_id: str
    organization_name: str
    organization_kind: str
    purpose: str
    categories: list[str]
    valid_from: datetime
    valid_until: datetime | None = None
    status: str
    withdrawn_at: datetime | None = None
    #: active and within its validity now
    active: bool


class CareProviderChoice(Wire):
    organization_id: str = Field(min_length=1, max_length=32)
    categories: list[Category] = Field(min_length=1)


class RegistrationIn(Stripped):
    """What the ImagineCare registration page always collects (ImagineCare §2)."""

    personnummer: str = Field(min_length=10, max_length=13)
    given_name: str = Field(min_length=1, max_length=100)
    family_name: str = Field(min_length=1, max_length=100)
    #: as the person states it; the legal sex of the personnummer if not given
    sex: Sex | None = None
    phone: str = Field(min_length=5, max_length=40)
    email: str = Field(min_length=3, max_length=200, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    address: str = Field(min_length=3, max_length=300)
    #: the condition(s) ImagineCare should support (codes of clinic_tui.domain.codes.CONDITIONS)
    conditions: list[str] = Field(min_length=1, max_length=10)
    #: the care provider(s) the person lets ImagineCare share data with, each a consent
    care_providers: list[CareProviderChoice] = Field(default_factory=list, max_length=20)
    #: the categories the person lets ImagineCare itself process (default: all the app collects)
    account_categories: list[Category] | None = None


class RegistrationOut(Wire):
    person_id: str
    #: False: the person was already held (e.g. an IMR participant) and the account was added
    created: bool
    consents: list[SubjectConsent]


class ConsentGrant(Wire):
    organization_id: str = Field(min_length=1, max_length=32)
    purpose: ConsentPurpose
    categories: list[Category] = Field(min_length=1)
    valid_until: datetime | None = None


class ConsentGrantOut(Wire):
    consent: SubjectConsent
    #: the consent this one replaced (same organization and purpose), if any
    replaced_id: str | None = None


class ConfirmIn(Wire):
    #: the ``confirmation`` of the preview the caller showed the person
    confirmation: str | None = Field(default=None, max_length=64)


# --------------------------------------------------------------------------- erasure


class RetainedRows(Wire):
    source: str
    rows: int
    #: kept until (inclusive) this day, then removed by the retention job
    until: date | None = None


class ErasurePreview(Wire):
    person_id: str
    mode: ErasureMode
    #: rows removed, per source table
    deleted: dict[str, int]
    #: rows copied, without any link to the person, into anonymized records (IMR, with consent)
    anonymized: dict[str, int]
    #: rows a law requires to be kept (bookkeeping), unlinked from the person
    retained: list[RetainedRows]
    #: tables that name the person only by opaque id and are kept (the audit log)
    kept: list[str]
    #: a legal hold stops the erasure until it is released or lapses
    legal_hold: bool
    #: send this back to confirm: it changes if the data changes before you confirm
    confirmation: str


class ErasureIn(Wire):
    mode: ErasureMode = ErasureMode.DELETE
    confirmation: str = Field(min_length=1, max_length=64)


class ErasureOut(Wire):
    person_id: str
    mode: ErasureMode
    deleted: dict[str, int]
    anonymized: dict[str, int]
    retained: list[RetainedRows]
    done_at: datetime


class WithdrawalPreview(Wire):
    consent: SubjectConsent
    #: withdrawing it ends the ImagineCare account: the person's data is deleted (ImagineCare
    #: "Withdrawal of consent")
    ends_account: bool
    erasure: ErasurePreview | None = None
    #: send back to withdraw (needed when ``ends_account``)
    confirmation: str


class WithdrawalOut(Wire):
    consent_id: str
    ends_account: bool
    erasure: ErasureOut | None = None
    #: the account ended, but a legal hold keeps the data until it is released or lapses
    deferred_by_legal_hold: bool = False


class AccountClosurePreview(Wire):
    person_id: str
    erasure: ErasurePreview


# --------------------------------------------------------------------------- roster import


class RosterIn(Wire):
    """A roster CSV of one employer's participants: a header line (personnummer, given_name,
    family_name, email, phone, job_title, coach; optional address, sex), comma or semicolon
    separated, then one participant per line."""

    employer: str = Field(min_length=1, max_length=200)
    csv: str = Field(min_length=1, max_length=5_000_000)


class RosterImportOut(Wire):
    employer_id: str
    dry_run: bool
    rows: int
    created: int
    updated: int
    person_ids: list[str]


# --------------------------------------------------------------------------- the privacy officer


class SubjectLookup(Wire):
    personnummer: str = Field(min_length=10, max_length=13)


class SubjectRef(Wire):
    """A person found by personnummer: the id to act on, and their standing, never their data."""

    person_id: str
    #: the controllers that hold data about the person (imaginecare, imr)
    controllers: list[OrganizationKind]
    restricted: bool
    legal_hold: bool
    account_active: bool


class HeldSource(Wire):
    #: where it is held (a table name; the client words it)
    source: str
    count: int
    first: datetime | None = None
    last: datetime | None = None


class PurposeOut(Wire):
    controller: OrganizationKind
    #: clinic_tui.domain.rights.ProcessingPurpose
    purpose: str
    #: clinic_tui.domain.roles.Basis
    basis: str
    #: the policy section that states it
    source: str


class HeldCategory(Wire):
    category: Category
    count: int
    first: datetime | None = None
    last: datetime | None = None
    sources: list[HeldSource]
    purposes: list[PurposeOut]


class CoachOut(Wire):
    organization_id: str
    organization_name: str
    since: datetime
    active: bool


class AccessOut(Wire):
    """One audit record about the person: who, organization, when, why, outcome."""

    seq: int
    at: datetime
    username: str | None = None
    role: str | None = None
    organization_id: str | None = None
    organization_name: str | None = None
    action: str
    resource_type: str
    purpose: str
    outcome: str
    categories: list[str]
    #: under break-the-glass (vital interests)
    emergency: bool
    #: when the person was notified of this emergency access
    notice_at: datetime | None = None


class NoticeOut(Wire):
    kind: str
    at: datetime


class RetentionOut(Wire):
    controller: OrganizationKind
    rule_id: str
    rule_version: int
    #: the first day the data is no longer kept; None: while the account/relationship lasts
    due_on: date | None = None
    #: "due": the rule applies already (the next retention run removes it); "held": a legal hold
    status: Literal["kept", "due", "held"]


class ObjectionOut(Wire):
    kind: ObjectionKind
    objected_at: datetime
    withdrawn_at: datetime | None = None
    active: bool


class RequestOut(Wire):
    id: str
    kind: RequestKind
    received_on: date
    status: str
    completed_at: datetime | None = None


class CorrectionOut(Wire):
    """A rectification: which field, when, by whom, why (the values are in the export only)."""

    id: int
    field: str
    category: str
    corrected_at: datetime
    corrected_by: str
    reason: str


class LegalHoldOut(Wire):
    id: int
    reason: str
    held_until: date | None = None
    set_at: datetime
    released_at: datetime | None = None
    active: bool


class RegisterExtract(Wire):
    """GDPR art. 15: what is held about the person, why, who received it, and for how long."""

    person_id: str
    generated_at: datetime
    controllers: list[OrganizationKind]
    restricted: bool
    categories: list[HeldCategory]
    consents: list[SubjectConsent]
    coaches: list[CoachOut]
    accesses: list[AccessOut]
    notices: list[NoticeOut]
    retention: list[RetentionOut]
    objections: list[ObjectionOut]
    requests: list[RequestOut]
    corrections: list[CorrectionOut]
    legal_holds: list[LegalHoldOut]


class ExtractDocument(Wire):
    person_id: str
    format: Literal["markdown"] = "markdown"
    language: Literal["sv", "en"]
    text: str


class SubjectExport(Wire):
    """GDPR art. 20: the person's data as a FHIR R4 Bundle (validated with fhir.resources R4B)."""

    person_id: str
    resource_counts: dict[str, int]
    bundle: dict


class RectificationIn(Stripped):
    #: field -> new value (None clears a contact field)
    changes: dict[RectifiableField, str | None] = Field(min_length=1)
    reason: str = Field(min_length=3, max_length=500)


class RectificationOut(Wire):
    person_id: str
    corrections: list[CorrectionOut]
    #: the corrected fields as they are now (what the officer typed)
    current: dict[str, str | None]


class ObjectionIn(Wire):
    kind: ObjectionKind
    #: False: the person withdraws the objection
    objected: bool = True


class RequestIn(Wire):
    kind: RequestKind
    #: when the request reached us (today if not given)
    received_on: date | None = None


class LegalHoldIn(Stripped):
    reason: str = Field(min_length=3, max_length=500)
    held_until: date | None = None


class RetentionDue(Wire):
    person_id: str
    controller: OrganizationKind
    rule_id: str
    rule_version: int
    due_on: date
    mode: ErasureMode


class RetentionPreview(Wire):
    as_of: date
    items: list[RetentionDue]
    #: people per rule
    by_rule: dict[str, int]
    #: billing records past their bookkeeping date
    billing_records_due: int
    #: people a rule applies to but a legal hold keeps
    held: int
