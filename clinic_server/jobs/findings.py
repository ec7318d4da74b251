"""The privacy-monitoring scan, a scheduled job and ``clinic-server findings scan``.

Every ``serve`` runs the findings rules (``services/findings``) over the audit records added since
the last run, every ``findings_scan_minutes`` (``CLINIC_FINDINGS_SCAN_MINUTES``, default 5; 0
turns it off); API processes sharing a database take turns (``jobs/runner.py``), so it runs once
per interval however many there are. ``clinic-server findings scan`` runs it once, on demand
(``--from-start`` re-reads the whole log; stored findings are extended, never duplicated).

Each batch is one unit of work with one audit record (the system read audit records and, for the
relation rule, people's identity and contact data, for the log review), committed with the
findings it stored; the break-the-glass check is one more.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from clinic_server import __version__
from clinic_server.audit.chain import Who, system_request
from clinic_server.audit.scope import AuditScope
from clinic_server.db import utcnow
from clinic_server.jobs.runner import Periodic, claim, release
from clinic_server.services.findings import scan as scanning
from clinic_server.services.findings.identity import IdentityKey, scan_key
from clinic_server.settings import Settings
from clinic_tui.domain.categories import Category
from clinic_tui.domain.roles import Outcome, Purpose

log = logging.getLogger(__name__)

FINDINGS_SCAN = "findings-scan"
SYSTEM = Who(None, FINDINGS_SCAN, "system", None)


@dataclass
class ScanRun:
    ran: bool
    outcome: scanning.Outcome = field(default_factory=scanning.Outcome)
    seconds: float = 0.0
    links_skipped: int = 0
    #: why it did not run
    reason: str = ""

    def summary(self) -> str:
        if not self.ran:
            return f"skipped: {self.reason}"
        rate = (
            f", {self.outcome.records / self.seconds:,.0f} records/s"
            if self.seconds and self.outcome.records
            else ""
        )
        skipped = (
            f"; {self.links_skipped} user link(s) made with another identity key were left out"
            if self.links_skipped
            else ""
        )
        return f"{self.outcome.summary()} in {self.seconds:.2f} s{rate}{skipped}"


def _scope(session: Session, what: str) -> AuditScope:
    scope = AuditScope(
        session,
        SYSTEM,
        system_request("clinic-server", __version__),
        action="findings_scan",
        resource_type="audit_event",
        purpose=Purpose.SYSTEM,
    )
    scope.note(part=what)
    return scope


def _unit(session: Session, what: str, work) -> scanning.Outcome:
    """One unit of work: its findings and its audit record commit together."""
    scope = _scope(session, what)
    try:
        outcome = work()
    except Exception as exc:
        try:
            scope.fail(Outcome.ERROR, f"findings scan failed ({what}): {type(exc).__name__}")
        except Exception:
            log.exception("could not audit the failed findings scan")
        raise
    if outcome.records:
        scope.returned({Category.IDENTITY, Category.CONTACT, Category.OCCUPATION})
    scope.note(
        from_seq=outcome.first_seq or None,
        to_seq=outcome.last_seq or None,
        records=outcome.records,
        new=outcome.new,
        updated=outcome.updated,
        by_rule=dict(outcome.by_rule),
    )
    scope.close_and_commit(Outcome.ALLOWED, f"findings scan ({what}): {outcome.summary()}"[:500])
    return outcome


def scan_findings(
    sessions: sessionmaker[Session],
    key: IdentityKey | None,
    *,
    now: datetime | None = None,
    min_gap: timedelta = timedelta(0),
    from_start: bool = False,
    batch: int = scanning.BATCH,
    settle: timedelta = scanning.SETTLE,
) -> ScanRun:
    """Run the scan once, unless another run holds it or ran within ``min_gap``."""
    now = now or utcnow()
    held = claim(sessions, FINDINGS_SCAN, now, min_gap)
    if held is None:
        return ScanRun(False, reason="another run holds it, or it ran moments ago")
    started = time.perf_counter()
    total = scanning.Outcome()
    try:
        with sessions() as s:
            scan = scanning.Scan(s, now=now, key=key, from_start=from_start, batch=batch, settle=settle)
            for lo, hi in scan.ranges():
                total.add(_unit(s, "records", lambda lo=lo, hi=hi: scan.run_batch(lo, hi)))
            total.add(_unit(s, "break-the-glass reviews", scan.run_emergency))
            skipped = scan.links_skipped
    except Exception as exc:
        try:
            release(sessions, FINDINGS_SCAN, held, f"failed: {type(exc).__name__}: {exc}", finished=False)
        except Exception:
            log.exception("could not release the findings scan (its hold expires on its own)")
        raise
    run = ScanRun(True, total, time.perf_counter() - started, skipped)
    release(sessions, FINDINGS_SCAN, held, run.summary(), finished=True)
    return run


class FindingsScanner(Periodic):
    """The scan in ``serve``: at start and every ``minutes``."""

    name = FINDINGS_SCAN
    at_start = True

    def __init__(self, sessions: sessionmaker[Session], minutes: float, settings: Settings):
        super().__init__(minutes * 60)
        self.sessions = sessions
        self.settings = settings

    def step(self) -> None:
        # links may be made while the server runs: the key is looked up for every run
        with self.sessions() as s:
            key = scan_key(self.settings, s)
        run = scan_findings(self.sessions, key, min_gap=timedelta(seconds=self.seconds * 0.9))
        log.info("findings scan: %s", run.summary())
