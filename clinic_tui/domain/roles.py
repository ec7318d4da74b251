"""Who acts, on what basis, for what purpose: the access vocabulary, defined once.

The server (policy, audit, services) and the client (labels, which screens a role gets) import
these enums; nothing else spells a role, a basis or a purpose as a bare string. They are
``StrEnum``s, so they compare equal to, and serialize as, their values.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Basis", "OrganizationKind", "Outcome", "Purpose", "Role"]


class Role(StrEnum):
    #: care provider staff triaging remote-monitoring alerts
    NURSE = "nurse"
    #: IMR coach running health-profile meetings
    COACH = "coach"
    #: head nurse / log reviewer: audits access, never reads clinical values
    SUPERVISOR = "supervisor"
    #: handles the people's GDPR requests (extract, export, rectification, erasure, objection)
    PRIVACY_OFFICER = "privacy_officer"
    #: IMR analyst issuing employer reports built only from aggregates
    REPORT_ANALYST = "report_analyst"


class OrganizationKind(StrEnum):
    CARE_PROVIDER = "care_provider"
    IMR = "imr"
    #: ImagineCare AB, the controller of the patient app's accounts: a person's consent to it keeps
    #: their account (and everything the app holds) alive
    IMAGINECARE = "imaginecare"
    #: the organization that runs this deployment for the controllers (a processor, GDPR art. 28):
    #: its privacy officer handles the people's requests on their behalf (art. 28(3)(e))
    OPERATOR = "operator"


class Basis(StrEnum):
    """The legal basis an access rests on (what the audit record and the UI name)."""

    CONSENT = "consent"
    #: IMR's legitimate interest in contact and occupation while the employer contract runs
    LEGITIMATE_INTEREST = "legitimate_interest"
    #: vital interests: a time-boxed break-the-glass grant
    BREAK_GLASS = "break_glass"
    #: GDPR chapter III: the person asked (extract, export, rectification, erasure)
    DATA_SUBJECT_REQUEST = "data_subject_request"
    #: GDPR art. 6(1)(b): needed for the agreement with the person (the ImagineCare account)
    CONTRACT = "contract"
    #: GDPR art. 6(1)(c): a law requires it (bookkeeping records)
    LEGAL_OBLIGATION = "legal_obligation"
    #: a role's own duty that reads no personal values (audit, aggregate reports)
    DUTY = "duty"
    NONE = "none"


class Purpose(StrEnum):
    """Purpose of use, recorded on every audit record."""

    CARE = "care"
    COACHING = "coaching"
    EMERGENCY = "emergency"
    AUDIT = "audit"
    AUTHENTICATION = "authentication"
    DATA_SUBJECT_REQUEST = "data_subject_request"
    REPORTING = "reporting"
    #: scheduled work of the system itself (sweeps, retention, monitoring)
    SYSTEM = "system"
    UNKNOWN = "unknown"


class Outcome(StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"
    ERROR = "error"
