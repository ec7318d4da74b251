from datetime import date, timedelta

import pytest
from sqlalchemy import select

from clinic_server.db.models import Consent, Person
from clinic_tui.domain.categories import Category
from tests.conftest import audit_count, bearer, last_audit, login
from tests.factories import NOW

pytestmark = pytest.mark.api


@pytest.fixture
def people(world, session):
    north = world.org("Norra")
    south = world.org("Söder")
    imr = world.org("IMR", kind="imr")
    world.user("anna", "nurse", north)
    world.user("bertil", "nurse", south)
    world.user("david", "supervisor", north)
    world.user("sigrid", "supervisor", south)
    coach = world.user("cecilia", "coach", imr)
    p = {
        "nora": world.person("Nora", "Norrman"),
        "bo": world.person("Bo", "Bägge"),
        "sune": world.person("Sune", "Södergren"),
        "minor": world.person("Mini", "Minor", birth=date(NOW.year - 16, 3, 1)),
    }
    c = {
        "nora": world.consent(p["nora"], north),
        "nora_old": world.consent(p["nora"], north, status="withdrawn"),
        "bo_north": world.consent(p["bo"], north, categories=[Category.VITALS, Category.IDENTITY]),
        "bo_south": world.consent(p["bo"], south),
        "sune": world.consent(p["sune"], south),
        "minor": world.consent(p["minor"], north),
    }
    world.assign(coach, p["bo"])
    world.consent(p["bo"], imr, categories=[Category.FITNESS_TESTS], purpose="coaching")
    session.commit()
    return p, c


async def test_nurse_lists_only_her_organizations_consents_and_it_is_audited(http, people, session):
    p, c = people
    tokens = await login(http, "anna")
    before = audit_count(session)
    r = await http.get(f"/patients/{p['bo'].id}/consents", headers=bearer(tokens))
    assert r.status_code == 200, r.text
    body = r.json()
    assert [i["id"] for i in body["items"]] == [c["bo_north"].id]
    assert body["items"][0]["categories"] == ["identity", "vitals"]
    assert body["items"][0]["purpose"] == "care" and body["items"][0]["status"] == "active"
    assert audit_count(session) == before + 1
    rec = last_audit(session)
    assert (rec.action, rec.resource_type, rec.outcome, rec.person_id, rec.purpose) == (
        "read",
        "consent",
        "allowed",
        p["bo"].id,
        "care",
    )
    # withdrawn ones of her organization are listed too
    r = await http.get(f"/patients/{p['nora'].id}/consents", headers=bearer(tokens))
    assert {i["id"]: i["status"] for i in r.json()["items"]} == {
        c["nora"].id: "active",
        c["nora_old"].id: "withdrawn",
    }


async def test_consents_of_a_person_she_cannot_see_are_denied(http, people, session):
    p, _ = people
    tokens = await login(http, "anna")
    for key in ("sune", "minor"):
        before = audit_count(session)
        r = await http.get(f"/patients/{p[key].id}/consents", headers=bearer(tokens))
        assert r.status_code == 403
        assert audit_count(session) == before + 1
        rec = last_audit(session)
        assert (rec.action, rec.outcome, rec.person_id) == ("read", "denied", p[key].id)


@pytest.mark.parametrize("who", ["cecilia", "david"])
async def test_only_nurses_list_consents(http, people, session, who):
    p, _ = people
    tokens = await login(http, who)
    before = audit_count(session)
    r = await http.get(f"/patients/{p['bo'].id}/consents", headers=bearer(tokens))
    assert r.status_code == 403
    assert audit_count(session) == before + 1
    assert last_audit(session).outcome == "denied"


async def test_withdrawn_consent_takes_effect_on_the_very_next_request(http, people, session):
    p, c = people
    nora = p["nora"]
    tokens = await login(http, "anna")
    listed = (await http.get("/patients", headers=bearer(tokens))).json()["items"]
    assert nora.id in [i["id"] for i in listed]

    before = audit_count(session)
    r = await http.post(f"/patients/{nora.id}/consents/{c['nora'].id}/withdraw", headers=bearer(tokens))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "withdrawn" and r.json()["withdrawn_at"]
    assert audit_count(session) == before + 1
    rec = last_audit(session)
    assert (rec.action, rec.resource_type, rec.resource_id, rec.person_id, rec.outcome) == (
        "consent_change",
        "consent",
        c["nora"].id,
        nora.id,
        "allowed",
    )
    session.expire_all()
    stored = session.get(Consent, c["nora"].id)
    assert stored.status == "withdrawn" and stored.withdrawn_at is not None

    listed = (await http.get("/patients", headers=bearer(tokens))).json()["items"]
    assert nora.id not in [i["id"] for i in listed]
    r = await http.get(f"/patients/{nora.id}", headers=bearer(tokens))
    assert r.status_code == 403
    assert "no active consent" in last_audit(session).reason
    assert nora.given_name not in r.text


async def test_partial_withdrawal_keeps_the_other_organizations_access(http, people, session):
    p, c = people
    bo = p["bo"]
    anna = await login(http, "anna")
    r = await http.post(f"/patients/{bo.id}/consents/{c['bo_north'].id}/withdraw", headers=bearer(anna))
    assert r.status_code == 200
    assert (await http.get(f"/patients/{bo.id}", headers=bearer(anna))).status_code == 403
    bertil = await login(http, "bertil")
    assert (await http.get(f"/patients/{bo.id}", headers=bearer(bertil))).status_code == 200


