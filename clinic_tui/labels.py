"""What the UI calls the shared vocabulary, in the user's language.

The enums themselves (alert states and actions, roles, access bases) are defined once in
``clinic_tui/domain``; this module only words them. Every table holds ``N_``-marked English and
is read through the functions below, which translate at the moment of showing.
"""

from __future__ import annotations

from clinic_tui.domain.alert_lifecycle import AlertAction, AlertState
from clinic_tui.domain.alerts import RULES, Severity
from clinic_tui.domain.categories import Category
from clinic_tui.domain.roles import Basis, Outcome, Role
from clinic_tui.i18n import N_, _

#: an alert's state, as a row or a sentence names it
STATE = {
    AlertState.OPEN: N_("open"),
    AlertState.ACKNOWLEDGED: N_("acknowledged"),
    AlertState.SNOOZED: N_("snoozed"),
    AlertState.RESOLVED: N_("resolved"),
    AlertState.ESCALATED: N_("escalated"),
}
#: what an action did to an alert ("Alert resolved: …")
DONE = {
    AlertAction.ACKNOWLEDGE: N_("acknowledged"),
    AlertAction.RESOLVE: N_("resolved"),
    AlertAction.ESCALATE: N_("escalated"),
    AlertAction.SNOOZE: N_("snoozed"),
    AlertAction.UNSNOOZE: N_("unsnoozed"),
    AlertAction.REOPEN: N_("reopened"),
}
#: what someone did to an alert, by the state it led to ("Bertil resolved this alert at …")
DID = {
    AlertState.OPEN: N_("reopened"),
    AlertState.ACKNOWLEDGED: N_("acknowledged"),
    AlertState.SNOOZED: N_("snoozed"),
    AlertState.RESOLVED: N_("resolved"),
    AlertState.ESCALATED: N_("escalated"),
}
ROLE = {
    Role.NURSE: N_("nurse"),
    Role.COACH: N_("coach"),
    Role.SUPERVISOR: N_("supervisor"),
    Role.PRIVACY_OFFICER: N_("privacy officer"),
    Role.REPORT_ANALYST: N_("report analyst"),
}
BASIS = {
    Basis.CONSENT: N_("consent"),
    Basis.LEGITIMATE_INTEREST: N_("legitimate interest"),
    Basis.BREAK_GLASS: N_("break-glass"),
    Basis.DATA_SUBJECT_REQUEST: N_("the person's request"),
    Basis.DUTY: N_("duty"),
    Basis.NONE: N_("none"),
}

#: a data category, as a sentence names it ("the consent does not cover fitness tests")
CATEGORY = {
    Category.IDENTITY: N_("identity"),
    Category.CONTACT: N_("contact details"),
    Category.CONDITIONS: N_("conditions"),
    Category.VITALS: N_("measurements"),
    Category.QUESTIONNAIRES: N_("questionnaires"),
    Category.MEDICATIONS: N_("medications"),
    Category.HISTORY: N_("medical history"),
    Category.GOALS: N_("goals"),
    Category.SOCIAL: N_("social situation"),
    Category.OCCUPATION: N_("occupation"),
    Category.FITNESS_TESTS: N_("fitness tests"),
    Category.PROFILING: N_("profiling"),
}

SEVERITY = {Severity.HIGH: N_("high"), Severity.MEDIUM: N_("medium"), Severity.LOW: N_("low")}
OUTCOME = {Outcome.ALLOWED: N_("allowed"), Outcome.DENIED: N_("denied"), Outcome.ERROR: N_("error")}


def _word(table: dict, value: object) -> str:
    """The translated word for ``value``; a value the table lacks (a newer server's) as it came."""
    word = table.get(value)
    return _(word) if word is not None else str(value)


def state(value: object) -> str:
    return _word(STATE, value)


def done(action: object) -> str:
    return _word(DONE, action)


def did(to_state: object) -> str:
    return _word(DID, to_state)


def role(value: object) -> str:
    return _word(ROLE, value)


