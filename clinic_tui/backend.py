"""The embedded demo backend: ``clinic-server`` as a child process on 127.0.0.1.

A child process (not a thread) so server work never stalls the UI. Its stdin is a pipe from us:
when this process ends, however it ends (exit, crash, Ctrl+C, SIGKILL), the pipe closes and the
child exits on its own. ``stop()`` also terminates it explicitly on a normal exit.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass


@dataclass
class BackendStatus:
    state: str  # starting, migrating, seeding, ready, failed; stopped (it ended after ready)
    message: str
    url: str | None = None


#: how long ``aclose`` lets the child shut down before it is killed
CLOSE_SECONDS = 3.0

STATUS_TEXT = {
    "starting": "Starting the demo backend…",
    "migrating": "Preparing the demo database…",
    "seeding": "Loading demo data (first run only)…",
}


class EmbeddedBackend:
    def __init__(self, on_status: Callable[[BackendStatus], None] | None = None, env: dict | None = None):
        self.on_status = on_status
        self.env = env
        self.proc: asyncio.subprocess.Process | None = None
        self.url: str | None = None
        self.ready = asyncio.Event()
        self.failure: str | None = None
        self._stderr_tail: list[str] = []
        self._stopping = False
        self._readers: list[asyncio.Task] = []

    def _emit(self, status: BackendStatus) -> None:
        if self.on_status:
            self.on_status(status)

    async def start(self) -> None:
        env = dict(os.environ if self.env is None else self.env)
        env["CLINIC_DEMO"] = "1"
        env.pop("CLINIC_DATABASE_URL", None)  # the demo always runs on its own SQLite file
        self._emit(BackendStatus("starting", STATUS_TEXT["starting"]))
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "clinic_server",
            "serve",
            "--embedded",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            start_new_session=True,  # a Ctrl+C in the terminal is ours to handle, not the child's
        )
        self._readers.append(asyncio.create_task(self._drain_stderr()))
        assert self.proc.stdout is not None
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                await self.proc.wait()
                self._close_stdin()
                self.failure = self._ended()
                self._emit(BackendStatus("failed", self.failure))
                self.ready.set()
                return
            try:
                event = json.loads(line)
            except ValueError:
                continue
            kind = event.get("event")
            if kind == "ready":
                self.url = f"http://127.0.0.1:{event['port']}"
                self._emit(BackendStatus("ready", "Demo backend ready.", self.url))
                self.ready.set()
                self._readers.append(asyncio.create_task(self._drain_stdout()))
                return
            if kind in STATUS_TEXT:
                self._emit(BackendStatus(kind, STATUS_TEXT[kind]))

    async def _drain_stdout(self) -> None:
        """Until the child ends; an end we did not ask for is reported as ``stopped``."""
        assert self.proc and self.proc.stdout
        while await self.proc.stdout.readline():
            pass
        await self.proc.wait()
        self._close_stdin()  # the last pipe: with it closed, the ended child's transport closes too
        if self._stopping:
            return
        self._emit(BackendStatus("stopped", self._ended()))

    def _ended(self) -> str:
        """What to tell the user of a child that ended: its exit status and its last words."""
        tail = " ".join(self._stderr_tail[-3:]).strip()
        return f"The demo backend stopped (exit {self.proc.returncode}). {tail}".strip()

    async def _drain_stderr(self) -> None:
        assert self.proc and self.proc.stderr
        while line := await self.proc.stderr.readline():
            self._stderr_tail = (self._stderr_tail + [line.decode(errors="replace").strip()])[-20:]

    def stop(self) -> None:
        """Terminate the child now (synchronous: safe to call while the app is shutting down)."""
        self._stopping = True
        proc = self.proc
        if proc is None:
            return
        if proc.returncode is None:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        self._close_stdin()

    async def aclose(self) -> None:
        """Stop the child and wait until it and its pipes are gone (SIGKILL after CLOSE_SECONDS)."""
        self.stop()
        proc = self.proc
        if proc is None:
            return
        try:
            await asyncio.wait_for(proc.wait(), CLOSE_SECONDS)
        except TimeoutError:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
        if self._readers:
            await asyncio.wait(self._readers, timeout=CLOSE_SECONDS)  # they end at the pipes' end of file

    def _close_stdin(self) -> None:
        with suppress(Exception):
            if self.proc is not None and self.proc.stdin is not None:
                self.proc.stdin.close()
