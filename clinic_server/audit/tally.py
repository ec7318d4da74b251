"""Unauthenticated failures, recorded in aggregate so that nobody can flood the audit chain.

A request that fails before anyone is known (no or a bad access token on a data route, an unknown
device key, a login refused by the throttle or for a name that is no account, an unknown refresh
token, a malformed body without a valid token, a server failure before anyone was known) is not
worth a record of its own, and an attacker could write millions of them. Each is counted instead:
one row per minute, kind and source address (``failure_tally``), incremented in place. ``flush``
turns every finished minute into ONE audit record (the totals per kind, the busiest sources with
their counts) and deletes its rows in the same transaction; ``jobs/failure_tally.py`` runs it
every minute in ``serve``.

So the chain grows by at most one such record a minute, whatever the traffic, and the table by at
most ``MAX_SOURCES`` rows a minute (further sources are counted under ``OTHER``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from clinic_server.audit.chain import RequestInfo, Who, append
from clinic_server.db.models import FailureTally
from clinic_tui.domain.roles import Outcome, Purpose

#: distinct (kind, source) rows kept per minute; the rest are counted under ``OTHER``
MAX_SOURCES = 500
OTHER = "(other sources)"
#: sources named in the flushed record (the busiest first); the totals cover every source
SHOWN_SOURCES = 50
ACTION = "unauthenticated_failures"
#: who the flushed record is by: nobody could be authenticated
NOBODY = Who(None, None, None, None)


class Kind:
    """What failed (the record's ``details.counts`` keys)."""

    NO_TOKEN = "no_token"  # noqa: S105 - a failure kind, not a secret
    BAD_TOKEN = "bad_token"  # noqa: S105 - a failure kind, not a secret
    DEVICE_KEY = "device_key"
    INTEGRATION_KEY = "integration_key"
    LOGIN_UNKNOWN_NAME = "login_unknown_name"
    LOGIN_THROTTLED = "login_throttled"
    REFRESH_UNKNOWN = "refresh_unknown"
    MALFORMED = "malformed_request"
    UNKNOWN_PATH = "unknown_path"
    SERVER_ERROR = "server_error"


def window_of(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


def count(session: Session, kind: str, source: str | None, now: datetime) -> None:
    """Count one failure of ``kind`` from ``source`` in ``now``'s minute (the caller commits)."""
    window = window_of(now)
    source = (source or "unknown")[:64]
    exists = session.scalar(
        select(func.count())
        .select_from(FailureTally)
        .where(FailureTally.window_start == window, FailureTally.kind == kind, FailureTally.source == source)
    )
    if not exists:
        rows = session.scalar(
            select(func.count()).select_from(FailureTally).where(FailureTally.window_start == window)
        )
        if rows >= MAX_SOURCES:
            source = OTHER
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(FailureTally).values(window_start=window, kind=kind, source=source, count=1, last_at=now)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["window_start", "kind", "source"],
            set_={"count": FailureTally.count + 1, "last_at": now},
        )
    )


def flush(session: Session, now: datetime, request: RequestInfo) -> list[int]:
    """Turn every finished minute into one audit record; returns their sequence numbers.

    The rows are deleted and the records appended in the session's transaction (the caller
    commits): two processes flushing at once cannot record a minute twice, since only one of
    them gets the deleted rows.
    """
    table = FailureTally.__table__
    rows = session.execute(
        delete(table)
        .where(table.c.window_start < window_of(now))
        .returning(table.c.window_start, table.c.kind, table.c.source, table.c.count, table.c.last_at)
    ).all()
    by_window: dict[datetime, list] = defaultdict(list)
    for row in rows:
        by_window[row.window_start].append(row)
    seqs = []
    for window in sorted(by_window):
        got = by_window[window]
        counts: dict[str, int] = defaultdict(int)
        per_source: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for row in got:
            counts[row.kind] += row.count
            per_source[row.source][row.kind] += row.count
        busiest = sorted(per_source.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
        total = sum(counts.values())
        seqs.append(
            append(
                session,
                who=NOBODY,
                request=request,
                action=ACTION,
                resource_type="request",
                outcome=Outcome.DENIED,
                reason=f"{total} unauthenticated failures in the minute from {window:%Y-%m-%d %H:%M} UTC",
                purpose=Purpose.AUTHENTICATION,
                details={
                    "window_start": window.isoformat(),
                    "window_end": (window + timedelta(minutes=1)).isoformat(),
                    "total": total,
                    "counts": dict(counts),
                    "sources": len(per_source),
                    "busiest": [
                        {"source": src, "total": sum(kinds.values()), "counts": dict(kinds)}
                        for src, kinds in busiest[:SHOWN_SOURCES]
                    ],
                },
            )
        )
    return seqs