def basis(value: object) -> str:
    return _word(BASIS, value)


def outcome(value: object) -> str:
    return _word(OUTCOME, value)


def severity(value: object) -> str:
    return _word(SEVERITY, value)


def category(value: object) -> str:
    return _word(CATEGORY, value)


def categories(values: str) -> str:
    """A comma-separated list of category codes (an error's param), worded and joined."""
    return ", ".join(category(v.strip()) for v in values.split(",") if v.strip())


#: a measurement, by its LOINC code, as the UI names it (the server's display name is English)
MEASUREMENT = {
    "29463-7": N_("Body weight"),
    "8480-6": N_("Systolic blood pressure"),
    "8462-4": N_("Diastolic blood pressure"),
    "8867-4": N_("Heart rate"),
    "14743-9": N_("Glucose (capillary)"),
    "59408-5": N_("Oxygen saturation (SpO2)"),
    "41950-7": N_("Steps per day"),
    "93832-4": N_("Sleep duration"),
    "8280-0": N_("Waist circumference"),
    "39156-5": N_("Body mass index (BMI)"),
}
#: a UCUM unit code as people write it (issue 13.6: never `mm[Hg]` or `/d` on screen)
UNIT = {
    "mm[Hg]": N_("mmHg"),
    "/min": N_("/min"),
    "/d": N_("per day"),
    "kg/m2": N_("kg/m²"),
    "h": N_("h"),
}
#: the sex recorded for a person
SEX = {"male": N_("male"), "female": N_("female"), "other": N_("other"), "unknown": N_("unknown")}


def measurement(loinc: str | None, fallback: str) -> str:
    """The measurement's name in the user's language; one the table lacks as the server named it."""
    word = MEASUREMENT.get(loinc or "")
    return _(word) if word is not None else fallback


def unit(code: str | None) -> str:
    """A UCUM unit as shown to people (``mm[Hg]`` -> ``mmHg``); kg, %, mmol/L as they are."""
    if not code:
        return ""
    return _word(UNIT, code)


def sex(value: object) -> str:
    return _word(SEX, value) if value else ""


#: what the audit log records someone did (a newer server's action shows as it came)
AUDIT_ACTION = {
    "read": N_("read"),
    "login": N_("log in"),
    "login_failed": N_("failed log-in"),
    "logout": N_("log out"),
    "token_refresh": N_("session renewed"),
    "unauthenticate": N_("not logged in"),
    "unauthenticated": N_("not logged in"),
    "acknowledge": N_("acknowledge"),
    "resolve": N_("resolve"),
    "escalate": N_("escalate"),
    "snooze": N_("snooze"),
    "unsnooze": N_("unsnooze"),
    "break_glass": N_("emergency access"),
    "break_glass_grant": N_("emergency access"),
    "break_glass_verdict": N_("emergency review"),
    "audit_query": N_("read the log"),
    "review_list": N_("list reviews"),
    "findings_list": N_("list findings"),
    "findings_scan": N_("scan findings"),
    "ingest": N_("measurements in"),
    "subject_export": N_("export to the person"),
}


def audit_action(value: str) -> str:
    return _word(AUDIT_ACTION, value)


#: what an alert found, beyond the measurement and the comparison, by rule
RULE_NOTE = {
    "bp.grade3": N_("grade 3"),
    "bp.grade2": N_("grade 2"),
    "glucose.hypo.l2": N_("level 2 hypoglycaemia"),
    "glucose.hypo.l1": N_("level 1 hypoglycaemia"),
    "glucose.hyper": N_("hyperglycaemia"),
}


#: a comparison as people write it (the rules' inputs say ">=")
COMPARISON = {">=": "≥", "<=": "≤", ">": ">", "<": "<"}

