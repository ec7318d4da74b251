from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from clinic_server.db.models import BreakGlassGrant, PersonNotice
from clinic_tui.domain.categories import Category
from tests.conftest import audit_count, bearer, last_audit, login
from tests.factories import NOW

pytestmark = pytest.mark.api

REASON = "Unconscious on arrival at the emergency room, no relatives reachable"


@pytest.fixture
def people(world, session):
    north = world.org("Norra vårdcentralen")
    south = world.org("Söder")
    imr = world.org("IMR", kind="imr")
    world.user("anna", "nurse", north)
    world.user("bertil", "nurse", south)
    world.user("david", "supervisor", north)
    world.user("sigrid", "supervisor", south)
    world.user("cecilia", "coach", imr)
    p = {
        "stranger": world.person("Sten", "Stranger"),
        "consented": world.person("Nora", "Norrman"),
        "partial": world.person("Vera", "Vitals"),
        "restricted": world.person("Rut", "Restricted", restricted=True),
        "minor": world.person("Mini", "Minor", birth=date(NOW.year - 17, 1, 1)),
    }
    world.consent(p["consented"], north)
    world.consent(p["partial"], north, categories=[Category.VITALS])
    world.consent(p["stranger"], south)
    session.commit()
    return p


async def _glass(http, tokens, person, reason=REASON):
    return await http.post(
        f"/patients/{person.id}/break-glass", json={"reason": reason}, headers=bearer(tokens)
    )


async def test_break_the_glass_opens_the_record_for_a_time_and_is_audited(http, people, session, settings):
    person = people["stranger"]
    anna = await login(http, "anna")
    assert (await http.get(f"/patients/{person.id}", headers=bearer(anna))).status_code == 403

    before = audit_count(session)
    r = await _glass(http, anna, person)
    assert r.status_code == 201, r.text
    body = r.json()
    assert audit_count(session) == before + 1
    rec = last_audit(session)
    assert (rec.action, rec.resource_type, rec.resource_id, rec.person_id) == (
        "break_glass",
        "break_glass_grant",
        body["id"],
        person.id,
    )
    assert (rec.purpose, rec.outcome, rec.username) == ("emergency", "allowed", "anna")
    # the typed reason is on the grant, never in the audit record (kept for ever, people by id only)
    assert (
        rec.details["grant_id"] == body["id"] and REASON not in str(rec.details) and REASON not in rec.reason
    )

    grant = session.get(BreakGlassGrant, body["id"])
    minutes = (grant.expires_at - grant.created_at).total_seconds() / 60
    assert minutes == pytest.approx(settings.break_glass_minutes)
    assert grant.reviewed_at is None and grant.reason == REASON
    notice = session.scalar(select(PersonNotice).where(PersonNotice.person_id == person.id))
    assert notice.kind == "break_glass"
    assert "Norra vårdcentralen" in notice.text and grant.created_at.strftime("%H:%M") in notice.text
    assert "Unconscious" not in notice.text

    r = await http.get(f"/patients/{person.id}", headers=bearer(anna))
    assert r.status_code == 200
    detail = r.json()
    assert detail["access_basis"] == "break_glass" and detail["break_glass_until"]
    assert detail["personnummer"] == person.personnummer
    assert "profiling" in detail["withheld"] and "occupation" in detail["withheld"]
    rec = last_audit(session)
    assert (rec.action, rec.outcome, rec.purpose) == ("read", "allowed", "emergency")

    listed = (await http.get("/patients", headers=bearer(anna))).json()["items"]
    assert person.id in [i["id"] for i in listed]
    # the grant is the nurse's own: a colleague gains nothing
    bertil = await login(http, "bertil")
    other = await http.get(f"/patients/{people['consented'].id}", headers=bearer(bertil))
    assert other.status_code == 403


@pytest.mark.parametrize(("key", "words"), [("restricted", "restricted"), ("minor", "under 18")])
async def test_deny_overrides_break_the_glass(http, people, session, key, words):
    anna = await login(http, "anna")
    before = audit_count(session)
    r = await _glass(http, anna, people[key])
    assert r.status_code == 403
    assert audit_count(session) == before + 1
    rec = last_audit(session)
    assert (rec.action, rec.outcome, rec.person_id) == ("break_glass", "denied", people[key].id)
    assert words in rec.reason
    assert session.scalar(select(func.count()).select_from(BreakGlassGrant)) == 0
    assert session.scalar(select(func.count()).select_from(PersonNotice)) == 0


@pytest.mark.parametrize("key", ["consented", "partial"])
async def test_a_nurse_with_consent_access_needs_no_glass(http, people, session, key):
    anna = await login(http, "anna")
    r = await _glass(http, anna, people[key])
    assert r.status_code == 409 and r.json()["code"] == "already_has_access"
    rec = last_audit(session)
    assert (rec.action, rec.outcome) == ("break_glass", "denied")
    assert session.scalar(select(func.count()).select_from(BreakGlassGrant)) == 0


