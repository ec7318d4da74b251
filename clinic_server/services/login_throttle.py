"""Throttling logins: per username and source address, and per username across sources.

Each (username, source) pair has a row (``login_throttle``), also for names that are no account,
so the answers do not tell names apart. The check and the count are one atomic step: an attempt
first locks its row (an UPDATE, which takes PostgreSQL's row lock and SQLite's write lock), reads
it, counts itself as a failure and commits, and only then is the password checked; a success
resets the count. So N attempts sent at once are counted 1..N, and only those within the limits
are checked at all:

- after ``slow_after`` failures each further attempt from the pair must wait a little longer
  (``slow_seconds`` per failure, at most 5 s); an earlier one is answered 429 with Retry-After at
  once. No worker ever sleeps.
- the ``lockout_after``-th failure locks the pair for ``lockout_base_seconds``, doubling with each
  lockout in a row up to ``lockout_max_seconds``. An attacker locks only his own source out: the
  real user, elsewhere, is not affected.
- the row of source ``"*"`` counts the name's failures from every source within
  ``account_window_minutes``. At ``account_alert_after`` the account is under attack: the failure
  record says so (the user's supervisor sees it in the audit log), and until the window passes a
  source the user has not logged in from (``known_source_days``) is only let through with the
  password and a TOTP code. Known sources are let through as usual. Nothing locks forever.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from clinic_server.db.models import LoginThrottle
from clinic_server.settings import Settings

#: the source of the row that counts a name's failures from everywhere
ALL_SOURCES = "*"
#: the longest slow-down between two attempts of one pair
MAX_SLOW_SECONDS = 5.0
#: bookkeeping of failures older than this, with no block in force and no success, is dropped
#: (names sprayed by an attacker must not grow the table for ever)
FORGET_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class Gate:
    """What the throttle says about one attempt."""

    #: refused without a check: seconds until the pair may try again
    retry_after: int | None = None
    #: the account is under attack: only known sources, or password and TOTP, get through
    account_blocked_for: int | None = None
    #: the user logged in from this source lately
    known_source: bool = False


@dataclass(frozen=True)
class AccountFailures:
    """The name's failures from every source in the current window."""

    failures: int
    under_attack: bool
    #: this failure is the one that made it an attack (the supervisor is told once per window)
    started: bool


def _seconds(delta: timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds()))


def _locked_row(session: Session, username: str, source: str) -> LoginThrottle:
    """The pair's row, created if need be, locked until the transaction ends."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(LoginThrottle)
        .values(username=username, source=source, failures=0, lockouts=0)
        .on_conflict_do_nothing(index_elements=["username", "source"])
    )
    key = (LoginThrottle.username == username, LoginThrottle.source == source)
    # a write that changes nothing: it takes the lock before the row is read
    session.execute(
        update(LoginThrottle)
        .where(*key)
        .values(failures=LoginThrottle.failures)
        .execution_options(synchronize_session=False)
    )
    return session.scalars(select(LoginThrottle).where(*key).execution_options(populate_existing=True)).one()


def reserve(session: Session, settings: Settings, username: str, source: str, now: datetime) -> Gate:
    """Count an attempt before it is checked (and commit the count), or refuse it at once."""
    row = _locked_row(session, username, source)
    if row.blocked_until is not None and row.blocked_until > now:
        session.commit()
        return Gate(retry_after=_seconds(row.blocked_until - now))
    known = row.last_success_at is not None and row.last_success_at > now - timedelta(
        days=settings.known_source_days
    )
    row.failures += 1
    row.last_failure_at = now
    if row.failures >= settings.lockout_after:
        row.lockouts += 1
        seconds = min(settings.lockout_base_seconds * 2 ** (row.lockouts - 1), settings.lockout_max_seconds)
        row.blocked_until = now + timedelta(seconds=seconds)
        row.failures = 0
    elif row.failures >= settings.slow_after and settings.slow_seconds > 0:
        wait = min(settings.slow_seconds * (row.failures - settings.slow_after + 1), MAX_SLOW_SECONDS)
        row.blocked_until = now + timedelta(seconds=wait)
    account = session.scalar(
        select(LoginThrottle.blocked_until).where(
            LoginThrottle.username == username, LoginThrottle.source == ALL_SOURCES
        )
    )
    session.commit()
    blocked = _seconds(account - now) if account is not None and account > now else None
    return Gate(account_blocked_for=blocked, known_source=known)


def succeeded(session: Session, username: str, source: str, now: datetime) -> None:
    """The attempt passed: the pair starts afresh and its source is known (the caller commits)."""
    session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.username == username, LoginThrottle.source == source)
        .values(failures=0, lockouts=0, blocked_until=None, last_success_at=now)
        .execution_options(synchronize_session=False)
    )


def failed(session: Session, settings: Settings, username: str, now: datetime) -> AccountFailures:
    """Count a checked failure against the name from every source (the caller commits)."""
    row = _locked_row(session, username, ALL_SOURCES)
    window = timedelta(minutes=settings.account_window_minutes)
    if row.window_start is None or row.window_start <= now - window:
        row.window_start, row.failures = now, 0
    row.failures += 1
    row.last_failure_at = now
    under_attack = row.failures >= settings.account_alert_after
    if under_attack:
        # while the attack goes on, new sources keep needing the second factor
        row.blocked_until = now + window
    return AccountFailures(row.failures, under_attack, row.failures == settings.account_alert_after)


def prune(session: Session, now: datetime) -> int:
    """Drop the rows that no longer limit anything: no success to remember, no block in force, and
    no failure for ``FORGET_AFTER``. Returns how many went (the caller commits)."""
    return session.execute(
        delete(LoginThrottle)
        .where(
            LoginThrottle.last_success_at.is_(None),
            or_(LoginThrottle.blocked_until.is_(None), LoginThrottle.blocked_until < now),
            or_(LoginThrottle.last_failure_at.is_(None), LoginThrottle.last_failure_at < now - FORGET_AFTER),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
