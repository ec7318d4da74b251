"""The machine-readable export (GDPR art. 20): everything held about a person as a FHIR R4 Bundle.

ImagineCare §6: "you will then receive them in a structured and machine-readable format that is
considered industry standard ... transferred to another personal data controller"; IMR §8 "Rätt
till dataportabilitet". FHIR R4 is that standard for health data; every resource is validated with
the ``fhir.resources`` R4B models (R4-level) before anything is written.

Driven by the data map: ``build`` walks ``HOLDINGS`` and hands each table's rows about the person
to the exporter registered for that table (``@exports("table", "ResourceType", ...)``); a table
without one fails ``tests/unit/test_fhir_export.py``, so a new holding cannot be left out. Each row
becomes exactly one resource of its table's main type, plus, for derived values and notes, one
``Provenance`` (rule id and version, who wrote it), so the count of each resource type follows
from the rows held.

Codes: LOINC and UCUM for measurements (``clinic_tui/domain/codes.py``), SNOMED CT for conditions;
what has no standard code (our categories, purposes, rule ids) uses the code systems under
``SYSTEM``. A derived value's ``method`` names the rule or equation and its version
(``derived_method``): the coach's fitness results register their exporter with it.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError
from sqlalchemy import String, cast, or_, select
from sqlalchemy.orm import Session

from clinic_server.access.data_map import HOLDINGS, Holding
from clinic_server.db.models import (
    AuditEvent,
    Base,
    CoachingMeeting,
    Employer,
    IssuedReport,
    Organization,
    Person,
    User,
)
from clinic_server.services.erasure import linked
from clinic_tui.domain.codes import CONDITION_SNOMED, CONDITIONS, MEASUREMENTS
from clinic_tui.domain.meeting import BMI_LOINC, BMI_UNIT
from clinic_tui.domain.meeting import MEASUREMENTS as MEETING_MEASUREMENTS

SYSTEM = "http://clinic-tui.example.org/fhir"
CS = f"{SYSTEM}/CodeSystem"
EXT = f"{SYSTEM}/StructureDefinition"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
#: Swedish personnummer (Skatteverket), as HL7 Sweden names it
PERSONNUMMER = "http://electronichealth.se/identifier/personnummer"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
DATA_OPERATION = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
AUDIT_OUTCOME = {"allowed": "0", "denied": "4", "error": "8"}
#: v3 ActReason codes for our purposes of use (others go under our own code system)
PURPOSE_OF_USE = {
    "care": "TREAT",
    "emergency": "ETREAT",
    "audit": "HOPERAT",
    "data_subject_request": "PATRQT",
}
#: activity measurements, not vital signs (FHIR observation-category)
ACTIVITY_LOINC = frozenset({"41950-7", "93832-4"})

_NAMESPACE = uuid.UUID("0b7e6c52-2d5a-4c0e-9a9f-2f6c1c2b7d11")


def _iso(value: datetime | date | None) -> str | None:
    return None if value is None else value.isoformat()


def derived_method(rule_id: str, version: int | str) -> dict:
    """``Observation.method`` for a derived value: the rule or equation and its version."""
    return {
        "coding": [{"system": f"{CS}/rule", "code": rule_id, "version": str(version)}],
        "text": f"{rule_id} v{version}",
    }


@dataclass
class ExportContext:
    """What exporters share: the person, the references, names of users and organizations."""

    session: Session
    person: Person
    now: datetime
    organizations: dict[str, Organization]
    users: dict[str, User]
    entries: list[dict] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)

    _refs: dict = field(default_factory=dict)

    def ref(self, table: str, row_id: object) -> str:
        """The bundle-local reference of a row's resource (stable for the same person and row)."""
        key = (table, row_id)
        found = self._refs.get(key)
        if found is None:
            found = self._refs[key] = (
                f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{self.person.id}/{table}/{row_id}')}"
            )
        return found

    @property
    def patient(self) -> dict:
        return {"reference": self.ref("person", self.person.id)}

    def add(self, table: str, row_id: object, resource: dict, *, role: str = "") -> str:
        """Add ``resource`` (of row ``row_id`` of ``table``) to the bundle; returns its reference."""
        full = self.ref(table, f"{row_id}{'/' + role if role else ''}")
        resource["id"] = full.removeprefix("urn:uuid:")
        self.entries.append({"fullUrl": full, "resource": resource})
        self.counts[resource["resourceType"]] += 1
        return full

    def user(self, user_id: str | None) -> dict:
        """An agent reference naming a user (display only: the bundle holds no practitioner)."""
        u = self.users.get(user_id or "")
        if u is None:
            return {"display": "the person" if user_id is None else "a former user"}
        org = self.organizations.get(u.organization_id)
        return {"display": f"{u.display_name} ({org.name if org else u.organization_id})"}

    def organization(self, org_id: str | None) -> dict:
        org = self.organizations.get(org_id or "")
        return {"display": org.name if org else (org_id or "unknown"), "identifier": {"value": org_id or ""}}

    def provenance(self, table: str, row_id: object, target: str, recorded: datetime, **parts) -> None:
        """A Provenance for a derived value or a note: who or which rule made ``target``, and when."""
        resource = {
            "resourceType": "Provenance",
            "target": [{"reference": target}],
            "recorded": _iso(recorded),
            "agent": parts.pop("agent", None) or [{"who": {"display": "clinic-server"}}],
            **{k: v for k, v in parts.items() if v is not None},
        }
        self.add(table, row_id, resource, role="provenance")