#: a condition, by its code (``clinic_tui.domain.codes.CONDITIONS``; SNOMED CT in
#: ``CONDITION_SNOMED``). Swedish: the preferred terms of the Swedish edition of SNOMED CT
#: (Socialstyrelsen) and the abbreviation KOL that Swedish care uses for COPD (sv .po).
CONDITION = {
    "heart_failure": N_("Heart failure"),
    "hypertension": N_("Hypertension"),
    "diabetes_t2": N_("Type 2 diabetes"),
    "copd": N_("COPD"),
}
#: a threshold line on a chart, by its key (``clinic_tui.domain.alerts.CHART_LINES``; the server's
#: label is English)
THRESHOLD_LINE = {
    "bp_grade2_sys": N_("Grade 2"),
    "bp_grade3_sys": N_("Grade 3"),
    "bp_grade2_dia": N_("Grade 2"),
    "bp_grade3_dia": N_("Grade 3"),
    "glucose_l2_low": N_("Hypo level 2"),
    "glucose_l1_low": N_("Hypo level 1"),
    "glucose_high": N_("Hyperglycaemia"),
    "spo2_low_copd": N_("Low SpO2 (COPD)"),
    "spo2_low": N_("Low SpO2"),
    "hr_low": N_("Bradycardia"),
    "hr_high": N_("Tachycardia"),
}


def condition(code: str | None, fallback: str) -> str:
    """A condition's name in the user's language; a code the table lacks as the server named it."""
    return _word(CONDITION, code) if code in CONDITION else fallback


def conditions(codes: list[str] | None, names: list[str]) -> list[str]:
    """A record's conditions in the user's language: from their codes when the server sent them
    (pairwise with the English ``names``), else the server's names as they came."""
    if codes is None or len(codes) != len(names):
        return list(names)
    return [condition(code, name) for code, name in zip(codes, names, strict=True)]


def threshold_line(key: str, fallback: str) -> str:
    """A chart's threshold line ("Grad 2") by its key; a key the table lacks as the server wrote it."""
    word = THRESHOLD_LINE.get(key)
    return _(word) if word is not None else fallback


def alert(item) -> str:
    """An alert (``AlertItem``) as the UI words it: ``alert_text`` of its rule, version and inputs."""
    return alert_text(item.rule_id, item.loinc, item.params, item.message, version=item.rule_version)


def alert_text(
    rule_id: str, loinc: str | None, params: dict, message: str, *, version: int | None = None
) -> str:
    """An alert's finding in the user's language, from its rule and the inputs the reader may see
    (the server's ``message`` is English, for logs and the audit; it is the fallback for a rule, or
    a version of a rule, this client does not know): ``Systoliskt blodtryck 186 mmHg ≥ 180 (grad 3)``."""
    from clinic_tui.i18n.formats import number

    known = RULES.get(rule_id)
    if known is None or (version is not None and version != known.version):
        return message  # a newer server's rule: its inputs may mean something else
    value, threshold = params.get("value"), params.get("threshold")
    if rule_id == "data.missing" and isinstance(params.get("gap_days"), int | float):
        return _("No readings for {days} days (normally sends daily)").format(
            days=number(params["gap_days"], digits=1)
        )
    if rule_id == "hf.weight_gain" and isinstance(params.get("gain_kg"), int | float):
        return _("Weight up {gain} kg within {days} days ({low} → {high} kg)").format(
            gain=number(params["gain_kg"], digits=1),
            days=number(params.get("window_days", 0)),
            low=number(params.get("window_min", 0)),
            high=number(value or 0),
        )
    if not isinstance(value, int | float):
        return message
    what = f"{measurement(loinc, '')} {number(value)} {unit(params.get('unit'))}".strip()
    if not isinstance(threshold, int | float):  # the limit depends on withheld conditions
        return _("{what}, below the patient's limit").format(what=what)
    comparison = params.get("comparison", "")
    text = f"{what} {COMPARISON.get(comparison, comparison)} {number(threshold)}".replace("  ", " ")
    if rule_id == "spo2.low" and params.get("copd"):
        return text + " (" + _("COPD limit") + ")"
    note = RULE_NOTE.get(rule_id)
    return text + (f" ({_(note)})" if note else "")
