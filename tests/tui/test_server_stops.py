"""A stopped server must never lose what a user typed: a real uvicorn server, really stopped."""

import asyncio
import contextlib
import socket
import threading
from datetime import timedelta

import pytest
import uvicorn
from textual.widgets import Input, Static, TextArea
from textual.worker import WorkerFailed

from clinic_tui.app import ClinicApp
from clinic_tui.views.alerts import AlertQueueScreen
from clinic_tui.views.login import LoginScreen
from clinic_tui.widgets.modals import TextPrompt
from tests.factories import PASSWORD
from tests.tui.conftest import log_in, settle, toasts
from tests.vitals_util import clinic, now, obs, post

NOTE = "Phoned the patient: dizzy, advised to rest and re-measure at 18:00."


class RealServer:
    def __init__(self, app):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self):
        self.thread.start()
        while not self.server.started:
            threading.Event().wait(0.02)
        return self

    def stop(self):
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()

    def __exit__(self, *exc):
        if self.thread.is_alive():
            self.stop()


@pytest.fixture
def c(world, session):
    return clinic(world, session)


async def test_a_note_typed_when_the_server_stops_comes_back(app, c, http):
    await post(http, c.keys["nora"], obs("8480-6", 184, now() - timedelta(minutes=3)))
    with RealServer(app) as server:
        tui = ClinicApp(server_url=f"http://127.0.0.1:{server.port}")
        async with tui.run_test(size=(140, 45)) as pilot:
            await log_in(pilot, "anna", PASSWORD)
            assert isinstance(tui.screen, AlertQueueScreen)
            await pilot.press("a")
            await settle(pilot)
            await pilot.press("x")
            await settle(pilot)
            assert isinstance(tui.screen, TextPrompt)
            tui.screen.query_one(TextArea).insert(NOTE)
            await asyncio.to_thread(server.stop)  # the server goes away while she types
            await pilot.press("ctrl+s")
            await settle(pilot)
            # the dialog is back, with every word she wrote
            assert isinstance(tui.screen, TextPrompt)
            assert tui.screen.query_one(TextArea).text == NOTE


async def test_login_against_a_stopped_server_keeps_the_form(app, c):
    with RealServer(app) as server:
        tui = ClinicApp(server_url=f"http://127.0.0.1:{server.port}")
        async with tui.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await asyncio.to_thread(server.stop)
            await log_in(pilot, "anna", PASSWORD)
            assert isinstance(tui.screen, LoginScreen)
            assert "Cannot reach the server" in str(tui.screen.query_one("#login-error", Static).render())
            assert tui.screen.query_one("#username", Input).value == "anna"
            assert tui.screen.query_one("#password", Input).value == PASSWORD


async def test_a_patient_opened_while_the_server_is_gone_offers_nothing_of_the_previous_one(app, c, http):
    await post(http, c.keys["nora"], obs("8480-6", 184, now() - timedelta(minutes=3)))
    with RealServer(app) as server:
        tui = ClinicApp(server_url=f"http://127.0.0.1:{server.port}")
        async with tui.run_test(size=(140, 45), notifications=True) as pilot:
            await log_in(pilot, "anna", PASSWORD)
            tui.open_patient(c.people["nora"].id)
            await settle(pilot)

            def keys() -> set[str]:
                return {k.key for k in tui.screen.query("FooterKey")}

            assert {"a", "x", "4"} <= keys()  # nora: alerts and a chart
            await pilot.press("escape")
            await settle(pilot)
            await asyncio.to_thread(server.stop)
            tui.open_patient(c.people["bo"].id)
            for _ in range(20):  # (not settle: the failed loads are reported, not swallowed)
                await pilot.pause(0.05)
            # bo's record could not be fetched: the nurse is told, and none of nora's keys are offered
            assert "Loading" in str(tui.screen.query_one("#identity", Static).render())
            assert "Cannot reach the server" in toasts(tui)
            assert not {"a", "x", "4"} & keys() and "escape" in keys()