Exporter = Callable[[ExportContext, object], None]


@dataclass(frozen=True)
class TableExport:
    table: str
    #: the resource types this table's rows become: the first, one per row; then any per-row extras
    resource_types: tuple[str, ...]
    build: Exporter
    #: the rows to export, when not simply the holding's rows about the person (the audit log)
    rows: Callable[[ExportContext], Iterable] | None = None


EXPORTS: dict[str, TableExport] = {}


def exports(table: str, *resource_types: str, rows: Callable[[ExportContext], Iterable] | None = None):
    """Register the exporter of ``table``'s rows (the coach's tables register theirs the same way)."""

    def register(fn: Exporter) -> Exporter:
        EXPORTS[table] = TableExport(table, resource_types, fn, rows)
        return fn

    return register


# --------------------------------------------------------------------------- the person


@exports("person", "Patient")
def _patient(ctx: ExportContext, p) -> None:
    telecom = [
        {"system": s, "value": v, "use": "home" if s == "email" else "mobile"}
        for s, v in (("phone", p.phone), ("email", p.email))
        if v
    ]
    ext = [
        {"url": f"{EXT}/processing-restricted", "valueBoolean": bool(p.restricted)},
        {"url": f"{EXT}/sends-daily-measurements", "valueBoolean": bool(p.sends_daily)},
    ]
    employer = ctx.session.get(Employer, p.employer_id) if p.employer_id else None
    if employer is not None or p.job_title:
        sub = [{"url": "employer", "valueString": employer.name}] if employer else []
        sub += [{"url": "jobTitle", "valueString": p.job_title}] if p.job_title else []
        ext.append({"url": f"{EXT}/occupation", "extension": sub})
    resource = {
        "resourceType": "Patient",
        "identifier": [{"system": PERSONNUMMER, "value": p.personnummer}],
        "name": [{"family": p.family_name, "given": [p.given_name], "use": "official"}],
        "gender": p.sex if p.sex in ("female", "male", "other") else "unknown",
        "birthDate": _iso(p.birth_date),
        "extension": ext,
    }
    if telecom:
        resource["telecom"] = telecom
    if p.address:
        resource["address"] = [{"text": p.address, "use": "home"}]
    ctx.add("person", p.id, resource)


@exports("condition", "Condition")
def _condition(ctx: ExportContext, c) -> None:
    coding = (
        [{"system": SNOMED, "code": CONDITION_SNOMED[c.code], "display": CONDITIONS[c.code]}]
        if (c.code in CONDITION_SNOMED)
        else []
    )
    resource = {
        "resourceType": "Condition",
        "subject": ctx.patient,
        "code": {"coding": coding, "text": CONDITIONS.get(c.code, c.code)} if coding else {"text": c.code},
    }
    if c.onset:
        resource["onsetDateTime"] = _iso(c.onset)
    ctx.add("condition", c.id, resource)


def _entry_resource(ctx: ExportContext, e) -> dict:
    """A free-text record entry as the resource its category is: the text as the patient or the
    author wrote it."""
    text = e.text
    when = _iso(e.created_at)
    if e.category == "medications":
        return {
            "resourceType": "MedicationStatement",
            "status": "active",
            "subject": ctx.patient,
            "medicationCodeableConcept": {"text": text},
            "dateAsserted": when,
        }
    if e.category == "history":
        return {
            "resourceType": "Condition",
            "subject": ctx.patient,
            "code": {"text": text},
            "recordedDate": when,
        }
    if e.category == "goals":
        return {
            "resourceType": "Goal",
            "lifecycleStatus": "active",
            "subject": ctx.patient,
            "description": {"text": text},
            "startDate": e.created_at.date().isoformat(),
        }
    if e.category == "questionnaires":
        return {
            "resourceType": "QuestionnaireResponse",
            "status": "completed",
            "subject": ctx.patient,
            "authored": when,
            "item": [{"linkId": "answer", "answer": [{"valueString": text}]}],
        }
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": f"{CS}/category", "code": e.category}]}],
        "code": {"coding": [{"system": f"{CS}/record-entry", "code": e.category}], "text": e.category},
        "subject": ctx.patient,
        "effectiveDateTime": when,
        "valueString": text,
    }