async def test_withdrawing_another_organizations_consent_is_not_found(http, people, session):
    p, c = people
    tokens = await login(http, "anna")
    before = audit_count(session)
    r = await http.post(
        f"/patients/{p['bo'].id}/consents/{c['bo_south'].id}/withdraw", headers=bearer(tokens)
    )
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert audit_count(session) == before + 1
    rec = last_audit(session)
    assert (rec.action, rec.outcome) == ("consent_change", "denied")
    session.expire_all()
    assert session.get(Consent, c["bo_south"].id).status == "active"
    # a consent of someone else, named under a person she can see, is just as unknown
    r = await http.post(
        f"/patients/{p['nora'].id}/consents/{c['bo_north'].id}/withdraw", headers=bearer(tokens)
    )
    assert r.status_code == 404


async def test_withdrawing_twice_conflicts(http, people, session):
    p, c = people
    tokens = await login(http, "anna")
    before = audit_count(session)
    r = await http.post(
        f"/patients/{p['nora'].id}/consents/{c['nora_old'].id}/withdraw", headers=bearer(tokens)
    )
    assert r.status_code == 409 and r.json()["code"] == "already_withdrawn"
    assert audit_count(session) == before + 1
    assert last_audit(session).outcome == "denied"


async def test_withdrawal_needs_a_person_she_can_see_and_a_nurse(http, people, session):
    p, c = people
    anna = await login(http, "anna")
    r = await http.post(f"/patients/{p['sune'].id}/consents/{c['sune'].id}/withdraw", headers=bearer(anna))
    assert r.status_code == 403
    david = await login(http, "david")
    r = await http.post(f"/patients/{p['nora'].id}/consents/{c['nora'].id}/withdraw", headers=bearer(david))
    assert r.status_code == 403
    session.expire_all()
    assert session.get(Consent, c["sune"].id).status == "active"
    assert session.get(Consent, c["nora"].id).status == "active"


async def test_supervisor_restricts_and_releases_processing(http, people, session):
    p, _ = people
    nora = p["nora"]
    anna = await login(http, "anna")
    david = await login(http, "david")
    before = audit_count(session)
    r = await http.post(f"/patients/{nora.id}/restriction", json={"restricted": True}, headers=bearer(david))
    assert r.status_code == 200, r.text
    assert r.json() == {"person_id": nora.id, "restricted": True}
    assert audit_count(session) == before + 1
    rec = last_audit(session)
    assert (rec.action, rec.resource_type, rec.person_id, rec.outcome, rec.username, rec.purpose) == (
        "consent_change",
        "restriction",
        nora.id,
        "allowed",
        "david",
        "audit",
    )
    assert rec.details == {"previous": False, "restricted": True, "restricted_by": rec.organization_id}
    # the very next requests honour it
    assert (await http.get(f"/patients/{nora.id}", headers=bearer(anna))).status_code == 403
    assert "restricted" in last_audit(session).reason
    listed = (await http.get("/patients", headers=bearer(anna))).json()["items"]
    assert nora.id not in [i["id"] for i in listed]
    # released
    r = await http.post(f"/patients/{nora.id}/restriction", json={"restricted": False}, headers=bearer(david))
    assert r.json()["restricted"] is False
    assert (await http.get(f"/patients/{nora.id}", headers=bearer(anna))).status_code == 200


async def test_restriction_is_for_a_supervisor_of_a_related_organization(http, people, session):
    p, _ = people
    nora = p["nora"]
    for who in ("anna", "cecilia", "sigrid"):
        tokens = await login(http, who)
        before = audit_count(session)
        r = await http.post(
            f"/patients/{nora.id}/restriction", json={"restricted": True}, headers=bearer(tokens)
        )
        assert r.status_code == 403, who
        assert audit_count(session) == before + 1
        rec = last_audit(session)
        assert (rec.action, rec.outcome, rec.username) == ("consent_change", "denied", who)
    session.expire_all()
    assert session.get(Person, nora.id).restricted is False
    # unknown people get the same answer
    david = await login(http, "david")
    r = await http.post(
        "/patients/" + "0" * 32 + "/restriction", json={"restricted": True}, headers=bearer(david)
    )
    assert r.status_code == 403


async def test_an_invalid_body_still_leaves_exactly_one_audit_record(http, people, session):
    p, _ = people
    david = await login(http, "david")
    before = audit_count(session)
    r = await http.post(
        f"/patients/{p['nora'].id}/restriction", json={"restricted": "maybe"}, headers=bearer(david)
    )
    assert r.status_code == 422
    assert audit_count(session) == before + 1
    rec = last_audit(session)
    assert rec.outcome == "denied" and rec.username == "david" and rec.reason.startswith("invalid request")
    assert rec.action == "set_restriction" and rec.resource_id == p["nora"].id and rec.purpose == "audit"
    assert session.scalar(select(Person.restricted).where(Person.id == p["nora"].id)) is False


async def test_expired_consent_is_listed_as_active_but_past_valid_until(http, world, session):
    org = world.org("Exp")
    world.user("ella", "nurse", org)
    person = world.person("Ella", "Exp")
    world.consent(person, org)
    old = world.consent(person, org, valid_until=NOW - timedelta(days=2))
    session.commit()
    tokens = await login(http, "ella")
    items = (await http.get(f"/patients/{person.id}/consents", headers=bearer(tokens))).json()["items"]
    expired = next(i for i in items if i["id"] == old.id)
    assert expired["status"] == "active" and expired["valid_until"] is not None
