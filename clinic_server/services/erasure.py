"""Erasure and anonymization of people, driven by the data map: nothing here names a table.

For every ``Holding`` of ``access/data_map.py`` the rows linked to the people being erased are
treated as the holding says:

- ``DELETE``: removed;
- ``ANONYMIZE``: in an IMR anonymization, the ``anonymized`` columns of the rows whose category a
  statistics consent covers are first copied into ``anonymized_record`` with no link to anyone
  (sex, a ten-year age band, the month instead of the date, no grouping key), then the rows are
  removed; in a deletion they are simply removed;
- ``RETAIN``: unlinked from the person and kept until the holding's ``retain_until`` date
  (bookkeeping), when the retention job removes them; rows already past that date go at once;
- ``KEEP``: left alone (the audit log, which names people by opaque id only, so its hash chain
  still verifies and nothing personal remains).

Rows go children first (the order of the schema's foreign keys), the person row last, in set-based
statements over chunks of people, in the caller's transaction. A person under a legal hold is
never erased (``held``). On SQLite, ``secure_delete`` is switched on first so the freed pages are
overwritten, not merely unlinked.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Table, and_, delete, func, insert, or_, select, text, update
from sqlalchemy.orm import Session

from clinic_server.access.data_map import BY_TABLE, HOLDINGS, Erasure, Holding
from clinic_server.db.models import AnonymizedRecord, Base, Consent, LegalHold, Person, new_id
from clinic_tui.domain.categories import Category
from clinic_tui.domain.rights import ConsentPurpose, ErasureMode, age_band

CHUNK = 500


def ordered_holdings() -> list[Holding]:
    """The holdings, each after every holding whose rows refer to it (the person table last)."""
    order = [t.name for t in reversed(Base.metadata.sorted_tables)]
    return sorted(HOLDINGS, key=lambda h: order.index(h.table))


def _table(h: Holding) -> Table:
    return Base.metadata.tables[h.table]


def linked(h: Holding, ids: Sequence[str]):
    """The condition selecting ``h``'s rows about the people ``ids``."""
    t = _table(h)
    if h.via is None:
        return t.c[h.link].in_(ids)
    parent = BY_TABLE[h.via]
    if parent.via is not None:
        raise ValueError(f"{h.table}: a holding is reached through at most one other")
    pt = _table(parent)
    (pk,) = pt.primary_key.columns
    return t.c[h.link].in_(select(pk).where(pt.c[parent.link].in_(ids)))


def _chunks(ids: Sequence[str]) -> Iterable[list[str]]:
    for i in range(0, len(ids), CHUNK):
        yield list(ids[i : i + CHUNK])


def held(session: Session, ids: Sequence[str], today: date) -> set[str]:
    """The people among ``ids`` under an active legal hold on ``today``."""
    out: set[str] = set()
    for chunk in _chunks(ids):
        out |= set(
            session.scalars(
                select(LegalHold.person_id).where(
                    LegalHold.person_id.in_(chunk),
                    LegalHold.released_at.is_(None),
                    or_(LegalHold.held_until.is_(None), LegalHold.held_until >= today),
                )
            )
        )
    return out


def statistics_consents(session: Session, ids: Sequence[str], now: datetime) -> dict[str, set[str]]:
    """Per person, the categories an active statistics consent lets IMR keep anonymized."""
    out: dict[str, set[str]] = defaultdict(set)
    for chunk in _chunks(ids):
        rows = session.execute(
            select(Consent.person_id, Consent.categories).where(
                Consent.person_id.in_(chunk),
                Consent.purpose == ConsentPurpose.STATISTICS,
                Consent.status == "active",
                Consent.valid_from <= now,
                or_(Consent.valid_until.is_(None), Consent.valid_until > now),
            )
        )
        for pid, cats in rows:
            out[pid] |= set(cats)
    return out


def anonymized_category(h: Holding) -> Category:
    """The one category an anonymizing holding's kept columns hold (a test checks there is one)."""
    (category,) = {h.columns[c] for c in h.anonymized}
    if not isinstance(category, Category):
        raise ValueError(f"{h.table}: anonymized columns must hold a data category")
    return category