#: the resource type each record-entry category becomes (the rest: Observation)
ENTRY_TYPES = {
    "medications": "MedicationStatement",
    "history": "Condition",
    "goals": "Goal",
    "questionnaires": "QuestionnaireResponse",
}


@exports(
    "record_entry",
    "Observation",
    "MedicationStatement",
    "Condition",
    "Goal",
    "QuestionnaireResponse",
    "Provenance",
)
def _record_entry(ctx: ExportContext, e) -> None:
    ref = ctx.add("record_entry", e.id, _entry_resource(ctx, e))
    # a note: who wrote it (the person in the app, or a user)
    ctx.provenance("record_entry", e.id, ref, e.created_at, agent=[{"who": ctx.user(e.author_id)}])


# --------------------------------------------------------------------------- relations


def _consent(
    ctx: ExportContext,
    *,
    deny: bool,
    status: str,
    purpose: str,
    org_id: str | None,
    start,
    end,
    codes: list[str],
    recorded,
) -> dict:
    provision: dict = {
        "type": "deny" if deny else "permit",
        "purpose": [{"system": f"{CS}/purpose", "code": purpose}],
    }
    if start or end:
        provision["period"] = {k: v for k, v in (("start", _iso(start)), ("end", _iso(end))) if v}
    if codes:
        provision["code"] = [{"coding": [{"system": f"{CS}/category", "code": c}]} for c in codes]
    resource = {
        "resourceType": "Consent",
        "status": status,
        "scope": {"coding": [{"system": CONSENT_SCOPE, "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": LOINC, "code": "59284-0", "display": "Consent Document"}]}],
        "patient": ctx.patient,
        "dateTime": _iso(recorded),
        "policyRule": {"coding": [{"system": ACT_CODE, "code": "OPTOUT" if deny else "OPTIN"}]},
        "provision": provision,
    }
    if org_id:
        resource["organization"] = [ctx.organization(org_id)]
    return resource


@exports("consent", "Consent")
def _consent_row(ctx: ExportContext, c) -> None:
    active = (
        c.status == "active"
        and c.valid_from <= ctx.now
        and (c.valid_until is None or ctx.now < c.valid_until)
    )
    resource = _consent(
        ctx,
        deny=False,
        status="active" if active else "inactive",
        purpose=c.purpose,
        org_id=c.organization_id,
        start=c.valid_from,
        end=c.withdrawn_at or c.valid_until,
        codes=sorted(c.categories),
        recorded=c.created_at,
    )
    ctx.add("consent", c.id, resource)


@exports("objection", "Consent")
def _objection(ctx: ExportContext, o) -> None:
    resource = _consent(
        ctx,
        deny=True,
        status="active" if o.withdrawn_at is None else "inactive",
        purpose=o.kind,
        org_id=None,
        start=o.objected_at,
        end=o.withdrawn_at,
        codes=[],
        recorded=o.objected_at,
    )
    ctx.add("objection", o.id, resource)


@exports("coach_assignment", "CareTeam")
def _care_team(ctx: ExportContext, a) -> None:
    ctx.add(
        "coach_assignment",
        a.id,
        {
            "resourceType": "CareTeam",
            "status": "active" if a.active else "inactive",
            "subject": ctx.patient,
            "period": {"start": _iso(a.created_at)},
            "participant": [{"role": [{"text": "coach"}], "member": ctx.user(a.coach_id)}],
        },
    )


@exports("break_glass_grant", "AuditEvent")
def _grant(ctx: ExportContext, g) -> None:
    agent = {
        "who": ctx.user(g.user_id),
        "requestor": True,
        "purposeOfUse": [{"coding": [{"system": ACT_REASON, "code": "ETREAT"}]}],
    }
    resource = {
        "resourceType": "AuditEvent",
        "type": {"system": f"{CS}/audit-action", "code": "break_glass_grant"},
        "recorded": _iso(g.created_at),
        "period": {"start": _iso(g.created_at), "end": _iso(g.expires_at)},
        "outcomeDesc": g.reason,
        "agent": [agent],
        "source": {"observer": {"display": "clinic-server"}},
        "entity": [{"what": ctx.patient}],
        "purposeOfEvent": [{"coding": [{"system": ACT_REASON, "code": "ETREAT"}]}],
    }
    if g.reviewed_at:
        resource["entity"].append(
            {
                "what": {"display": "supervisor review"},
                "description": f"reviewed {g.reviewed_at.isoformat()}: {g.review_note or ''}"[:1000],
            }
        )
    ctx.add("break_glass_grant", g.id, resource)


