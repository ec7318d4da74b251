from datetime import date, timedelta

import pytest
from sqlalchemy import select

from clinic_server.db.models import AuditEvent
from clinic_tui.domain.categories import Category
from tests.conftest import audit_count, bearer, last_audit, login
from tests.factories import NOW

pytestmark = pytest.mark.api


@pytest.fixture
def two_orgs(world, session):
    north = world.org("Norra")
    south = world.org("Söder")
    imr = world.org("IMR", kind="imr")
    world.user("anna", "nurse", north)
    world.user("bertil", "nurse", south)
    world.user("david", "supervisor", north)
    world.user("cecilia", "coach", imr)
    p = {
        "north": world.person("Nora", "Norrman"),
        "south": world.person("Sune", "Södergren"),
        "both": world.person("Bo", "Bägge"),
        "withdrawn": world.person("Wilma", "Withdrawn"),
        "expired": world.person("Erik", "Expired"),
        "future": world.person("Fredrik", "Future"),
        "restricted": world.person("Rut", "Restricted", restricted=True),
        "minor": world.person("Mini", "Minor", birth=date(NOW.year - 17, 1, 1)),
        "vitals_only": world.person("Vera", "Vitalsonly"),
        "none": world.person("Nils", "Noconsent"),
    }
    world.consent(p["north"], north)
    world.consent(p["south"], south)
    world.consent(p["both"], north)
    world.consent(p["both"], south)
    world.consent(p["withdrawn"], north, status="withdrawn")
    world.consent(p["expired"], north, valid_until=NOW - timedelta(days=1))
    world.consent(p["future"], north, valid_from=NOW + timedelta(days=3))
    world.consent(p["restricted"], north)
    world.consent(p["minor"], north)
    world.consent(p["vitals_only"], north, categories=[Category.VITALS, Category.CONDITIONS])
    # consent to another purpose does not open care access
    world.consent(p["none"], north, purpose="coaching")
    session.commit()
    return p


async def _ids(http, who, **params):
    tokens = await login(http, who)
    r = await http.get("/patients", headers=bearer(tokens), params=params)
    assert r.status_code == 200, r.text
    return tokens, [item["id"] for item in r.json()["items"]], r.json()["items"]


async def test_each_nurse_sees_only_people_consenting_to_her_organization(http, two_orgs):
    _, anna, _ = await _ids(http, "anna")
    _, bertil, _ = await _ids(http, "bertil")
    p = two_orgs
    assert set(anna) == {p["north"].id, p["both"].id, p["vitals_only"].id}
    assert set(bertil) == {p["south"].id, p["both"].id}


async def test_direct_request_for_someone_else_is_denied_and_audited(http, two_orgs, session):
    tokens = await login(http, "anna")
    for key in ("south", "withdrawn", "expired", "future", "restricted", "minor", "none"):
        person = two_orgs[key]
        before = audit_count(session)
        r = await http.get(f"/patients/{person.id}", headers=bearer(tokens))
        assert r.status_code == 403, key
        assert r.json()["code"] == "not_permitted"
        assert person.given_name not in r.text and person.personnummer not in r.text
        assert audit_count(session) == before + 1
        rec = last_audit(session)
        assert (rec.action, rec.outcome, rec.person_id, rec.username) == ("read", "denied", person.id, "anna")
        assert rec.categories == []


async def test_denial_reasons_name_the_rule(http, two_orgs, session):
    tokens = await login(http, "anna")
    expect = {
        "restricted": "restricted",
        "minor": "under 18",
        "withdrawn": "no active consent",
        "expired": "no active consent",
    }
    for key, words in expect.items():
        await http.get(f"/patients/{two_orgs[key].id}", headers=bearer(tokens))
        assert words in last_audit(session).reason


async def test_unknown_id_gets_the_same_403_as_a_hidden_person(http, two_orgs, session):
    tokens = await login(http, "anna")
    r = await http.get("/patients/" + "f" * 32, headers=bearer(tokens))
    assert r.status_code == 403
    assert last_audit(session).reason == "no such person"


