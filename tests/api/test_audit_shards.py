"""Audit shards and checkpoints (SQLite and PostgreSQL): appends from different shards do not wait
for each other, every shard's chain verifies, and a removed, altered or cut-off record in any one
shard is named (shard and seq), by its chain or by a checkpoint."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import delete, event, func, select, text, update

from clinic_server import cli
from clinic_server.audit import chain as audit
from clinic_server.audit import checkpoint
from clinic_server.db import make_engine, make_sessionmaker
from clinic_server.db.migrate import upgrade
from clinic_server.db.models import AuditCheckpoint, AuditEvent, AuditShardHead
from clinic_server.jobs.audit_checkpoint import CheckpointJob, make_checkpoint
from tests.api.test_audit_chain import bypass_triggers

pytestmark = pytest.mark.api

NORRA = audit.Who("a" * 32, "anna", "nurse", "1" * 32)
SODRA = audit.Who("b" * 32, "bo", "nurse", "2" * 32)
AE = AuditEvent.__table__


@pytest.fixture
def engine(db_url):
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


def one(session, who: audit.Who, i: int, shard: int | None = None) -> int:
    return audit.append(
        session,
        who=who,
        request=audit.RequestInfo(f"{who.username}-{i}", "test", None),
        action="read",
        resource_type="person",
        person_id=f"{i:032x}",
        categories=["identity"],
        outcome="allowed",
        reason=f"{who.username} read {i}",
        purpose="care",
        shard=shard,
    )


def two_shards(engine, n: int = 10) -> dict[int, list[int]]:
    """Norra's records in shard 1 and Södra's in shard 2, interleaved: seq -> shard as written."""
    written: dict[int, list[int]] = {1: [], 2: []}
    with make_sessionmaker(engine)() as s:
        for i in range(n):
            written[1].append(one(s, NORRA, i, shard=1))
            s.commit()
            written[2].append(one(s, SODRA, i, shard=2))
            s.commit()
    return written


def verify(engine, **kw) -> audit.VerifyResult:
    with engine.connect() as conn:
        return audit.verify(conn, **kw)


def test_concurrent_appends_from_two_orgs_both_verify(engine):
    threads, per_thread = 8, 30
    maker = make_sessionmaker(engine)
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                with maker() as s:
                    one(s, NORRA if t % 2 else SODRA, t * 1000 + i)
                    s.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors, errors[:3]
    result = verify(engine)
    assert result.ok and result.checked == threads * per_thread, result
    with engine.connect() as conn:
        seqs = conn.execute(select(AE.c.seq).order_by(AE.c.seq)).scalars().all()
        shards = conn.execute(select(AE.c.shard).distinct()).scalars().all()
        orgs = conn.execute(select(AE.c.organization_id).distinct()).scalars().all()
        # within a shard, seq order is chain order: each record links to the one before it
        rows = conn.execute(select(AE.c.shard, AE.c.seq, AE.c.prev_hash, AE.c.hash).order_by(AE.c.seq)).all()
    assert seqs == list(range(1, threads * per_thread + 1))  # one global number, no gaps here
    assert sorted(orgs) == sorted([NORRA.organization_id, SODRA.organization_id])
    last: dict[int, str] = {}
    for shard, _seq, prev, digest in rows:
        assert prev == last.get(shard, audit.GENESIS_HASH)
        last[shard] = digest
    if engine.dialect.name == "postgresql":
        assert len(shards) > 1  # writers did not wait for one head row
    else:
        assert shards == [0]  # SQLite's writers take turns anyway: one chain


def test_an_open_append_does_not_hold_up_another(engine):
    """PostgreSQL: a transaction holding shard 0 until it commits; another append goes to shard 1
    at once. SQLite: writers take turns, so the second waits and takes shard 0 after the first."""
    maker = make_sessionmaker(engine)
    with maker() as first:
        seq1 = one(first, NORRA, 1)
        if engine.dialect.name == "postgresql":
            with maker() as second:
                second.execute(text("SET LOCAL lock_timeout = '2s'"))
                seq2 = one(second, SODRA, 2)  # would time out if it waited for shard 0
                second.commit()
            first.commit()
        else:
            first.commit()
            with maker() as second:
                seq2 = one(second, SODRA, 2)
                second.commit()
    with engine.connect() as conn:
        placed = dict(conn.execute(select(AE.c.seq, AE.c.shard)).all())
    assert placed == ({seq1: 0, seq2: 1} if engine.dialect.name == "postgresql" else {seq1: 0, seq2: 0})
    assert seq2 > seq1
    assert verify(engine).ok


def test_records_in_two_shards_verify_and_name_their_shard(engine, db_url, capsys):
    written = two_shards(engine)
    result = verify(engine)
    assert result.ok and result.checked == 20 and result.shards == 2, result
    assert cli.main(["--database-url", db_url, "audit", "verify"]) == 0
    assert "intact: 20 records verified in 2 shard(s); no checkpoint yet" in capsys.readouterr().out
    victim = written[2][4]
    bypass_triggers(engine)
    with engine.begin() as conn:
        conn.execute(update(AuditEvent.__table__).where(AE.c.seq == victim).values(reason="nothing"))
    result = verify(engine)
    assert not result.ok and result.shard == 2 and result.first_bad_seq == victim, result
    assert result.problem == "shard 2: record content does not match its hash"
    assert cli.main(["--database-url", db_url, "audit", "verify"]) == 1
    assert f"BROKEN at record {victim}: shard 2: record content" in capsys.readouterr().out


def test_a_removed_record_is_named_by_shard_and_seq(engine):
    written = two_shards(engine)
    bypass_triggers(engine)
    victim = written[1][3]
    with engine.begin() as conn:
        conn.execute(delete(AE).where(AE.c.seq == victim))
    result = verify(engine)
    assert not result.ok and result.shard == 1 and result.first_bad_seq == victim, result
    before, after = written[1][2], written[1][4]
    assert (
        result.problem
        == f"shard 1: record {victim} is missing (after record {before}, before record {after})"
    )


def test_a_removed_first_record_is_named(engine):
    written = two_shards(engine)
    bypass_triggers(engine)
    with engine.begin() as conn:
        conn.execute(delete(AE).where(AE.c.seq == written[2][0]))
    result = verify(engine)
    assert not result.ok and result.shard == 2 and result.first_bad_seq == written[2][0], result
    assert "missing (at the start of the shard" in result.problem


def cut_tail(engine, shard: int, keep_through: int) -> None:
    """What a careful attacker does: delete a shard's tail and set its head back to match."""
    bypass_triggers(engine)
    with engine.begin() as conn:
        conn.execute(delete(AE).where(AE.c.shard == shard, AE.c.seq > keep_through))
        last = conn.execute(select(AE.c.hash).where(AE.c.seq == keep_through)).scalar_one()
        conn.execute(
            update(AuditShardHead)
            .where(AuditShardHead.shard == shard)
            .values(seq=keep_through, last_hash=last)
        )


