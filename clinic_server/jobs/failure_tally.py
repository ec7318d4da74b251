"""Flushing the tally of unauthenticated failures into the audit chain, once a minute, and
forgetting login bookkeeping that no longer limits anything.

``audit/tally.py`` counts failures nobody can be named for; this job turns each finished minute
into one audit record in every ``serve`` (``clinic-server flush-failures`` does it once, by hand).
Processes sharing a database need no turn-taking: the flush deletes the rows it records in the
same transaction, so only one of them records a given minute.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from clinic_server import __version__
from clinic_server.audit import tally
from clinic_server.audit.chain import system_request
from clinic_server.db import utcnow
from clinic_server.jobs.runner import Periodic
from clinic_server.services import login_throttle

log = logging.getLogger(__name__)

NAME = "failure-tally-flush"


def flush_failures(sessions: sessionmaker[Session], now: datetime | None = None) -> list[int]:
    """Record every finished minute of the tally; the sequence numbers of the records written."""
    with sessions() as s:
        seqs = tally.flush(s, now or utcnow(), system_request("clinic-server", __version__))
        s.commit()
    return seqs


class TallyFlusher(Periodic):
    """The flush in ``serve``: every minute."""

    name = NAME

    def __init__(self, sessions: sessionmaker[Session], seconds: float = 60.0):
        super().__init__(seconds)
        self.sessions = sessions

    def step(self) -> None:
        seqs = flush_failures(self.sessions)
        if seqs:
            log.info("unauthenticated failures: %d minute(s) recorded", len(seqs))
        with self.sessions() as s:
            login_throttle.prune(s, utcnow())
            s.commit()
