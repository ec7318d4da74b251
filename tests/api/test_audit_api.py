"""The supervisor's audit API, and that every kind of request leaves a complete audit record."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from clinic_server.db import utcnow
from clinic_server.db.models import AuditEvent
from clinic_server.jobs.failure_tally import flush_failures
from clinic_tui.domain.categories import Category
from tests.conftest import audit_count, bearer, last_audit, login
from tests.factories import PASSWORD

pytestmark = pytest.mark.api

CLIENT = {"X-Client-Name": "clinic-tui", "X-Client-Version": "9.9.9"}
REASON = "Collapsed in the waiting room, needs medication list"


@pytest.fixture
def org_world(world, session):
    north = world.org("Norra")
    south = world.org("Söder")
    imr = world.org("IMR", kind="imr")
    world.user("anna", "nurse", north)
    world.user("anton", "nurse", north)
    world.user("bertil", "nurse", south)
    world.user("david", "supervisor", north)
    coach = world.user("cecilia", "coach", imr)
    p = {
        "nora": world.person("Nora", "Norrman"),
        "sune": world.person("Sune", "Södergren"),
        "stina": world.person("Stina", "Stranger"),
    }
    world.consent(p["nora"], north)
    world.consent(p["sune"], south)
    world.assign(coach, p["nora"])
    world.consent(p["nora"], imr, categories=[Category.FITNESS_TESTS], purpose="coaching")
    session.commit()
    return p


def _secrets(person) -> list[str]:
    return [
        person.given_name,
        person.family_name,
        person.personnummer,
        person.phone,
        person.email,
        "Enalapril",
    ]


async def test_only_supervisors_use_the_audit_api(http, org_world, session):
    for who in ("anna", "cecilia"):
        tokens = await login(http, who)
        for path in ("/audit/events", "/audit/verify", "/audit/reviews"):
            before = audit_count(session)
            r = await http.get(path, headers=bearer(tokens))
            assert r.status_code == 403, (who, path)
            assert audit_count(session) == before + 1
            rec = last_audit(session)
            assert (rec.outcome, rec.username, rec.purpose) == ("denied", who, "audit")


async def test_events_page_newest_first_and_filter(http, org_world, session):
    p = org_world
    anna = await login(http, "anna")
    for _ in range(3):
        await http.get(f"/patients/{p['nora'].id}", headers=bearer(anna))
    await http.get(f"/patients/{p['sune'].id}", headers=bearer(anna))  # denied
    await http.post("/auth/login", json={"username": "anna", "password": "wrong"})
    david = await login(http, "david")

    r = await http.get("/audit/events", params={"limit": 2}, headers=bearer(david))
    assert r.status_code == 200
    page = r.json()
    seqs = [i["seq"] for i in page["items"]]
    assert len(seqs) == 2 and seqs == sorted(seqs, reverse=True)
    assert page["next_before_seq"] == seqs[-1]
    r = await http.get("/audit/events", params={"limit": 2, "before_seq": seqs[-1]}, headers=bearer(david))
    assert max(i["seq"] for i in r.json()["items"]) < seqs[-1]

    # walk everything with a small page: each record once, in order
    seen, before = [], None
    while True:
        params = {"limit": 3} | ({"before_seq": before} if before else {})
        body = (await http.get("/audit/events", params=params, headers=bearer(david))).json()
        seen += [i["seq"] for i in body["items"]]
        before = body["next_before_seq"]
        if before is None:
            break
    assert seen == sorted(set(seen), reverse=True)

    reads = (
        await http.get(
            "/audit/events",
            params={"person_id": p["nora"].id, "action": "read", "username": "ANNA"},
            headers=bearer(david),
        )
    ).json()["items"]
    assert len(reads) == 3
    assert all(i["outcome"] == "allowed" and i["categories"] for i in reads)
    denied = (await http.get("/audit/events", params={"outcome": "denied"}, headers=bearer(david))).json()[
        "items"
    ]
    assert {(i["action"], i["username"]) for i in denied} >= {("read", "anna"), ("login_failed", "anna")}
    assert all(i["outcome"] == "denied" for i in denied)
    assert (
        await http.get("/audit/events", params={"outcome": "maybe"}, headers=bearer(david))
    ).status_code == 422


async def test_events_carry_no_personal_data_values(http, org_world, session):
    p = org_world
    anna = await login(http, "anna")
    await http.get(f"/patients/{p['nora'].id}", headers=bearer(anna))
    await http.get("/patients", params={"q": "norr"}, headers=bearer(anna))
    await http.get(f"/patients/{p['nora'].id}/consents", headers=bearer(anna))
    david = await login(http, "david")
    r = await http.get("/audit/events", params={"limit": 500}, headers=bearer(david))
    assert p["nora"].id in r.text
    for secret in _secrets(p["nora"]):
        assert secret not in r.text


async def test_a_supervisor_sees_her_organizations_records_only(app, http, org_world, session):
    p = org_world
    bertil = await login(http, "bertil")
    await http.get(f"/patients/{p['sune'].id}", headers=bearer(bertil))
    cecilia = await login(http, "cecilia")
    await http.get(f"/patients/{p['nora'].id}", headers=bearer(cecilia))
    anton = await login(http, "anton")
    await http.get(f"/patients/{p['nora'].id}", headers=bearer(anton))
    await http.post("/auth/login", json={"username": "nobody", "password": "x"})
    flush_failures(app.state.sessionmaker, utcnow() + timedelta(minutes=2))
    david = await login(http, "david")
    items = (await http.get("/audit/events", params={"limit": 500}, headers=bearer(david))).json()["items"]
    users = {i["username"] for i in items}
    assert {"anton", "david"} <= users
    # the unknown name's failure is in the minute's aggregate record, which names no one
    [tallied] = [i for i in items if i["action"] == "unauthenticated_failures"]
    assert tallied["details"]["counts"] == {"login_unknown_name": 1} and tallied["person_id"] is None
    assert "nobody" not in str(tallied)
    assert not users & {"bertil", "cecilia"}
    assert p["sune"].id not in str(items)


async def test_each_audit_call_is_itself_audited(http, org_world, session):
    david = await login(http, "david")
    before = audit_count(session)
    await http.get("/audit/events", params={"person_id": org_world["nora"].id}, headers=bearer(david))
    assert audit_count(session) == before + 1
    rec = last_audit(session)
    assert (rec.action, rec.resource_type, rec.purpose, rec.outcome) == (
        "audit_query",
        "audit_event",
        "audit",
        "allowed",
    )
    assert rec.person_id == org_world["nora"].id and rec.details["filters"] == {
        "person_id": org_world["nora"].id
    }
    before = audit_count(session)
    r = await http.get("/audit/verify", headers=bearer(david))
    assert r.status_code == 200
    body = r.json()
    assert body["ok"] is True and body["checked"] == before and body["first_bad_seq"] is None
    assert audit_count(session) == before + 1
    assert last_audit(session).action == "audit_verify"


async def test_every_kind_of_request_leaves_a_complete_record(http, org_world, session):
    """DESIGN "Audit record": who, what, when, why, outcome + reason, request id, client, hashes."""
    p = org_world
    h = dict(CLIENT)

    async def call(method, path, token=None, **kw):
        headers = h | ({"Authorization": f"Bearer {token['access_token']}"} if token else {})
        before = audit_count(session)
        r = await http.request(method, path, headers=headers, **kw)
        assert audit_count(session) == before + 1, (method, path, r.status_code)
        return r, last_audit(session)

    checks = []
    r, rec = await call("POST", "/auth/login", json={"username": "anna", "password": PASSWORD})
    anna = r.json()
    checks.append(("login", rec, "allowed", "authentication", True))
    _, rec = await call("POST", "/auth/login", json={"username": "anna", "password": "nope"})
    checks.append(("login_failed", rec, "denied", "authentication", True))
    r, rec = await call("POST", "/auth/refresh", json={"refresh_token": anna["refresh_token"]})
    anna = r.json()
    checks.append(("token_refresh", rec, "allowed", "authentication", True))
    _, rec = await call("GET", "/patients", anna)
    checks.append(("list", rec, "allowed", "care", True))
    _, rec = await call("GET", "/patients", anna, params={"q": "nora"})
    checks.append(("search", rec, "allowed", "care", True))
    _, rec = await call("GET", f"/patients/{p['nora'].id}", anna)
    checks.append(("read", rec, "allowed", "care", True))
    _, rec = await call("GET", f"/patients/{p['sune'].id}", anna)
    checks.append(("read", rec, "denied", "care", True))
    r, rec = await call("GET", f"/patients/{p['nora'].id}/consents", anna)
    checks.append(("read", rec, "allowed", "care", True))
    consent_id = r.json()["items"][0]["id"]
    _, rec = await call("POST", f"/patients/{p['stina'].id}/break-glass", anna, json={"reason": REASON})
    checks.append(("break_glass", rec, "allowed", "emergency", True))
    _, rec = await call("GET", f"/patients/{p['stina'].id}", anna)
    checks.append(("read", rec, "allowed", "emergency", True))
    _, rec = await call("POST", f"/patients/{p['nora'].id}/consents/{consent_id}/withdraw", anna)
    checks.append(("consent_change", rec, "allowed", "care", True))
    cecilia = (await call("POST", "/auth/login", json={"username": "cecilia", "password": PASSWORD}))[
        0
    ].json()
    _, rec = await call("GET", f"/patients/{p['nora'].id}", cecilia)
    checks.append(("read", rec, "allowed", "coaching", True))
    david = (await call("POST", "/auth/login", json={"username": "david", "password": PASSWORD}))[0].json()
    _, rec = await call("POST", f"/patients/{p['nora'].id}/restriction", david, json={"restricted": True})
    checks.append(("consent_change", rec, "allowed", "audit", True))
    r, rec = await call("GET", "/audit/reviews", david)
    checks.append(("review_list", rec, "allowed", "audit", True))
    grant_id = r.json()["items"][0]["id"]
    _, rec = await call("POST", f"/audit/reviews/{grant_id}", david, json={"note": "justified"})
    checks.append(("review", rec, "allowed", "audit", True))
    _, rec = await call("GET", "/audit/events", david)
    checks.append(("audit_query", rec, "allowed", "audit", True))
    _, rec = await call("GET", "/patients", david)
    checks.append(("list", rec, "allowed", "audit", True))
    _, rec = await call("POST", "/auth/logout", anna, json={"refresh_token": anna["refresh_token"]})
    checks.append(("logout", rec, "allowed", "authentication", True))
    # a name that is no account: counted in the tally, recorded once for the minute (audit/tally.py)
    before = audit_count(session)
    r = await http.post("/auth/login", headers=h, json={"username": "ghost", "password": "nope"})
    assert r.status_code == 401 and audit_count(session) == before

    for action, rec, outcome, purpose, known_user in checks:
        what = (action, rec.seq)
        assert rec.action == action, what
        assert rec.outcome == outcome, what
        assert rec.purpose == purpose, what
        assert rec.resource_type, what
        assert rec.reason, what
        assert rec.ts is not None and rec.request_id, what
        assert (rec.client_name, rec.client_version) == ("clinic-tui", "9.9.9"), what
        assert len(rec.hash) == 64 and len(rec.prev_hash) == 64, what
        assert isinstance(rec.categories, list) and isinstance(rec.details, dict), what
        assert rec.username, what
        if known_user:
            assert rec.user_id and rec.role and rec.organization_id, what
        if action in ("read", "break_glass", "consent_change", "review"):
            assert rec.person_id, what
        returns_data = rec.resource_type == "person" and purpose != "audit"
        if action in ("read", "list", "search") and outcome == "allowed" and returns_data:
            assert rec.categories, what


async def test_a_request_id_sent_by_the_client_is_kept_as_asserted(http, org_world, session):
    """The record's request id is the server's own; the client's is kept as what it asserted, so a
    reused id cannot make two requests one in the log (issue 9, item 6)."""
    anna = await login(http, "anna")
    for _ in range(2):  # the same id twice
        await http.get(
            f"/patients/{org_world['nora'].id}", headers=bearer(anna) | {"X-Request-ID": "req-1234567890"}
        )
        rec = last_audit(session)
        assert rec.request_id != "req-1234567890"
        assert rec.details["client_asserted"] == {"request_id": "req-1234567890"}
    ids = session.scalars(select(AuditEvent.request_id)).all()
    assert len(set(ids)) == len(ids)