def test_a_cut_tail_with_its_head_left_is_named(engine):
    written = two_shards(engine)
    bypass_triggers(engine)
    with engine.begin() as conn:
        conn.execute(delete(AE).where(AE.c.shard == 1, AE.c.seq > written[1][6]))
    result = verify(engine)
    assert not result.ok and result.shard == 1 and result.first_bad_seq == written[1][6] + 1, result
    assert "chain ends early" in result.problem


def test_a_checkpoint_finds_a_tail_cut_with_its_head(engine, db_url, capsys):
    written = two_shards(engine)
    made = make_checkpoint(make_sessionmaker(engine))
    assert made.startswith("checkpoint #1 at ") and made.endswith(", unsigned")
    ok = verify(engine)
    assert ok.ok and ok.checkpoints == 1 and ok.after_checkpoint == 0, ok
    # a record after the checkpoint, then the cut reaching back before it
    with make_sessionmaker(engine)() as s:
        one(s, SODRA, 99, shard=2)
        s.commit()
    assert verify(engine).after_checkpoint == 1
    keep = written[2][6]
    cut_tail(engine, 2, keep)
    result = verify(engine)
    assert not result.ok and result.shard == 2 and result.first_bad_seq == keep + 1, result
    assert result.problem.startswith(
        f"shard 2: records after {keep} up to {written[2][-1]} are missing (the shard was cut short: "
        "checkpoint #1 of "
    )
    assert cli.main(["--database-url", db_url, "audit", "verify"]) == 1
    assert f"BROKEN at record {keep + 1}: shard 2: records after" in capsys.readouterr().out


