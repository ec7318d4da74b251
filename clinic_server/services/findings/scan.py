"""Running the findings rules over the audit log, incrementally, and storing each finding once.

A scan reads the audit log from its cursor (``finding_cursor``: the last sequence number read) up
to the newest record that has settled, in batches. Each batch: its records and their facts
(``facts.Memory``), every record rule (``rules.evaluate``), the candidates merged into the stored
findings (``store``), the users' active hours and the cursor written. The time rule (emergency
access not reviewed in time) runs once per scan over the grants.

The cursor is the audit sequence number: the one column of the log that only grows. Records
younger than ``SETTLE`` are left for the next run, because an access is explained by an alert or
a care action up to ten minutes after it, and so that a record whose transaction committed a
little after a later-numbered one is not skipped. Re-reading is harmless: a candidate that matches
a stored finding (same rule and version, user, person and key, close enough in time) extends it
instead of adding one, so the same fact never makes a second finding.

Nothing here commits or writes the audit record: each batch is a unit of work the caller closes
(``jobs/findings.py``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic_server.db.models import AuditEvent, Finding, FindingCursor
from clinic_server.services.findings import facts, rules
from clinic_server.services.findings.identity import IdentityKey

CURSOR = "findings"
#: evidence kept per finding (``evidence_count`` counts on past it)
EVIDENCE_CAP = 1000
#: records younger than this wait for the next run
SETTLE = timedelta(seconds=rules.AFTER_SECONDS + 30)
BATCH = 50_000


@dataclass
class Outcome:
    """What one unit of work of a scan did."""

    first_seq: int = 0
    last_seq: int = 0
    records: int = 0
    #: the records the rules looked at (not routine)
    considered: int = 0
    new: int = 0
    updated: int = 0
    by_rule: Counter = field(default_factory=Counter)

    def add(self, other: Outcome) -> None:
        if other.records:
            self.first_seq = self.first_seq or other.first_seq
            self.last_seq = other.last_seq
        self.records += other.records
        self.considered += other.considered
        self.new += other.new
        self.updated += other.updated
        self.by_rule.update(other.by_rule)

    def summary(self) -> str:
        rules_ = ", ".join(f"{k} {v}" for k, v in sorted(self.by_rule.items())) or "none"
        span = (
            f" (seq {self.first_seq}-{self.last_seq}, {self.considered} not routine)" if self.records else ""
        )
        return (
            f"{self.records} records read{span}; findings new {self.new}, updated {self.updated} [{rules_}]"
        )


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _epoch(value: datetime) -> float:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def cursor(session: Session) -> int:
    row = session.get(FindingCursor, CURSOR)
    return row.last_seq if row else 0


def set_cursor(session: Session, seq: int, now: datetime) -> None:
    row = session.get(FindingCursor, CURSOR)
    if row is None:
        session.add(FindingCursor(name=CURSOR, last_seq=seq, updated_at=now))
    else:
        row.last_seq = seq
        row.updated_at = now


class Scan:
    """One run: from the cursor (or the start) to the settled head, batch by batch."""

    def __init__(
        self,
        session: Session,
        *,
        now: datetime,
        key: IdentityKey | None,
        from_start: bool = False,
        batch: int = BATCH,
        settle: timedelta = SETTLE,
    ):
        self.session = session
        self.now = now
        self.batch = batch
        self.start = 0 if from_start else cursor(session)
        self.head = facts.head_seq(session, now - settle)
        first_ts = None
        if self.head > self.start:
            # the time of the first record to read, routine or not: what came before is history
            at = session.scalar(
                select(AuditEvent.ts).where(AuditEvent.seq > self.start).order_by(AuditEvent.seq).limit(1)
            )
            first_ts = _epoch(at) if at is not None else None
        self.memory = facts.Memory(session, first_seq=self.start + 1, first_ts=first_ts, key=key)

    @property
    def links_skipped(self) -> int:
        """Users linked with another identity key than this scan's (left out of the relation rule)."""
        return self.memory.links_skipped

    def ranges(self) -> Iterator[tuple[int, int]]:
        for lo in range(self.start + 1, self.head + 1, self.batch):
            yield lo, min(self.head, lo + self.batch - 1)

    def run_batch(self, lo: int, hi: int) -> Outcome:
        """Read ``lo..hi``, evaluate, store; the caller commits with the batch's audit record."""
        records = facts.read_records(self.session, lo, hi)
        f = self.memory.facts(records)
        outcome = store(self.session, rules.evaluate(f), self.now)
        self.memory.advance(records)
        self.memory.save_activity()
        set_cursor(self.session, hi, self.now)
        # every record of the range was read (the routine ones by the database alone)
        outcome.first_seq, outcome.last_seq, outcome.records = lo, hi, hi - lo + 1
        outcome.considered = len(records)
        return outcome

    def run_emergency(self) -> Outcome:
        """The time rule: break-the-glass accesses whose 24 hours passed without a review."""
        epoch = _epoch(self.now)
        return store(
            self.session, rules.emergency_unreviewed(facts.grants(self.session, self.now), epoch), self.now
        )


def _match(session: Session, c: rules.Candidate) -> Finding | None:
    gap = rules.MERGE_GAP[c.rule]
    stmt = select(Finding).where(
        Finding.rule_id == c.rule,
        Finding.rule_version == c.version,
        Finding.user_id == c.user_id,
        Finding.key == c.key,
        Finding.person_id.is_(None) if c.person_id is None else Finding.person_id == c.person_id,
    )
    if gap != rules.INF:
        stmt = stmt.where(Finding.last_ts >= _dt(c.first_ts - gap), Finding.first_ts <= _dt(c.last_ts + gap))
    return session.scalars(stmt.order_by(Finding.last_ts.desc()).limit(1)).first()


def store(session: Session, candidates: Iterable[rules.Candidate], now: datetime) -> Outcome:
    """Merge candidates into the stored findings: extend a matching one, else add one."""
    out = Outcome()
    for c in candidates:
        if not c.user_id or not c.organization_id:
            continue
        existing = _match(session, c)
        if existing is None:
            evidence = list(c.evidence)
            session.add(
                Finding(
                    rule_id=str(c.rule),
                    rule_version=c.version,
                    organization_id=c.organization_id,
                    user_id=c.user_id,
                    username=c.username,
                    person_id=c.person_id,
                    key=c.key,
                    first_ts=_dt(c.first_ts),
                    last_ts=_dt(c.last_ts),
                    reason_key=c.reason_key,
                    params=dict(c.params),
                    evidence=evidence[:EVIDENCE_CAP],
                    evidence_count=len(evidence),
                    created_at=now,
                    updated_at=now,
                )
            )
            session.flush()  # the next candidate may match this one
            out.new += 1
            out.by_rule[str(c.rule)] += 1
            continue
        stored = set(existing.evidence)
        added = [s for s in c.evidence if s not in stored]
        # compared as stored (to the microsecond)
        first = min(_epoch(existing.first_ts), _epoch(_dt(c.first_ts)))
        last = max(_epoch(existing.last_ts), _epoch(_dt(c.last_ts)))
        params = rules.merge_params(existing.params, c.params)
        if "accesses" in params:
            params["accesses"] = existing.evidence_count + len(added)
        if not added and params == existing.params and first == _epoch(existing.first_ts):
            if last == _epoch(existing.last_ts):
                continue
        existing.evidence = sorted(stored | set(added))[:EVIDENCE_CAP]
        existing.evidence_count += len(added)
        existing.first_ts, existing.last_ts = _dt(first), _dt(last)
        existing.params = params
        existing.updated_at = now
        session.flush()
        out.updated += 1
    return out
