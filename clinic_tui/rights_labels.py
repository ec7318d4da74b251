"""What the privacy officer's screen calls the people's-rights vocabulary, in the user's language.

The codes are defined once (``clinic_tui.domain.rights``, ``clinic_tui.domain.roles``, the server's
data map and retention rules); this module only words them, like ``clinic_tui.labels``. A code the
tables lack (a newer server's) is shown as it came.
"""

from __future__ import annotations

from clinic_tui.i18n import N_, _

CONTROLLER = {
    "imaginecare": N_("ImagineCare AB"),
    "imr": N_("IMR"),
    "operator": N_("operator"),
    "care_provider": N_("care provider"),
}
BASIS = {
    "consent": N_("consent"),
    "contract": N_("agreement with the person"),
    "legitimate_interest": N_("legitimate interest"),
    "legal_obligation": N_("legal obligation"),
    "break_glass": N_("vital interests"),
    "data_subject_request": N_("the person's request"),
    "duty": N_("duty"),
    "none": N_("none"),
}
PURPOSE = {
    "account": N_("account and support"),
    "self_care": N_("self-care"),
    "sharing_with_care": N_("sharing with chosen care providers"),
    "service_messages": N_("service messages"),
    "safety_monitoring": N_("safety monitoring of the device"),
    "usage_statistics": N_("anonymous usage statistics"),
    "participant_account": N_("participant account"),
    "employer_billing": N_("billing the employer"),
    "evaluation_and_advice": N_("evaluation and advice (incl. profiling)"),
    "information_mailings": N_("information mailings"),
    "anonymized_development": N_("anonymized development and research"),
    "legal_claims": N_("legal claims"),
    "bookkeeping": N_("bookkeeping"),
    "vital_interests": N_("vital interests"),
    # consent purposes
    "care": N_("care"),
    "coaching": N_("coaching"),
    "statistics": N_("anonymized statistics"),
    # purposes of use in the audit log
    "emergency": N_("emergency"),
    "audit": N_("audit"),
    "data_subject_request": N_("the person's request"),
}
OBJECTION = {"profiling": N_("profiling"), "mailings": N_("information mailings")}
REQUEST = {
    "anonymization": N_("anonymization"),
    "erasure": N_("erasure"),
    "access": N_("access (register extract)"),
    "portability": N_("portability (export)"),
    "rectification": N_("rectification"),
    "restriction": N_("restriction"),
    "objection": N_("objection"),
}
RULE = {
    "imr.anonymization_request": N_("anonymization request"),
    "imr.employer_contract_ended": N_("6 months after the employer's contract ended"),
    "imr.last_meeting": N_("12 months after the last meeting"),
    "imr.bookkeeping": N_("bookkeeping, through the 7th year after the fiscal year"),
    "imaginecare.account_closed": N_("when the account closes"),
}
RETENTION_STATUS = {"kept": N_("kept"), "due": N_("due for removal"), "held": N_("held (legal hold)")}
#: where data is held (the data map's tables)
SOURCE = {
    "person": N_("profile"),
    "observation": N_("measurements"),
    "alert": N_("alerts"),
    "alert_event": N_("alert handling"),
    "threshold_override": N_("personal alert limits"),
    "condition": N_("conditions"),
    "record_entry": N_("record entries"),
    "person_correction": N_("corrections"),
    "billing_record": N_("billing records"),
    "consent": N_("consents"),
    "device": N_("devices"),
    "break_glass_grant": N_("emergency accesses"),
    "break_glass_verdict": N_("emergency access reviews"),
    "coach_assignment": N_("coach assignments"),
    "coaching_meeting": N_("meetings"),
    "coaching_measurement": N_("meeting measurements"),
    "coaching_fitness_test": N_("fitness tests"),
    "coaching_questionnaire": N_("questionnaire answers"),
    "coaching_assessment": N_("automated assessments"),
    "coaching_note": N_("coach's notes"),
    "coaching_revision": N_("meeting corrections"),
    "profiling_objection": N_("objections to profiling"),
    "person_notice": N_("notices to the person"),
    "legal_hold": N_("legal holds"),
    "objection": N_("objections"),
    "subject_request": N_("requests"),
    "audit_event": N_("audit log"),
    "finding": N_("monitoring findings"),
    "finding_verdict": N_("finding reviews"),
}
FIELD = {
    "personnummer": N_("personnummer"),
    "given_name": N_("given name"),
    "family_name": N_("family name"),
    "sex": N_("sex"),
    "phone": N_("phone"),
    "email": N_("e-mail"),
    "address": N_("address"),
}


def _word(table: dict, value: object) -> str:
    word = table.get(str(value))
    return _(word) if word is not None else str(value)


def controller(value: object) -> str:
    return _word(CONTROLLER, value)


def basis(value: object) -> str:
    return _word(BASIS, value)


def purpose(value: object) -> str:
    return _word(PURPOSE, value)


def objection(value: object) -> str:
    return _word(OBJECTION, value)


def request(value: object) -> str:
    return _word(REQUEST, value)


def rule(value: object) -> str:
    return _word(RULE, value)


def retention_status(value: object) -> str:
    return _word(RETENTION_STATUS, value)


def source(value: object) -> str:
    return _word(SOURCE, value)


def field(value: object) -> str:
    return _word(FIELD, value)