def test_a_tail_cut_after_the_last_checkpoint_is_not_seen(engine):
    """The limit the design states (docs/audit.md): records newer than the last checkpoint are
    protected by their chain only; verify says how many there are."""
    written = two_shards(engine, 4)
    make_checkpoint(make_sessionmaker(engine))
    with make_sessionmaker(engine)() as s:
        extra = [one(s, SODRA, 90 + i, shard=2) for i in range(3)]
        s.commit()
    assert verify(engine).after_checkpoint == 3
    cut_tail(engine, 2, written[2][-1])
    result = verify(engine)
    assert result.ok and result.after_checkpoint == 0 and result.checked == 8, (result, extra)


def test_a_rewritten_shard_is_named_by_the_checkpoint(engine):
    """Altering a record and re-hashing everything after it (and the head) passes the chain check;
    the checkpoint's head no longer matches."""
    written = two_shards(engine)
    make_checkpoint(make_sessionmaker(engine))
    bypass_triggers(engine)
    victim = written[1][5]
    with engine.begin() as conn:
        rows = conn.execute(
            select(AE).where(AE.c.shard == 1, AE.c.seq >= victim).order_by(AE.c.seq)
        ).mappings()
        rows = [dict(r) for r in rows]
        prev = rows[0]["prev_hash"]
        for row in rows:
            if row["seq"] == victim:
                row["reason"] = "nothing to see"
            row["prev_hash"], row["hash"] = prev, audit.chain_hash(prev, row)
            prev = row["hash"]
            conn.execute(
                update(AE)
                .where(AE.c.seq == row["seq"])
                .values(reason=row["reason"], prev_hash=row["prev_hash"], hash=row["hash"])
            )
        conn.execute(update(AuditShardHead).where(AuditShardHead.shard == 1).values(last_hash=prev))
    result = verify(engine)
    assert not result.ok and result.shard == 1 and result.first_bad_seq == written[1][-1], result
    assert "the shard was rewritten after record 0, at or before record" in result.problem


def test_checkpoints_are_chained(engine):
    maker = make_sessionmaker(engine)
    for i in range(3):
        with maker() as s:
            one(s, NORRA, i)
            s.commit()
        assert make_checkpoint(maker).startswith(f"checkpoint #{i + 1} ")
    assert make_checkpoint(maker) == "nothing appended since the last checkpoint"
    result = verify(engine)
    assert result.ok and result.checkpoints == 3 and result.last_checkpoint == 3, result
    with engine.begin() as conn:
        heads = conn.execute(select(AuditCheckpoint.heads).where(AuditCheckpoint.id == 2)).scalar_one()
        conn.execute(
            update(AuditCheckpoint).where(AuditCheckpoint.id == 2).values(heads=[[0, 1, heads[0][2]]])
        )
    assert verify(engine).problem == "checkpoint #2: content does not match its hash"
    with engine.begin() as conn:
        conn.execute(delete(AuditCheckpoint).where(AuditCheckpoint.id == 2))
    assert verify(engine).problem == "checkpoint #2 is missing (the next is #3)"


