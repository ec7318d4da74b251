"""Scheduled server jobs: the missing-data sweep.

A patient who normally measures every day and goes quiet raises an alert only if something looks
for the silence: ``alerting.evaluate_missing`` does, and every ``clinic-server serve`` runs it
every ``missing_sweep_minutes`` (``CLINIC_MISSING_SWEEP_MINUTES``, default 15; 0 turns it off).
``clinic-server sweep-missing`` runs it once, for cron or by hand.

API processes that share one database take turns through the job's row in ``job_run``: a run
first claims the row (an UPDATE that succeeds only if no other run holds it and, for the
scheduler, the last run is older than most of an interval), so N processes still sweep once per
interval and never at the same time. A run that dies leaves a claim that runs out after
``HOLD``. Each run appends one audit record: the system read every monitored daily sender's
latest measurement time, for care.
"""

from __future__ import annotations

import logging
import threading
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.orm import Session, sessionmaker

from clinic_server import __version__, audit
from clinic_server.db import utcnow
from clinic_server.db.models import JobRun
from clinic_server.services import alert_engine as alerting

log = logging.getLogger(__name__)

MISSING_SWEEP = "missing-data-sweep"
#: how long a run may hold the job before another may take it over (a crashed run)
HOLD = timedelta(minutes=10)
SYSTEM = audit.Who(None, MISSING_SWEEP, "system", None)


@dataclass(frozen=True)
class SweepOutcome:
    ran: bool
    raised: int = 0
    #: why it did not run
    reason: str = ""

    def summary(self) -> str:
        if not self.ran:
            return f"skipped: {self.reason}"
        return f"{self.raised} missing-data alert(s) raised or renewed"


def _claim(sessions: sessionmaker[Session], name: str, now: datetime, min_gap: timedelta) -> str | None:
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


def _release(sessions: sessionmaker[Session], name: str, claim: str, result: str, finished: bool) -> None:
    """Give the job back, if this run still holds it (a run that outlived ``HOLD`` may not)."""
    values: dict = {"holder": None, "running_until": None, "last_result": result[:500]}
    if finished:  # a failed run does not count as a run: the next process may try at once
        values["last_finished_at"] = utcnow()
    with sessions() as s:
        s.execute(update(JobRun).where(JobRun.name == name, JobRun.holder == claim).values(**values))
        s.commit()


def _record(session: Session, outcome: str, reason: str, details: dict) -> None:
    audit.append(
        session,
        who=SYSTEM,
        request=audit.system_request("clinic-server", __version__),
        action="sweep",
        resource_type="alert",
        outcome=outcome,
        reason=reason,
        purpose="care",
        details={"rule": "missing_data", **details},
    )


def sweep_missing(
    sessions: sessionmaker[Session], *, now: datetime | None = None, min_gap: timedelta = timedelta(0)
) -> SweepOutcome:
    """Run the missing-data sweep once, unless another run holds it or ran within ``min_gap``."""
    now = now or utcnow()
    claim = _claim(sessions, MISSING_SWEEP, now, min_gap)
    if claim is None:
        return SweepOutcome(False, reason="another run holds it, or it ran moments ago")
    try:
        with sessions() as s:
            raised = alerting.evaluate_missing(s, now, commit=False)
            _record(s, "allowed", f"missing-data sweep: {raised} alert(s) raised or renewed",
                    {"raised_or_renewed": raised})  # fmt: skip
            s.commit()
    except Exception as exc:
        # nothing of the run is kept; that it read people's data and failed is. If the database
        # itself is gone these fail too: logged, and the sweep's own error is the one raised
        try:
            with sessions() as s:
                _record(s, "error", f"missing-data sweep failed: {type(exc).__name__}", {})
                s.commit()
        except Exception:
            log.exception("could not audit the failed missing-data sweep")
        try:
            _release(sessions, MISSING_SWEEP, claim, f"failed: {type(exc).__name__}: {exc}", finished=False)
        except Exception:
            log.exception("could not release the missing-data sweep (its hold expires on its own)")
        raise
    outcome = SweepOutcome(True, raised)
    _release(sessions, MISSING_SWEEP, claim, outcome.summary(), finished=True)
    return outcome


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


class MissingDataSweeper(Periodic):
    """The sweep in ``serve``: at start and every ``minutes``."""

    name = MISSING_SWEEP
    at_start = True

    def __init__(self, sessions: sessionmaker[Session], minutes: float):
        super().__init__(minutes * 60)
        self.sessions = sessions

    def step(self) -> None:
        # another process's run within most of an interval counts as this one's
        outcome = sweep_missing(self.sessions, min_gap=timedelta(seconds=self.seconds * 0.9))
        log.info("missing-data sweep: %s", outcome.summary())
