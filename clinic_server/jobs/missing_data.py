"""The missing-data sweep, a scheduled job.

A patient who normally measures every day and goes quiet raises an alert only if something looks
for the silence: ``alerting.evaluate_missing`` does, and every ``clinic-server serve`` runs it
every ``missing_sweep_minutes`` (``CLINIC_MISSING_SWEEP_MINUTES``, default 15; 0 turns it off).
``clinic-server sweep-missing`` runs it once, for cron or by hand.

API processes that share one database take turns (``jobs/runner.py``), so it runs once per
interval however many there are. Each run appends one audit record: the system read every
monitored daily sender's latest measurement time, for care.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from clinic_server import __version__
from clinic_server.audit.chain import Who, system_request
from clinic_server.audit.scope import AuditScope
from clinic_server.db import utcnow
from clinic_server.jobs.runner import Periodic, claim, release
from clinic_server.services import alert_engine as alerting
from clinic_tui.domain.roles import Outcome, Purpose

log = logging.getLogger(__name__)

MISSING_SWEEP = "missing-data-sweep"
SYSTEM = Who(None, MISSING_SWEEP, "system", None)


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


def _scope(session: Session) -> AuditScope:
    """The run's one audit record: the system read the monitored daily senders' latest times."""
    scope = AuditScope(
        session,
        SYSTEM,
        system_request("clinic-server", __version__),
        action="sweep",
        resource_type="alert",
        purpose=Purpose.CARE,
    )
    scope.note(rule="missing_data")
    return scope


def sweep_missing(
    sessions: sessionmaker[Session], *, now: datetime | None = None, min_gap: timedelta = timedelta(0)
) -> SweepOutcome:
    """Run the missing-data sweep once, unless another run holds it or ran within ``min_gap``."""
    now = now or utcnow()
    held = claim(sessions, MISSING_SWEEP, now, min_gap)
    if held is None:
        return SweepOutcome(False, reason="another run holds it, or it ran moments ago")
    try:
        with sessions() as s:
            scope = _scope(s)
            raised = alerting.evaluate_missing(s, now, commit=False)
            scope.note(raised_or_renewed=raised)
            scope.close_and_commit(
                Outcome.ALLOWED, f"missing-data sweep: {raised} alert(s) raised or renewed"
            )
    except Exception as exc:
        # nothing of the run is kept; that it read people's data and failed is. If the database
        # itself is gone this fails too: logged, and the sweep's own error is the one raised
        try:
            with sessions() as s:
                _scope(s).fail(Outcome.ERROR, f"missing-data sweep failed: {type(exc).__name__}")
        except Exception:
            log.exception("could not audit the failed missing-data sweep")
        try:
            release(sessions, MISSING_SWEEP, held, f"failed: {type(exc).__name__}: {exc}", finished=False)
        except Exception:
            log.exception("could not release the missing-data sweep (its hold expires on its own)")
        raise
    outcome = SweepOutcome(True, raised)
    release(sessions, MISSING_SWEEP, held, outcome.summary(), finished=True)
    return outcome


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