def test_signed_checkpoints(engine, db_url, capsys, monkeypatch):
    secret = "audit-signing-" + "k" * 40
    monkeypatch.setenv("CLINIC_AUDIT_SIGNING_KEY", secret)
    maker = make_sessionmaker(engine)
    key = checkpoint.signing_key(secret)
    for i in range(2):
        with maker() as s:
            one(s, NORRA, i)
            s.commit()
        assert make_checkpoint(maker, key).endswith(f", signed by key {checkpoint.key_id(key.public_key())}")
    assert cli.main(["--database-url", db_url, "audit", "public-key"]) == 0
    public = capsys.readouterr().out.strip()
    assert public == checkpoint.public_text(key)
    assert cli.main(["--database-url", db_url, "audit", "verify", "--public-key", public]) == 0
    assert "2 checkpoint(s), the last #2" in capsys.readouterr().out
    # another key's public key: the signatures are not checked, and verify says so
    other = checkpoint.public_text(checkpoint.signing_key("x" * 40))
    monkeypatch.delenv("CLINIC_AUDIT_SIGNING_KEY")
    assert cli.main(["--database-url", db_url, "audit", "verify", "--public-key", other]) == 0
    assert "2 signature(s) not checked" in capsys.readouterr().out
    assert cli.main(["--database-url", db_url, "audit", "verify", "--public-key", "not a key"]) == 2
    assert "not an Ed25519 public key" in capsys.readouterr().err
    # an attacker rewrites the last checkpoint consistently but cannot sign it
    with engine.begin() as conn:
        cps = AuditCheckpoint.__table__
        last = conn.execute(select(cps).where(cps.c.id == 2)).one()
        forged = checkpoint.checkpoint_hash(last.prev_hash, 2, last.ts, [[0, 1, last.heads[0][2]]])
        conn.execute(
            update(AuditCheckpoint)
            .where(AuditCheckpoint.id == 2)
            .values(heads=[[0, 1, last.heads[0][2]]], hash=forged)
        )
    with engine.connect() as conn:
        assert audit.verify(conn, public_key=key.public_key()).problem == (
            "checkpoint #2: the signature does not match"
        )
        conn.execute(
            update(AuditCheckpoint).where(AuditCheckpoint.id == 2).values(signature=None, key_id=None)
        )
        assert audit.verify(conn, public_key=key.public_key()).problem == (
            "checkpoint #2 is not signed by the key, unlike an earlier checkpoint"
        )


def test_one_checkpoint_per_interval_across_processes(engine):
    """Two servers' jobs over one database: the second finds the job run lately and skips."""
    maker = make_sessionmaker(engine)
    with maker() as s:
        one(s, NORRA, 1)
        s.commit()
    a, b = CheckpointJob(maker, 5), CheckpointJob(maker, 5)
    a.step()
    with maker() as s:
        one(s, NORRA, 2)
        s.commit()
    b.step()
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(AuditCheckpoint)).scalar_one() == 1
    # once the interval has passed, the next one is made
    assert make_checkpoint(maker, min_gap=timedelta(0)).startswith("checkpoint #2 ")


def test_the_existing_chain_becomes_shard_0(tmp_path):
    """A database at the revision before shards, with a chain written the old way (one head row),
    upgrades to shards: the chain verifies as shard 0 and new records follow its numbers."""
    from tests.dbutil import PG_URL

    url = PG_URL or f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = make_engine(url)
    if PG_URL:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    upgrade(engine, "0020")
    prev = audit.GENESIS_HASH
    from clinic_server.db import utcnow

    with engine.begin() as conn:
        for seq in range(1, 6):
            record = {
                "seq": seq,
                "ts": utcnow(),
                "user_id": None,
                "username": f"old {seq}",
                "role": None,
                "organization_id": None,
                "action": "login_failed",
                "resource_type": "session",
                "resource_id": None,
                "person_id": None,
                "categories": [],
                "purpose": "authentication",
                "outcome": "denied",
                "reason": "it's old",
                "request_id": f"r{seq}",
                "client_name": None,
                "client_version": None,
                "details": {},
            }
            digest = audit.chain_hash(prev, record)
            cols = ", ".join([*record, "prev_hash", "hash"])
            marks = ", ".join(f":{c}" for c in [*record, "prev_hash", "hash"])
            values = {**record, "prev_hash": prev, "hash": digest}
            values["categories"], values["details"] = "[]", "{}"
            conn.execute(text(f"INSERT INTO audit_event ({cols}) VALUES ({marks})"), values)  # noqa: S608
            prev = digest
        conn.execute(text("UPDATE audit_head SET seq = 5, last_hash = :h WHERE id = 1"), {"h": prev})
    upgrade(engine)
    try:
        result = verify(engine)
        assert result.ok and result.checked == 5 and result.shards == 1, result
        with make_sessionmaker(engine)() as s:
            assert one(s, NORRA, 6) == 6
            s.commit()
        result = verify(engine)
        assert result.ok and result.checked == 6, result
        with engine.connect() as conn:
            assert conn.execute(select(AE.c.shard).distinct()).scalars().all() == [0]
    finally:
        engine.dispose()


