"""The one audit append, and the chain check.

Each record's hash is SHA-256 over the previous record's hash and a canonical serialization of
the record (a JSON array in fixed field order, compact separators, sorted keys inside ``details``).
Appends lock the single ``audit_head`` row (``UPDATE ... RETURNING``), which serializes writers on
PostgreSQL (row lock until commit) and on SQLite (the write lock), so concurrent requests can never
fork the chain. The append runs in the caller's transaction: if it fails, the request fails.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.orm import Session

from clinic_server.db import utcnow
from clinic_server.models import AuditEvent, AuditHead

GENESIS_HASH = "0" * 64

#: field order of the canonical serialization (hash and prev_hash excluded)
FIELDS = (
    "seq",
    "ts",
    "user_id",
    "username",
    "role",
    "organization_id",
    "action",
    "resource_type",
    "resource_id",
    "person_id",
    "categories",
    "purpose",
    "outcome",
    "reason",
    "request_id",
    "client_name",
    "client_version",
    "details",
)

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode


def _ts(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def canonical(record: dict) -> bytes:
    values = [record[f] for f in FIELDS]
    values[1] = _ts(values[1])
    values[10] = sorted(values[10])
    return _dumps(values).encode()


def chain_hash(prev_hash: str, record: dict) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical(record)).hexdigest()


@dataclass(frozen=True)
class Who:
    user_id: str | None
    username: str | None
    role: str | None
    organization_id: str | None


@dataclass(frozen=True)
class RequestInfo:
    request_id: str
    client_name: str | None
    client_version: str | None


def append(
    session: Session,
    *,
    who: Who,
    request: RequestInfo,
    action: str,
    resource_type: str,
    outcome: str,
    reason: str,
    purpose: str,
    resource_id: str | None = None,
    person_id: str | None = None,
    categories: Iterable[str] = (),
    details: dict | None = None,
) -> int:
    """Append one record in the session's transaction and return its sequence number."""
    seq, prev = session.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(seq=AuditHead.seq + 1)
        .returning(AuditHead.seq, AuditHead.last_hash)
    ).one()
    record = {
        "seq": seq,
        "ts": utcnow(),
        "user_id": who.user_id,
        "username": who.username,
        "role": who.role,
        "organization_id": who.organization_id,
        "action": action,
        "resource_type": resource_type,
        "resource_id": resource_id,
        "person_id": person_id,
        "categories": sorted(set(categories)),
        "purpose": purpose,
        "outcome": outcome,
        "reason": reason,
        "request_id": request.request_id,
        "client_name": request.client_name,
        "client_version": request.client_version,
        "details": details or {},
    }
    digest = chain_hash(prev, record)
    session.execute(insert(AuditEvent).values(**record, prev_hash=prev, hash=digest))
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_hash=digest))
    return seq


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str | None = None

    def describe(self) -> str:
        if self.ok:
            return f"audit chain intact: {self.checked} records verified"
        return f"audit chain BROKEN at record {self.first_bad_seq}: {self.problem} ({self.checked} checked)"


def _rows(conn: Connection, batch: int) -> Iterator:
    cols = [getattr(AuditEvent, f) for f in FIELDS] + [AuditEvent.prev_hash, AuditEvent.hash]
    result = conn.execution_options(yield_per=batch).execute(select(*cols).order_by(AuditEvent.seq))
    yield from result


def verify(conn: Connection, batch: int = 20_000) -> VerifyResult:
    """Walk the chain in order and name the first record that does not fit."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    sha256 = hashlib.sha256
    for row in _rows(conn, batch):
        record = dict(zip(FIELDS, row[: len(FIELDS)], strict=True))
        prev_hash, digest = row[-2], row[-1]
        seq = record["seq"]
        if seq != expected_seq:
            problem = "record missing before this one" if seq > expected_seq else "sequence out of order"
            return VerifyResult(False, checked, seq if seq > expected_seq else expected_seq, problem)
        if prev_hash != expected_prev:
            return VerifyResult(False, checked, seq, "previous-hash link does not match")
        if sha256(prev_hash.encode() + b"\n" + canonical(record)).hexdigest() != digest:
            return VerifyResult(False, checked, seq, "record content does not match its hash")
        expected_prev = digest
        expected_seq += 1
        checked += 1
    head = conn.execute(select(AuditHead.seq, AuditHead.last_hash).where(AuditHead.id == 1)).one_or_none()
    if head is not None and (head.seq != checked or head.last_hash != expected_prev):
        return VerifyResult(
            False,
            checked,
            checked + 1 if head.seq > checked else checked,
            "chain ends early: records after this point are missing",
        )
    return VerifyResult(True, checked)
