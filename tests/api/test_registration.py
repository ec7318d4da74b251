"""How people and consents get in through the patient app's integration (ImagineCare AB), and how
they leave: a care provider's consent withdrawn ends that organization's access only; the last
consent to ImagineCare AB withdrawn, or the account closed, deletes the person after a preview."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from clinic_server.db import utcnow
from clinic_server.db.models import AuditEvent, Condition, Consent, Person
from clinic_server.jobs.failure_tally import flush_failures
from clinic_tui.domain import personnummer
from tests.conftest import audit_count, bearer, last_audit, login
from tests.rights_util import app_headers, imr_headers, organizations, rows_about

pytestmark = pytest.mark.api


@pytest.fixture
def orgs(world, session):
    return organizations(world, session)


def _pnr(seed: int = 3, birth: date = date(1968, 2, 3)) -> str:
    return personnummer.generate(random.Random(seed), birth, "male")


def _registration(orgs, pnr: str, **extra) -> dict:
    body = {
        "personnummer": pnr,
        "given_name": "Rolf",
        "family_name": "Registrerad",
        "phone": "070-222 33 44",
        "email": "rolf@example.se",
        "address": "Appvägen 2, 111 11 Stockholm",
        "conditions": ["hypertension", "diabetes_t2"],
        "care_providers": [
            {"organization_id": orgs.norra.id, "categories": ["identity", "vitals", "conditions"]}
        ],
    }
    body.update(extra)
    return body


async def _register(http, orgs, pnr=None, **extra):
    return await http.post(
        "/integration/people", json=_registration(orgs, pnr or _pnr(), **extra), headers=app_headers()
    )


async def test_registration_creates_the_person_their_conditions_and_consents(http, session, orgs):
    providers = await http.get("/integration/care-providers", headers=app_headers())
    assert [o["name"] for o in providers.json()["items"]] == [
        "Hjärtmottagningen Söder",
        "Vårdcentralen Norra",
    ]

    before = audit_count(session)
    r = await _register(http, orgs)
    assert r.status_code == 201, r.text
    body = r.json()
    pid = body["person_id"]
    assert body["created"] is True
    assert {(c["organization_name"], c["purpose"]) for c in body["consents"]} == {
        ("ImagineCare AB", "self_care"),
        ("Vårdcentralen Norra", "care"),
    }
    person = session.get(Person, pid)
    assert (
        person.birth_date == date(1968, 2, 3) and person.sex == "male" and person.email == "rolf@example.se"
    )
    assert sorted(session.scalars(select(Condition.code).where(Condition.person_id == pid))) == [
        "diabetes_t2",
        "hypertension",
    ]
    # one audit record, by the integration, naming the person by id and nothing they typed
    assert audit_count(session) == before + 1
    rec = last_audit(session)
    assert (rec.role, rec.username, rec.organization_id, rec.person_id, rec.outcome) == (
        "integration",
        "patient app backend",
        orgs.app.id,
        pid,
        "allowed",
    )
    assert "Rolf" not in str(rec.details) + rec.reason and person.personnummer not in str(rec.details)

    # the nurse of the chosen care provider sees what the consent covers, the other one nothing
    anna = bearer(await login(http, "anna"))
    detail = (await http.get(f"/patients/{pid}", headers=anna)).json()
    assert detail["given_name"] == "Rolf" and set(detail["shared"]) == {"identity", "vitals", "conditions"}
    bertil = bearer(await login(http, "bertil"))
    assert (await http.get(f"/patients/{pid}", headers=bertil)).status_code == 403


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"personnummer": "19680203-0000"}, 422, "invalid_personnummer"),
        ({"conditions": ["gout"]}, 422, "invalid_request"),
        ({"email": "not-an-address"}, 422, "invalid_request"),
        (
            {"care_providers": [{"organization_id": "0" * 32, "categories": ["vitals"]}]},
            422,
            "invalid_consent",
        ),
    ],
)
async def test_bad_registrations_are_refused_and_change_nothing(http, session, orgs, change, status, code):
    people = session.scalar(select(func.count()).select_from(Person))
    before = audit_count(session)
    r = await http.post(
        "/integration/people", json=_registration(orgs, _pnr(), **change), headers=app_headers()
    )
    assert (r.status_code, r.json()["code"]) == (status, code), r.text
    assert session.scalar(select(func.count()).select_from(Person)) == people
    assert audit_count(session) == before + 1 and last_audit(session).outcome == "denied"


async def test_under_18_is_refused_and_a_second_account_too(http, session, orgs):
    minor = _pnr(birth=date.today().replace(year=date.today().year - 16))
    r = await _register(http, orgs, minor)
    assert (r.status_code, r.json()["code"]) == (422, "under_age")
    pnr = _pnr(7)
    assert (await _register(http, orgs, pnr)).status_code == 201
    r = await _register(http, orgs, pnr)
    assert (r.status_code, r.json()["code"]) == (409, "already_registered")


async def test_an_imr_participant_registering_is_attached_to_not_overwritten(http, session, orgs, world):
    participant = world.person("Pia", "Deltagare", employer=orgs.employer)
    session.commit()
    r = await _register(http, orgs, participant.personnummer, given_name="Somebody", email="new@example.se")
    assert r.status_code == 201 and r.json() == {**r.json(), "created": False, "person_id": participant.id}
    session.refresh(participant)
    assert participant.given_name == "Pia" and participant.email != "new@example.se"


async def test_only_the_patient_apps_integration_registers_and_keys_are_checked(app, http, session, orgs):
    r = await http.post("/integration/people", json=_registration(orgs, _pnr()), headers=imr_headers())
    assert r.status_code == 403
    before = audit_count(session)
    for headers in ({}, {"X-Client-Key": "cik_wrong"}):
        r = await http.post("/integration/people", json=_registration(orgs, _pnr()), headers=headers)
        assert (r.status_code, r.json()["code"]) == (401, "invalid_client_key")
    # nobody can be named for a wrong key: it is counted in the tally of unauthenticated failures,
    # which the flush records once for the minute (issue 9: they cannot flood the chain)
    assert audit_count(session) == before
    flush_failures(app.state.sessionmaker, utcnow() + timedelta(minutes=2))
    assert audit_count(session) == before + 1
    rec = last_audit(session)
    assert (rec.action, rec.outcome) == ("unauthenticated_failures", "denied")
    assert rec.details["counts"] == {"integration_key": 2}
    # a user's token is not an integration key
    elsa = bearer(await login(http, "elsa"))
    assert (
        await http.post("/integration/people", json=_registration(orgs, _pnr()), headers=elsa)
    ).status_code == 401


async def test_a_consent_given_again_replaces_the_earlier_one(http, session, orgs):
    pid = (await _register(http, orgs)).json()["person_id"]
    r = await http.post(
        f"/integration/people/{pid}/consents",
        json={"organization_id": orgs.norra.id, "purpose": "care", "categories": ["vitals"]},
        headers=app_headers(),
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["replaced_id"] and body["consent"]["categories"] == ["vitals"]
    old = session.get(Consent, body["replaced_id"])
    assert old.valid_until is not None and old.status == "active"  # ended now, kept in the history
    anna = bearer(await login(http, "anna"))
    assert (await http.get(f"/patients/{pid}", headers=anna)).json()["shared"] == ["vitals"]
    # a consent must name an organization of the purpose's kind
    r = await http.post(
        f"/integration/people/{pid}/consents",
        json={"organization_id": orgs.app.id, "purpose": "care", "categories": ["vitals"]},
        headers=app_headers(),
    )
    assert (r.status_code, r.json()["code"]) == (422, "invalid_consent")
    # the app does not record consents to IMR; IMR's integration does not act for strangers
    r = await http.post(
        f"/integration/people/{pid}/consents",
        json={"organization_id": orgs.imr.id, "purpose": "coaching", "categories": ["vitals"]},
        headers=app_headers(),
    )
    assert r.status_code == 403
    r = await http.post(
        f"/integration/people/{pid}/consents",
        json={"organization_id": orgs.imr.id, "purpose": "coaching", "categories": ["vitals"]},
        headers=imr_headers(),
    )
    assert r.status_code == 403


async def test_withdrawing_one_care_providers_consent_ends_only_its_access(http, session, orgs):
    body = _registration(orgs, _pnr())
    body["care_providers"].append({"organization_id": orgs.soder.id, "categories": ["vitals"]})
    registered = (await http.post("/integration/people", json=body, headers=app_headers())).json()
    pid = registered["person_id"]
    norra = next(c for c in registered["consents"] if c["organization_name"] == "Vårdcentralen Norra")
    preview = await http.post(
        f"/integration/people/{pid}/consents/{norra['id']}/withdraw/preview", headers=app_headers()
    )
    assert preview.json()["ends_account"] is False and preview.json()["erasure"] is None
    r = await http.post(
        f"/integration/people/{pid}/consents/{norra['id']}/withdraw", json={}, headers=app_headers()
    )
    assert r.status_code == 200 and r.json()["ends_account"] is False
    anna, bertil = bearer(await login(http, "anna")), bearer(await login(http, "bertil"))
    assert (await http.get(f"/patients/{pid}", headers=anna)).status_code == 403
    assert (await http.get(f"/patients/{pid}", headers=bertil)).status_code == 200
    assert session.get(Person, pid) is not None
    r = await http.post(
        f"/integration/people/{pid}/consents/{norra['id']}/withdraw", json={}, headers=app_headers()
    )
    assert (r.status_code, r.json()["code"]) == (409, "already_withdrawn")


async def test_withdrawing_the_account_consent_deletes_the_person_after_a_confirmed_preview(
    http, session, orgs
):
    registered = (await _register(http, orgs)).json()
    pid = registered["person_id"]
    account = next(c for c in registered["consents"] if c["purpose"] == "self_care")
    url = f"/integration/people/{pid}/consents/{account['id']}/withdraw"

    preview = (await http.post(url + "/preview", headers=app_headers())).json()
    assert preview["ends_account"] is True
    assert preview["erasure"]["deleted"] == {"condition": 2, "consent": 2, "person": 1}
    # without the preview's confirmation nothing happens
    for body, code in (({}, "confirmation_required"), ({"confirmation": "x" * 32}, "confirmation_stale")):
        r = await http.post(url, json=body, headers=app_headers())
        assert (r.status_code, r.json()["code"]) == (409, code)
        assert session.get(Person, pid) is not None
    # data changes after the preview: the old confirmation no longer fits
    session.add(Condition(person_id=pid, code="copd"))
    session.commit()
    r = await http.post(url, json={"confirmation": preview["confirmation"]}, headers=app_headers())
    assert r.json()["code"] == "confirmation_stale"
    preview = (await http.post(url + "/preview", headers=app_headers())).json()
    r = await http.post(url, json={"confirmation": preview["confirmation"]}, headers=app_headers())
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["ends_account"] is True and out["erasure"]["deleted"]["person"] == 1
    session.expire_all()
    assert session.get(Person, pid) is None and not any(rows_about(session, pid).values())
    rec = last_audit(session)
    assert rec.person_id == pid and rec.purpose == "data_subject_request" and "deleted" in rec.reason


async def test_closing_the_account_deletes_everything_and_a_legal_hold_defers_it(http, session, orgs):
    pid = (await _register(http, orgs)).json()["person_id"]
    preview = (
        await http.post(f"/integration/people/{pid}/account/close/preview", headers=app_headers())
    ).json()
    assert preview["erasure"]["deleted"]["person"] == 1
    r = await http.post(
        f"/integration/people/{pid}/account/close",
        json={"confirmation": preview["erasure"]["confirmation"]},
        headers=app_headers(),
    )
    assert r.status_code == 200 and r.json()["erasure"]["deleted"]["person"] == 1
    session.expire_all()
    assert session.get(Person, pid) is None

    # a legal hold keeps the data although the account ended (the retention job deletes it later)
    pid = (await _register(http, orgs, _pnr(21))).json()["person_id"]
    elsa = bearer(await login(http, "elsa"))
    assert (
        await http.post(f"/subjects/{pid}/legal-holds", json={"reason": "claim pending"}, headers=elsa)
    ).status_code == 201
    preview = (
        await http.post(f"/integration/people/{pid}/account/close/preview", headers=app_headers())
    ).json()
    assert preview["erasure"]["legal_hold"] is True
    r = await http.post(
        f"/integration/people/{pid}/account/close",
        json={"confirmation": preview["erasure"]["confirmation"]},
        headers=app_headers(),
    )
    assert r.status_code == 200 and r.json()["deferred_by_legal_hold"] is True and r.json()["erasure"] is None
    session.expire_all()
    assert session.get(Person, pid) is not None
    assert all(
        c.status == "withdrawn" for c in session.scalars(select(Consent).where(Consent.person_id == pid))
    )
    # nothing is shared through the app any more
    anna = bearer(await login(http, "anna"))
    assert (await http.get(f"/patients/{pid}", headers=anna)).status_code == 403


async def test_the_app_records_objections_and_every_step_is_one_audit_record(http, session, orgs):
    pid = (await _register(http, orgs)).json()["person_id"]
    before = audit_count(session)
    r = await http.post(
        f"/integration/people/{pid}/objections", json={"kind": "mailings"}, headers=app_headers()
    )
    assert r.status_code == 200 and r.json()["active"] is True
    r = await http.post(
        f"/integration/people/{pid}/objections",
        json={"kind": "mailings", "objected": False},
        headers=app_headers(),
    )
    assert r.json()["active"] is False
    assert audit_count(session) == before + 2
    purposes = set(session.scalars(select(AuditEvent.purpose).where(AuditEvent.seq > before)))
    assert purposes == {"data_subject_request"}
