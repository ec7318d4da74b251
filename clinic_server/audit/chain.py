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

An append locks one shard's head row until its transaction commits (docs/audit.md), so concurrent
requests can never fork a chain. On PostgreSQL the common case is one statement (``_APPEND_FREE``):
it locks a free shard, draws the number, inserts the record hashed by the database over the
canonical text Python rendered, and moves the head. The append runs in the caller's transaction:
if it fails, the request fails.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import random
import threading
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session

from clinic_server.db import utcnow
from clinic_server.db.models import AuditEvent, AuditHead, AuditShardHead

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


def canonical_tail(ts: str, texts: Iterable[str | None]) -> str:
    """The canonical form after ``seq,``: everything but the number (which the database may draw)."""
    return f"{sql_literal(ts)}," + ",".join(sql_literal(t) for t in texts)


def canonical_text(seq: int, ts: str, texts: Iterable[str | None]) -> str:
    """The canonical form from the field texts (``texts`` in ``TEXT_FIELDS`` order)."""
    return f"{seq},{canonical_tail(ts, texts)}"


def _texts(record: dict) -> list[str | None]:
    return [json_text(record[f]) if f in JSON_FIELDS else record[f] for f in TEXT_FIELDS]


def canonical(record: dict) -> bytes:
    return canonical_text(record["seq"], ts_text(record["ts"]), _texts(record)).encode()


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


_COUNTER = AuditHead.__table__
_SHARDS = AuditShardHead.__table__
#: PostgreSQL: lock the first shard no other transaction holds (its row stays locked until commit;
#: a transaction that already holds a shard takes it again), then draw the next number of the
#: global sequence. The lock is taken in a materialized CTE and the number drawn above it, once:
#: drawn in an UPDATE's SET, a row changed meanwhile would re-evaluate it and waste a number.
_PICK_FREE = text(
    "WITH pick AS MATERIALIZED (SELECT shard, last_hash FROM audit_shard_head "
    "ORDER BY shard LIMIT 1 FOR UPDATE SKIP LOCKED) "
    "SELECT shard, nextval('audit_event_seq') AS seq, last_hash FROM pick"
)
#: PostgreSQL, every shard held by others (or one asked for): wait for it
_WAIT_FOR = text(
    "WITH pick AS MATERIALIZED (SELECT shard, last_hash FROM audit_shard_head WHERE shard = :shard "
    "FOR UPDATE) SELECT shard, nextval('audit_event_seq') AS seq, last_hash FROM pick"
)
#: SQLite (one writer at a time anyway): the global counter, then the shard's head
_NEXT_SEQ = (
    update(_COUNTER).where(_COUNTER.c.id == 1).values(seq=_COUNTER.c.seq + 1).returning(_COUNTER.c.seq)
)
_SHARD_LAST = select(_SHARDS.c.last_hash).where(_SHARDS.c.shard == bindparam("take_shard"))
_INSERT = insert(AuditEvent.__table__)
_SET_LAST = (
    update(_SHARDS)
    .where(_SHARDS.c.shard == bindparam("at_shard"))
    .values(seq=bindparam("at_seq"), last_hash=bindparam("digest"))
)
_INSERTED = (
    insert(AuditEvent.__table__)
    .values({c.name: bindparam(f"ae_{c.name}", type_=c.type) for c in AuditEvent.__table__.columns})
    .returning(AuditEvent.__table__.c.hash)
    .cte("inserted")
)
_INSERT_AND_SET_LAST = (
    update(_SHARDS)
    .where(_SHARDS.c.shard == bindparam("at_shard"))
    .values(seq=bindparam("at_seq"), last_hash=select(_INSERTED.c.hash).scalar_subquery())
)


