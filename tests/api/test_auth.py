from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from clinic_server.db import utcnow
from clinic_server.db.models import LoginThrottle, RefreshToken, User
from clinic_server.services.auth import pretends_totp
from tests.conftest import access_token, audit_count, bearer, last_audit, login
from tests.factories import PASSWORD

pytestmark = pytest.mark.api


@pytest.fixture
def nurse(world, session):
    org = world.org("Vårdcentralen Test")
    u = world.user("anna", "nurse", org)
    session.commit()
    return u


async def test_login_returns_short_lived_access_and_refresh_token(http, nurse, session):
    before = audit_count(session)
    tokens = await login(http, "anna")
    assert tokens["expires_in"] <= 15 * 60
    assert tokens["user"]["role"] == "nurse"
    assert audit_count(session) == before + 1
    rec = last_audit(session)
    assert (rec.action, rec.outcome, rec.username) == ("login", "allowed", "anna")
    me = await http.get("/auth/me", headers=bearer(tokens))
    assert me.json()["username"] == "anna"
    # an authenticated request leaves its own record too (issue 9)
    assert audit_count(session) == before + 2
    # the refresh token is stored hashed, never as given
    stored = session.scalars(select(RefreshToken.token_hash)).all()
    assert tokens["refresh_token"] not in stored and len(stored) == 1


async def test_wrong_password_is_401_and_audited(http, nurse, session):
    resp = await http.post("/auth/login", json={"username": "anna", "password": "nope"})
    assert resp.status_code == 401
    assert resp.json()["code"] == "invalid_credentials"
    rec = last_audit(session)
    assert (rec.action, rec.outcome, rec.username) == ("login_failed", "denied", "anna")


async def test_unknown_names_answer_like_accounts(http, nurse, settings):
    """A name that is no account answers like an account with TOTP or like one without (a keyed
    hash of the name chooses, the same every time), so the answer does not tell names apart."""
    answers = {}
    for i in range(12):
        name = f"nobody{i}"
        first = await http.post("/auth/login", json={"username": name, "password": "x"})
        again = await http.post("/auth/login", json={"username": name, "password": "y"})
        assert first.status_code == again.status_code == 401
        assert first.json()["code"] == again.json()["code"]
        assert first.json()["code"] == (
            "otp_required" if pretends_totp(settings, name) else "invalid_credentials"
        )
        answers[name] = first.json()["code"]
    assert set(answers.values()) == {"otp_required", "invalid_credentials"}
    # with a code, an unknown name always fails like a wrong password
    r = await http.post("/auth/login", json={"username": "nobody0", "password": "x", "otp": "123456"})
    assert r.json()["code"] == "invalid_credentials"


def _row(session, name="anna", source="127.0.0.1") -> LoginThrottle:
    session.expire_all()
    return session.get(LoginThrottle, (name, source))


async def test_lockout_after_repeated_failures_then_expires(http, nurse, session, settings):
    for _ in range(settings.lockout_after):
        r = await http.post("/auth/login", json={"username": "anna", "password": "wrong"})
        assert r.status_code == 401
    locked = await http.post("/auth/login", json={"username": "anna", "password": PASSWORD})
    assert locked.status_code == 429
    body = locked.json()
    assert body["code"] == "locked_out" and body["retry_after"] >= 1
    assert locked.headers["Retry-After"] == str(body["retry_after"])
    # the lock is temporary: once it has passed, the real user gets in
    row = _row(session)
    row.blocked_until = utcnow() - timedelta(seconds=1)
    session.commit()
    await login(http, "anna")


async def test_lockouts_grow_but_are_capped(http, nurse, session, settings):
    for round_ in range(8):
        row = _row(session)
        if row is not None:
            row.blocked_until = None
            session.commit()
        for _ in range(settings.lockout_after):
            await http.post("/auth/login", json={"username": "anna", "password": "wrong"})
        row = _row(session)
        length = (row.blocked_until - row.last_failure_at).total_seconds()
        expected = min(settings.lockout_base_seconds * 2**round_, settings.lockout_max_seconds)
        assert abs(length - expected) < 2