@exports("person_notice", "Communication")
def _notice(ctx: ExportContext, n) -> None:
    ctx.add(
        "person_notice",
        n.id,
        {
            "resourceType": "Communication",
            "status": "completed",
            "category": [{"coding": [{"system": f"{CS}/notice", "code": n.kind}]}],
            "subject": ctx.patient,
            "recipient": [ctx.patient],
            "sent": _iso(n.created_at),
            "payload": [{"contentString": n.text}],
        },
    )


@exports("device", "Device")
def _device(ctx: ExportContext, d) -> None:
    ctx.add(
        "device",
        d.id,
        {
            "resourceType": "Device",
            "status": "active" if d.active else "inactive",
            "deviceName": [{"name": d.label, "type": "user-friendly-name"}],
            "patient": ctx.patient,
        },
    )


# --------------------------------------------------------------------------- measurements, alerts


def observation_resource(ctx: ExportContext, o) -> dict:
    mt = MEASUREMENTS.get(o.loinc)
    category = "activity" if o.loinc in ACTIVITY_LOINC else "vital-signs"
    resource = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": OBS_CATEGORY, "code": category}]}],
        "code": {"coding": [{"system": LOINC, "code": o.loinc, **({"display": mt.display} if mt else {})}]},
        "subject": ctx.patient,
        "effectiveDateTime": _iso(o.effective_at),
        "issued": _iso(o.received_at),
        "valueQuantity": {"value": o.value, "unit": o.unit, "system": UCUM, "code": o.unit},
    }
    if o.device_id:
        resource["device"] = {"reference": ctx.ref("device", o.device_id)}
    return resource


@exports("observation", "Observation")
def _observation(ctx: ExportContext, o) -> None:
    ctx.add("observation", o.id, observation_resource(ctx, o))


@exports("threshold_override", "Basic")
def _threshold(ctx: ExportContext, t) -> None:
    ctx.add(
        "threshold_override",
        t.id,
        {
            "resourceType": "Basic",
            "code": {"coding": [{"system": f"{CS}/record", "code": "alert-threshold"}], "text": t.key},
            "subject": ctx.patient,
            "created": t.set_at.date().isoformat(),
            "author": ctx.user(t.set_by_id),
            "extension": [
                {
                    "url": f"{EXT}/alert-threshold",
                    "extension": [
                        {"url": "key", "valueString": t.key},
                        {"url": "value", "valueDecimal": t.value},
                    ],
                }
            ],
        },
    )


@exports("alert", "Flag", "Provenance")
def _alert(ctx: ExportContext, a) -> None:
    active = a.state in ("open", "acknowledged", "snoozed")
    flag = {
        "resourceType": "Flag",
        "status": "active" if active else "inactive",
        "category": [{"coding": [{"system": f"{CS}/alert-severity", "code": a.severity}]}],
        "code": {
            "coding": [{"system": f"{CS}/rule", "code": a.rule_id, "version": str(a.rule_version)}],
            "text": a.message,
        },
        "subject": ctx.patient,
        "period": {"start": _iso(a.opened_at)},
        "extension": [{"url": f"{EXT}/alert-state", "valueCode": a.state}],
    }
    ref = ctx.add("alert", a.id, flag)
    # a derived value: which rule, which version, from which inputs
    inputs = ", ".join(f"{k}={v}" for k, v in sorted((a.inputs or {}).items()))
    ctx.provenance(
        "alert",
        a.id,
        ref,
        a.opened_at,
        policy=[f"{SYSTEM}/rule/{a.rule_id}/v{a.rule_version}"],
        activity={
            "coding": [{"system": DATA_OPERATION, "code": "CREATE"}],
            "text": f"derived by rule {a.rule_id} v{a.rule_version}",
        },
        reason=[{"text": f"inputs: {inputs}"[:1000]}] if inputs else None,
    )


@exports("alert_event", "Provenance")
def _alert_event(ctx: ExportContext, e) -> None:
    resource = {
        "activity": {
            "coding": [{"system": DATA_OPERATION, "code": "UPDATE"}],
            "text": f"{e.from_state} -> {e.to_state}",
        },
        "agent": [{"who": ctx.user(e.user_id)}],
    }
    if e.note or e.recipient:
        to = f"escalated to {e.recipient}" if e.recipient else ""
        resource["reason"] = [{"text": ": ".join(t for t in (to, e.note) if t)}]
    ctx.provenance("alert_event", e.id, ctx.ref("alert", e.alert_id), e.at, **resource)


# --------------------------------------------------------------------------- the rights themselves


@exports("person_correction", "Provenance")
def _correction(ctx: ExportContext, c) -> None:
    ctx.provenance(
        "person_correction",
        c.id,
        ctx.patient["reference"],
        c.corrected_at,
        agent=[{"who": {"display": c.corrected_by}}],
        activity={"coding": [{"system": DATA_OPERATION, "code": "UPDATE"}], "text": f"rectified {c.field}"},
        reason=[{"text": c.reason}],
        entity=[
            {
                "role": "revision",
                "what": {"display": f"{c.field} before the correction"},
                "extension": [{"url": f"{EXT}/previous-value", "valueString": c.old_value or ""}],
            }
        ],
    )