#: PostgreSQL, the common case in one round trip: lock the first shard no other transaction holds
#: (as ``_PICK_FREE``), draw the number, insert the record and move the shard's head. Python renders
#: the canonical text after ``seq,`` (``:tail``, with ``canonical_tail``) and binds the JSON
#: columns as that same text (a ``json`` column keeps its text as given); the database only
#: prepends the shard's last hash and the number it drew, and hashes (sha256 of the UTF-8 bytes,
#: as ``chain_hash``). No free shard: no row is locked, no number drawn, nothing written.
_COLUMNS = ("seq", "ts", *TEXT_FIELDS, "prev_hash", "hash", "shard")
_VALUES = (
    "seq",
    "CAST(:ts AS timestamptz)",
    *(f"CAST(:{f} AS json)" if f in JSON_FIELDS else f":{f}" for f in TEXT_FIELDS),
    "last_hash",
    "encode(sha256(convert_to(last_hash || chr(10) || CAST(seq AS text) || ',' || :tail, 'UTF8')), 'hex')",
    "shard",
)
_APPEND_FREE = text(
    "WITH pick AS MATERIALIZED (SELECT shard, last_hash FROM audit_shard_head "  # noqa: S608 - fixed names
    "ORDER BY shard LIMIT 1 FOR UPDATE SKIP LOCKED), "
    "num AS MATERIALIZED (SELECT shard, last_hash, nextval('audit_event_seq') AS seq FROM pick), "
    f"ins AS (INSERT INTO audit_event ({', '.join(_COLUMNS)}) "
    f"SELECT {', '.join(_VALUES)} FROM num RETURNING seq, shard, hash) "
    "UPDATE audit_shard_head AS head SET seq = ins.seq, last_hash = ins.hash FROM ins "
    "WHERE head.shard = ins.shard RETURNING ins.seq"
)


def _append_free(conn: Connection, record: dict) -> int | None:
    """PostgreSQL: append ``record`` (no seq yet) to a free shard in one statement; its seq, or
    None when every shard is held by another transaction (nothing was written)."""
    texts = _texts(record)
    params = dict(zip(TEXT_FIELDS, texts, strict=True))
    if record["ts"].tzinfo is None:  # as ``UTCDateTime`` refuses it on the other path
        raise ValueError("naive datetime given where UTC is required")
    params["ts"] = record["ts"].astimezone(UTC)
    params["tail"] = canonical_tail(ts_text(record["ts"]), texts)
    return conn.execute(_APPEND_FREE, params).scalar_one_or_none()