@dataclass
class Outcome:
    """What an erasure did (or, as a preview, would do), per table."""

    mode: ErasureMode
    deleted: dict[str, int] = field(default_factory=dict)
    anonymized: dict[str, int] = field(default_factory=dict)
    #: table -> (rows kept, the last day the longest-kept of them stays)
    retained: dict[str, tuple[int, date | None]] = field(default_factory=dict)
    kept: list[str] = field(default_factory=list)

    def confirmation(self, person_ids: Sequence[str]) -> str:
        """A digest of what the preview showed: confirming with it erases exactly that, or nothing."""
        facts = {
            "people": sorted(person_ids),
            "mode": str(self.mode),
            "deleted": self.deleted,
            "anonymized": self.anonymized,
            "retained": {k: [n, d.isoformat() if d else None] for k, (n, d) in self.retained.items()},
        }
        return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:32]

    def summary(self) -> dict:
        """Counts only, for the audit record."""
        return {
            "mode": str(self.mode),
            "deleted": dict(sorted(self.deleted.items())),
            "anonymized": dict(sorted(self.anonymized.items())),
            "retained": {k: n for k, (n, _d) in sorted(self.retained.items())},
        }


def _count(session: Session, h: Holding, ids: Sequence[str]) -> int:
    t = _table(h)
    return sum(
        session.scalar(select(func.count()).select_from(t).where(linked(h, chunk))) or 0
        for chunk in _chunks(ids)
    )


def _retained(session: Session, h: Holding, ids: Sequence[str], today: date) -> tuple[int, int, date | None]:
    """A retained holding's rows about ``ids``: how many are past their date, how many are still
    required, and the last day the longest-kept of those stays."""
    t = _table(h)
    until = t.c[h.retain_until]
    expired = kept = 0
    last: date | None = None
    for chunk in _chunks(ids):
        where = linked(h, chunk)
        expired += session.scalar(select(func.count()).select_from(t).where(where, until < today)) or 0
        n, latest = session.execute(select(func.count(), func.max(until)).where(where, until >= today)).one()
        kept += n or 0
        if latest is not None and (last is None or latest > last):
            last = latest
    return expired, kept, last


def _with_person(h: Holding, cols: list, ids: Sequence[str]):
    """Select the person's id and ``cols`` of ``h``'s rows about ``ids`` (a ``via`` holding through
    its parent); of a versioned part, only each meeting's current row."""
    t = _table(h)
    if h.via is None:
        return select(t.c[h.link], *cols).where(t.c[h.link].in_(ids))
    parent = BY_TABLE[h.via]
    pt = _table(parent)
    (pk,) = pt.primary_key.columns
    stmt = (
        select(pt.c[parent.link], *cols)
        .select_from(t.join(pt, t.c[h.link] == pk))
        .where(pt.c[parent.link].in_(ids))
    )
    if h.current is not None:
        # the part as of the current revision: its row with the highest revision not after it
        earlier = t.alias()
        latest = (
            select(func.max(earlier.c.revision))
            .where(earlier.c[h.link] == t.c[h.link], earlier.c.revision <= pt.c[h.current])
            .scalar_subquery()
        )
        stmt = stmt.where(t.c.revision == latest)
    return stmt


def _anonymizable_rows(session: Session, h: Holding, ids: Sequence[str], covered: dict[str, set[str]]):
    """(person id, category, kept values) of ``h``'s rows a statistics consent covers."""
    t = _table(h)
    cols = [t.c[c] for c in h.anonymized]
    if h.record_category:
        cols.append(t.c[h.record_category])
    fixed = None if h.record_category else str(anonymized_category(h))
    for chunk in _chunks([i for i in ids if covered.get(i)]):
        for row in session.execute(_with_person(h, cols, chunk)):
            pid = row[0]
            category = row[-1] if h.record_category else fixed
            if category in covered.get(pid, ()):
                yield pid, category, dict(zip(h.anonymized, row[1 : 1 + len(h.anonymized)], strict=True))


def preview(session: Session, ids: Sequence[str], mode: ErasureMode, now: datetime) -> Outcome:
    """What ``erase`` would do to the people ``ids`` now (nothing is changed)."""
    out = Outcome(mode)
    covered = statistics_consents(session, ids, now) if mode == ErasureMode.ANONYMIZE else {}
    for h in ordered_holdings():
        if h.on_erasure == Erasure.KEEP:
            out.kept.append(h.table)
            continue
        if h.on_erasure == Erasure.RETAIN:
            expired, kept, last = _retained(session, h, ids, now.date())
            if expired:
                out.deleted[h.table] = expired
            if kept:
                out.retained[h.table] = (kept, last)
            continue
        n = _count(session, h, ids)
        if not n:
            continue
        if h.on_erasure == Erasure.ANONYMIZE and mode == ErasureMode.ANONYMIZE:
            copies = sum(1 for _ in _anonymizable_rows(session, h, ids, covered))
            if copies:
                out.anonymized[h.table] = copies
        out.deleted[h.table] = n
    return out