async def test_a_queue_reload_against_a_stopped_server_says_so(app, c, http):
    await post(http, c.keys["nora"], obs("8480-6", 184, now() - timedelta(minutes=3)))
    with RealServer(app) as server:
        tui = ClinicApp(server_url=f"http://127.0.0.1:{server.port}")
        async with tui.run_test(size=(140, 45), notifications=True) as pilot:
            await log_in(pilot, "anna", PASSWORD)
            assert isinstance(tui.screen, AlertQueueScreen)
            await asyncio.to_thread(server.stop)
            await pilot.press("r")
            for _ in range(20):
                await pilot.pause(0.05)
            assert "Cannot reach the server" in toasts(tui)
            assert tui.screen.alerts  # what was on screen stays


async def test_a_database_outage_is_told_keeps_the_note_and_recovers_by_itself(app, c, http, session):
    """The database refuses connections for a while (issue 14's fault run, seen from the nurse's
    chair): she is told the server cannot reach its database, her note stays in the dialog, and
    once the database is back the queue updates on its own and the same Ctrl+S saves the note."""
    from sqlalchemy import select

    from clinic_server.db import make_engine, make_sessionmaker
    from clinic_server.db.models import Alert
    from tests.api.test_database_unavailable import _closed_port

    await post(http, c.keys["nora"], obs("8480-6", 184, now() - timedelta(minutes=3)))
    working = app.state.sessionmaker
    down = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/nowhere?connect_timeout=2")
    with RealServer(app) as server:
        tui = ClinicApp(server_url=f"http://127.0.0.1:{server.port}")
        try:
            async with tui.run_test(size=(140, 45), notifications=True) as pilot:
                await log_in(pilot, "anna", PASSWORD)
                queue = tui.screen
                assert isinstance(queue, AlertQueueScreen) and len(queue.alerts) == 1
                await pilot.press("a")
                await settle(pilot)
                await pilot.press("x")
                await settle(pilot)
                assert isinstance(tui.screen, TextPrompt)
                tui.screen.query_one(TextArea).insert(NOTE)

                app.state.sessionmaker = make_sessionmaker(down)  # the database goes away
                await pilot.press("ctrl+s")
                await settle(pilot)
                assert isinstance(tui.screen, TextPrompt)  # the dialog is back, every word kept
                assert tui.screen.query_one(TextArea).text == NOTE
                assert "cannot reach its database" in toasts(tui)

                app.state.sessionmaker = working  # the database is back
                await pilot.press("ctrl+s")
                await settle(pilot)
                assert tui.screen is queue
            session.expire_all()
            alert = session.scalars(select(Alert)).one()
            assert alert.state == "resolved"

            # the queue, refreshed while the database was away, recovers on its next poll by itself
            tui = ClinicApp(server_url=f"http://127.0.0.1:{server.port}")
            async with tui.run_test(size=(140, 45), notifications=True) as pilot:
                await settle(pilot)  # (her session resumes from the keyring)
                if not isinstance(tui.screen, AlertQueueScreen):
                    await log_in(pilot, "anna", PASSWORD)
                queue = tui.screen
                assert isinstance(queue, AlertQueueScreen)
                await post(http, c.keys["nora"], obs("8480-6", 188, now() - timedelta(minutes=1)))
                app.state.sessionmaker = make_sessionmaker(down)
                with contextlib.suppress(WorkerFailed):  # (the app's error handler tells her)
                    await queue.poll().wait()
                for _ in range(10):
                    await pilot.pause(0.05)
                assert "cannot reach its database" in toasts(tui)
                assert not queue.alerts
                app.state.sessionmaker = working
                await queue.poll().wait()
                await settle(pilot)
                assert len(queue.alerts) == 1
        finally:
            app.state.sessionmaker = working
            down.dispose()