@exports("subject_request", "Task")
def _request(ctx: ExportContext, r) -> None:
    resource = {
        "resourceType": "Task",
        "status": "completed" if r.status == "done" else "requested",
        "intent": "order",
        "code": {"coding": [{"system": f"{CS}/subject-request", "code": r.kind}]},
        "for": ctx.patient,
        "authoredOn": _iso(r.recorded_at),
        "executionPeriod": {
            "start": _iso(datetime.combine(r.received_on, datetime.min.time(), r.recorded_at.tzinfo))
        },
    }
    if r.completed_at:
        resource["executionPeriod"]["end"] = _iso(r.completed_at)
    ctx.add("subject_request", r.id, resource)


@exports("legal_hold", "Basic")
def _legal_hold(ctx: ExportContext, h) -> None:
    sub = [{"url": "reason", "valueString": h.reason}]
    if h.held_until:
        sub.append({"url": "heldUntil", "valueDate": h.held_until.isoformat()})
    if h.released_at:
        sub.append({"url": "releasedAt", "valueDateTime": _iso(h.released_at)})
    ctx.add(
        "legal_hold",
        h.id,
        {
            "resourceType": "Basic",
            "code": {"coding": [{"system": f"{CS}/record", "code": "legal-hold"}]},
            "subject": ctx.patient,
            "created": h.set_at.date().isoformat(),
            "extension": [{"url": f"{EXT}/legal-hold", "extension": sub}],
        },
    )


@exports("billing_record", "ChargeItem")
def _billing(ctx: ExportContext, b) -> None:
    ctx.add(
        "billing_record",
        b.id,
        {
            "resourceType": "ChargeItem",
            "status": "billed",
            "code": {"coding": [{"system": f"{CS}/service", "code": b.service}]},
            "subject": ctx.patient,
            "occurrenceDateTime": b.service_date.isoformat(),
            "extension": [
                {"url": f"{EXT}/billed-name", "valueString": b.name},
                {
                    "url": f"{EXT}/billed-to",
                    "valueString": ctx.session.get(Employer, b.employer_id).name if b.employer_id else "",
                },
            ],
        },
    )


# --------------------------------------------------------------------------- the review of accesses


@exports("break_glass_verdict", "Provenance")
def _grant_verdict(ctx: ExportContext, v) -> None:
    """A supervisor's judgement of an emergency access to the person's record."""
    ctx.provenance(
        "break_glass_verdict",
        v.id,
        ctx.ref("break_glass_grant", v.grant_id),
        v.at,
        activity={
            "coding": [{"system": f"{CS}/review-verdict", "code": v.verdict or "note"}],
            "text": "supervisor review of an emergency access",
        },
        agent=[{"who": ctx.user(v.user_id)}],
    )


@exports("finding", "Basic")
def _finding(ctx: ExportContext, f) -> None:
    """A privacy-monitoring finding about an access to the person's data (who looked, which rule)."""
    ctx.add(
        "finding",
        f.id,
        {
            "resourceType": "Basic",
            "code": {
                "coding": [
                    {"system": f"{CS}/privacy-finding", "code": f.rule_id, "version": str(f.rule_version)}
                ],
                "text": f.reason_key,
            },
            "subject": ctx.patient,
            "created": f.first_ts.date().isoformat(),
            "author": ctx.user(f.user_id) if f.user_id else {"display": f.username or "unknown"},
        },
    )


@exports("finding_verdict", "Provenance")
def _finding_verdict(ctx: ExportContext, v) -> None:
    ctx.provenance(
        "finding_verdict",
        v.id,
        ctx.ref("finding", v.finding_id),
        v.at,
        activity={
            "coding": [{"system": f"{CS}/review-verdict", "code": v.verdict}],
            "text": "supervisor review of a privacy finding",
        },
        agent=[{"who": ctx.user(v.user_id)}],
    )


# --------------------------------------------------------------------------- employer reports


@exports("report_population", "Basic")
def _report_population(ctx: ExportContext, r) -> None:
    """The person counted in one table of an issued employer report (aggregates only: the report
    shows no one's value; the keyed hash of the contribution is the server's, not exported)."""
    report = ctx.session.get(IssuedReport, r.report_id)
    sub = [
        {"url": "report", "valueString": r.report_id},
        {"url": "table", "valueString": r.table_id},
        {"url": "group", "valueString": r.atom},
    ]
    if report is not None:
        employer = ctx.session.get(Employer, report.employer_id)
        sub.append({"url": "period", "valueInteger": report.period})
        if employer is not None:
            sub.append({"url": "employer", "valueString": employer.name})
    ctx.add(
        "report_population",
        r.id,
        {
            "resourceType": "Basic",
            "code": {
                "coding": [{"system": f"{CS}/record", "code": "employer-report-population"}],
                "text": "counted in an aggregated employer report",
            },
            "subject": ctx.patient,
            "created": r.created_at.date().isoformat(),
            "extension": [{"url": f"{EXT}/report-population", "extension": sub}],
        },
    )