@pytest.mark.parametrize("who", ["cecilia", "david"])
async def test_only_nurses_break_the_glass(http, people, session, who):
    tokens = await login(http, who)
    before = audit_count(session)
    r = await _glass(http, tokens, people["stranger"])
    assert r.status_code == 403
    assert audit_count(session) == before + 1
    assert last_audit(session).outcome == "denied"


@pytest.mark.parametrize("reason", ["", "too short", "  short     ", "x" * 501])
async def test_the_reason_must_be_real(http, people, session, reason):
    anna = await login(http, "anna")
    before = audit_count(session)
    r = await _glass(http, anna, people["stranger"], reason)
    assert r.status_code == 422
    assert audit_count(session) == before + 1
    rec = last_audit(session)
    assert (rec.action, rec.outcome, rec.username) == ("break_glass", "denied", "anna")
    assert session.scalar(select(func.count()).select_from(BreakGlassGrant)) == 0


async def test_unknown_person_is_the_same_403(http, people):
    anna = await login(http, "anna")
    r = await http.post(
        "/patients/" + "a" * 32 + "/break-glass", json={"reason": REASON}, headers=bearer(anna)
    )
    assert r.status_code == 403


async def test_an_expired_grant_opens_nothing(http, people, session):
    person = people["stranger"]
    anna = await login(http, "anna")
    r = await _glass(http, anna, person)
    grant = session.get(BreakGlassGrant, r.json()["id"])
    grant.expires_at = NOW - timedelta(minutes=1)
    session.commit()
    r = await http.get(f"/patients/{person.id}", headers=bearer(anna))
    assert r.status_code == 403
    assert person.given_name not in r.text


async def test_supervisor_reviews_her_organizations_grants(http, people, session):
    anna = await login(http, "anna")
    grant_id = (await _glass(http, anna, people["stranger"])).json()["id"]
    bertil = await login(http, "bertil")
    other_id = (await _glass(http, bertil, people["consented"])).json()["id"]

    david = await login(http, "david")
    before = audit_count(session)
    r = await http.get("/audit/reviews", headers=bearer(david))
    assert r.status_code == 200
    items = r.json()["items"]
    assert [i["id"] for i in items] == [grant_id]
    assert items[0]["username"] == "anna" and items[0]["reason"] == REASON
    assert items[0]["person_id"] == people["stranger"].id
    assert audit_count(session) == before + 1
    rec = last_audit(session)
    assert (rec.action, rec.purpose, rec.outcome) == ("review_list", "audit", "allowed")

    # another organization's grant is not hers to review
    r = await http.post(f"/audit/reviews/{other_id}", json={"note": "ok"}, headers=bearer(david))
    assert r.status_code == 404

    r = await http.post(f"/audit/reviews/{grant_id}", json={"note": "  "}, headers=bearer(david))
    assert r.status_code == 422

    before = audit_count(session)
    r = await http.post(
        f"/audit/reviews/{grant_id}", json={"note": "Justified: ER admission"}, headers=bearer(david)
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (
        body["reviewed_by"] == "david"
        and body["reviewed_at"]
        and body["review_note"] == "Justified: ER admission"
    )
    assert audit_count(session) == before + 1
    rec = last_audit(session)
    assert (rec.action, rec.resource_id, rec.person_id, rec.outcome, rec.purpose) == (
        "review",
        grant_id,
        people["stranger"].id,
        "allowed",
        "audit",
    )

    r = await http.post(f"/audit/reviews/{grant_id}", json={"note": "again"}, headers=bearer(david))
    assert r.status_code == 409 and r.json()["code"] == "already_reviewed"
    assert "david" in r.json()["message"]
    assert last_audit(session).outcome == "denied"
    assert (await http.get("/audit/reviews", headers=bearer(david))).json()["items"] == []

    sigrid = await login(http, "sigrid")
    assert [i["id"] for i in (await http.get("/audit/reviews", headers=bearer(sigrid))).json()["items"]] == [
        other_id
    ]


@pytest.mark.parametrize("who", ["anna", "cecilia"])
async def test_reviews_are_for_supervisors(http, people, session, who):
    tokens = await login(http, who)
    for method, path, kw in (
        ("GET", "/audit/reviews", {}),
        ("POST", "/audit/reviews/" + "b" * 32, {"json": {"note": "fine"}}),
    ):
        before = audit_count(session)
        r = await http.request(method, path, headers=bearer(tokens), **kw)
        assert r.status_code == 403
        assert audit_count(session) == before + 1
        assert last_audit(session).outcome == "denied"
