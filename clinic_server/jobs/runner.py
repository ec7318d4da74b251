"""Running scheduled work: claiming a job across API processes, and the periodic thread.

API processes that share one database take turns through the job's row in ``job_run``: a run
first claims the row (an UPDATE that succeeds only if no other run holds it and, for the
scheduler, the last run is older than most of an interval), so N processes still run a job once
per interval and never at the same time. A run that dies leaves a claim that runs out after
``HOLD``.
"""

from __future__ import annotations

import logging
import threading
import uuid
from abc import ABC, abstractmethod
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.orm import Session, sessionmaker

from clinic_server.db import utcnow
from clinic_server.db.models import JobRun

log = logging.getLogger(__name__)

#: how long a run may hold the job before another may take it over (a crashed run)
HOLD = timedelta(minutes=10)


def claim(sessions: sessionmaker[Session], name: str, now: datetime, min_gap: timedelta) -> str | None:
    """Take the job; returns this run's claim, or None if another run holds it or ran too lately."""
    claim = uuid.uuid4().hex
    with sessions() as s:
        claimed = s.execute(
            update(JobRun)
            .where(
                JobRun.name == name,
                or_(JobRun.running_until.is_(None), JobRun.running_until < now),
                or_(JobRun.last_finished_at.is_(None), JobRun.last_finished_at <= now - min_gap),
            )
            .values(holder=claim, running_until=now + HOLD)
        ).rowcount
        s.commit()
    return claim if claimed == 1 else None


def release(sessions: sessionmaker[Session], name: str, claim: str, result: str, finished: bool) -> None:
    """Give the job back, if this run still holds it (a run that outlived ``HOLD`` may not)."""
    values: dict = {"holder": None, "running_until": None, "last_result": result[:500]}
    if finished:  # a failed run does not count as a run: the next process may try at once
        values["last_finished_at"] = utcnow()
    with sessions() as s:
        s.execute(update(JobRun).where(JobRun.name == name, JobRun.holder == claim).values(**values))
        s.commit()


class Periodic(ABC):
    """A daemon thread that calls ``step`` every ``seconds`` until stopped (first at start if
    ``at_start``). A failing step is logged and the next one runs: a background job must never
    take the server down."""

    name = "periodic"
    at_start = False

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @abstractmethod
    def step(self) -> None:
        """One round of the job."""

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _step(self) -> None:
        try:
            self.step()
        except Exception:  # noqa: BLE001 - see the class docstring
            log.exception("%s failed", self.name)

    def _run(self) -> None:
        if self.at_start:
            self._step()
        while not self._stop.wait(self.seconds):
            self._step()