# --------------------------------------------------------------------------- the access log


def audit_rows(ctx: ExportContext) -> Iterable:
    """The audit records about the person: named as the record's person, or in a list it returned."""
    pid = ctx.person.id
    return ctx.session.scalars(
        select(AuditEvent)
        .where(or_(AuditEvent.person_id == pid, cast(AuditEvent.details, String).like(f'%"{pid}"%')))
        .order_by(AuditEvent.seq)
    )


@exports("audit_event", "AuditEvent", rows=audit_rows)
def _audit(ctx: ExportContext, e) -> None:
    agent = {
        "who": {"display": f"{e.username or 'unknown'}" + (f" ({e.role})" if e.role else "")},
        "requestor": True,
    }
    if e.organization_id:
        agent["who"]["display"] += f", {ctx.organization(e.organization_id)['display']}"
    code = PURPOSE_OF_USE.get(e.purpose)
    purpose = {
        "coding": [{"system": ACT_REASON, "code": code}]
        if code
        else [{"system": f"{CS}/purpose", "code": e.purpose}]
    }
    resource = {
        "resourceType": "AuditEvent",
        "type": {"system": f"{CS}/audit-action", "code": e.action},
        "recorded": _iso(e.ts),
        "outcome": AUDIT_OUTCOME.get(e.outcome, "8"),
        "agent": [agent],
        "source": {"observer": {"display": "clinic-server"}},
        "entity": [{"what": ctx.patient, "description": ", ".join(e.categories or []) or None}],
        "purposeOfEvent": [purpose],
    }
    if resource["entity"][0]["description"] is None:
        del resource["entity"][0]["description"]
    ctx.add("audit_event", e.seq, resource)


# --------------------------------------------------------------------------- the coach's meetings


def _meeting_date(ctx: ExportContext, meeting_id: str) -> str | None:
    meeting = ctx.session.get(CoachingMeeting, meeting_id)
    return _iso(meeting.held_on) if meeting is not None else None


def _part(
    ctx: ExportContext, table: str, row, resource: dict, *, rule: tuple[str, int] | None = None
) -> None:
    """One part of a meeting as of one revision: its resource, part of the meeting's Encounter,
    and a Provenance naming the revision (and, for a derived value, the rule and its version)."""
    meeting = {"reference": ctx.ref("coaching_meeting", row.meeting_id)}
    resource["encounter"] = meeting
    resource["extension"] = [
        *resource.get("extension", []),
        {"url": f"{EXT}/meeting-revision", "valueInteger": row.revision},
    ]
    ref = ctx.add(table, row.id, resource)
    parts: dict = {
        "entity": [{"role": "source", "what": meeting}],
        "activity": {
            "coding": [{"system": DATA_OPERATION, "code": "CREATE" if row.revision == 1 else "UPDATE"}],
            "text": f"meeting revision {row.revision}",
        },
    }
    if rule is not None:
        parts["policy"] = [f"{SYSTEM}/rule/{rule[0]}/v{rule[1]}"]
    ctx.provenance(table, row.id, ref, row.recorded_at, **parts)


def _quantity(value: float, unit: str) -> dict:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


@exports("coaching_meeting", "Encounter")
def _meeting(ctx: ExportContext, m) -> None:
    ctx.add(
        "coaching_meeting",
        m.id,
        {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {"system": ACT_CODE, "code": "AMB", "display": "ambulatory"},
            "type": [
                {
                    "coding": [{"system": f"{CS}/meeting-kind", "code": m.kind}],
                    "text": "health profile meeting",
                }
            ],
            "subject": ctx.patient,
            "participant": [{"individual": ctx.user(m.coach_id)}],
            "period": {"start": _iso(m.held_on), "end": _iso(m.held_on)},
            "serviceProvider": ctx.organization(
                ctx.users[m.coach_id].organization_id if m.coach_id in ctx.users else None
            ),
        },
    )


@exports("coaching_revision", "Provenance")
def _revision(ctx: ExportContext, r) -> None:
    parts: dict = {
        "agent": [{"who": ctx.user(r.author_id)}],
        "activity": {
            "coding": [{"system": DATA_OPERATION, "code": "CREATE" if r.number == 1 else "UPDATE"}],
            "text": f"meeting revision {r.number}" + (f": {', '.join(r.changes)}" if r.changes else ""),
        },
    }
    if r.reason:
        parts["reason"] = [{"text": r.reason}]
    ctx.provenance(
        "coaching_revision", r.id, ctx.ref("coaching_meeting", r.meeting_id), r.created_at, **parts
    )


