"""Tamper evidence of the audit chain, and appends under concurrency (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from sqlalchemy import select, text, update

from clinic_server import cli
from clinic_server.audit import chain as audit
from clinic_server.db import make_engine, make_sessionmaker
from clinic_server.db.models import AuditEvent, AuditShardHead
from tests.conftest import bearer, login

pytestmark = pytest.mark.api

N = 20
WHO = audit.Who("u" * 32, "o'brien", "nurse", "o" * 32)
REQ = audit.RequestInfo("req-1", "clinic-tui", "0.1.0")


@pytest.fixture
def engine(db_url):
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


def append_many(engine, n: int, start: int = 0) -> None:
    """Records with awkward values: quotes, unicode, newlines, NULLs, nested details."""
    with make_sessionmaker(engine)() as s:
        for i in range(start, start + n):
            audit.append(
                s,
                who=WHO if i % 3 else audit.Who(None, f"ghost {i}", None, None),
                request=REQ if i % 4 else audit.RequestInfo(f"r{i}", None, None),
                action="read" if i % 2 else "login_failed",
                resource_type="person",
                resource_id=f"{i:032x}" if i % 5 else None,
                person_id=f"{i:032x}" if i % 5 else None,
                categories=["vitals", "identity"] if i % 2 else (),
                outcome="allowed" if i % 2 else "denied",
                reason=f"it's record {i}: Åsa ö \u2028 'quoted' \"double\" \\ back\nslash,comma",
                purpose="care",
                details={"z": [i, None, True, 1.5], "a": {"ö": "'x'", "n": None}, "when": "2026-01-01"},
            )
            s.commit()


def chain(engine) -> audit.VerifyResult:
    with engine.connect() as conn:
        return audit.verify(conn)


def bypass_triggers(engine) -> None:
    """What an attacker with database access does first (the triggers guard the honest path)."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER IF EXISTS audit_event_no_update"))
            conn.execute(text("DROP TRIGGER IF EXISTS audit_event_no_delete"))


CONTENT = [c for c in AuditEvent.__table__.columns.keys() if c != "seq"]  # noqa: SIM118


def _row(conn, seq: int) -> dict:
    return dict(conn.execute(select(AuditEvent.__table__).where(AuditEvent.seq == seq)).mappings().one())


def change_reason(conn):
    conn.execute(update(AuditEvent.__table__).where(AuditEvent.seq == 7).values(reason="nothing to see"))


def change_username(conn):
    conn.execute(update(AuditEvent.__table__).where(AuditEvent.seq == 7).values(username="somebody else"))


def change_outcome(conn):
    conn.execute(update(AuditEvent.__table__).where(AuditEvent.seq == 7).values(outcome="allowed"))


def change_categories(conn):
    conn.execute(update(AuditEvent.__table__).where(AuditEvent.seq == 7).values(categories=["identity"]))


def change_null_to_empty(conn):
    """NULL and '' must hash differently (seq 6 was written with client_name NULL... see append_many)."""
    conn.execute(
        update(AuditEvent.__table__)
        .where(AuditEvent.seq == 7, AuditEvent.client_name.is_(None))
        .values(client_name="")
    )
    conn.execute(
        update(AuditEvent.__table__)
        .where(AuditEvent.seq == 7, AuditEvent.resource_id.is_(None))
        .values(resource_id="")
    )
    conn.execute(
        update(AuditEvent.__table__)
        .where(AuditEvent.seq == 7, AuditEvent.user_id.is_(None))
        .values(user_id="")
    )


def change_time(conn):
    row = _row(conn, 7)
    conn.execute(
        update(AuditEvent.__table__).where(AuditEvent.seq == 7).values(ts=row["ts"].replace(microsecond=1))
    )


def rehash_one(conn):
    """Recomputing the edited record's own hash only moves the break to the next link."""
    row = _row(conn, 7)
    row["reason"] = "rewritten"
    digest = audit.chain_hash(row["prev_hash"], row)
    conn.execute(
        update(AuditEvent.__table__).where(AuditEvent.seq == 7).values(reason="rewritten", hash=digest)
    )


def delete_one(conn):
    conn.execute(AuditEvent.__table__.delete().where(AuditEvent.seq == 7))


def swap_two(conn):
    a, b = _row(conn, 7), _row(conn, 12)
    conn.execute(update(AuditEvent.__table__).where(AuditEvent.seq == 7).values({c: b[c] for c in CONTENT}))
    conn.execute(update(AuditEvent.__table__).where(AuditEvent.seq == 12).values({c: a[c] for c in CONTENT}))


def swap_two_keep_hashes(conn):
    keep = {"prev_hash", "hash"}
    a, b = _row(conn, 7), _row(conn, 12)
    cols = [c for c in CONTENT if c not in keep]
    conn.execute(update(AuditEvent.__table__).where(AuditEvent.seq == 7).values({c: b[c] for c in cols}))
    conn.execute(update(AuditEvent.__table__).where(AuditEvent.seq == 12).values({c: a[c] for c in cols}))


def truncate_tail(conn):
    conn.execute(AuditEvent.__table__.delete().where(AuditEvent.seq > 15))


def rewrite_head(conn):
    conn.execute(update(AuditShardHead).where(AuditShardHead.shard == 0).values(last_hash="f" * 64))


TAMPERING = [
    (change_reason, 7, "content"),
    (change_username, 7, "content"),
    (change_outcome, 7, "content"),
    (change_categories, 7, "content"),
    (change_null_to_empty, 7, "content"),
    (change_time, 7, "content"),
    (rehash_one, 8, "link"),
    (delete_one, 7, "missing"),
    (swap_two, 7, "link"),
    (swap_two_keep_hashes, 7, "content"),
    (truncate_tail, 16, "ends early"),
    (rewrite_head, N, "head"),
]


