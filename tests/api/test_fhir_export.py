"""The FHIR export (GDPR art. 20): one validated R4 Bundle with a resource per row held, so the count
of each resource type is what the database holds; references resolve; codes are LOINC/UCUM."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import func, select

from clinic_server.access.data_map import HOLDINGS, Holding
from clinic_server.db.models import (
    Alert,
    AlertEvent,
    AuditEvent,
    BillingRecord,
    BreakGlassGrant,
    BreakGlassVerdict,
    CoachAssignment,
    CoachingAssessment,
    CoachingFitnessTest,
    CoachingMeasurement,
    CoachingMeeting,
    CoachingNote,
    CoachingQuestionnaire,
    CoachingRevision,
    Condition,
    Consent,
    Device,
    Finding,
    FindingVerdict,
    LegalHold,
    Objection,
    Observation,
    Person,
    PersonCorrection,
    PersonNotice,
    ProfilingObjection,
    RecordEntry,
    ReportPopulation,
    SubjectRequest,
    ThresholdOverride,
)
from clinic_server.services import fhir_export
from tests.conftest import bearer, login
from tests.rights_util import NOW, full_person, organizations

pytestmark = pytest.mark.api


@pytest.fixture
def orgs(world, session):
    return organizations(world, session)


def _n(session, model, pid, **where) -> int:
    stmt = select(func.count()).select_from(model).where(model.person_id == pid)
    for k, v in where.items():
        col = getattr(model, k)
        stmt = stmt.where(col.in_(v) if isinstance(v, tuple) else col == v)
    return session.scalar(stmt)


def _expected(session, pid: str) -> dict[str, int]:
    """What the database holds, counted here without the exporter's own table of types."""
    session.rollback()
    entries = dict(
        session.execute(
            select(RecordEntry.category, func.count())
            .where(RecordEntry.person_id == pid)
            .group_by(RecordEntry.category)
        ).all()
    )
    other_entries = sum(
        n for c, n in entries.items() if c not in ("medications", "history", "goals", "questionnaires")
    )
    alerts = _n(session, Alert, pid)
    events = session.scalar(
        select(func.count())
        .select_from(AlertEvent)
        .join(Alert, Alert.id == AlertEvent.alert_id)
        .where(Alert.person_id == pid)
    )
    verdicts = session.scalar(
        select(func.count())
        .select_from(BreakGlassVerdict)
        .join(BreakGlassGrant, BreakGlassGrant.id == BreakGlassVerdict.grant_id)
        .where(BreakGlassGrant.person_id == pid)
    ) + session.scalar(
        select(func.count())
        .select_from(FindingVerdict)
        .join(Finding, Finding.id == FindingVerdict.finding_id)
        .where(Finding.person_id == pid)
    )
    audit = sum(
        1
        for e in session.scalars(select(AuditEvent))
        if e.person_id == pid or f'"{pid}"' in json.dumps(e.details)
    )
    meetings = select(CoachingMeeting.id).where(CoachingMeeting.person_id == pid)

    def part(model) -> int:
        return session.scalar(select(func.count()).select_from(model).where(model.meeting_id.in_(meetings)))

    # every part row of a meeting is one resource and one Provenance (which revision, which rule)
    observed_parts = sum(
        part(m) for m in (CoachingMeasurement, CoachingFitnessTest, CoachingNote, CoachingAssessment)
    )
    parts = observed_parts + part(CoachingQuestionnaire)
    return {
        "Encounter": _n(session, CoachingMeeting, pid),
        "Patient": session.scalar(select(func.count()).select_from(Person).where(Person.id == pid)),
        "Condition": _n(session, Condition, pid) + entries.get("history", 0),
        "Observation": _n(session, Observation, pid) + other_entries + observed_parts,
        "MedicationStatement": entries.get("medications", 0),
        "Goal": entries.get("goals", 0),
        "QuestionnaireResponse": entries.get("questionnaires", 0) + part(CoachingQuestionnaire),
        "Consent": _n(session, Consent, pid)
        + _n(session, Objection, pid)
        + _n(session, ProfilingObjection, pid),
        "CareTeam": _n(session, CoachAssignment, pid),
        "Device": _n(session, Device, pid),
        "Communication": _n(session, PersonNotice, pid),
        "Basic": _n(session, ThresholdOverride, pid)
        + _n(session, LegalHold, pid)
        + _n(session, Finding, pid)
        + _n(session, ReportPopulation, pid),
        "ChargeItem": _n(session, BillingRecord, pid),
        "Task": _n(session, SubjectRequest, pid),
        "Flag": alerts,
        # derived values (alerts), their handling, notes (record entries), corrections, and the
        # supervisors' verdicts on accesses to the record
        "Provenance": alerts
        + events
        + sum(entries.values())
        + _n(session, PersonCorrection, pid)
        + verdicts
        + part(CoachingRevision)
        + parts,
        "AuditEvent": _n(session, BreakGlassGrant, pid) + audit,
    }