async def test_refresh_rotates_and_reuse_revokes_the_family(http, nurse, session):
    first = await login(http, "anna")
    r1 = await http.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r1.status_code == 200
    second = r1.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert last_audit(session).action == "token_refresh"
    # replaying the spent token: rejected, and the fresh one dies with it
    replay = await http.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    rec = last_audit(session)
    assert (rec.action, rec.outcome) == ("token_refresh", "denied") and "reused" in rec.reason
    after = await http.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert after.status_code == 401


async def test_logout_revokes_refresh_token(http, nurse):
    tokens = await login(http, "anna")
    out = await http.post(
        "/auth/logout", json={"refresh_token": tokens["refresh_token"]}, headers=bearer(tokens)
    )
    assert out.status_code == 204
    r = await http.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 401


async def test_expired_access_token_is_401_with_code(http, nurse, settings, session):
    token = access_token(session, nurse, settings.secret_key, utcnow() - timedelta(minutes=30))
    r = await http.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and r.json()["code"] == "token_expired"


async def test_missing_and_forged_tokens_are_401(http, nurse, session):
    assert (await http.get("/patients")).status_code == 401
    forged = access_token(session, nurse, "another-secret-" + "y" * 40)
    r = await http.get("/patients", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401 and r.json()["code"] == "invalid_token"


async def test_totp_second_factor(http, world, session):
    org = world.org("Org TOTP")
    secret = pyotp.random_base32()
    world.user("tove", "nurse", org, totp_secret=secret)
    session.commit()
    r = await http.post("/auth/login", json={"username": "tove", "password": PASSWORD})
    assert r.status_code == 401 and r.json()["code"] == "otp_required"
    bad = await http.post("/auth/login", json={"username": "tove", "password": PASSWORD, "otp": "000000"})
    assert bad.status_code == 401 and bad.json()["code"] == "invalid_credentials"
    ok = await login(http, "tove", otp=pyotp.TOTP(secret).now())
    assert ok["user"]["username"] == "tove"


async def test_disabled_user_cannot_log_in(http, nurse, session):
    session.get(User, nurse.id).is_active = False
    session.commit()
    r = await http.post("/auth/login", json={"username": "anna", "password": PASSWORD})
    assert r.status_code == 401


async def test_bad_input_is_a_clear_422(http, nurse):
    r = await http.post("/auth/login", json={"username": "", "password": "x"})
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_request" and "username" in r.json()["message"]


async def test_openapi_document_is_versioned(http):
    r = await http.get("/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    assert "/api/v1/patients" in paths and "/api/v1/auth/login" in paths


@pytest.mark.parametrize("stale", ["expired", "unknown key"])
async def test_requests_side_by_side_renew_a_stale_token_once(app, nurse, session, settings, stale):
    """Three requests find the access token refused at once (expired, or signed by a key a restarted
    server no longer has): the client refreshes once, all three succeed, and the session lives on
    (a second use of the same refresh token would have revoked it)."""
    import asyncio

    import httpx

    from clinic_tui.api.client import ClinicClient

    rotations = []
    client = ClinicClient(
        "http://127.0.0.1", transport=httpx.ASGITransport(app=app), on_refresh_token=rotations.append
    )
    try:
        await client.login("anna", PASSWORD)
        if stale == "expired":
            client._access = access_token(session, nurse, settings.secret_key, utcnow() - timedelta(hours=1))
        else:
            client._access = access_token(session, nurse, "an-earlier-run-" + "k" * 40)
        results = await asyncio.gather(client.me(), client.patients(), client.alerts())
        assert results[0].username == "anna"
        assert len(rotations) == 2  # the login's token, then exactly one refresh
        session.rollback()
        tokens = session.scalars(select(RefreshToken).where(RefreshToken.user_id == nurse.id)).all()
        # the login's session (two tokens, one rotated) beside the one the stale token was made of
        assert len(tokens) == 3 and all(t.revoked_at is None for t in tokens)
        assert (await client.me()).username == "anna"  # still logged in
    finally:
        await client.aclose()