def _take(conn: Connection, shard: int | None) -> tuple[int, int, str]:
    """Lock a shard's head and number the record: (shard, seq, the shard's last hash)."""
    if conn.dialect.name == "postgresql":
        row = None if shard is not None else conn.execute(_PICK_FREE).one_or_none()
        if row is None:  # every shard is busy (or one was asked for): wait for one
            if shard is None:
                count = conn.execute(select(func.count()).select_from(_SHARDS)).scalar_one()
                shard = random.randrange(count)  # noqa: S311 - spreading waiters, not a secret
            row = conn.execute(_WAIT_FOR, {"shard": shard}).one()
        return row.shard, row.seq, row.last_hash
    shard = shard or 0
    seq = conn.execute(_NEXT_SEQ).scalar_one()
    return shard, seq, conn.execute(_SHARD_LAST, {"take_shard": shard}).scalar_one()


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
    shard: int | None = None,
) -> int:
    """Append one record in the session's transaction and return its sequence number.

    ``at`` sets the record's time instead of now: only for importing past traffic in time order
    (the demo's history), never for live work. ``shard`` picks the chain (tests, importers); by
    default PostgreSQL takes the first shard no other transaction holds and SQLite, whose writers
    take turns anyway, shard 0."""
    # Core statements on the session's connection: the ORM layer adds nothing here but time,
    # and the shard's head row stays locked from this first statement until the caller commits
    conn = session.connection()
    record = {
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
    if shard is None and conn.dialect.name == "postgresql":
        taken = _append_free(conn, record)  # the common case: one round trip
        if taken is not None:
            return taken
    shard, seq, prev = _take(conn, shard)  # SQLite, a given shard, or every shard busy
    record["seq"] = seq
    digest = chain_hash(prev, record)
    values = {**record, "prev_hash": prev, "hash": digest, "shard": shard}
    if conn.dialect.name == "postgresql":
        # one round trip: insert the record and move the head in a data-modifying CTE
        params = {f"ae_{k}": v for k, v in values.items()}
        conn.execute(_INSERT_AND_SET_LAST, {**params, "at_shard": shard, "at_seq": seq})
    else:
        conn.execute(_INSERT, values)
        conn.execute(_SET_LAST, {"digest": digest, "at_shard": shard, "at_seq": seq})
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
    #: the shard whose chain is broken (``problem`` names it too)
    shard: int | None = None
    #: shards holding records, and checkpoints checked (with the newest one's number and time)
    shards: int = 0
    checkpoints: int = 0
    last_checkpoint: int | None = None
    last_checkpoint_ts: datetime | None = None
    #: records newer than the newest checkpoint: protected by their chains only (docs/audit.md)
    after_checkpoint: int = 0
    #: checkpoints whose signature was not checked (unsigned, or no key to check with)
    unsigned: int = 0

    def describe(self) -> str:
        if self.ok:
            line = f"audit chain intact: {self.checked} records verified in {self.shards} shard(s)"
            if self.last_checkpoint is None:
                return line + "; no checkpoint yet"
            return (
                f"{line}; {self.checkpoints} checkpoint(s), the last #{self.last_checkpoint} at "
                f"{ts_text(self.last_checkpoint_ts)[:19]} UTC; {self.after_checkpoint} record(s) since"
                + (f"; {self.unsigned} signature(s) not checked" if self.unsigned else "")
            )
        if self.first_bad_seq is None:
            return f"audit chain BROKEN: {self.problem} ({self.checked} checked)"
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


def _raw_rows(conn: Connection, shard: int, lo: int, hi: int, batch: int) -> Iterator[list[tuple]]:
    """Batches of (seq, prev_hash, hash, hashed bytes or match flag) of one shard's records with
    lo <= seq <= hi, in seq order."""
    dialect = conn.dialect.name
    sql = (
        f"SELECT seq, prev_hash, hash, {_hashed_sql(dialect)} FROM audit_event "  # noqa: S608
        f"WHERE shard = {int(shard)} AND seq >= {int(lo)} AND seq <= {int(hi)} ORDER BY seq"
    )
    dbapi = conn.connection.dbapi_connection
    if dialect == "postgresql":
        cur = dbapi.cursor(name=f"clinic_audit_verify_{shard}_{lo}")  # server-side: O(batch) memory
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
    """What one walk over a shard's records with seq lo..hi found (its first link is checked by
    whoever joins spans)."""

    checked: int
    first_prev: str | None
    last_hash: str | None
    first_seq: int | None = None
    last_seq: int | None = None
    #: a link that did not match: (seq of the record before, seq of the record whose link broke)
    broken_link: tuple[int, int] | None = None
    first_bad_seq: int | None = None
    problem: str | None = None
    rechecked: int = 0


def _walk(conn: Connection, shard: int, lo: int, hi: int, batch: int) -> _Span:
    expected_prev: str | None = None
    first_prev: str | None = None
    first_seq = last_seq = None
    checked = rechecked = 0
    sha256 = hashlib.sha256

    def bad(seq: int, problem: str, link: tuple[int, int] | None = None) -> _Span:
        return _Span(checked, first_prev, expected_prev, first_seq, last_seq, link, seq, problem, rechecked)

    batches = _raw_rows(conn, shard, lo, hi, batch)
    try:
        for rows in batches:
            for seq, prev_hash, digest, hashed in rows:
                if expected_prev is None:
                    first_prev, first_seq = prev_hash, seq
                elif prev_hash != expected_prev:
                    return bad(seq, "previous-hash link does not match", (last_seq, seq))
                if hashed is not True and (not hashed or sha256(hashed).hexdigest() != digest):
                    rechecked += 1
                    if not _typed_recheck(conn, seq, prev_hash, digest):
                        return bad(seq, "record content does not match its hash")
                expected_prev = digest
                last_seq = seq
                checked += 1
    finally:
        batches.close()
    return _Span(checked, first_prev, expected_prev, first_seq, last_seq, rechecked=rechecked)


def _walk_in_process(url: str, shard: int, lo: int, hi: int, batch: int) -> _Span:
    from clinic_server.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return _walk(conn, shard, lo, hi, batch)
    finally:
        engine.dispose()


def _shareable_url(conn: Connection) -> str | None:
    url = conn.engine.url
    if url.get_backend_name() == "sqlite" and (not url.database or url.database == ":memory:"):
        return None
    return url.render_as_string(hide_password=False)


def _first_absent(conn: Connection, after: int, before: int) -> int | None:
    """The first seq strictly between ``after`` and ``before`` that no record of any shard has:
    where a removed record was (numbers are global; on PostgreSQL a rolled-back append also
    leaves one unused, so this is the first candidate)."""
    if before - after <= 1:
        return None
    ae = AuditEvent.__table__
    if conn.execute(select(ae.c.seq).where(ae.c.seq == after + 1)).first() is None:
        return after + 1
    nxt = ae.alias("nxt")
    return conn.execute(
        select(func.min(ae.c.seq + 1)).where(
            ae.c.seq > after,
            ae.c.seq < before - 1,
            ~select(nxt.c.seq).where(nxt.c.seq == ae.c.seq + 1).exists(),
        )
    ).scalar()


def _link_problem(conn: Connection, shard: int, prev_seq: int, seq: int) -> tuple[int, str]:
    """Name a broken link between a shard's records ``prev_seq`` (0: the start) and ``seq``."""
    missing = _first_absent(conn, prev_seq, seq)
    if missing is not None:
        where = f"after record {prev_seq}" if prev_seq else "at the start of the shard"
        return missing, f"shard {shard}: record {missing} is missing ({where}, before record {seq})"
    return seq, f"shard {shard}: previous-hash link does not match"


#: below this many records a second process costs more than it saves
PARALLEL_THRESHOLD = 100_000


def heads(conn: Connection) -> dict[int, tuple[int, str]]:
    """Every shard's head: shard -> (last seq, last hash)."""
    rows = conn.execute(select(_SHARDS.c.shard, _SHARDS.c.seq, _SHARDS.c.last_hash).order_by(_SHARDS.c.shard))
    return {r.shard: (r.seq, r.last_hash) for r in rows}


def last_seq(conn: Connection) -> int:
    """The highest sequence number written (0 for an empty log)."""
    return int(conn.execute(select(func.max(AuditEvent.seq))).scalar() or 0)


def verify(conn: Connection, batch: int = 20_000, workers: int = 1, public_key=None) -> VerifyResult:
    """Walk every shard's chain in order and name the first record that does not fit; then check
    the checkpoints (``audit/checkpoint.py``): their own chain, and that every shard still holds
    the head each checkpoint saw (a truncated or rewritten shard is named).

    The heads are read first and only records up to them are checked, so appends that land while
    the check runs do not look like a broken chain. With ``workers`` > 1 (the CLI uses the CPU
    count) large shards are split into seq ranges checked by separate processes, each over its own
    connection; the links between ranges are checked here. Use that from single-threaded programs.
    """
    from clinic_server.audit import checkpoint as cp

    checkpoints = cp.load(conn)  # first: see ``load``
    shard_heads = heads(conn)
    ae = AuditEvent.__table__
    # records in a shard without a head: min and max come off the (shard, seq) index at once, and
    # with the usual contiguous shards 0..N-1 nothing else need be scanned
    low, high = conn.execute(select(func.min(ae.c.shard), func.max(ae.c.shard))).one()
    stray = None
    if low is not None and not set(range(low, high + 1)) <= set(shard_heads):
        stray = conn.execute(
            select(ae.c.shard, ae.c.seq).where(ae.c.shard.not_in(list(shard_heads))).limit(1)
        ).first()
    if stray is not None:
        problem = f"shard {stray.shard} has records but no head"
        return VerifyResult(False, 0, stray.seq, problem, shard=stray.shard)
    used = {s: h for s, h in shard_heads.items() if h[0] > 0}
    top = max((h[0] for h in used.values()), default=0)
    url = _shareable_url(conn) if workers > 1 and top >= PARALLEL_THRESHOLD else None
    n = 1 if url is None else min(workers, max(1, top // (PARALLEL_THRESHOLD // 2)))
    tasks: list[tuple[int, int, int]] = []
    for shard, (head_seq, _hash) in used.items():
        tasks += [(shard, 1 + head_seq * i // n, head_seq * (i + 1) // n) for i in range(n)]
    if url is None:
        spans = [(t, _walk(conn, *t, batch)) for t in tasks]
    else:
        single = threading.active_count() == 1 and "fork" in mp.get_all_start_methods()
        context = mp.get_context("fork" if single else "spawn")
        with ProcessPoolExecutor(min(len(tasks), workers), mp_context=context) as pool:
            futures = [pool.submit(_walk_in_process, url, *t, batch) for t in tasks]
            spans = list(zip(tasks, (f.result() for f in futures), strict=True))
    by_shard: dict[int, list[_Span]] = {}
    for (shard, _lo, _hi), span in spans:
        by_shard.setdefault(shard, []).append(span)
    checked = sum(sp.checked for group in by_shard.values() for sp in group)
    rechecked = sum(sp.rechecked for group in by_shard.values() for sp in group)
    ends: dict[int, tuple[int, str]] = {}
    for shard, group in by_shard.items():
        end = _check_shard(conn, shard, group, used[shard])
        if isinstance(end, _Broken):
            return VerifyResult(False, checked, end.seq, end.problem, rechecked, shard)
        ends[shard] = end
    report = cp.check(conn, ends, checkpoints, public_key)
    if report.problem is not None:
        return VerifyResult(False, checked, report.first_bad_seq, report.problem, rechecked, report.shard)
    return VerifyResult(
        True,
        checked,
        rechecked=rechecked,
        shards=len(used),
        checkpoints=report.count,
        last_checkpoint=report.last_id,
        last_checkpoint_ts=report.last_ts,
        after_checkpoint=report.after,
        unsigned=report.unsigned,
    )


@dataclass(frozen=True)
class _Broken:
    seq: int
    problem: str


def _check_shard(
    conn: Connection, shard: int, spans: list[_Span], head: tuple[int, str]
) -> tuple[int, str] | _Broken:
    """Join one shard's spans: the shard's end (last seq, last hash), or what is broken."""
    prev, prev_seq = GENESIS_HASH, 0
    for span in spans:
        if span.first_prev is not None and span.first_prev != prev:
            return _Broken(*_link_problem(conn, shard, prev_seq, span.first_seq))
        if span.first_bad_seq is not None:
            if span.broken_link is not None:
                return _Broken(*_link_problem(conn, shard, *span.broken_link))
            return _Broken(span.first_bad_seq, f"shard {shard}: {span.problem}")
        if span.last_hash is not None:
            prev, prev_seq = span.last_hash, span.last_seq
    head_seq, head_hash = head
    if prev_seq != head_seq:
        missing = f"records after {prev_seq} up to {head_seq} are missing"
        return _Broken(prev_seq + 1, f"shard {shard}: chain ends early: {missing}")
    if head_hash != prev:
        return _Broken(head_seq, f"shard {shard}: chain head does not match the last record")
    return prev_seq, prev


def loaded(conn: Connection, seq: int, last_hash: str) -> None:
    """After bulk-loading a chain into shard 0 outside ``append`` (benchmarks, importers): its head
    is (``seq``, ``last_hash``) and new records are numbered after it."""
    conn.execute(update(_SHARDS).where(_SHARDS.c.shard == 0).values(seq=seq, last_hash=last_hash))
    conn.execute(update(_COUNTER).where(_COUNTER.c.id == 1).values(seq=seq, last_hash=last_hash))
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT setval('audit_event_seq', :n, :called)"), {"n": max(seq, 1), "called": seq > 0}
        )
