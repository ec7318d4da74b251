"""The one audit append, and the chain check.

Each record's hash is SHA-256 over ``prev_hash + "\\n" + canonical(record)``. The canonical form is
plain text, cheap to rebuild from the stored row (so ``verify`` can let the database assemble it):

    seq,'ts','user_id','username',...,'details'

that is the sequence number, then every other field as an SQL literal: ``NULL``, or the text in
single quotes with each quote doubled (exactly SQLite's ``printf('%Q')``), joined by commas. The
encoding is unambiguous, so a tampered row yields the same bytes only by being the same row.
``ts`` is the UTC time as ``YYYY-MM-DD HH:MM:SS.ffffff``; ``categories`` and ``details`` enter as
their JSON text exactly as stored (``json.dumps`` with sorted keys, which is also what SQLAlchemy
writes).

Appends lock the single ``audit_head`` row (``UPDATE ... RETURNING``), which serializes writers on
PostgreSQL (row lock until commit) and on SQLite (the write lock), so concurrent requests can never
fork the chain. The append runs in the caller's transaction: if it fails, the request fails.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import threading
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from clinic_server.db import utcnow
from clinic_server.db.models import AuditEvent, AuditHead

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

_STRIP = str.maketrans({"\x00": "\ufffd"})  # PostgreSQL text cannot hold NUL
TS_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def json_text(value) -> str:
    """The JSON text the database stores for a categories/details value (and the hash covers)."""
    return json.dumps(value, sort_keys=True)


def ts_text(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime(TS_FORMAT)


def sql_literal(value: str | None) -> str:
    return "NULL" if value is None else "'" + value.replace("'", "''") + "'"


def canonical_text(seq: int, ts: str, texts: Iterable[str | None]) -> str:
    """The canonical form from the field texts (``texts`` in ``TEXT_FIELDS`` order)."""
    return f"{seq},{sql_literal(ts)}," + ",".join(sql_literal(t) for t in texts)


def canonical(record: dict) -> bytes:
    texts = [json_text(record[f]) if f in JSON_FIELDS else record[f] for f in TEXT_FIELDS]
    return canonical_text(record["seq"], ts_text(record["ts"]), texts).encode()


def chain_hash(prev_hash: str, record: dict) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical(record)).hexdigest()


def _clean(value: str | None) -> str | None:
    return None if value is None else str(value).translate(_STRIP)


def _clean_json(value):
    """JSON-native copy with sorted keys (so the stored text is the hashed text) and no NUL."""
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


_HEAD = AuditHead.__table__
_NEXT = (
    update(_HEAD).where(_HEAD.c.id == 1).values(seq=_HEAD.c.seq + 1).returning(_HEAD.c.seq, _HEAD.c.last_hash)
)
_INSERT = insert(AuditEvent.__table__)
_SET_LAST = update(_HEAD).where(_HEAD.c.id == 1).values(last_hash=bindparam("digest"))
_INSERTED = (
    insert(AuditEvent.__table__)
    .values({c.name: bindparam(f"ae_{c.name}", type_=c.type) for c in AuditEvent.__table__.columns})
    .returning(AuditEvent.__table__.c.hash)
    .cte("inserted")
)
_INSERT_AND_SET_LAST = (
    update(_HEAD).where(_HEAD.c.id == 1).values(last_hash=select(_INSERTED.c.hash).scalar_subquery())
)


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


def system_request(client_name: str, client_version: str | None = None) -> RequestInfo:
    """Request info for writes that do not come over HTTP (the demo feed, scheduled jobs)."""
    return RequestInfo(uuid.uuid4().hex, client_name, client_version)


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
    at: datetime | None = None,
) -> int:
    """Append one record in the session's transaction and return its sequence number.

    ``at`` sets the record's time instead of now: only for importing past traffic in time order
    (the demo's history), never for live work."""
    # Core statements on the session's connection: the ORM layer adds nothing here but time,
    # and the head row stays locked from this first statement until the caller commits
    conn = session.connection()
    seq, prev = conn.execute(_NEXT).one()
    record = {
        "seq": seq,
        "ts": at or utcnow(),
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
    if conn.dialect.name == "postgresql":
        # one round trip: insert the record and move the head in a data-modifying CTE
        values = {**record, "prev_hash": prev, "hash": digest}
        conn.execute(_INSERT_AND_SET_LAST, {f"ae_{k}": v for k, v in values.items()})
    else:
        conn.execute(_INSERT, {**record, "prev_hash": prev, "hash": digest})
        conn.execute(_SET_LAST, {"digest": digest})
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


def _hashed_sql(dialect: str) -> str:
    """SQL giving the exact bytes each record's hash covers: prev_hash, newline, canonical text.

    The database assembles them (one C-level pass per row), so the Python loop only hashes; on
    PostgreSQL the expression is the hash comparison itself (true when the record matches).
    It must agree with ``canonical_text``; the typed re-check catches any row where it does not.
    """
    if dialect == "postgresql":

        def lit(expr: str) -> str:
            return f"coalesce('''' || replace({expr}, '''', '''''') || '''', 'NULL')"

        ts = "to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
        texts = [f"{f}::text" if f in JSON_FIELDS else f for f in TEXT_FIELDS]
        body = " || ',' || ".join(["seq::text", lit(ts), *(lit(t) for t in texts)])
        # PostgreSQL hashes too (sha256 is built in): the client only reads a boolean per row
        return f"encode(sha256(convert_to(prev_hash || chr(10) || {body}, 'UTF8')), 'hex') = hash"
    # SQLite: one printf call; %Q is the SQL literal (NULL, or quoted with quotes doubled)
    fmt = "%s\n%d" + ",%Q" * (1 + len(TEXT_FIELDS))
    return f"CAST(printf('{fmt}', prev_hash, seq, ts, {', '.join(TEXT_FIELDS)}) AS BLOB)"


def _raw_rows(conn: Connection, lo: int, hi: int, batch: int) -> Iterator[list[tuple]]:
    """Batches of (seq, prev_hash, hash, hashed bytes or match flag) for lo <= seq <= hi, in seq order."""
    dialect = conn.dialect.name
    sql = (
        f"SELECT seq, prev_hash, hash, {_hashed_sql(dialect)} FROM audit_event "  # noqa: S608
        f"WHERE seq >= {int(lo)} AND seq <= {int(hi)} ORDER BY seq"
    )
    dbapi = conn.connection.dbapi_connection
    if dialect == "postgresql":
        cur = dbapi.cursor(name=f"clinic_audit_verify_{lo}")  # server-side: streams in O(batch) memory
        cur.itersize = batch
    else:
        cur = dbapi.cursor()
    try:
        cur.execute(sql)
        while rows := cur.fetchmany(batch):
            yield rows
    finally:
        cur.close()


def _typed_recheck(conn: Connection, seq: int, prev_hash: str, digest: str) -> bool:
    """Re-derive one record's canonical form from typed values (tolerates re-encoded JSON or time)."""
    cols = [getattr(AuditEvent, f) for f in FIELDS]
    row = conn.execute(select(*cols).where(AuditEvent.seq == seq)).one_or_none()
    if row is None:
        return False
    record = dict(zip(FIELDS, row, strict=True))
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical(record)).hexdigest() == digest


@dataclass(frozen=True)
class _Span:
    """What one walk over seq lo..hi found (its first link is checked by whoever joins spans)."""

    checked: int
    first_prev: str | None
    last_hash: str | None
    first_bad_seq: int | None = None
    problem: str | None = None
    rechecked: int = 0


def _walk(conn: Connection, lo: int, hi: int, head_seq: int, batch: int) -> _Span:
    expected_seq = lo
    expected_prev: str | None = None
    first_prev: str | None = None
    checked = rechecked = 0
    sha256 = hashlib.sha256

    def bad(seq: int, problem: str) -> _Span:
        return _Span(checked, first_prev, expected_prev, seq, problem, rechecked)

    batches = _raw_rows(conn, lo, hi, batch)
    try:
        for rows in batches:
            for seq, prev_hash, digest, hashed in rows:
                if seq != expected_seq:
                    if seq < expected_seq:
                        return bad(seq, "sequence out of order")
                    return bad(expected_seq, f"record {expected_seq} is missing")
                if expected_prev is None:
                    first_prev = prev_hash
                elif prev_hash != expected_prev:
                    return bad(seq, "previous-hash link does not match")
                if hashed is not True and (not hashed or sha256(hashed).hexdigest() != digest):
                    rechecked += 1
                    if not _typed_recheck(conn, seq, prev_hash, digest):
                        return bad(seq, "record content does not match its hash")
                expected_prev = digest
                expected_seq += 1
                checked += 1
    finally:
        batches.close()
    if expected_seq <= hi:
        if hi == head_seq:
            return bad(expected_seq, f"chain ends early: records {expected_seq} to {hi} are missing")
        return bad(expected_seq, f"record {expected_seq} is missing")
    return _Span(checked, first_prev, expected_prev, rechecked=rechecked)


def _walk_in_process(url: str, lo: int, hi: int, head_seq: int, batch: int) -> _Span:
    from clinic_server.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return _walk(conn, lo, hi, head_seq, batch)
    finally:
        engine.dispose()


def _shareable_url(conn: Connection) -> str | None:
    url = conn.engine.url
    if url.get_backend_name() == "sqlite" and (not url.database or url.database == ":memory:"):
        return None
    return url.render_as_string(hide_password=False)


#: below this many records a second process costs more than it saves
PARALLEL_THRESHOLD = 100_000


def verify(conn: Connection, batch: int = 20_000, workers: int = 1) -> VerifyResult:
    """Walk the chain in order and name the first record that does not fit.

    The head row is read first and only records up to it are checked, so appends that land while
    the check runs do not look like a broken chain. With ``workers`` > 1 (the CLI uses the CPU
    count) large chains are split into seq ranges checked by separate processes, each over its own
    connection; the links between ranges are checked here. Use that from single-threaded programs.
    """
    head = conn.execute(select(AuditHead.seq, AuditHead.last_hash).where(AuditHead.id == 1)).one_or_none()
    if head is None:
        last = conn.execute(select(func.max(AuditEvent.seq))).scalar()
        head_seq, head_hash = (last or 0), None
    else:
        head_seq, head_hash = head.seq, head.last_hash
    url = _shareable_url(conn) if workers > 1 and head_seq >= PARALLEL_THRESHOLD else None
    if url is None:
        spans = [((1, head_seq), _walk(conn, 1, head_seq, head_seq, batch))]
    else:
        n = min(workers, max(1, head_seq // (PARALLEL_THRESHOLD // 2)))
        bounds = [(1 + head_seq * i // n, head_seq * (i + 1) // n) for i in range(n)]
        single = threading.active_count() == 1 and "fork" in mp.get_all_start_methods()
        context = mp.get_context("fork" if single else "spawn")
        with ProcessPoolExecutor(n, mp_context=context) as pool:
            futures = [pool.submit(_walk_in_process, url, lo, hi, head_seq, batch) for lo, hi in bounds]
            spans = list(zip(bounds, (f.result() for f in futures), strict=True))
    checked = rechecked = 0
    prev = GENESIS_HASH
    for (lo, _hi), span in spans:
        rechecked += span.rechecked
        if span.first_prev is not None and span.first_prev != prev:
            return VerifyResult(False, checked, lo, "previous-hash link does not match", rechecked)
        if span.first_bad_seq is not None:
            return VerifyResult(False, checked + span.checked, span.first_bad_seq, span.problem, rechecked)
        checked += span.checked
        prev = span.last_hash or prev
    if head_hash is not None and head_hash != prev:
        return VerifyResult(
            False, checked, checked or None, "chain head does not match the last record", rechecked
        )
    return VerifyResult(True, checked, rechecked=rechecked)
