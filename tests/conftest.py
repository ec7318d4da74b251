from __future__ import annotations

import os

import httpx
import keyring
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clinic_server.api.app import create_app
from clinic_server.db.models import AuditEvent
from clinic_server.settings import Settings
from tests.dbutil import fresh_database
from tests.factories import PASSWORD, World
from tests.memory_keyring import MemoryKeyring


@pytest.fixture(autouse=True)
def memory_keyring(tmp_path, monkeypatch):
    """No test ever touches the real OS keyring, the user's data directory or their settings."""
    previous = keyring.get_keyring()
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    monkeypatch.setenv("CLINIC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name in (
        "CLINIC_SERVER",
        "CLINIC_LANGUAGE",
        "CLINIC_LANG",
        "CLINIC_THEME",
        "CLINIC_KEYMAP",
        "CLINIC_LOCK_MINUTES",
    ):
        monkeypatch.delenv(name, raising=False)
    yield ring
    keyring.set_keyring(previous)


@pytest.fixture(autouse=True)
def english():
    """Every test starts and ends with the UI in English (the language is process-wide)."""
    from clinic_tui import i18n

    i18n.set_language("en")
    yield
    i18n.set_language("en")


@pytest.fixture
def db_url(tmp_path) -> str:
    return fresh_database(tmp_path)


@pytest.fixture
def settings(db_url) -> Settings:
    return Settings(
        database_url=db_url,
        secret_key="test-secret-" + "x" * 40,
        demo=False,
        slow_seconds=0.0,
    )


@pytest.fixture
def app(settings):
    application = create_app(settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def session(app):
    with app.state.sessionmaker() as s:
        yield s


@pytest.fixture
def world(session) -> World:
    return World(session)


@pytest.fixture
async def http(app):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver/api/v1") as client:
        yield client


async def login(http: httpx.AsyncClient, username: str, password: str = PASSWORD, **extra) -> dict:
    resp = await http.post("/auth/login", json={"username": username, "password": password, **extra})
    assert resp.status_code == 200, resp.text
    return resp.json()


def bearer(tokens: dict) -> dict:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def access_token(session: Session, user, secret: str, now=None, minutes: int = 10) -> str:
    """An access token of a fresh session of ``user`` (as logging in would open one)."""
    from clinic_server.db import utcnow
    from clinic_server.services.security import make_access_token, open_session

    now = now or utcnow()
    sid, _refresh = open_session(session, user.id, now, 1)
    session.commit()
    return make_access_token(user, secret, now, minutes, sid)


def audit_count(session: Session) -> int:
    session.rollback()
    session.expire_all()  # see other connections' commits
    return session.scalar(select(func.count()).select_from(AuditEvent))


def last_audit(session: Session) -> AuditEvent:
    session.rollback()
    session.expire_all()
    return session.scalar(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))


def pytest_report_header(config):
    url = os.environ.get("CLINIC_TEST_DATABASE_URL")
    return f"database: {'PostgreSQL ' + url if url else 'SQLite (temporary files)'}"
