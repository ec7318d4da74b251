"""Benchmark: what policy + audit cost on a read, audit appends under concurrency, chain verification.

    .venv/bin/python bench/bench_policy_audit.py [--reads 2000] [--records 1000000] [--parts abc]
                                                 [--pg postgresql+psycopg://postgres@127.0.0.1:5432/scratch]

(a) The same typical read, ``GET /api/v1/patients/{id}`` of a consented patient (identity, contact,
    conditions, latest vitals, record entries), through the real app in-process (httpx
    ASGITransport), two ways, interleaved pair by pair:
      - product route (``api/routes/patients.py``, an ``AuditedRouter`` endpoint): authenticate and
        open the audit scope (``GuardDep``) -> ``guard.person``: load the person, ``facts.load_facts``
        and ``policy.authorize`` -> query -> projection -> the scope's one record (``audit.append``,
        sharded) in the same transaction -> commit -> JSON;
      - bench-only route, added to the app by this script on a plain ``APIRouter`` and not part of
        the product: the same authentication (``deps.authenticate``, then the connection handed
        back as ``get_guard`` does), query and projection with a fixed full ``Decision``; no
        policy, no audit scope, no record.
    The bodies are asserted identical, and the product's request to leave one audit record, the
    bench-only one none. Reports median / p95 and the ratio (goal <= 1.3x). ``--parts a`` runs only this part.
(b) ``audit.append`` + commit per record from 8 threads, each with its own session, on PostgreSQL
    (``--pg``) and SQLite; 1 thread for reference. (bench/bench_audit_append.py compares this
    before and after the audit shards.)
(c) ``clinic-server audit verify`` over 1,000,000 records (goal >= 200,000 records/s): the chain is
    computed in Python with ``audit.chain_hash`` and bulk-inserted (SQLite executemany, PostgreSQL
    COPY), then verified in-process with 1 worker and by the CLI with its default workers.

``--pg`` must name a scratch database: its ``public`` schema is dropped and recreated.
Prints a markdown table and writes bench/results/policy_audit.json (a run of only some parts:
policy_audit_<parts>.json, e.g. policy_audit_a.json); ``--runs N`` repeats (a) N times per
database on the same data and reports each run's ratio and their median (a shared machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fastapi import APIRouter, Depends, Request  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from clinic_server.access import projection  # noqa: E402
from clinic_server.access.policy import Decision  # noqa: E402
from clinic_server.api.app import create_app  # noqa: E402
from clinic_server.api.deps import SessionDep, SettingsDep, authenticate  # noqa: E402
from clinic_server.audit import chain as audit  # noqa: E402
from clinic_server.db import make_engine, make_sessionmaker  # noqa: E402
from clinic_server.db.migrate import upgrade  # noqa: E402
from clinic_server.db.models import (  # noqa: E402
    AuditEvent,
    Condition,
    Consent,
    Employer,
    Observation,
    Organization,
    Person,
    RecordEntry,
    User,
)
from clinic_server.services.security import hash_password, make_access_token, open_session  # noqa: E402
from clinic_server.settings import Settings  # noqa: E402
from clinic_tui.api.schemas import PatientDetail  # noqa: E402
from clinic_tui.api.schemas.bounds import Id  # noqa: E402
from clinic_tui.domain import personnummer  # noqa: E402
from clinic_tui.domain.categories import ALL_CATEGORIES  # noqa: E402
from clinic_tui.domain.roles import Basis, Purpose  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "policy_audit.json"
SECRET = "bench-secret-" + "x" * 40
FULL = Decision(ALL_CATEGORIES, frozenset(), Basis.CONSENT, "bench: fixed full decision", Purpose.CARE)


def fresh(url: str) -> None:
    engine = make_engine(url)
    if url.startswith("postgresql"):
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    upgrade(engine)
    engine.dispose()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


# ----------------------------------------------------------------------------- (a) read overhead


def seed_read_world(url: str, people: int = 300) -> tuple[User, list[str], str]:
    rng = random.Random(3)
    now = datetime.now(UTC)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as s:
        org = Organization(name="Bench care", kind="care_provider")
        employer = Employer(name="Bench AB", contract_start=now.date() - timedelta(days=400))
        s.add_all([org, employer])
        s.flush()
        nurse = User(
            username="anna",
            display_name="Anna",
            role="nurse",
            organization_id=org.id,
            password_hash=hash_password("bench-password"),
        )
        s.add(nurse)
        ids = []
        for i in range(people):
            birth = datetime(1950 + i % 40, 1 + i % 12, 1 + i % 28).date()
            p = Person(
                personnummer=personnummer.generate(rng, birth, "female"),
                given_name=f"Given{i}",
                family_name=f"Family{i}",
                birth_date=birth,
                sex="female",
                phone=f"070-{i:07d}",
                email=f"p{i}@example.se",
                address=f"Storgatan {i}",
                employer_id=employer.id,
                job_title="Snickare",
            )
            s.add(p)
            s.flush()
            ids.append(p.id)
            s.add_all(
                [Condition(person_id=p.id, code="hypertension"), Condition(person_id=p.id, code="copd")]
            )
            for cat in ("medications", "history", "goals"):
                s.add(RecordEntry(person_id=p.id, category=cat, text=f"{cat} entry for {i}"))
            for d in range(10):
                at = now - timedelta(days=d, hours=1)
                s.add(
                    Observation(
                        person_id=p.id, loinc="29463-7", value=80 + d / 10, unit="kg", effective_at=at
                    )
                )
                s.add(
                    Observation(person_id=p.id, loinc="8480-6", value=130 + d, unit="mm[Hg]", effective_at=at)
                )
            s.add(
                Consent(
                    person_id=p.id,
                    organization_id=org.id,
                    categories=sorted(ALL_CATEGORIES),
                    purpose="care",
                    valid_from=now - timedelta(days=30),
                )
            )
        session_id, _refresh = open_session(s, nurse.id, now, 1)
        s.commit()
        s.refresh(nurse)
        s.expunge(nurse)
    engine.dispose()
    return nurse, ids, session_id


def bare_session(request: Request, session: SessionDep, settings: SettingsDep) -> Session:
    """``deps.get_guard`` without the guard: the same authentication and the same hand-back of the
    connection before the endpoint runs (in another worker thread); no audit scope."""
    authenticate(request, session, settings)
    session.commit()
    return session


def bench_app(url: str):
    app = create_app(Settings(database_url=url, secret_key=SECRET))

    # bench-only route (never part of the product): a plain APIRouter, not an AuditedRouter, so no
    # scope is opened and nothing is recorded; the same authentication, query and projection, a
    # fixed full decision instead of the guard's policy answer
    bench = APIRouter(prefix="/api/v1/bench")

    @bench.get("/patients/{person_id}", response_model=PatientDetail)
    def bare_read(person_id: Id, session: Annotated[Session, Depends(bare_session)]) -> PatientDetail:
        person = session.get(Person, person_id)
        return projection.detail(session, person, FULL)

    app.include_router(bench)
    return app


async def read_overhead(url: str, reads: int, world: tuple[User, list[str], str]) -> dict:
    nurse, ids, session_id = world
    app = bench_app(url)
    token = make_access_token(nurse, SECRET, datetime.now(UTC), 600, session_id)
    headers = {"Authorization": f"Bearer {token}", "X-Client-Name": "bench", "X-Client-Version": "1"}
    transport = httpx.ASGITransport(app=app)
    rng = random.Random(7)
    timings: dict[str, list[float]] = {"with": [], "without": []}
    paths = {"with": "/api/v1/patients/{}", "without": "/api/v1/bench/patients/{}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        # identical bodies: the comparison is like for like; and only the product route records
        records = sa.select(sa.func.count()).select_from(AuditEvent)

        def count() -> int:
            with app.state.engine.connect() as conn:
                return conn.execute(records).scalar_one()

        before = count()
        a = await client.get(paths["with"].format(ids[0]), headers=headers)
        after_product = count()
        b = await client.get(paths["without"].format(ids[0]), headers=headers)
        assert a.status_code == b.status_code == 200 and a.json() == b.json(), (a.text, b.text)
        assert (after_product - before, count() - after_product) == (1, 0), "one record, then none"
        for i in range(reads + 200):
            pid = rng.choice(ids)
            order = ("with", "without") if i % 2 else ("without", "with")
            for kind in order:
                start = time.perf_counter()
                r = await client.get(paths[kind].format(pid), headers=headers)
                elapsed = (time.perf_counter() - start) * 1000
                assert r.status_code == 200, r.text
                if i >= 200:  # warm-up
                    timings[kind].append(elapsed)
    app.state.engine.dispose()
    out = {}
    for kind, values in timings.items():
        out[kind] = {
            "n": len(values),
            "median_ms": round(statistics.median(values), 3),
            "p95_ms": round(pct(values, 0.95), 3),
            "mean_ms": round(statistics.fmean(values), 3),
        }
    out["ratio_median"] = round(out["with"]["median_ms"] / out["without"]["median_ms"], 3)
    out["ratio_p95"] = round(out["with"]["p95_ms"] / out["without"]["p95_ms"], 3)
    return out


def read_runs(url: str, reads: int, runs: int) -> dict:
    """``runs`` runs of ``read_overhead`` on one seeded database (a fresh app each); the figures of
    the run with the median ratio, every run's ratios, and the median of them."""
    load_before = list(os.getloadavg())
    fresh(url)
    world = seed_read_world(url)
    every = []
    for _ in range(runs):
        every.append(asyncio.run(read_overhead(url, reads, world)))
        print(f"  {url.split(':')[0]}: median ratio {every[-1]['ratio_median']}x", file=sys.stderr)
    ranked = sorted(every, key=lambda r: r["ratio_median"])
    out = dict(ranked[(len(ranked) - 1) // 2])
    out["runs"] = [{"ratio_median": r["ratio_median"], "ratio_p95": r["ratio_p95"]} for r in every]
    out["median_of_ratio_median"] = round(statistics.median(r["ratio_median"] for r in every), 3)
    out["median_of_ratio_p95"] = round(statistics.median(r["ratio_p95"] for r in every), 3)
    out["load_average_before"] = load_before
    out["load_average_after"] = list(os.getloadavg())
    return out


# ----------------------------------------------------------------------------- (b) appends


def append_throughput(url: str, threads: int, per_thread: int) -> dict:
    fresh(url)
    engine = make_engine(url)
    maker = make_sessionmaker(engine)
    who = audit.Who("u" * 32, "anna", "nurse", "o" * 32)
    barrier = threading.Barrier(threads + 1)
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                with maker() as s:
                    audit.append(
                        s,
                        who=who,
                        request=audit.RequestInfo(f"{t}-{i}", "bench", "1"),
                        action="read",
                        resource_type="person",
                        resource_id="p" * 32,
                        person_id="p" * 32,
                        categories=["identity", "vitals"],
                        outcome="allowed",
                        reason="active consent names the care organization",
                        purpose="care",
                        details={"withheld": ["goals"]},
                    )
                    s.commit()
        except BaseException as exc:  # noqa: BLE001 - reported
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    barrier.wait()
    start = time.perf_counter()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    with engine.connect() as conn:
        result = audit.verify(conn)
    engine.dispose()
    if errors:
        raise errors[0]
    total = threads * per_thread
    assert result.ok and result.checked == total, result
    return {
        "threads": threads,
        "records": total,
        "seconds": round(elapsed, 3),
        "per_s": round(total / elapsed),
    }


# ----------------------------------------------------------------------------- (c) verify


ACTIONS = ["read", "list", "search", "login", "read", "read", "consent_change", "audit_query"]


def chain_rows(n: int):
    """Records as ``audit.append`` would write them, hashed with ``audit.chain_hash``."""
    rng = random.Random(11)
    t0 = datetime.now(UTC) - timedelta(days=200)
    prev = audit.GENESIS_HASH
    users = [
        (f"{i:032x}", f"user{i}", ["nurse", "coach", "supervisor"][i % 3], f"{i % 4:032x}") for i in range(50)
    ]
    for seq in range(1, n + 1):
        uid, name, role, org = users[rng.randrange(50)] if seq % 97 else (None, "ghost", None, None)
        action = ACTIONS[seq % len(ACTIONS)]
        pid = f"{rng.getrandbits(128):032x}" if action != "login" else None
        record = {
            "seq": seq,
            "ts": t0 + timedelta(microseconds=seq * 15_731),
            "user_id": uid,
            "username": name,
            "role": role,
            "organization_id": org,
            "action": action,
            "resource_type": "person" if pid else "session",
            "resource_id": pid,
            "person_id": pid,
            "categories": sorted(rng.sample(sorted(ALL_CATEGORIES), rng.randrange(0, 6))),
            "purpose": "care" if pid else "authentication",
            "outcome": "allowed" if seq % 13 else "denied",
            "reason": "active consent names the care organization" if seq % 13 else "no active consent",
            "request_id": f"{rng.getrandbits(128):032x}",
            "client_name": "clinic-tui",
            "client_version": "0.1.0",
            "details": {"withheld": ["goals", "profiling"]} if pid else {},
        }
        digest = audit.chain_hash(prev, record)
        yield record, prev, digest
        prev = digest


COLUMNS = list(audit.FIELDS) + ["prev_hash", "hash"]


def fill_chain(url: str, n: int) -> float:
    fresh(url)
    engine = make_engine(url)
    start = time.perf_counter()
    last = audit.GENESIS_HASH

    def texts(record):
        return [
            audit.json_text(record[f]) if f in audit.JSON_FIELDS else record[f] for f in audit.TEXT_FIELDS
        ]

    with engine.begin() as conn:
        raw = conn.connection.dbapi_connection
        cur = raw.cursor()
        if url.startswith("postgresql"):
            with cur.copy(f"COPY audit_event ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for record, prev, digest in chain_rows(n):
                    copy.write_row((record["seq"], record["ts"], *texts(record), prev, digest))
                    last = digest
        else:
            sql = f"INSERT INTO audit_event ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"  # noqa: S608
            batch = []
            for record, prev, digest in chain_rows(n):
                # the text SQLAlchemy stores for a UTC DateTime on SQLite
                batch.append((record["seq"], audit.ts_text(record["ts"]), *texts(record), prev, digest))
                last = digest
                if len(batch) == 50_000:
                    cur.executemany(sql, batch)
                    batch.clear()
            cur.executemany(sql, batch)
        audit.loaded(conn, n, last)
    engine.dispose()
    return time.perf_counter() - start


def verify_speed(url: str, n: int) -> dict:
    fill = fill_chain(url, n)
    engine = make_engine(url)
    with engine.connect() as conn:
        start = time.perf_counter()
        one = audit.verify(conn, workers=1)
        single = time.perf_counter() - start
    engine.dispose()
    assert one.ok and one.checked == n and one.rechecked == 0, one
    # the CLI as an operator runs it (default workers: the CPU count); wall time includes start-up
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "clinic_server", "--database-url", url, "audit", "verify"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    wall = time.perf_counter() - start
    assert proc.returncode == 0 and f"intact: {n} records" in proc.stdout, proc.stdout + proc.stderr
    match = re.search(r"\(([\d.]+) s, ([\d,]+) records/s\)", proc.stdout)
    cli_seconds = float(match.group(1))
    return {
        "records": n,
        "fill_seconds": round(fill, 1),
        "one_worker_seconds": round(single, 2),
        "one_worker_per_s": round(n / single),
        "cli_workers": min(os.cpu_count() or 1, 8),
        "cli_verify_seconds": cli_seconds,
        "cli_per_s": round(n / cli_seconds),
        "cli_wall_seconds": round(wall, 2),
    }


# ----------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reads", type=int, default=2000, help="timed reads of each kind")
    parser.add_argument("--records", type=int, default=1_000_000, help="audit records for verify")
    parser.add_argument("--appends", type=int, default=250, help="appends per thread")
    parser.add_argument("--pg", help="scratch PostgreSQL URL (its public schema is wiped)")
    parser.add_argument("--runs", type=int, default=1, help="runs of (a) per database (median ratio)")
    parser.add_argument(
        "--parts", default="abc", help="which parts to run: a (read), b (appends), c (verify)"
    )
    parser.add_argument("--out", type=Path, help="where to write the JSON figures")
    args = parser.parse_args()
    if args.out is None:
        # a partial run does not overwrite the full run's figures
        parts = "".join(sorted(set(args.parts)))
        args.out = RESULTS if parts == "abc" else RESULTS.with_name(f"policy_audit_{parts}.json")
    with tempfile.TemporaryDirectory(prefix="bench-policy-audit-") as tmp:
        return run(args, Path(tmp))


def run(args, tmp: Path) -> int:
    sqlite = lambda name: f"sqlite:///{tmp / name}"  # noqa: E731
    results: dict = {
        "recorded": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    results["machine"]["load_average_at_start"] = list(os.getloadavg())
    # (c) first: a single-threaded process may fork its verify workers
    if "c" in args.parts:
        results["verify"] = {"sqlite": verify_speed(sqlite("verify.sqlite3"), args.records)}
        if args.pg:
            results["verify"]["postgresql"] = verify_speed(args.pg, args.records)
    if "b" in args.parts:
        results["appends"] = {
            "sqlite": [append_throughput(sqlite(f"append{t}.sqlite3"), t, args.appends) for t in (1, 8)]
        }
        if args.pg:
            results["appends"]["postgresql"] = [append_throughput(args.pg, t, args.appends) for t in (1, 8)]
    if "a" in args.parts:
        results["read"] = {}
        results["read"]["sqlite"] = read_runs(sqlite("read.sqlite3"), args.reads, args.runs)
        if args.pg:
            results["read"]["postgresql"] = read_runs(args.pg, args.reads, args.runs)
    results["machine"]["load_average_at_end"] = list(os.getloadavg())

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    if "a" in args.parts:
        print_read(results)
    if "b" in args.parts:
        print_appends(results)
    if "c" in args.parts:
        print_verify(results)
    print(f"\nraw figures: {args.out}")
    return 0


def print_read(results: dict) -> None:
    print("\n## (a) GET /patients/{id}: with vs without policy + audit\n")
    print("| database | route | n | median (ms) | p95 (ms) | mean (ms) |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for db, r in results["read"].items():
        for kind, label in (
            ("without", "no policy, no audit (bench-only)"),
            ("with", "product: policy + audit"),
        ):
            v = r[kind]
            print(f"| {db} | {label} | {v['n']} | {v['median_ms']} | {v['p95_ms']} | {v['mean_ms']} |")
    for db, r in results["read"].items():
        print(
            f"\n{db}: ratio with/without: median {r['ratio_median']}x, p95 {r['ratio_p95']}x (goal <= 1.3x)"
        )
        if len(r["runs"]) > 1:
            print(
                f"{db}: {len(r['runs'])} runs, median ratios "
                f"{', '.join(str(x['ratio_median']) for x in r['runs'])}; median of them "
                f"{r['median_of_ratio_median']}x (p95 ratios: median {r['median_of_ratio_p95']}x)"
            )


def print_appends(results: dict) -> None:
    print("\n## (b) audit.append + commit, one record per transaction\n")
    print("| database | threads | records | seconds | appends/s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for db, rows in results["appends"].items():
        for r in rows:
            print(f"| {db} | {r['threads']} | {r['records']} | {r['seconds']} | {r['per_s']} |")


def print_verify(results: dict) -> None:
    print("\n## (c) audit verify\n")
    print(
        "| database | records | 1 worker (s) | records/s | CLI workers "
        "| CLI verify (s) | records/s | CLI wall (s) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for db, r in results["verify"].items():
        print(
            f"| {db} | {r['records']:,} | {r['one_worker_seconds']} | {r['one_worker_per_s']:,} | "
            f"{r['cli_workers']} | {r['cli_verify_seconds']} | {r['cli_per_s']:,} | {r['cli_wall_seconds']} |"
        )


if __name__ == "__main__":
    sys.exit(main())
