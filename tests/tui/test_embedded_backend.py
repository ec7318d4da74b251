"""The embedded backend: a real child process that never outlives the app."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import httpx

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
        assert {a["username"] for a in server_info["demo_accounts"]} == {"anna", "bertil", "cecilia", "david"}
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