async def test_allowed_read_returns_shared_categories_and_is_audited(http, two_orgs, session):
    tokens = await login(http, "anna")
    person = two_orgs["north"]
    r = await http.get(f"/patients/{person.id}", headers=bearer(tokens))
    assert r.status_code == 200
    body = r.json()
    assert body["personnummer"] == person.personnummer
    assert body["contact"]["phone"] == person.phone
    assert [v["loinc"] for v in body["latest"]] == ["29463-7", "8480-6"]
    assert body["latest"][0]["unit"] == "kg"
    assert body["records"][0]["text"].startswith("Enalapril")
    rec = last_audit(session)
    assert (rec.action, rec.outcome, rec.person_id) == ("read", "allowed", person.id)
    assert "identity" in rec.categories and rec.purpose == "care"


async def test_partial_consent_withholds_fields_and_says_so(http, two_orgs):
    tokens = await login(http, "anna")
    person = two_orgs["vitals_only"]
    r = await http.get(f"/patients/{person.id}", headers=bearer(tokens))
    body = r.json()
    assert body["given_name"] is None and body["personnummer"] is None
    assert body["contact"] is None and body["records"] == []
    assert body["label"].startswith("Patient ")
    assert "identity" in body["withheld"] and "contact" in body["withheld"]
    assert set(body["shared"]) == {"vitals", "conditions"}
    for secret in (person.given_name, person.family_name, person.personnummer, person.phone, "Enalapril"):
        assert secret not in r.text
    assert body["latest"]


async def test_search_never_matches_on_withheld_identity(http, two_orgs):
    vera = two_orgs["vitals_only"]
    _, by_name, _ = await _ids(http, "anna", q="vera")
    _, by_pnr, _ = await _ids(http, "anna", q=vera.personnummer)
    assert by_name == [] and by_pnr == []
    _, by_condition, _ = await _ids(http, "anna", q="hypertension")
    assert vera.id in by_condition
    nora = two_orgs["north"]
    _, found, _ = await _ids(http, "anna", q=nora.personnummer)
    assert found == [nora.id]


async def test_people_with_hidden_identity_sort_after_by_pseudonym(http, two_orgs):
    _, ids, items = await _ids(http, "anna")
    assert items[-1]["id"] == two_orgs["vitals_only"].id
    assert [i["family_name"] for i in items[:-1]] == sorted(i["family_name"] for i in items[:-1])


async def test_list_is_one_audit_record_with_the_ids_returned(http, two_orgs, session):
    tokens = await login(http, "anna")
    before = audit_count(session)
    r = await http.get("/patients", headers=bearer(tokens))
    assert audit_count(session) == before + 1
    rec = last_audit(session)
    assert rec.action == "list" and rec.outcome == "allowed"
    assert sorted(rec.details["person_ids"]) == sorted(i["id"] for i in r.json()["items"])


async def test_supervisor_and_unassigned_coach_see_nobody(http, two_orgs):
    _, david, _ = await _ids(http, "david")
    _, cecilia, _ = await _ids(http, "cecilia")
    assert david == [] and cecilia == []


async def test_paging_walks_the_whole_list_once(http, world, session):
    org = world.org("Paging")
    world.user("paula", "nurse", org)
    people = [world.person("P", f"Fam{i:03d}") for i in range(7)]
    for p in people:
        world.consent(p, org)
    session.commit()
    tokens = await login(http, "paula")
    seen, cursor = [], None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        body = (await http.get("/patients", headers=bearer(tokens), params=params)).json()
        seen += [i["id"] for i in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == [p.id for p in people]


async def test_audit_rows_cannot_be_updated_or_deleted(http, two_orgs, session):
    await login(http, "anna")
    session.rollback()
    from sqlalchemy import delete, update
    from sqlalchemy.exc import DBAPIError

    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(update(AuditEvent).values(reason="edited"))
        session.flush()
    session.rollback()
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(delete(AuditEvent))
    session.rollback()
    assert session.scalar(select(AuditEvent.reason).limit(1)) != "edited"


@pytest.mark.parametrize("cursor", ["abc", "-3", "²", "٣"])  # "²" and "٣" pass str.isdigit()
async def test_a_cursor_the_server_never_gave_is_a_clear_422_and_audited(http, two_orgs, session, cursor):
    tokens = await login(http, "anna")
    before = audit_count(session)
    r = await http.get("/patients", headers=bearer(tokens), params={"cursor": cursor})
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_request" and "cursor" in r.json()["message"]
    assert audit_count(session) == before + 1
    rec = last_audit(session)
    assert (rec.action, rec.outcome) == ("list", "denied")
