"""A database that cannot be reached is a 503 the client can retry, not a server error.

Found by the fault run (``bench/fault_run.py``): while the database refused connections every
request was answered 500 ``server_error`` ("the server ran into an error ... tell your
administrator"). It is now 503 ``service_unavailable`` with ``Retry-After``; a query that is wrong
stays a 500.
"""

from __future__ import annotations

import socket

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from clinic_server.api.app import RETRY_AFTER_UNAVAILABLE_S, create_app, database_unavailable
from clinic_server.settings import Settings
from clinic_tui.api.client import ApiError, ClinicClient
from clinic_tui.errors import describe

pytestmark = pytest.mark.api


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once the socket is closed


@pytest.fixture
async def unreachable():
    url = f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/nowhere?connect_timeout=2"
    app = create_app(Settings(database_url=url, secret_key="test-secret-" + "x" * 40, demo=False))
    try:
        yield app
    finally:
        app.state.engine.dispose()


async def test_a_database_that_refuses_connections_is_a_503_to_retry(unreachable):
    # as uvicorn does, send the handler's response (Starlette re-raises the error after it, for logs)
    transport = httpx.ASGITransport(app=unreachable, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver/api/v1") as http:
        r = await http.post("/auth/login", json={"username": "anna", "password": "whatever-it-is"})
        assert r.status_code == 503, r.text
        assert r.json()["code"] == "service_unavailable"
        assert r.json()["retry_after"] == RETRY_AFTER_UNAVAILABLE_S
        assert r.headers["Retry-After"] == str(RETRY_AFTER_UNAVAILABLE_S)
        r = await http.get("/alerts", headers={"Authorization": "Bearer not-even-a-token"})
        assert r.status_code == 401  # refused before the database is needed: unchanged

    # what the user is shown
    client = ClinicClient("http://127.0.0.1", transport=transport)
    try:
        with pytest.raises(ApiError) as refused:
            await client.login("anna", "whatever-it-is")
    finally:
        await client.aclose()
    assert (refused.value.status, refused.value.code) == (503, "service_unavailable")
    problem = describe(refused.value)
    assert problem.title == "Server unavailable"
    assert "nothing was changed" in problem.text and "Try again" in problem.text


def test_a_wrong_query_is_not_taken_for_an_unavailable_database(app):
    with app.state.engine.connect() as conn, pytest.raises(DBAPIError) as failed:
        conn.execute(text("SELECT * FROM no_such_table"))
    assert not database_unavailable(failed.value)
    assert not database_unavailable(RuntimeError("boom"))