def _period(value) -> tuple[str | None, int | None]:
    if isinstance(value, datetime | date):
        return f"{value:%Y-%m}", value.year
    return None, None


def _jsonable(value):
    if isinstance(value, datetime | date):
        return None  # dates are kept only as the month (``period``)
    return value


def erase(session: Session, ids: Sequence[str], mode: ErasureMode, now: datetime) -> Outcome:
    """Erase (or anonymize, as IMR's policy says) the people ``ids`` in the session's transaction.

    The caller checks legal holds and commits (with its audit record). Objects of these people
    loaded in the session are expunged: the rows no longer exist.
    """
    ids = list(dict.fromkeys(ids))
    session.flush()
    if session.get_bind().dialect.name == "sqlite":
        # overwrite freed content (rows and index entries) instead of leaving it in free pages
        session.execute(text("PRAGMA secure_delete = ON"))
    out = Outcome(mode)
    covered = statistics_consents(session, ids, now) if mode == ErasureMode.ANONYMIZE else {}
    people = {}
    if covered:
        for chunk in _chunks(list(covered)):
            for pid, sex, birth in session.execute(
                select(Person.id, Person.sex, Person.birth_date).where(Person.id.in_(chunk))
            ):
                people[pid] = (sex, birth.year)
    for h in ordered_holdings():
        t = _table(h)
        if h.on_erasure == Erasure.KEEP:
            out.kept.append(h.table)
            continue
        if h.on_erasure == Erasure.RETAIN:
            expired, kept, last = _retained(session, h, ids, now.date())
            until = t.c[h.retain_until]
            for chunk in _chunks(ids):
                session.execute(delete(t).where(linked(h, chunk), until < now.date()))
                session.execute(update(t).where(linked(h, chunk)).values({h.link: None}))
            if expired:
                out.deleted[h.table] = expired
            if kept:
                out.retained[h.table] = (kept, last)
            continue
        if h.on_erasure == Erasure.ANONYMIZE and mode == ErasureMode.ANONYMIZE and covered:
            copies = []
            for pid, category, kept in _anonymizable_rows(session, h, ids, covered):
                sex, birth_year = people.get(pid, (None, None))
                dated = [v for v in kept.values() if isinstance(v, datetime | date)]
                period, year = _period(dated[0]) if dated else (None, None)
                copies.append(
                    {
                        "id": new_id(),
                        "source": h.table,
                        "category": category,
                        "values": {
                            k: _jsonable(v) for k, v in kept.items() if not isinstance(v, datetime | date)
                        },
                        "sex": sex,
                        "age_band": age_band(birth_year, year or now.year) if birth_year else None,
                        "period": period,
                    }
                )
            for i in range(0, len(copies), 5000):
                session.execute(insert(AnonymizedRecord), copies[i : i + 5000])
            if copies:
                out.anonymized[h.table] = len(copies)
        n = sum(session.execute(delete(t).where(linked(h, chunk))).rowcount for chunk in _chunks(ids))
        if n:
            out.deleted[h.table] = n
    session.expunge_all()
    return out


def remove_expired_retained(session: Session, today: date) -> dict[str, int]:
    """Remove retained rows (no longer linked to anyone) whose ``retain_until`` day has passed."""
    out = {}
    for h in HOLDINGS:
        if h.on_erasure != Erasure.RETAIN:
            continue
        t = _table(h)
        n = session.execute(delete(t).where(and_(t.c[h.retain_until] < today))).rowcount
        if n:
            out[h.table] = n
    return out


def count_expired_retained(session: Session, today: date) -> int:
    total = 0
    for h in HOLDINGS:
        if h.on_erasure == Erasure.RETAIN:
            t = _table(h)
            total += (
                session.scalar(select(func.count()).select_from(t).where(t.c[h.retain_until] < today)) or 0
            )
    return total