def test_an_intact_chain_verifies_on_the_fast_path(engine, capsys, db_url):
    append_many(engine, N)
    result = chain(engine)
    assert result.ok and result.checked == N and result.first_bad_seq is None
    # every record was checked from the database-assembled text: it agrees with canonical()
    assert result.rechecked == 0
    assert cli.main(["--database-url", db_url, "audit", "verify"]) == 0
    assert f"intact: {N} records" in capsys.readouterr().out


def test_an_empty_chain_verifies(engine):
    result = chain(engine)
    assert result.ok and result.checked == 0


@pytest.mark.parametrize(("tamper", "first_bad", "words"), TAMPERING, ids=[t[0].__name__ for t in TAMPERING])
def test_tampering_names_the_first_broken_record(engine, db_url, capsys, tamper, first_bad, words):
    append_many(engine, N)
    bypass_triggers(engine)
    with engine.begin() as conn:
        tamper(conn)
    result = chain(engine)
    assert not result.ok
    assert result.first_bad_seq == first_bad, result
    assert words in result.problem, result
    assert cli.main(["--database-url", db_url, "audit", "verify"]) == 1
    out = capsys.readouterr().out
    assert f"BROKEN at record {first_bad}:" in out


@pytest.mark.parametrize(
    ("tamper", "first_bad"),
    [(change_reason, 7), (delete_one, 7), (swap_two, 7), (truncate_tail, 16), (rehash_one, 8)],
)
def test_parallel_verification_finds_the_same_break(engine, db_url, monkeypatch, tamper, first_bad):
    """Split into ranges checked by separate processes: the links between ranges are checked too."""
    monkeypatch.setattr(audit, "PARALLEL_THRESHOLD", 4)
    append_many(engine, N)
    with engine.connect() as conn:
        assert audit.verify(conn, workers=3) == audit.verify(conn)
        assert audit.verify(conn, workers=3).ok
    bypass_triggers(engine)
    with engine.begin() as conn:
        tamper(conn)
    with engine.connect() as conn:
        result = audit.verify(conn, workers=3)
    assert not result.ok and result.first_bad_seq == first_bad, result


def test_a_reencoded_json_value_is_not_tampering(engine):
    """The fast path compares stored text; a value stored differently but equal is re-checked typed."""
    append_many(engine, N)
    bypass_triggers(engine)
    with engine.begin() as conn:
        stored = conn.execute(text("SELECT details FROM audit_event WHERE seq = 5")).scalar()
        value = stored if isinstance(stored, dict) else json.loads(stored)
        reformatted = json.dumps(value, indent=2)
        cast = "CAST(:t AS json)" if conn.dialect.name == "postgresql" else ":t"
        conn.execute(text(f"UPDATE audit_event SET details = {cast} WHERE seq = 5"), {"t": reformatted})  # noqa: S608
    result = chain(engine)
    assert result.ok and result.rechecked == 1


def test_the_triggers_stop_the_honest_path(engine):
    append_many(engine, 3)
    from sqlalchemy.exc import DBAPIError

    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        change_reason(conn)
        conn.execute(update(AuditEvent.__table__).where(AuditEvent.seq == 2).values(reason="x"))


def test_concurrent_appends_from_threads_keep_one_gap_free_chain(engine):
    threads, per_thread = 8, 50
    errors: list[BaseException] = []
    maker = make_sessionmaker(engine)
    barrier = threading.Barrier(threads)

    def work(t: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                with maker() as s:
                    audit.append(
                        s,
                        who=WHO,
                        request=audit.RequestInfo(f"t{t}-{i}", "bench", None),
                        action="read",
                        resource_type="person",
                        outcome="allowed",
                        reason=f"thread {t} append {i}",
                        purpose="care",
                    )
                    s.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors, errors[:3]
    result = chain(engine)
    assert result.ok and result.checked == threads * per_thread
    with engine.connect() as conn:
        seqs = conn.execute(select(AuditEvent.seq).order_by(AuditEvent.seq)).scalars().all()
        request_ids = conn.execute(select(AuditEvent.request_id)).scalars().all()
    assert seqs == list(range(1, threads * per_thread + 1))
    assert len(set(request_ids)) == threads * per_thread


async def test_concurrent_requests_each_leave_one_record_in_one_chain(http, world, session, engine):
    org = world.org("Norra")
    world.user("anna", "nurse", org)
    people = [world.person("P", f"Fam{i}") for i in range(4)]
    for p in people[:3]:
        world.consent(p, org)
    session.commit()
    tokens = await login(http, "anna")
    with engine.connect() as conn:
        before = audit.last_seq(conn)

    async def one(i: int):
        if i % 10 == 0:
            return await http.get("/patients", headers=bearer(tokens))
        return await http.get(f"/patients/{people[i % 4].id}", headers=bearer(tokens))

    responses = await asyncio.gather(*(one(i) for i in range(200)))
    assert {r.status_code for r in responses} <= {200, 403}
    assert sum(r.status_code == 403 for r in responses) == sum(1 for i in range(200) if i % 10 and i % 4 == 3)
    result = chain(engine)
    assert result.ok and result.checked == before + 200
    with engine.connect() as conn:
        seqs = conn.execute(select(AuditEvent.seq).order_by(AuditEvent.seq)).scalars().all()
    assert seqs == list(range(1, before + 201))
