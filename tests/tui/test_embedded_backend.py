"""The embedded backend: a real child process that never outlives the app."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import httpx

from tests.tui.conftest import log_in, settle, toasts

SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    from clinic_tui.backend import EmbeddedBackend

    async def main():
        backend = EmbeddedBackend()
        await backend.start()
        info = {"url": backend.url, "pid": backend.proc.pid, "failure": backend.failure}
        print(json.dumps(info), flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main())
    """
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_backend_serves_demo_data_and_dies_with_its_parent(tmp_path):
    env = dict(os.environ, CLINIC_DATA_DIR=str(tmp_path / "data"))
    parent = subprocess.Popen(
        [sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, text=True, env=env, start_new_session=True
    )
    try:
        line = parent.stdout.readline()
        info = json.loads(line)
        assert info["failure"] is None and info["url"].startswith("http://127.0.0.1:")
        server_info = httpx.get(info["url"] + "/api/v1/info", timeout=10).json()
        assert server_info["demo"] is True
        names = {a["username"] for a in server_info["demo_accounts"]}
        assert names == {"anna", "bertil", "cecilia", "david", "elsa", "eva", "frida", "gustav"}
        login = httpx.post(
            info["url"] + "/api/v1/auth/login",
            json={"username": "anna", "password": "demo-password"},
            timeout=10,
        )
        assert login.status_code == 200
        # the demo database lives in the data directory
        assert (tmp_path / "data" / "clinic.sqlite3").exists()
        child = info["pid"]
        assert _alive(child)
        # the app dies the hardest way; the backend must follow on its own
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(child), "the embedded backend outlived the app"
    finally:
        if parent.poll() is None:
            parent.kill()


async def test_a_stopped_demo_backend_is_started_again_and_the_typed_note_is_saved(tmp_path):
    """The child dies while the nurse types a resolve note: the app starts it again on the same
    database, her session goes on, and the note she had typed is saved by the new one."""
    from textual.widgets import TextArea

    from clinic_tui.app import ClinicApp
    from clinic_tui.views.alerts import AlertQueueScreen
    from clinic_tui.widgets.modals import TextPrompt
    from clinic_tui.widgets.row_table import RowTable

    app = ClinicApp()
    told: list[str] = []  # every notice shown, also one that timed out while a slow restart went on
    shown = app.notify
    app.notify = lambda message, *a, **kw: (told.append(str(message)), shown(message, *a, **kw))[1]
    async with app.run_test(size=(140, 45), notifications=True) as pilot:
        await app.client_ready.wait()
        first = app.supervisor.backend
        assert first is not None and first.failure is None
        await log_in(pilot, "anna", "demo-password")
        queue = app.screen
        assert isinstance(queue, AlertQueueScreen)
        keys = queue.query_one(RowTable).keys
        row = next(i for i, k in enumerate(keys) if queue.alerts[int(k)].state == "acknowledged")
        queue.query_one(RowTable).move_cursor(row=row)
        alert = queue.current_alert()
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, TextPrompt)
        app.screen.query_one(TextArea).insert("Checked at home visit; device was on a cold finger.")

        os.kill(first.proc.pid, signal.SIGKILL)
        for _ in range(600):
            backend = app.supervisor.backend
            if backend is not first and backend.url and app.session.client.base_url == backend.url:
                break
            await pilot.pause(0.05)
        else:
            raise AssertionError("the demo backend was not started again")
        assert app.supervisor.backend.url != first.url
        assert isinstance(app.screen, TextPrompt)  # what she was typing is still in front of her
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, AlertQueueScreen)  # still logged in: the session went on
        assert alert.id not in queue.alerts
        notices = " ".join(told)
        assert "stopped (exit -9)" in notices and "running again" in notices and "Alert resolved" in notices
    _assert_released(first)
    _assert_released(app.supervisor.backend)  # the one that was running when the app quit


async def test_a_demo_backend_that_keeps_stopping_is_not_restarted_forever(tmp_path, monkeypatch):
    from clinic_tui import backend as backend_module
    from clinic_tui.app import ClinicApp

    monkeypatch.setattr(backend_module, "MAX_RESTARTS", 0)
    app = ClinicApp()
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await app.client_ready.wait()
        first = app.supervisor.backend
        os.kill(first.proc.pid, signal.SIGKILL)
        for _ in range(200):
            if "keeps stopping" in toasts(app):
                break
            await pilot.pause(0.05)
        else:
            raise AssertionError(f"not told: {toasts(app)}")
        await pilot.pause(0.5)
        assert app.supervisor.backend is first  # no new one
    _assert_released(first)


def _assert_released(backend) -> None:
    """An ended child leaves no open pipe behind: an open one outlives the event loop and fails
    some later test when the garbage collector finds it."""
    assert backend.proc.returncode is not None
    transport = backend.proc._transport  # asyncio keeps the subprocess transport here
    pipes = [transport.get_pipe_transport(fd) for fd in (0, 1, 2)]
    assert all(pipe._pipe is None for pipe in pipes), transport  # each one's file closed
