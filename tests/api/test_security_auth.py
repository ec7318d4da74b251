"""Authentication, sessions and audit completeness as an attacker found them on 5f24edb (issue 9).

4. requests that fail before their scope opens (a malformed or too deep body, NUL bytes, no token)
   still leave their record, or are counted in the tally that cannot flood the chain;
6. what the client says about itself is checked, bounded, and recorded as asserted;
9. logout ends the access token at once;
10. parallel wrong passwords are counted atomically;
11. a lockout is per username and source; an attack on the account tells its supervisor, and
    known sources or password + TOTP still get in;
12. the slow-down answers 429 with Retry-After instead of holding a worker;
13. a TOTP code works once, and the answer does not tell whether the password was right.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import httpx
import pyotp
import pytest
from sqlalchemy import func, select, update

from clinic_server.api.app import create_app
from clinic_server.audit import tally
from clinic_server.db import utcnow
from clinic_server.db.models import AuditEvent, FailureTally, LoginThrottle, RefreshToken
from clinic_server.jobs.failure_tally import flush_failures
from tests.conftest import audit_count, bearer, last_audit, login
from tests.factories import PASSWORD

pytestmark = pytest.mark.api

LATER = timedelta(minutes=2)


@pytest.fixture
def org(world, session):
    o = world.org("Vårdcentralen Säker")
    world.user("anna", "nurse", o)
    world.user("david", "supervisor", o)
    person = world.person("Nora", "Norrman")
    world.consent(person, o)
    session.commit()
    return {"org": o, "nora": person}


def _client(app, source: str) -> httpx.AsyncClient:
    """A client whose requests come from ``source`` (an in-process label; nothing is sent anywhere)."""
    transport = httpx.ASGITransport(app=app, client=(source, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver/api/v1")


def _records(session, **where) -> list[AuditEvent]:
    session.rollback()
    session.expire_all()
    stmt = select(AuditEvent).order_by(AuditEvent.seq)
    for k, v in where.items():
        stmt = stmt.where(getattr(AuditEvent, k) == v)
    return list(session.scalars(stmt))


# --------------------------------------------------------------------------- 4: audit completeness


@pytest.mark.parametrize(
    "body",
    [b'{"reason": "Collapsed in the hall', b"[" * 100_000 + b"]" * 100_000],
    ids=["malformed", "too deep"],
)
async def test_a_body_refused_before_the_route_runs_is_recorded_as_the_caller(http, org, session, body):
    anna = await login(http, "anna")
    before = audit_count(session)
    r = await http.post(
        f"/patients/{org['nora'].id}/break-glass",
        content=body,
        headers=bearer(anna) | {"Content-Type": "application/json"},
    )
    assert r.status_code in (400, 422) and r.json()["code"] == "invalid_request", r.text
    assert audit_count(session) == before + 1
    rec = last_audit(session)
    assert (rec.username, rec.outcome, rec.action) == ("anna", "denied", "break_glass")
    assert rec.resource_id == org["nora"].id and rec.organization_id == org["org"].id


async def test_nul_bytes_are_a_clear_422_and_recorded(app, http, org, session):
    anna = await login(http, "anna")
    before = audit_count(session)
    r = await http.post(
        f"/patients/{org['nora'].id}/break-glass",
        json={"reason": "Collapsed\x00 in the waiting room"},
        headers=bearer(anna),
    )
    assert r.status_code == 422 and "NUL" in r.json()["message"], r.text
    assert audit_count(session) == before + 1 and last_audit(session).username == "anna"
    # a login name with NUL: refused before anything is looked up, counted in the tally
    r = await http.post("/auth/login", json={"username": "anna\x00", "password": "x"})
    assert r.status_code == 422 and "NUL" in r.json()["message"]
    assert audit_count(session) == before + 1
    [seq] = flush_failures(app.state.sessionmaker, utcnow() + LATER)
    assert session.get(AuditEvent, seq).details["counts"] == {"malformed_request": 1}


async def test_unauthenticated_failures_are_one_record_a_minute(app, http, org, session):
    before = audit_count(session)
    for _ in range(30):
        assert (await http.get("/patients")).status_code == 401
    for _ in range(5):
        r = await http.get("/patients", headers={"Authorization": "Bearer not.a.token"})
        assert r.status_code == 401
    await http.post("/patients/x/break-glass", content=b"{", headers={"Content-Type": "application/json"})
    await http.get("/no/such/path")
    assert audit_count(session) == before  # nothing written per request
    seqs = flush_failures(app.state.sessionmaker, utcnow() + LATER)
    assert len(seqs) == 1 and audit_count(session) == before + 1
    rec = last_audit(session)
    assert (rec.action, rec.outcome, rec.purpose, rec.organization_id) == (
        "unauthenticated_failures",
        "denied",
        "authentication",
        None,
    )
    assert rec.details["counts"] == {
        "no_token": 30,
        "bad_token": 5,
        "malformed_request": 1,
        "unknown_path": 1,
    }
    assert rec.details["busiest"][0]["source"] == "127.0.0.1" and rec.details["total"] == 37
    # flushed once: a second flush has nothing left
    assert flush_failures(app.state.sessionmaker, utcnow() + LATER) == []


def test_the_cli_flushes_the_finished_minutes(db_url, session, capsys):
    from clinic_server import cli

    tally.count(session, tally.Kind.DEVICE_KEY, "192.0.2.1", utcnow() - LATER)
    tally.count(session, tally.Kind.DEVICE_KEY, "192.0.2.1", utcnow() + LATER)  # not finished yet
    session.commit()
    assert cli.main(["--database-url", db_url, "flush-failures"]) == 0
    assert "1 finished minute(s) recorded" in capsys.readouterr().out
    assert last_audit(session).details["counts"] == {"device_key": 1}
    assert session.scalar(select(func.count()).select_from(FailureTally)) == 1


def test_the_tally_keeps_a_bounded_number_of_rows_a_minute(session):
    now = utcnow()
    for i in range(tally.MAX_SOURCES + 100):
        tally.count(session, tally.Kind.NO_TOKEN, f"198.51.100.{i}", now)
    session.commit()
    rows = session.scalar(select(func.count()).select_from(FailureTally))
    assert rows == tally.MAX_SOURCES + 1  # the rest under "(other sources)"
    from clinic_server.audit.chain import system_request

    [seq] = tally.flush(session, now + LATER, system_request("test"))
    session.commit()
    rec = session.get(AuditEvent, seq)
    assert rec.details["total"] == tally.MAX_SOURCES + 100
    assert len(rec.details["busiest"]) == tally.SHOWN_SOURCES


# --------------------------------------------------------------------------- 6: client facts


async def test_client_headers_are_checked_and_marked_as_asserted(http, org, session):
    anna = await login(http, "anna")
    headers = bearer(anna) | {
        "X-Request-Id": "abc\x01def",
        "X-Client-Name": "clinic-tui",
        "X-Client-Version": "9.9.9; DROP TABLE audit_event",
        "User-Agent": "x" * 500,
    }
    r = await http.get("/auth/me", headers=headers)
    assert r.status_code == 200
    rec = last_audit(session)
    assert (rec.client_name, rec.client_version) == ("clinic-tui", None)
    assert sorted(rec.details["client_rejected"]) == ["user-agent", "x-client-version", "x-request-id"]
    assert "client_asserted" not in rec.details and len(rec.request_id) == 32
    r = await http.get(
        "/auth/me", headers=bearer(anna) | {"X-Request-Id": "client-id-1", "X-Client-Version": "1.2.3"}
    )
    rec = last_audit(session)
    assert rec.details["client_asserted"] == {"request_id": "client-id-1"} and rec.client_version == "1.2.3"
    assert rec.request_id != "client-id-1"


# --------------------------------------------------------------------------- 9: sessions


async def test_logout_ends_the_access_token_at_once(http, org, session):
    tokens = await login(http, "anna")
    assert (await http.get("/auth/me", headers=bearer(tokens))).status_code == 200
    r = await http.post(
        "/auth/logout", json={"refresh_token": tokens["refresh_token"]}, headers=bearer(tokens)
    )
    assert r.status_code == 204
    r = await http.get("/auth/me", headers=bearer(tokens))
    assert r.status_code == 401 and r.json()["code"] == "session_expired"
    # a reused refresh token ends its session's access tokens too
    tokens = await login(http, "anna")
    renewed = (await http.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})).json()
    assert (await http.get("/auth/me", headers=bearer(renewed))).status_code == 200
    await http.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})  # the replay
    assert (await http.get("/auth/me", headers=bearer(renewed))).status_code == 401


async def test_a_session_ends_at_its_maximum_lifetime_however_often_it_is_renewed(
    http, org, session, settings
):
    tokens = await login(http, "anna")
    renewed = (await http.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})).json()
    # the login was longer ago than the longest session
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == renewed["user"]["id"])
        .values(created_at=utcnow() - timedelta(hours=settings.session_max_hours, minutes=1))
    )
    session.commit()
    r = await http.post("/auth/refresh", json={"refresh_token": renewed["refresh_token"]})
    assert r.status_code == 401 and r.json()["code"] == "session_expired"
    assert "maximum lifetime" in last_audit(session).reason
    assert (await http.get("/auth/me", headers=bearer(renewed))).status_code == 401


# --------------------------------------------------------------------------- 10, 11, 12: throttling


async def test_parallel_wrong_passwords_are_counted_atomically(http, org, session, settings):
    before = len(_records(session, action="login_failed", username="anna"))
    answers = await asyncio.gather(
        *(http.post("/auth/login", json={"username": "anna", "password": f"wrong-{i}"}) for i in range(25))
    )
    codes = sorted(r.status_code for r in answers)
    checked = codes.count(401)
    assert checked <= settings.lockout_after, codes
    assert codes.count(429) == 25 - checked
    # only the checked ones have a record of their own; the refused ones are in the tally
    assert len(_records(session, action="login_failed", username="anna")) - before == checked


async def test_a_lockout_is_per_source(app, org, session, settings):
    async with _client(app, "192.0.2.10") as attacker, _client(app, "198.51.100.7") as real:
        for _ in range(settings.lockout_after):
            await attacker.post("/auth/login", json={"username": "anna", "password": "wrong"})
        r = await attacker.post("/auth/login", json={"username": "anna", "password": PASSWORD})
        assert r.status_code == 429
        r = await real.post("/auth/login", json={"username": "anna", "password": PASSWORD})
        assert r.status_code == 200, r.text


async def test_an_attack_from_many_sources_tells_the_supervisor_and_spares_known_sources(
    app, org, session, settings, world
):
    secret = pyotp.random_base32()
    world.user("tove", "nurse", org["org"], totp_secret=secret)
    session.commit()
    async with _client(app, "198.51.100.1") as home:
        await login(home, "anna")  # a source anna is known at
    for i in range(settings.account_alert_after):
        async with _client(app, f"192.0.2.{i + 1}") as attacker:
            r = await attacker.post("/auth/login", json={"username": "anna", "password": "wrong"})
            assert r.status_code == 401
    rec = _records(session, action="login_failed", username="anna")[-1]
    assert rec.details["finding"] == "account_under_attack" and rec.organization_id == org["org"].id
    # the supervisor sees it
    async with _client(app, "198.51.100.2") as office:
        david = await login(office, "david")
        items = (await office.get("/audit/events", params={"username": "anna"}, headers=bearer(david))).json()
        assert any(i["details"].get("finding") == "account_under_attack" for i in items["items"])
    # a new source is refused, even with the right password; the known one gets in
    async with _client(app, "203.0.113.5") as new:
        r = await new.post("/auth/login", json={"username": "anna", "password": PASSWORD})
        assert r.status_code == 429 and r.json()["code"] == "locked_out"
    async with _client(app, "198.51.100.1") as home:
        await login(home, "anna")
    # not forever: when the window has passed, a new source gets in again
    session.expire_all()
    row = session.get(LoginThrottle, ("anna", "*"))
    row.blocked_until = utcnow() - timedelta(seconds=1)
    session.commit()
    async with _client(app, "203.0.113.5") as new:
        await login(new, "anna")
    # an account with TOTP under attack: a new source gets in with password and code
    for i in range(settings.account_alert_after):
        async with _client(app, f"192.0.2.{i + 1}") as attacker:
            await attacker.post(
                "/auth/login", json={"username": "tove", "password": "wrong", "otp": "000000"}
            )
    async with _client(app, "203.0.113.9") as new:
        r = await new.post("/auth/login", json={"username": "tove", "password": PASSWORD})
        assert r.status_code == 401 and r.json()["code"] == "otp_required"
        await login(new, "tove", otp=pyotp.TOTP(secret).now())


async def test_the_slow_down_answers_429_and_never_sleeps(settings, org, monkeypatch):
    def no_sleeping(seconds):
        raise AssertionError(f"a worker slept {seconds} s")

    monkeypatch.setattr(time, "sleep", no_sleeping)
    slow = create_app(settings.with_changes(slow_seconds=2.0, slow_after=2))
    try:
        async with _client(slow, "192.0.2.44") as c:
            for _ in range(2):
                r = await c.post("/auth/login", json={"username": "anna", "password": "wrong"})
                assert r.status_code == 401
            r = await c.post("/auth/login", json={"username": "anna", "password": PASSWORD})
            assert r.status_code == 429 and 1 <= r.json()["retry_after"] <= 2
            assert r.headers["Retry-After"] == str(r.json()["retry_after"])
            # other requests carry on meanwhile
            assert (await c.get("/health")).status_code == 200
    finally:
        slow.state.engine.dispose()


async def test_bookkeeping_of_sprayed_names_is_forgotten_but_known_sources_are_kept(app, http, org, session):
    from clinic_server.jobs.failure_tally import TallyFlusher

    for i in range(5):
        await http.post("/auth/login", json={"username": f"sprayed{i}", "password": "x"})
    await login(http, "anna")
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(LoginThrottle)) == 5 * 2 + 1
    session.execute(update(LoginThrottle).values(last_failure_at=utcnow() - timedelta(days=2)))
    session.commit()
    TallyFlusher(app.state.sessionmaker).step()
    session.expire_all()
    left = session.scalars(select(LoginThrottle)).all()
    assert [(r.username, r.last_success_at is not None) for r in left] == [("anna", True)]


# --------------------------------------------------------------------------- 13: TOTP


async def test_a_totp_code_works_once_and_the_answer_hides_the_password(http, world, session):
    org = world.org("Org TOTP")
    secret = pyotp.random_base32()
    world.user("tove", "nurse", org, totp_secret=secret)
    session.commit()
    right = await http.post("/auth/login", json={"username": "tove", "password": PASSWORD})
    wrong = await http.post("/auth/login", json={"username": "tove", "password": "not it"})
    assert right.status_code == wrong.status_code == 401
    assert right.json() == wrong.json() and right.json()["code"] == "otp_required"
    code = pyotp.TOTP(secret).now()
    await login(http, "tove", otp=code)
    replay = await http.post("/auth/login", json={"username": "tove", "password": PASSWORD, "otp": code})
    assert replay.status_code == 401 and replay.json()["code"] == "invalid_credentials"
    assert last_audit(session).details.get("totp") == "code already used"
