"""The one audit append, and the chain check.

Each record's hash is SHA-256 over ``prev_hash + "\\n" + canonical(record)``. The canonical form is
plain text, cheap to rebuild from the stored row (so ``verify`` can let the database assemble it):

    seq US ts US f1 US f2 ... US f16        (US = the unit separator, U+001F)

``ts`` is the UTC time as ``YYYY-MM-DD HH:MM:SS.ffffff``; every other field is ``=`` followed by its
text, or ``-`` when it is NULL. ``categories`` and ``details`` enter as their JSON text exactly as
stored (``json.dumps`` with sorted keys, which is also what SQLAlchemy writes). ``append`` removes
U+001F and NUL from every text it stores, so the encoding is unambiguous: a tampered row can only
produce the same bytes by being the same row.

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
#: the fields after seq and ts; each is text or NULL in the canonical form
TEXT_FIELDS = FIELDS[2:]
JSON_FIELDS = frozenset({"categories", "details"})

SEP = "\x1f"
_STRIP = str.maketrans({SEP: "\ufffd", "\x00": "\ufffd"})
TS_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def json_text(value) -> str:
    """The JSON text the database stores for a categories/details value (and the hash covers)."""
    return json.dumps(value, sort_keys=True)


def ts_text(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime(TS_FORMAT)


def canonical_text(seq: int, ts: str, texts: Iterable[str | None]) -> str:
    """The canonical form from the field texts (``texts`` in ``TEXT_FIELDS`` order)."""
    return f"{seq}{SEP}{ts}{SEP}" + SEP.join("-" if t is None else "=" + t for t in texts)


def canonical(record: dict) -> bytes:
    texts = [json_text(record[f]) if f in JSON_FIELDS else record[f] for f in TEXT_FIELDS]
    return canonical_text(record["seq"], ts_text(record["ts"]), texts).encode()


def chain_hash(prev_hash: str, record: dict) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical(record)).hexdigest()


def _clean(value: str | None) -> str | None:
    return None if value is None else str(value).translate(_STRIP)


def _clean_json(value):
    """JSON-native copy with sorted keys and no separator characters in any string."""
    if isinstance(value, dict):
        return {_clean(str(k)): _clean_json(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_clean_json(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float):
        return value
    return _clean(str(value))


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
        "user_id": _clean(who.user_id),
        "username": _clean(who.username),
        "role": _clean(who.role),
        "organization_id": _clean(who.organization_id),
        "action": _clean(action),
        "resource_type": _clean(resource_type),
        "resource_id": _clean(resource_id),
        "person_id": _clean(person_id),
        "categories": sorted({_clean(str(c)) for c in categories}),
        "purpose": _clean(purpose),
        "outcome": _clean(outcome),
        "reason": _clean(reason),
        "request_id": _clean(request.request_id),
        "client_name": _clean(request.client_name),
        "client_version": _clean(request.client_version),
        "details": _clean_json(details or {}),
    }
    digest = chain_hash(prev, record)
    session.execute(insert(AuditEvent).values(**record, prev_hash=prev, hash=digest))
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_hash=digest))
    return seq


# --------------------------------------------------------------------------- verification


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str | None = None
    #: records whose stored text needed the slow, typed re-check (0 on a chain written by ``append``)
    rechecked: int = 0

    def describe(self) -> str:
        if self.ok:
            return f"audit chain intact: {self.checked} records verified"
        return f"audit chain BROKEN at record {self.first_bad_seq}: {self.problem} ({self.checked} checked)"


def _canonical_sql(dialect: str) -> str:
    """SQL that assembles the canonical text of each row, the same as ``canonical`` does."""
    if dialect == "postgresql":
        sep = "chr(31)"
        head = "seq::text || chr(31) || to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
        text = {f: f"{f}::text" if f in JSON_FIELDS else f for f in TEXT_FIELDS}
        null = "coalesce"
    else:
        sep = "char(31)"
        head = "CAST(seq AS TEXT) || char(31) || ts"
        text = {f: f for f in TEXT_FIELDS}
        null = "ifnull"
    parts = [head] + [f"{null}('=' || {text[f]}, '-')" for f in TEXT_FIELDS]
    return f" || {sep} || ".join(parts)


def _raw_rows(conn: Connection, upto: int, batch: int) -> Iterator[tuple[int, str, str, str]]:
    """(seq, prev_hash, hash, canonical text) in seq order, straight from the DBAPI cursor."""
    dialect = conn.dialect.name
    sql = (
        f"SELECT seq, prev_hash, hash, {_canonical_sql(dialect)} "  # noqa: S608 - no user input
        f"FROM audit_event WHERE seq <= {int(upto)} ORDER BY seq"
    )
    dbapi = conn.connection.dbapi_connection
    if dialect == "postgresql":
        cur = dbapi.cursor(name="clinic_audit_verify")  # server-side: streams, O(batch) memory
        cur.itersize = batch
    else:
        cur = dbapi.cursor()
        cur.arraysize = batch
    try:
        cur.execute(sql)
        while rows := cur.fetchmany(batch):
            yield from rows
    finally:
        cur.close()


def _typed_recheck(conn: Connection, seq: int, prev_hash: str, digest: str) -> bool:
    """Re-derive one record's canonical form from typed values (tolerates a re-encoded JSON/time)."""
    cols = [getattr(AuditEvent, f) for f in FIELDS]
    row = conn.execute(select(*cols).where(AuditEvent.seq == seq)).one_or_none()
    if row is None:
        return False
    record = dict(zip(FIELDS, row, strict=True))
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical(record)).hexdigest() == digest


def verify(conn: Connection, batch: int = 20_000) -> VerifyResult:
    """Walk the chain in order and name the first record that does not fit.

    The head row is read first and only records up to it are checked, so appends that land while
    the check runs do not look like a broken chain.
    """
    head = conn.execute(select(AuditHead.seq, AuditHead.last_hash).where(AuditHead.id == 1)).one_or_none()
    head_seq = head.seq if head is not None else None
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = rechecked = 0
    sha256 = hashlib.sha256
    rows = _raw_rows(conn, head_seq if head_seq is not None else 2**62, batch)
    try:
        for seq, prev_hash, digest, text in rows:
            if seq != expected_seq:
                if seq > expected_seq:
                    return VerifyResult(
                        False, checked, expected_seq, f"record {expected_seq} is missing", rechecked
                    )
                return VerifyResult(False, checked, seq, "sequence out of order", rechecked)
            if prev_hash != expected_prev:
                return VerifyResult(False, checked, seq, "previous-hash link does not match", rechecked)
            if text is None or sha256((prev_hash + "\n" + text).encode()).hexdigest() != digest:
                rechecked += 1
                if not _typed_recheck(conn, seq, prev_hash, digest):
                    return VerifyResult(
                        False, checked, seq, "record content does not match its hash", rechecked
                    )
            expected_prev = digest
            expected_seq += 1
            checked += 1
    finally:
        rows.close()
    if head is not None and (head.seq != checked or head.last_hash != expected_prev):
        if head.seq > checked:
            return VerifyResult(
                False,
                checked,
                checked + 1,
                f"chain ends early: records {checked + 1} to {head.seq} are missing",
                rechecked,
            )
        return VerifyResult(
            False, checked, checked or None, "chain head does not match the last record", rechecked
        )
    return VerifyResult(True, checked, rechecked=rechecked)
