"""The privacy officer handles the people's requests: she finds a person by personnummer, sees what
is held and why (never a value outside an export), who accessed it (emergencies marked, with the
notice), corrects, restricts, records objections, requests and legal holds, erases after a
confirmed preview; every step is one audit record with the purpose data_subject_request."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from clinic_server.db.models import AuditEvent, Person, PersonCorrection
from clinic_server.services.rights import objects_to
from clinic_tui.domain.rights import ObjectionKind
from tests.conftest import audit_count, bearer, last_audit, login
from tests.rights_util import NOW, full_person, organizations

pytestmark = pytest.mark.api


@pytest.fixture
def orgs(world, session):
    return organizations(world, session)


@pytest.fixture
def marks(session, orgs):
    return full_person(session, orgs)


@pytest.fixture
async def elsa(http, marks):
    return bearer(await login(http, "elsa"))


async def _lookup(http, elsa, pnr: str) -> dict:
    r = await http.post("/subjects/lookup", json={"personnummer": pnr}, headers=elsa)
    assert r.status_code == 200, r.text
    return r.json()


async def test_lookup_by_personnummer_gives_the_id_and_standing_never_data(http, session, elsa, marks):
    before = audit_count(session)
    ref = await _lookup(http, elsa, f"{marks.personnummer[2:8]}-{marks.personnummer[8:]}")
    assert ref == {
        "person_id": marks.person_id,
        "controllers": ["imaginecare", "imr"],
        "restricted": False,
        "legal_hold": False,
        "account_active": True,
    }
    rec = last_audit(session)
    assert audit_count(session) == before + 1
    assert (rec.purpose, rec.person_id, rec.role) == (
        "data_subject_request",
        marks.person_id,
        "privacy_officer",
    )
    assert marks.personnummer not in json.dumps(rec.details) + rec.reason + (rec.resource_id or "")
    r = await http.post("/subjects/lookup", json={"personnummer": "19121212-1212"}, headers=elsa)
    assert (r.status_code, r.json()["code"]) == (404, "not_found")
    r = await http.post("/subjects/lookup", json={"personnummer": "19121212-1213"}, headers=elsa)
    assert (r.status_code, r.json()["code"]) == (422, "invalid_personnummer")
    assert "19121212" not in last_audit(session).reason


@pytest.mark.parametrize("username", ["anna", "cecilia", "david"])
async def test_nobody_but_the_officer_handles_requests(http, session, marks, username, orgs):
    headers = bearer(await login(http, username))
    pid = marks.person_id
    for method, url in (
        ("post", "/subjects/lookup"),
        ("get", f"/subjects/{pid}/extract"),
        ("post", f"/subjects/{pid}/export"),
        ("post", f"/subjects/{pid}/erasure/preview"),
        ("get", "/retention/preview"),
    ):
        kw = {"json": {"personnummer": marks.personnummer}} if url.endswith("lookup") else {}
        r = await getattr(http, method)(url, headers=headers, **kw)
        assert r.status_code == 403, (username, url, r.text)
    assert last_audit(session).outcome == "denied"


async def test_the_extract_says_what_is_held_why_who_received_and_who_accessed_it(http, session, elsa, marks):
    pid = marks.person_id
    # a read and an emergency access leave their marks in the audit log
    anna = bearer(await login(http, "anna"))
    assert (await http.get(f"/patients/{pid}", headers=anna)).status_code == 200
    bertil = bearer(await login(http, "bertil"))
    assert (
        await http.post(
            f"/patients/{pid}/break-glass", json={"reason": "Found unconscious at home"}, headers=bertil
        )
    ).status_code == 201
    assert (await http.get(f"/patients/{pid}", headers=bertil)).status_code == 200

    r = await http.get(f"/subjects/{pid}/extract", headers=elsa)
    assert r.status_code == 200, r.text
    x = r.json()
    cats = {c["category"]: c for c in x["categories"]}
    assert cats["vitals"]["count"] >= 5 + 1 + 1 + 1  # measurements, an alert, its handling, a limit
    assert {s["source"] for s in cats["vitals"]["sources"]} >= {"observation", "alert", "threshold_override"}
    assert cats["conditions"]["first"].startswith("2015-03-01")
    # purposes and bases per controller, each with the policy sentence it rests on
    vitals = {(p["controller"], p["purpose"], p["basis"]) for p in cats["vitals"]["purposes"]}
    assert ("imaginecare", "self_care", "consent") in vitals and (
        "imr",
        "evaluation_and_advice",
        "consent",
    ) in vitals
    ident = {(p["controller"], p["basis"]) for p in cats["identity"]["purposes"]}
    assert ("imaginecare", "contract") in ident and ("imr", "legitimate_interest") in ident
    # recipients: the organizations with consent, since when
    assert {(c["organization_name"], c["purpose"]) for c in x["consents"]} == {
        ("Vårdcentralen Norra", "care"),
        ("ImagineCare AB", "self_care"),
        ("IMR", "coaching"),
    }
    assert x["coaches"][0]["organization_name"] == "IMR"
    # every access: who, organization, when, purpose, outcome; the emergency ones marked, with the notice
    reads = [a for a in x["accesses"] if a["action"] == "read"]
    assert {(a["username"], a["organization_name"], a["purpose"]) for a in reads} == {
        ("anna", "Vårdcentralen Norra", "care"),
        ("bertil", "Hjärtmottagningen Söder", "emergency"),
    }
    glass = [a for a in x["accesses"] if a["emergency"]]
    assert {a["action"] for a in glass} == {"break_glass", "read"}
    assert all(a["notice_at"] for a in glass) and not any(a["notice_at"] for a in reads if not a["emergency"])
    assert len(x["notices"]) == 2  # the seeded emergency and this one
    # retention: IMR's rule with its date; ImagineCare's while the account lives
    rules = {r["rule_id"]: r for r in x["retention"]}
    assert (
        rules["imaginecare.account_closed"]["due_on"] is None
        and rules["imaginecare.account_closed"]["status"] == "kept"
    )
    assert rules["imr.last_meeting"]["status"] == "kept"
    assert [o["kind"] for o in x["objections"]] == ["mailings"] and x["corrections"][0]["field"] == "address"
    # and never a value
    text = r.text
    for value in (*marks.strings(), "130.0", "Snickare", "hypertension", "Systolic 190"):
        assert value not in text, value
    rec = last_audit(session)
    assert rec.purpose == "data_subject_request" and rec.categories == []


@pytest.mark.parametrize(
    ("language", "words"),
    [("sv", ["Registerutdrag", "NÖDÅTKOMST"]), ("en", ["Register extract", "EMERGENCY ACCESS"])],
)
async def test_the_extract_as_a_document(http, elsa, marks, orgs, language, words):
    pid = marks.person_id
    bertil = bearer(await login(http, "bertil"))
    await http.post(
        f"/patients/{pid}/break-glass", json={"reason": "Found unconscious at home"}, headers=bertil
    )
    r = await http.get(f"/subjects/{pid}/extract/document?language={language}", headers=elsa)
    assert r.status_code == 200
    doc = r.json()["text"]
    for w in words:
        assert w in doc
    assert "| bertil |" in doc and "Hjärtmottagningen Söder" in doc
    for value in marks.strings():
        assert value not in doc


async def test_rectification_keeps_the_old_value_in_the_history_never_as_current(http, session, elsa, marks):
    pid = marks.person_id
    before = audit_count(session)
    r = await http.post(
        f"/subjects/{pid}/rectification",
        json={
            "changes": {"address": "Nya gatan 1, 222 22 Nyby", "family_name": "Rättad"},
            "reason": "moved and married",
        },
        headers=elsa,
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["current"] == {"address": "Nya gatan 1, 222 22 Nyby", "family_name": "Rättad"}
    # one record, field names only
    assert audit_count(session) == before + 1
    rec = last_audit(session)
    assert rec.details["fields"] == ["address", "family_name"] and "Rättad" not in json.dumps(rec.details)
    assert set(rec.categories) == {"identity", "contact"}
    assert {c["field"] for c in out["corrections"]} == {"address", "family_name"}
    assert all(c["corrected_by"] == "elsa" and c["reason"] == "moved and married" for c in out["corrections"])
    rows = {
        c.field: c for c in session.scalars(select(PersonCorrection).where(PersonCorrection.person_id == pid))
    }
    assert rows["family_name"].old_value == marks.family and rows["address"].old_value == marks.address
    # the record shows the new values only
    anna = bearer(await login(http, "anna"))
    detail = (await http.get(f"/patients/{pid}", headers=anna)).json()
    assert detail["family_name"] == "Rättad" and detail["contact"]["address"] == "Nya gatan 1, 222 22 Nyby"
    # (notes that mention the old name are notes: what was written then, not a field to rectify)
    assert marks.address not in json.dumps({k: v for k, v in detail.items() if k != "records"})


async def test_a_personnummer_correction_corrects_the_birth_date_and_bad_values_are_refused(
    http, session, elsa, marks, world
):
    pid = marks.person_id
    other = world.person("Olle", "Annan")
    session.commit()
    for changes, status, code in (
        ({"given_name": None}, 422, "invalid_correction"),
        ({"email": "nope"}, 422, "invalid_correction"),
        ({"personnummer": "19121212-1213"}, 422, "invalid_correction"),
        ({"personnummer": other.personnummer}, 409, "conflict"),
        ({"given_name": marks.given}, 422, "invalid_correction"),  # nothing to change
    ):
        r = await http.post(
            f"/subjects/{pid}/rectification", json={"changes": changes, "reason": "typo"}, headers=elsa
        )
        assert (r.status_code, r.json()["code"]) == (status, code), changes
    r = await http.post(
        f"/subjects/{pid}/rectification",
        json={"changes": {"personnummer": "19121212-1212"}, "reason": "wrong number"},
        headers=elsa,
    )
    assert r.status_code == 200
    assert {c["field"] for c in r.json()["corrections"]} == {"personnummer", "birth_date"}
    session.expire_all()
    person = session.get(Person, pid)
    assert person.personnummer == "191212121212" and str(person.birth_date) == "1912-12-12"


async def test_restriction_by_the_officer_stops_every_reader_until_lifted(http, session, elsa, marks):
    pid = marks.person_id
    anna = bearer(await login(http, "anna"))
    r = await http.post(f"/subjects/{pid}/restriction", json={"restricted": True}, headers=elsa)
    assert r.status_code == 200 and r.json()["restricted"] is True
    assert last_audit(session).purpose == "data_subject_request"
    assert (await http.get(f"/patients/{pid}", headers=anna)).status_code == 403
    # the officer still handles the person's requests
    assert (await http.get(f"/subjects/{pid}/extract", headers=elsa)).json()["restricted"] is True
    assert (
        await http.post(f"/subjects/{pid}/restriction", json={"restricted": False}, headers=elsa)
    ).status_code == 200
    assert (await http.get(f"/patients/{pid}", headers=anna)).status_code == 200


async def test_objections_requests_and_legal_holds(http, session, elsa, marks):
    pid = marks.person_id
    assert not objects_to(session, pid, ObjectionKind.PROFILING)
    r = await http.post(f"/subjects/{pid}/objections", json={"kind": "profiling"}, headers=elsa)
    assert r.status_code == 200 and r.json()["active"] is True
    session.rollback()
    assert objects_to(session, pid, ObjectionKind.PROFILING)
    r = await http.post(
        f"/subjects/{pid}/objections", json={"kind": "profiling", "objected": False}, headers=elsa
    )
    assert r.json()["active"] is False
    session.rollback()
    assert not objects_to(session, pid, ObjectionKind.PROFILING)
    r = await http.post(
        f"/subjects/{pid}/objections", json={"kind": "profiling", "objected": False}, headers=elsa
    )
    assert r.status_code == 404

    future = (NOW + timedelta(days=2)).date().isoformat()
    r = await http.post(
        f"/subjects/{pid}/requests", json={"kind": "anonymization", "received_on": future}, headers=elsa
    )
    assert r.status_code == 422
    r = await http.post(f"/subjects/{pid}/requests", json={"kind": "anonymization"}, headers=elsa)
    assert r.status_code == 201 and r.json()["status"] == "open"
    # the next retention run would anonymize them (rule i)
    due = (await http.get("/retention/preview", headers=elsa)).json()
    item = next(i for i in due["items"] if i["person_id"] == pid)
    assert (item["rule_id"], item["mode"]) == ("imr.anonymization_request", "anonymize")

    hold = await http.post(
        f"/subjects/{pid}/legal-holds", json={"reason": "dispute over an invoice"}, headers=elsa
    )
    assert hold.status_code == 201 and hold.json()["active"] is True
    due = (await http.get("/retention/preview", headers=elsa)).json()
    assert pid not in {i["person_id"] for i in due["items"]} and due["held"] == 1
    preview = (await http.post(f"/subjects/{pid}/erasure/preview", headers=elsa)).json()
    assert preview["legal_hold"] is True
    r = await http.post(
        f"/subjects/{pid}/erasure", json={"confirmation": preview["confirmation"]}, headers=elsa
    )
    assert (r.status_code, r.json()["code"]) == (409, "legal_hold")
    r = await http.post(f"/subjects/{pid}/legal-holds/{hold.json()['id']}/release", headers=elsa)
    assert r.json()["active"] is False
    r = await http.post(
        f"/subjects/{pid}/erasure", json={"confirmation": preview["confirmation"]}, headers=elsa
    )
    assert r.status_code == 200


async def test_every_step_of_the_officer_is_audited_as_a_data_subject_request(http, session, elsa, marks):
    pid = marks.person_id
    start = audit_count(session)
    await _lookup(http, elsa, marks.personnummer)
    await http.get(f"/subjects/{pid}/extract", headers=elsa)
    await http.get(f"/subjects/{pid}/extract/document", headers=elsa)
    export = await http.post(f"/subjects/{pid}/export", headers=elsa)
    preview = (await http.post(f"/subjects/{pid}/erasure/preview", headers=elsa)).json()
    await http.post(f"/subjects/{pid}/erasure", json={"confirmation": preview["confirmation"]}, headers=elsa)
    await http.get("/retention/preview", headers=elsa)
    session.rollback()
    records = session.scalars(select(AuditEvent).where(AuditEvent.seq > start).order_by(AuditEvent.seq)).all()
    assert [r.action for r in records] == [
        "lookup",
        "extract",
        "extract_document",
        "export",
        "erasure_preview",
        "erase",
        "retention_preview",
    ]
    assert {r.purpose for r in records} == {"data_subject_request"}
    assert {r.username for r in records} == {"elsa"}
    # the values left the server only in the export, and its record says which categories
    assert [r.action for r in records if r.categories] == ["export"]
    assert export.status_code == 200
