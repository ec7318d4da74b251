"""Benchmark: audit append throughput before and after audit shards, side by side in one run.

    .venv/bin/python bench/bench_audit_append.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/scratch \
        --before /tmp/audit-before [--rounds 3] [--appends 250]

``--before`` is a checkout of the code to compare with (``git worktree add --detach /tmp/audit-before
main``). Each measurement is what ``append_throughput`` in bench/bench_policy_audit.py does
(``audit.append`` + commit per record from N threads, each with its own session, one organization
for all, on a freshly migrated scratch database, the chain verified afterwards: every record, no
error), the same code run in a fresh interpreter whose ``clinic_server`` is that tree's. Rounds
alternate before/after so the machine's load falls on both alike; the median per configuration is
reported.

``--pg`` must name a scratch database: its ``public`` schema is dropped and recreated.
Prints a markdown table and writes bench/results/audit_append.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "audit_append.json"

#: run in a fresh interpreter whose ``clinic_server`` is the tree measured: the same code for both
#: (``append_throughput`` of bench/bench_policy_audit.py, which imports only what both trees have)
MEASURE = """
import json, sys, threading, time
import sqlalchemy as sa
from clinic_server.audit import chain as audit
from clinic_server.db import make_engine, make_sessionmaker
from clinic_server.db.migrate import upgrade

url, threads, per_thread, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
engine = make_engine(url)
with engine.begin() as conn:
    conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
    conn.execute(sa.text("CREATE SCHEMA public"))
upgrade(engine)
engine.dispose()
who = audit.Who("u" * 32, "anna", "nurse", "o" * 32)

def work(t, barrier, maker):
    barrier.wait()
    for i in range(per_thread):
        with maker() as s:
            audit.append(
                s, who=who, request=audit.RequestInfo(f"{t}-{i}", "bench", "1"), action="read",
                resource_type="person", resource_id="p" * 32, person_id="p" * 32,
                categories=["identity", "vitals"], outcome="allowed",
                reason="active consent names the care organization", purpose="care",
                details={"withheld": ["goals"]},
            )
            s.commit()

def in_process(t, barrier):
    eng = make_engine(url)
    try:
        work(t, barrier, make_sessionmaker(eng))
    finally:
        eng.dispose()

errors = []
if mode == "processes":  # like API processes: each its own interpreter and connection pool
    import multiprocessing as mp
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(threads + 1)
    workers = [ctx.Process(target=in_process, args=(t, barrier)) for t in range(threads)]
else:
    barrier = threading.Barrier(threads + 1)
    shared = make_engine(url)
    def guarded(t):
        try:
            work(t, barrier, make_sessionmaker(shared))
        except BaseException as exc:
            errors.append(exc)
    workers = [threading.Thread(target=guarded, args=(t,)) for t in range(threads)]
for w in workers:
    w.start()
barrier.wait()
start = time.perf_counter()
for w in workers:
    w.join()
elapsed = time.perf_counter() - start
if mode == "processes":
    errors += [w.exitcode for w in workers if w.exitcode != 0]
engine = make_engine(url)
with engine.connect() as conn:
    result = audit.verify(conn)
engine.dispose()
if errors:
    raise SystemExit(f"writers failed: {errors[:3]}")
total = threads * per_thread
assert result.ok and result.checked == total, result
print(json.dumps({"writers": threads, "mode": mode, "records": total, "seconds": round(elapsed, 3),
                  "per_s": round(total / elapsed), "verified": result.checked}))
"""


def measure(tree: Path, url: str, threads: int, per_thread: int, mode: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    proc = subprocess.run(
        [sys.executable, "-c", MEASURE, url, str(threads), str(per_thread), mode],
        capture_output=True,
        text=True,
        cwd=tree,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"measurement in {tree} failed:\n{proc.stdout}\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pg", required=True, help="scratch PostgreSQL URL (its public schema is wiped)")
    parser.add_argument("--before", type=Path, required=True, help="checkout of the code to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--appends", type=int, default=250, help="appends per thread")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 8])
    parser.add_argument(
        "--writers",
        choices=["threads", "processes"],
        default="threads",
        help="threads of one process (as bench_policy_audit.py) or separate processes (as API processes)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": ROOT}
    runs: dict[str, dict[int, list[dict]]] = {k: {t: [] for t in args.threads} for k in trees}
    loads = [load()]
    for r in range(args.rounds):
        for threads in args.threads:
            order = list(trees) if r % 2 == 0 else list(reversed(trees))
            for kind in order:
                result = measure(trees[kind], args.pg, threads, args.appends, args.writers)
                runs[kind][threads].append(result)
                print(
                    f"round {r + 1}: {kind:6} {threads} thread(s): {result['per_s']:>6} appends/s", flush=True
                )
        loads.append(load())
    summary = {
        kind: {t: statistics.median(x["per_s"] for x in rows) for t, rows in by.items()}
        for kind, by in runs.items()
    }
    out = {
        "recorded": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "load_average_between_rounds": loads,
        "before": str(trees["before"]),
        "before_commit": subprocess.run(
            ["git", "-C", str(trees["before"]), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
        ).stdout.strip(),
        "writers": args.writers,
        "appends_per_writer": args.appends,
        "runs": runs,
        "median_per_s": summary,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"\n| writers ({args.writers}) | before (appends/s) | after (appends/s) | after / before |")
    print("| ---: | ---: | ---: | ---: |")
    for t in args.threads:
        b, a = summary["before"][t], summary["after"][t]
        print(f"| {t} | {b:,.0f} | {a:,.0f} | {a / b:.1f}x |")
    print(f"\nload average (1, 5, 15 min) before and after each round: {loads}")
    print(f"raw figures: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