@exports("coaching_measurement", "Observation", "Provenance")
def _measurement(ctx: ExportContext, m) -> None:
    components = [
        {
            "code": {"coding": [{"system": LOINC, "code": spec.loinc}], "text": key},
            "valueQuantity": _quantity(getattr(m, key), spec.unit),
        }
        for key, spec in MEETING_MEASUREMENTS.items()
        if getattr(m, key) is not None
    ]
    if m.bmi is not None:
        components.append(
            {
                "code": {"coding": [{"system": LOINC, "code": BMI_LOINC}], "text": "bmi"},
                "valueQuantity": _quantity(m.bmi, BMI_UNIT),
                "extension": [
                    {"url": f"{EXT}/derived-by", "valueString": f"{m.bmi_rule_id} v{m.bmi_rule_version}"}
                ],
            }
        )
    resource = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": OBS_CATEGORY, "code": "vital-signs"}]}],
        "code": {
            "coding": [{"system": f"{CS}/meeting-part", "code": "measurements"}],
            "text": "measurements",
        },
        "subject": ctx.patient,
        "effectiveDateTime": _meeting_date(ctx, m.meeting_id),
        "issued": _iso(m.recorded_at),
        "component": components,
    }
    if not components:
        resource["dataAbsentReason"] = {"text": "nothing measured at this revision"}
    rule = (m.bmi_rule_id, m.bmi_rule_version) if m.bmi_rule_id and m.bmi_rule_version else None
    _part(ctx, "coaching_measurement", m, resource, rule=rule)


@exports("coaching_questionnaire", "QuestionnaireResponse", "Provenance")
def _questionnaire(ctx: ExportContext, q) -> None:
    items = [
        {
            "linkId": question,
            "answer": [{"valueCoding": {"system": f"{CS}/answer/{q.questionnaire_id}", "code": str(answer)}}],
        }
        for question, answer in sorted((q.answers or {}).items())
        if answer is not None
    ]
    resource = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "questionnaire": f"{SYSTEM}/Questionnaire/{q.questionnaire_id}|{q.questionnaire_version}",
        "subject": ctx.patient,
        "authored": _iso(q.recorded_at),
    }
    if items:
        resource["item"] = items
    _part(ctx, "coaching_questionnaire", q, resource)


@exports("coaching_fitness_test", "Observation", "Provenance")
def _fitness_test(ctx: ExportContext, t) -> None:
    components = [
        {
            "code": {
                "coding": [{"system": f"{CS}/observation", "code": "vo2max-absolute"}],
                "text": "VO2max",
            },
            "valueQuantity": _quantity(t.vo2max_l_min, "L/min"),
        }
    ]
    if t.vo2max_ml_kg_min is not None:
        components.append(
            {
                "code": {
                    "coding": [{"system": f"{CS}/observation", "code": "vo2max-relative"}],
                    "text": f"VO2max per kg ({t.relative_rule_id} v{t.relative_rule_version})",
                },
                "valueQuantity": _quantity(t.vo2max_ml_kg_min, "mL/min/kg"),
            }
        )
    inputs = ", ".join(f"{k}={v}" for k, v in sorted((t.inputs or {}).items()))
    resource = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": OBS_CATEGORY, "code": "exam"}]}],
        "code": {
            "coding": [{"system": f"{CS}/observation", "code": "submaximal-cycle-test"}],
            "text": "submaximal cycle test, estimated VO2max",
        },
        "subject": ctx.patient,
        "effectiveDateTime": _meeting_date(ctx, t.meeting_id),
        "issued": _iso(t.recorded_at),
        "method": derived_method(t.equation_id, t.equation_version),
        "component": components,
    }
    if inputs:
        resource["note"] = [{"text": f"inputs: {inputs}"}]
    _part(ctx, "coaching_fitness_test", t, resource, rule=(t.equation_id, t.equation_version))


@exports("coaching_note", "Observation", "Provenance")
def _coach_note(ctx: ExportContext, n) -> None:
    resource = {
        "resourceType": "Observation",
        "status": "final" if n.text is not None else "cancelled",
        "code": {"coding": [{"system": f"{CS}/meeting-part", "code": "notes"}], "text": "the coach's notes"},
        "subject": ctx.patient,
        "effectiveDateTime": _meeting_date(ctx, n.meeting_id),
        "issued": _iso(n.recorded_at),
    }
    if n.text is not None:
        resource["valueString"] = n.text
    else:
        resource["dataAbsentReason"] = {"text": "the notes were cleared at this revision"}
    _part(ctx, "coaching_note", n, resource)