async def test_the_export_holds_a_resource_for_every_row_and_validates(http, session, orgs):
    marks = full_person(session, orgs)
    pid = marks.person_id
    anna = bearer(await login(http, "anna"))
    await http.get(f"/patients/{pid}", headers=anna)
    await http.get("/patients", headers=anna)
    elsa = bearer(await login(http, "elsa"))

    expected = {k: v for k, v in _expected(session, pid).items() if v}
    r = await http.post(f"/subjects/{pid}/export", headers=elsa)
    assert r.status_code == 200, r.text
    out = r.json()
    bundle = out["bundle"]
    counted = Counter(e["resource"]["resourceType"] for e in bundle["entry"])
    assert dict(counted) == expected == out["resource_counts"]
    # the seeded emergency grant, anna's read and her list
    assert expected["AuditEvent"] == 3 and expected["Observation"] >= 5

    # every resource validates against its own R4B model, ids are unique, references resolve
    Bundle.model_validate(bundle)
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert len(set(urls)) == len(urls)
    for e in bundle["entry"]:
        get_fhir_model_class(e["resource"]["resourceType"]).model_validate(e["resource"])
        assert e["fullUrl"].endswith(e["resource"]["id"])
    refs = {m for m in _references(bundle) if m.startswith("urn:uuid:")}
    assert refs and refs <= set(urls)

    by_type: dict[str, list[dict]] = {}
    for e in bundle["entry"]:
        by_type.setdefault(e["resource"]["resourceType"], []).append(e["resource"])
    (patient,) = by_type["Patient"]
    assert (
        patient["identifier"][0]["value"] == marks.personnummer
        and patient["name"][0]["family"] == marks.family
    )
    bp = [o for o in by_type["Observation"] if o["code"]["coding"][0]["system"] == "http://loinc.org"]
    assert len(bp) == 5 and all(o["code"]["coding"][0]["code"] == "8480-6" for o in bp)
    assert {o["valueQuantity"]["system"] for o in bp} == {"http://unitsofmeasure.org"}
    assert {o["valueQuantity"]["code"] for o in bp} == {"mm[Hg]"} and all("device" in o for o in bp)
    (flag,) = by_type["Flag"]
    derived = [p for p in by_type["Provenance"] if p["target"][0]["reference"] == _ref_of(bundle, flag)]
    assert any(p.get("policy") == [f"{fhir_export.SYSTEM}/rule/bp_high/v1"] for p in derived)
    (condition,) = [c for c in by_type["Condition"] if "coding" in c["code"]]
    assert condition["code"]["coding"][0] == {
        "system": "http://snomed.info/sct",
        "code": "38341003",
        "display": "Hypertension",
    }
    emergency = [a for a in by_type["AuditEvent"] if a["purposeOfEvent"][0]["coding"][0]["code"] == "ETREAT"]
    assert emergency  # the seeded break-the-glass grant


def _references(node) -> list[str]:
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "reference" and isinstance(v, str):
                out.append(v)
            else:
                out += _references(v)
    elif isinstance(node, list):
        for v in node:
            out += _references(v)
    return out


def _ref_of(bundle: dict, resource: dict) -> str:
    return next(e["fullUrl"] for e in bundle["entry"] if e["resource"] is resource)


def test_a_derived_value_names_its_rule_and_version_as_method():
    method = fhir_export.derived_method("ekblom-bak-2016", 1)
    assert method["coding"][0] == {
        "system": f"{fhir_export.CS}/rule",
        "code": "ekblom-bak-2016",
        "version": "1",
    }


def test_a_holding_without_an_exporter_stops_the_export(monkeypatch, session, orgs):
    marks = full_person(session, orgs)
    extra = Holding("fitness_test", "person_id", {"person_id": "link"})
    monkeypatch.setattr(fhir_export, "HOLDINGS", (*HOLDINGS, extra))
    assert fhir_export.missing_exporters() == ["fitness_test"]
    with pytest.raises(LookupError, match="fitness_test"):
        fhir_export.build(session, session.get(Person, marks.person_id), NOW)


def test_an_invalid_resource_is_named_and_nothing_is_returned():
    good = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}}
    bad = {"resourceType": "Observation", "id": "broken", "code": {"text": "x"}}  # no status
    entries = [{"fullUrl": f"urn:uuid:{i}", "resource": dict(good, id=f"ok{i}")} for i in range(5)]
    entries.append({"fullUrl": "urn:uuid:b", "resource": bad})
    with pytest.raises(ValueError, match="1 resource.*Observation/broken"):
        fhir_export.validate({"resourceType": "Bundle", "type": "collection", "entry": entries})
    fhir_export.validate({"resourceType": "Bundle", "type": "collection", "entry": entries[:-1]})