def test_a_record_moved_to_a_shard_without_a_head_is_named(engine):
    written = two_shards(engine, 3)
    bypass_triggers(engine)
    with engine.begin() as conn:
        conn.execute(update(AE).where(AE.c.seq == written[2][1]).values(shard=99))
    result = verify(engine)
    assert not result.ok and result.shard == 99 and result.first_bad_seq == written[2][1], result
    assert result.problem == "shard 99 has records but no head"


def test_verify_while_appends_and_checkpoints_land_finds_nothing_wrong(engine):
    """Heads and checkpoints read in the right order: a checkpoint made during a verify never looks
    like a cut shard, nor an append like a broken chain."""
    maker = make_sessionmaker(engine)
    done = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for i in range(60):
                with maker() as s:
                    one(s, NORRA if i % 2 else SODRA, i)
                    s.commit()
                if i % 5 == 4:
                    make_checkpoint(maker)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            done.set()

    writer = threading.Thread(target=write)
    writer.start()
    results = []
    while not done.is_set():
        results.append(verify(engine))
    writer.join()
    assert not errors, errors[:3]
    results.append(verify(engine))
    assert results and all(r.ok for r in results), [r for r in results if not r.ok][:3]
    assert results[-1].checked == 60 and results[-1].checkpoints == 12, results[-1]


def awkward(session, i: int, shard: int | None = None) -> int:
    """A record with awkward content: quotes, newlines, non-ASCII, NUL, nested JSON, None fields."""
    return audit.append(
        session,
        who=audit.Who(None, f"o'brien\x00 {i}", None, 'Åsa "q" ö') if i % 2 else NORRA,
        request=audit.RequestInfo(f"r'{i}\n", None if i % 3 else "cli\x00ent", None),
        action="read",
        resource_type="person",
        resource_id=None if i % 2 else f"{i:032x}",
        person_id=None,
        categories=["vitals", "identity", "it's"] if i % 2 else (),
        outcome="allowed",
        reason=f"line one\nline 'two' \"three\" \\ back, comma \u2028 ☃ 𝄞 NUL\x00 {i}",
        purpose="care",
        details={
            "z": [i, None, True, 1.5, "a\x00b"],
            "a": {"ö": "'x'", "n": None, "deep": {"list": [{"k": "v\n"}], "e": {}}},
            "nul\x00key": "\\u0000",
        },
        shard=shard,
    )


