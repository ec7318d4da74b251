"""The audit checkpoint job: every ``audit_checkpoint_minutes`` (``CLINIC_AUDIT_CHECKPOINT_MINUTES``,
default 5; 0 turns it off) one checkpoint binding every shard's head (``audit/checkpoint.py``).

Processes sharing a database take turns through ``job_run`` (``jobs/runner.py``), so N processes
still make one checkpoint per interval; should two ever write at once, the checkpoint number is the
primary key and the later one fails. Each checkpoint's number and hash go to the server log too:
a copy outside the database, for the one attack the database alone cannot show (docs/audit.md).
``clinic-server audit checkpoint`` makes one at once.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from clinic_server.audit import checkpoint
from clinic_server.audit.chain import ts_text
from clinic_server.db import utcnow
from clinic_server.jobs.runner import Periodic, claim, release

log = logging.getLogger(__name__)

NAME = "audit-checkpoint"


def make_checkpoint(
    sessions: sessionmaker[Session], private_key=None, min_gap: timedelta = timedelta(0)
) -> str:
    """Make one checkpoint unless another process holds the job or made one within ``min_gap``;
    says what happened."""
    held = claim(sessions, NAME, utcnow(), min_gap)
    if held is None:
        return "skipped: another process holds the job or ran it lately"
    result, finished = "failed", False
    try:
        with sessions() as s:
            try:
                cp = checkpoint.make(s, private_key)
                s.commit()
            except IntegrityError:
                s.rollback()
                result, finished = "another process made this checkpoint", True
                return result
        if cp is None:
            result = "nothing appended since the last checkpoint"
        else:
            signed = f", signed by key {cp.key_id}" if cp.key_id else ", unsigned"
            result = f"checkpoint #{cp.id} at {ts_text(cp.ts)[:19]} UTC: {cp.hash}{signed}"
            log.info("audit %s", result)
        finished = True
        return result
    finally:
        release(sessions, NAME, held, result, finished=finished)


class CheckpointJob(Periodic):
    """The checkpoint in ``serve``."""

    name = NAME
    at_start = True

    def __init__(self, sessions: sessionmaker[Session], minutes: float, private_key=None):
        super().__init__(minutes * 60)
        self.sessions = sessions
        self.private_key = private_key

    def step(self) -> None:
        make_checkpoint(self.sessions, self.private_key, min_gap=timedelta(seconds=self.seconds * 0.9))
