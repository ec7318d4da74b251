"""Reusing a caller's policy decisions across requests, for exactly as long as they hold.

The alert queue asks ``policy.decide`` about every person a nurse might see (1,200 of them in
the benchmark) on every request: every filter keystroke and every 5-second poll. The answer only
changes when a fact ``decide`` reads changes, or when the clock passes a moment one of those facts
names. So a computed answer is kept with

- the policy generation it was computed under: a value that database triggers set anew, in the
  same transaction, on any write to consents, people, employers, coach assignments or
  break-the-glass grants (migration 0004), so every API process and every write path, the CLI
  and hand-run SQL included, invalidates it (a random value, so a restored or recreated database
  never returns to a generation an API process still holds answers for);
- ``policy.stable_until`` over all the facts: the first instant the clock alone could change a
  decision (a consent starting or running out, an 18th birthday, a grant expiring).

A request reads the generation first, then (on a miss) the facts, so an answer is never stored
under a generation older than the facts it was computed from. Nothing here decides anything: a
hit returns what ``decide`` answered for the same facts, and the request is audited as before.

Writes made with triggers switched off (``pg_restore --disable-triggers``, a replica session)
do not change the generation: restart the API processes after such a restore.

Each kept answer holds the ids and labels of the people a nurse may see (about 0.5 MB for 2,000
people); at most ``size`` answers are kept, the least recently used going first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic_server.db.models import PolicyGeneration

T = TypeVar("T")


def generation(session: Session) -> int:
    """The current policy generation, as this transaction sees it."""
    value = session.scalar(select(PolicyGeneration.value).where(PolicyGeneration.id == 1))
    if value is None:
        raise RuntimeError("policy_generation has no row: run `clinic-server migrate`")
    return value


@dataclass(frozen=True)
class _Entry(Generic[T]):
    generation: int
    computed_at: datetime
    until: datetime | None
    value: T


class DecisionCache(Generic[T]):
    """Answers by key (e.g. the actor), each valid for one generation and up to its ``until``."""

    def __init__(self, size: int = 64):
        self.size = size
        self._entries: OrderedDict[Hashable, _Entry[T]] = OrderedDict()
        self._lock = threading.Lock()
        #: answers served from the cache (tests check the cache is really used)
        self.hits = 0

    def get(
        self,
        session: Session,
        key: Hashable,
        now: datetime,
        compute: Callable[[], tuple[T, datetime | None]],
    ) -> T:
        """The cached answer for ``key`` if it still holds at ``now``, else ``compute()``'s.

        ``compute`` returns the answer and the instant it stops holding (None: it does not expire
        by time); it runs in the caller's transaction, after the generation was read.
        """
        current = generation(session)
        with self._lock:
            entry = self._entries.get(key)
            if (
                entry is not None
                and entry.generation == current
                and entry.computed_at <= now
                and (entry.until is None or now < entry.until)
            ):
                self._entries.move_to_end(key)
                self.hits += 1
                return entry.value
        value, until = compute()
        with self._lock:
            self._entries[key] = _Entry(current, now, until, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
