"""The retention job: remove what the privacy policies no longer let us keep.

``services/retention.py`` says who is due and by which rule; this job erases them as the rule's
controller promises (IMR anonymizes, ImagineCare deletes; ``services/erasure.py`` walks the data
map) and removes retained bookkeeping rows whose date has passed. A person under a legal hold is
left alone and counted.

Every ``clinic-server serve`` runs it every ``retention_hours`` (``CLINIC_RETENTION_HOURS``,
default 24; 0 turns it off), at start too unless a run finished within the interval; processes
sharing a database take turns (``jobs/runner.py``). ``clinic-server retention run [--dry-run]``
runs it once. Each run, a dry run too, appends one audit record with what it removed (or would),
by rule: people counted and named by opaque id, rows counted per table.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from clinic_server import __version__
from clinic_server.audit.chain import Who, system_request
from clinic_server.audit.scope import AuditScope
from clinic_server.db import utcnow
from clinic_server.jobs.runner import Periodic, claim, release
from clinic_server.services import erasure, retention
from clinic_server.services.retention import PersonDue
from clinic_tui.domain.rights import BOOKKEEPING
from clinic_tui.domain.roles import Outcome, Purpose

log = logging.getLogger(__name__)

RETENTION = "retention"
SYSTEM = Who(None, RETENTION, "system", None)


@dataclass(frozen=True)
class RetentionOutcome:
    ran: bool
    dry_run: bool = False
    #: the people removed (or due, in a dry run), in the order the rules chose them
    due: list[PersonDue] = field(default_factory=list)
    #: rule id -> rows per table (deleted, anonymized, retained)
    rows: dict[str, dict] = field(default_factory=dict)
    #: bookkeeping rows removed (or due) after their date
    billing: int = 0
    #: people a rule applies to but a legal hold keeps
    held: int = 0
    reason: str = ""

    def by_rule(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for d in self.due:
            out[d.due.rule.id] += 1
        return dict(sorted(out.items()))

    def summary(self) -> str:
        if not self.ran:
            return f"skipped: {self.reason}"
        verb = "would remove" if self.dry_run else "removed"
        rules = ", ".join(f"{rule} {n}" for rule, n in self.by_rule().items()) or "nobody due"
        return (
            f"{verb}: {len(self.due)} people ({rules}); "
            f"{self.billing} bookkeeping record(s) past their date; {self.held} held by a legal hold"
        )


def _scope(session: Session, dry_run: bool) -> AuditScope:
    return AuditScope(
        session,
        SYSTEM,
        system_request("clinic-server", __version__),
        action="retention_dry_run" if dry_run else "retention_run",
        resource_type="person",
        purpose=Purpose.SYSTEM,
    )


def _run(session: Session, now: datetime, dry_run: bool) -> RetentionOutcome:
    scope = _scope(session, dry_run)
    assessment = retention.assess(session, now)
    groups: dict[tuple[str, str], list[PersonDue]] = defaultdict(list)
    for d in assessment.due:
        groups[(d.due.rule.id, d.mode)].append(d)
    rows: dict[str, dict] = {}
    billing = assessment.billing_due
    if not dry_run:
        for (rule_id, mode), items in sorted(groups.items()):
            done = erasure.erase(session, [d.person_id for d in items], mode, now)
            rows[rule_id] = done.summary()
        billing = sum(erasure.remove_expired_retained(session, now.astimezone(UTC).date()).values())
    outcome = RetentionOutcome(True, dry_run, assessment.due, rows, billing, len(assessment.held))
    scope.note(
        dry_run=dry_run,
        as_of=now.isoformat(),
        rules={
            rule_id: {
                "version": items[0].due.rule.version,
                "mode": str(mode),
                "people": len(items),
                "person_ids": [d.person_id for d in items],
                "rows": rows.get(rule_id, {}),
            }
            for (rule_id, mode), items in sorted(groups.items())
        },
        bookkeeping={"rule": BOOKKEEPING.id, "version": BOOKKEEPING.version, "rows": billing},
        held=len(assessment.held),
    )
    scope.close_and_commit(Outcome.ALLOWED, f"retention: {outcome.summary()}")
    return outcome


def run_retention(
    sessions: sessionmaker[Session],
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    min_gap: timedelta = timedelta(0),
) -> RetentionOutcome:
    """Run retention once (a dry run changes nothing and needs no turn), unless another run holds it
    or one finished within ``min_gap``."""
    now = now or utcnow()
    held = None
    if not dry_run:
        # taking turns is about the wall clock; ``now`` is the day the rules are applied as of
        held = claim(sessions, RETENTION, utcnow(), min_gap)
        if held is None:
            return RetentionOutcome(False, reason="another run holds it, or it ran within the interval")
    try:
        with sessions() as s:
            outcome = _run(s, now, dry_run)
    except Exception as exc:
        try:
            with sessions() as s:
                _scope(s, dry_run).fail(Outcome.ERROR, f"retention failed: {type(exc).__name__}")
        except Exception:
            log.exception("could not audit the failed retention run")
        if held is not None:
            try:
                release(sessions, RETENTION, held, f"failed: {type(exc).__name__}", finished=False)
            except Exception:
                log.exception("could not release the retention job (its hold expires on its own)")
        raise
    if held is not None:
        release(sessions, RETENTION, held, outcome.summary(), finished=True)
    return outcome


class RetentionJob(Periodic):
    """Retention in ``serve``: at start (unless it ran within the interval) and every ``hours``."""

    name = RETENTION
    at_start = True

    def __init__(self, sessions: sessionmaker[Session], hours: float):
        super().__init__(hours * 3600)
        self.sessions = sessions

    def step(self) -> None:
        outcome = run_retention(self.sessions, min_gap=timedelta(seconds=self.seconds * 0.9))
        log.info("retention: %s", outcome.summary())