def test_the_one_statement_append_hashes_awkward_records_exactly(engine, monkeypatch):
    """PostgreSQL's common case is one statement, the hash computed by the database: it must be
    the hash Python computes (``verify`` checks every record on its fast path, none re-checked).
    SQLite takes its turn on the global counter (``_take``) and hashes in Python: the same records
    must chain just as exactly there."""
    postgresql = engine.dialect.name == "postgresql"
    fallback: list[int | None] = []
    take = audit._take
    monkeypatch.setattr(audit, "_take", lambda conn, shard: fallback.append(shard) or take(conn, shard))
    statements: list[str] = []
    maker = make_sessionmaker(engine)
    with maker() as s:
        conn = s.connection()
        event.listen(conn, "before_cursor_execute", lambda *a: statements.append(a[2]))
        seqs = [awkward(s, i) for i in range(12)]  # several in one transaction: its own shard again
        s.commit()
    with maker() as s:
        seqs += [awkward(s, i) for i in range(12, 15)]
        s.commit()
    if postgresql:
        assert fallback == [] and len(statements) == 12, statements
    else:
        assert fallback == [None] * 15 and len(statements) > 12
    result = verify(engine)
    assert result.ok and result.checked == 15 and result.rechecked == 0, result
    with engine.connect() as conn:
        rows = conn.execute(select(AE).order_by(AE.c.seq)).mappings().all()
    assert [r["seq"] for r in rows] == seqs and {r["shard"] for r in rows} == {0}
    prev = audit.GENESIS_HASH
    for r in rows:  # the database's hash is Python's, over the typed values read back
        assert r["prev_hash"] == prev and r["hash"] == audit.chain_hash(prev, dict(r))
        prev = r["hash"]
    assert "\x00" not in rows[1]["reason"] and "\ufffd" in rows[1]["reason"]
    assert rows[0]["details"]["a"]["deep"] == {"e": {}, "list": [{"k": "v\n"}]}
    with engine.connect() as conn:
        assert audit.heads(conn)[0] == (seqs[-1], prev)


def test_with_every_shard_held_an_append_waits_and_still_chains(engine, monkeypatch):
    """The one statement finds no free shard (every head row is held by other open transactions):
    nothing is written, and the append falls back to waiting for a shard. (SQLite: appends take
    turns on the one write lock; one held by an open append makes the next wait, then chain.)"""
    maker = make_sessionmaker(engine)
    if engine.dialect.name != "postgresql":
        _sqlite_appends_take_turns(maker, engine)
        return
    with maker() as s:
        awkward(s, 0)
        s.commit()
    fallback: list[int | None] = []
    take = audit._take
    monkeypatch.setattr(audit, "_take", lambda conn, shard: fallback.append(shard) or take(conn, shard))
    with engine.connect() as conn:
        shards = conn.execute(select(func.count()).select_from(AuditShardHead)).scalar_one()
    # some holders hold their shard by appending, the rest by locking head rows
    holders = [maker() for _ in range(3)]
    held = [awkward(h, 10 + i) for i, h in enumerate(holders)]
    lock_rest = maker()
    lock_rest.execute(text("SELECT shard FROM audit_shard_head WHERE shard >= 3 FOR UPDATE"))
    writer, done, errors = _start_writer(maker)
    writer.join(1.0)
    assert writer.is_alive() and not done and not errors  # waiting: every shard is held
    assert fallback == [None]
    lock_rest.rollback()
    for h in holders:
        h.commit()
    writer.join(10)
    assert not writer.is_alive() and not errors, errors
    lock_rest.close()
    for h in holders:
        h.close()
    assert len(done) == 1 and done[0] > max(held)
    result = verify(engine)
    assert result.ok and result.checked == 5 and result.rechecked == 0, result
    assert shards == 16


def _start_writer(maker) -> tuple[threading.Thread, list[int], list[BaseException]]:
    """A thread appending one awkward record in its own transaction: (thread, its seq, its errors)."""
    done: list[int] = []
    errors: list[BaseException] = []

    def write() -> None:
        try:
            with maker() as s:
                done.append(awkward(s, 99))
                s.commit()
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            errors.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    return writer, done, errors


def _sqlite_appends_take_turns(maker, engine) -> None:
    with maker() as s:
        awkward(s, 0)
        s.commit()
    holder = maker()
    held = awkward(holder, 10)  # an open transaction holding SQLite's write lock
    writer, done, errors = _start_writer(maker)
    writer.join(1.0)
    assert writer.is_alive() and not done and not errors  # waiting for the write lock
    holder.commit()
    holder.close()
    writer.join(10)
    assert not writer.is_alive() and not errors, errors
    assert done == [held + 1]
    result = verify(engine)
    assert result.ok and result.checked == 3 and result.rechecked == 0, result
