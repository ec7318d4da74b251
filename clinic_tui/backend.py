"""The embedded demo backend: ``clinic-server`` as a child process on 127.0.0.1, and the
supervisor that keeps it running while the app runs.

A child process (not a thread) so server work never stalls the UI. Its stdin is a pipe from us:
when this process ends, however it ends (exit, crash, Ctrl+C, SIGKILL), the pipe closes and the
child exits on its own. ``stop()`` also terminates it explicitly on a normal exit.

The child reports what it is doing as JSON lines on stdout (migrating, seeding, ready with its
port and database). Everything here reports *states* (``BackendStatus``); the UI words them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass


@dataclass
class BackendStatus:
    #: starting, migrating, seeding, ready, failed (it never became ready), stopped (it ended after
    #: ready); from the supervisor: restarting, restarted, restart_failed, given_up
    state: str
    url: str | None = None
    #: the database the backend serves (its ``ready`` event says; names it, e.g. in the keyring)
    database: str | None = None
    #: how a child that ended did: its exit status and its last lines on stderr (for the user to read)
    exit_code: int | None = None
    detail: str = ""


#: how long ``aclose`` lets the child shut down before it is killed
CLOSE_SECONDS = 3.0
#: states the child reports on its own, before it is ready
PROGRESS = ("migrating", "seeding")
#: a backend that stops is started again, but not more than this many times in RESTART_WINDOW s
MAX_RESTARTS = 3
RESTART_WINDOW = 120.0


class EmbeddedBackend:
    def __init__(self, on_status: Callable[[BackendStatus], None] | None = None, env: dict | None = None):
        self.on_status = on_status
        self.env = env
        self.proc: asyncio.subprocess.Process | None = None
        self.url: str | None = None
        self.database: str | None = None
        self.ready = asyncio.Event()
        #: why it never became ready (exit status and last words; None while it runs or after ready)
        self.failure: str | None = None
        self._stderr_tail: list[str] = []
        self._stopping = False
        self._readers: list[asyncio.Task] = []

    def _emit(self, status: BackendStatus) -> None:
        if self.on_status:
            self.on_status(status)

    async def start(self) -> None:
        import json  # (here, not at import: the app starts the backend after its first paint)

        env = dict(os.environ if self.env is None else self.env)
        env["CLINIC_DEMO"] = "1"
        env.pop("CLINIC_DATABASE_URL", None)  # the demo always runs on its own SQLite file
        self._emit(BackendStatus("starting"))
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
                ended = self._ended("failed")
                self.failure = f"exit {ended.exit_code}. {ended.detail}".strip()
                self._emit(ended)
                self.ready.set()
                return
            try:
                event = json.loads(line)
            except ValueError:
                continue
            kind = event.get("event")
            if kind == "ready":
                self.url = f"http://127.0.0.1:{event['port']}"
                self.database = event.get("database")
                self._emit(BackendStatus("ready", self.url, self.database))
                self.ready.set()
                self._readers.append(asyncio.create_task(self._drain_stdout()))
                return
            if kind in PROGRESS:
                self._emit(BackendStatus(kind))

    async def _drain_stdout(self) -> None:
        """Until the child ends; an end we did not ask for is reported as ``stopped``."""
        assert self.proc and self.proc.stdout
        while await self.proc.stdout.readline():
            pass
        await self.proc.wait()
        self._close_stdin()  # the last pipe: with it closed, the ended child's transport closes too
        if self._stopping:
            return
        self._emit(self._ended("stopped"))

    def _ended(self, state: str) -> BackendStatus:
        """A child that ended: its exit status and its last words."""
        tail = " ".join(self._stderr_tail[-3:]).strip()
        return BackendStatus(state, self.url, self.database, exit_code=self.proc.returncode, detail=tail)

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


class BackendSupervisor:
    """Keeps the embedded backend running for the app.

    ``start`` starts the first one. When one stops under the app, another is started on the same
    database (the demo database is a file in the data directory), so the session (its refresh
    token is in that database) and whatever is on screen carry on; the client only needs the new
    address. After ``MAX_RESTARTS`` stops within ``RESTART_WINDOW`` seconds it gives up and says so.

    Every status (the child's own and the supervisor's) is posted through ``post``: the app turns
    them into ``BackendStatusChanged`` messages.
    """

    def __init__(self, post: Callable[[BackendStatus], object], env: dict | None = None):
        self.post = post
        self.env = env
        #: the backend running now (or being started)
        self.backend: EmbeddedBackend | None = None
        self._stops: list[float] = []
        self._restart: asyncio.Task | None = None
        self._closing = False

    async def start(self) -> EmbeddedBackend:
        """Start the first backend; its ``failure`` says why, if it never became ready."""
        return await self._launch()

    async def _launch(self) -> EmbeddedBackend:
        backend = EmbeddedBackend(on_status=lambda status: self._status(backend, status), env=self.env)
        self.backend = backend
        await backend.start()
        return backend

    def _status(self, backend: EmbeddedBackend, status: BackendStatus) -> None:
        self.post(status)
        if status.state == "stopped" and backend is self.backend and not self._closing:
            self._stopped(status)

    def _stopped(self, status: BackendStatus) -> None:
        now = time.monotonic()
        self._stops = [t for t in self._stops if now - t < RESTART_WINDOW] + [now]
        if len(self._stops) > MAX_RESTARTS:
            self.post(BackendStatus("given_up", exit_code=status.exit_code, detail=status.detail))
            return
        self.post(BackendStatus("restarting", exit_code=status.exit_code, detail=status.detail))
        self._restart = asyncio.create_task(self._start_again())

    async def _start_again(self) -> None:
        backend = await self._launch()
        if backend.failure is not None:
            self.post(
                BackendStatus("restart_failed", exit_code=backend.proc.returncode, detail=backend.failure)
            )
            return
        self.post(BackendStatus("restarted", backend.url, backend.database))

    def stop(self) -> None:
        """Terminate the running backend now (synchronous: safe while the app shuts down)."""
        self._closing = True
        if self.backend is not None:
            self.backend.stop()

    async def aclose(self) -> None:
        """Stop the backend and any restart under way, and wait until the child is gone."""
        self.stop()
        if self._restart is not None and not self._restart.done():
            self._restart.cancel()
            with suppress(asyncio.CancelledError):
                await self._restart
        if self.backend is not None:
            self.backend.stop()  # (one a cancelled restart had just begun)
            await self.backend.aclose()