@exports("coaching_assessment", "Observation", "Provenance")
def _assessment(ctx: ExportContext, a) -> None:
    components = [
        {
            "code": {
                "coding": [{"system": f"{CS}/conclusion", "code": c["code"]}],
                "text": f"{c['code']} ({c['rule_id']} v{c['rule_version']})",
            },
            **(
                {
                    "valueCodeableConcept": {
                        "coding": [{"system": f"{CS}/conclusion-value", "code": c["value"]}]
                    }
                }
                if c.get("value") is not None
                else {"dataAbsentReason": {"text": "not assessed"}}
            ),
        }
        for c in a.conclusions or []
    ]
    resource = {
        "resourceType": "Observation",
        "status": "final",
        "code": {
            "coding": [{"system": f"{CS}/meeting-part", "code": "automated-assessment"}],
            "text": f"automated assessment: {a.status}",
        },
        "subject": ctx.patient,
        "effectiveDateTime": _meeting_date(ctx, a.meeting_id),
        "issued": _iso(a.recorded_at),
        "method": derived_method(a.ruleset_id, a.ruleset_version),
    }
    if components:
        resource["component"] = components
    else:
        resource["dataAbsentReason"] = {"text": a.status}
    _part(ctx, "coaching_assessment", a, resource, rule=(a.ruleset_id, a.ruleset_version))


@exports("profiling_objection", "Consent")
def _profiling_objection(ctx: ExportContext, o) -> None:
    resource = _consent(
        ctx,
        deny=True,
        status="active" if o.withdrawn_at is None else "inactive",
        purpose="profiling",
        org_id=None,
        start=o.recorded_at,
        end=o.withdrawn_at,
        codes=[],
        recorded=o.recorded_at,
    )
    ctx.add("profiling_objection", o.id, resource)


# --------------------------------------------------------------------------- the bundle


def missing_exporters() -> list[str]:
    """Holdings no exporter is registered for (must be none)."""
    return sorted(h.table for h in HOLDINGS if h.table not in EXPORTS)


def _rows(ctx: ExportContext, h: Holding) -> Iterable:
    spec = EXPORTS[h.table]
    if spec.rows is not None:
        return spec.rows(ctx)
    t = Base.metadata.tables[h.table]
    order = [t.c[h.dated_by]] if h.dated_by else []
    return ctx.session.execute(
        select(t).where(linked(h, [ctx.person.id])).order_by(*order, *t.primary_key.columns)
    )


@dataclass(frozen=True)
class Export:
    bundle: dict
    counts: dict[str, int]


def build(session: Session, person: Person, now: datetime) -> Export:
    """Every resource about ``person``, in one Bundle validated by the R4B models.

    Raises ``ValueError`` (or pydantic's ``ValidationError`` for the envelope) if anything does not
    validate (a bug: nothing is written then), and ``LookupError`` if a holding has no exporter.
    """
    missing = missing_exporters()
    if missing:
        raise LookupError(f"no FHIR exporter for {', '.join(missing)}")
    ctx = ExportContext(
        session,
        person,
        now,
        organizations={o.id: o for o in session.scalars(select(Organization))},
        users={u.id: u for u in session.scalars(select(User))},
    )
    for h in HOLDINGS:
        build_row = EXPORTS[h.table].build
        for row in _rows(ctx, h):
            build_row(ctx, row)
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": _iso(now),
        "identifier": {"system": f"{SYSTEM}/export", "value": str(uuid.uuid4())},
        "entry": ctx.entries,
    }
    validate(bundle)
    return Export(bundle, dict(sorted(ctx.counts.items())))


# --------------------------------------------------------------------------- validation


def _validate_resources(resources: list[dict]) -> list[str]:
    """Validate each resource with its own R4B model (what Bundle validation does per entry)."""
    models: dict[str, type] = {}
    problems = []
    for r in resources:
        kind = r.get("resourceType", "")
        model = models.get(kind) or models.setdefault(kind, get_fhir_model_class(kind))
        try:
            model.model_validate(r)
        except ValidationError as exc:
            problems.append(f"{kind}/{r.get('id')}: {exc}")
    return problems


def validate(bundle: dict) -> None:
    """Validate the bundle with the fhir.resources R4B models: the envelope with ``Bundle`` and every
    entry's resource with its own model; raises ``ValueError`` naming each invalid resource."""
    entries = bundle.get("entry", [])
    Bundle.model_validate(
        {**bundle, "entry": [{k: v for k, v in e.items() if k != "resource"} for e in entries]}
    )
    problems = _validate_resources([e["resource"] for e in entries])
    if problems:
        raise ValueError(f"{len(problems)} resource(s) are not valid FHIR R4: " + "; ".join(problems[:5]))
