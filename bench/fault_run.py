"""Fault run (issue 14): the load run of ``bench/run_load.py`` with faults injected while it runs.

    .venv/bin/python bench/fault_run.py [--db load_bench] [--run-time 180]

The same database, server (``clinic-server serve --workers 2``) and users as the load run; while
the users work:

1. at ``--kill-at`` s: ``kill -9`` of one API worker process (in-flight requests on it die with
   it); uvicorn's supervisor starts a new one: the time until two workers serve again is recorded;
2. at ``--refuse-at`` s: the database refuses connections for ``--refuse-for`` s (10), affecting
   only this database (PostgreSQL itself is shared and is not restarted):
   ``ALTER DATABASE … ALLOW_CONNECTIONS false``, every backend of it terminated (the workers'
   pooled connections die), then ``ALLOW_CONNECTIONS true`` again.

The clients retry a write after a connection error or a 5xx with the same idempotency key (a
meeting's ``Idempotency-Key``, a reading's ``source_id``). Afterwards it counts, as the load run
does: the writes the clients saw accepted against the rows (none lost, none duplicated), requests
against audit records, ``clinic-server audit verify``; and which requests failed, when, and how
(status and message), against the fault windows.

Prints the figures and writes ``bench/results/fault.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import run_load  # noqa: E402


def psql(host: str, sql: str) -> str:
    """Run SQL as the superuser in the maintenance database (not the one being refused)."""
    out = subprocess.run(
        ["psql", "-h", host, "-U", "postgres", "-d", "postgres", "-Atqc", sql],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def busy_worker(pids: list[int], within_s: float = 10.0) -> int:
    """A worker that is running (used CPU in the last 20 ms), so the kill catches requests in
    flight; after ``within_s`` without one, the first."""
    until = time.monotonic() + within_s
    while time.monotonic() < until:
        ticks = {pid: _cpu_ticks(pid) for pid in pids}
        time.sleep(0.02)
        for pid in pids:
            if _cpu_ticks(pid) > ticks[pid]:
                return pid
    return pids[0]


def make_fault(args):
    def fault(server, port, url, log: list[dict]) -> None:
        started = time.time()

        def at(second: float) -> None:
            time.sleep(max(0.0, started + second - time.time()))

        at(args.kill_at)
        before = run_load.worker_pids(server.pid)
        victim = busy_worker(before)
        os.kill(victim, signal.SIGKILL)
        t_kill = time.time()
        back = None
        while time.time() - t_kill < 60:
            now = run_load.worker_pids(server.pid)
            if len(now) == len(before) and victim not in now:
                back = time.time()
                break
            time.sleep(0.1)
        run_load.wait_up(port, timeout=30)
        log.append(
            {"fault": "kill -9 one API worker", "at": t_kill, "pid": victim, "workers_before": before,
             "workers_after": run_load.worker_pids(server.pid),
             "replaced_after_s": round(back - t_kill, 2) if back else None}
        )  # fmt: skip
        print(f"killed worker {victim}; replaced after {log[-1]['replaced_after_s']} s", flush=True)

        at(args.refuse_at)
        t_off = time.time()
        psql(args.pg_host, f"ALTER DATABASE {args.db} ALLOW_CONNECTIONS false")
        # the database's name is our own argument (a plain identifier), not outside input
        ends = "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE"
        terminate = f"{ends} datname = '{args.db}' AND pid <> pg_backend_pid()) t"
        killed = psql(args.pg_host, terminate)
        time.sleep(args.refuse_for)
        psql(args.pg_host, f"ALTER DATABASE {args.db} ALLOW_CONNECTIONS true")
        t_on = time.time()
        log.append(
            {"fault": "database refuses connections", "at": t_off, "until": t_on,
             "seconds": round(t_on - t_off, 2), "backends_terminated": int(killed)}
        )  # fmt: skip
        print(f"database refused connections for {t_on - t_off:.1f} s ({killed} backends ended)", flush=True)

    return fault


def failures_by_window(result: dict, log_entries: list[dict]) -> dict:
    """Failed requests grouped by the fault they fell in (with a 5 s tail after each)."""
    windows = []
    for f in result["faults"]:
        windows.append((f["fault"], f["at"] - 1, f.get("until", f["at"]) + 5))
    out: dict[str, Counter] = {}
    for e in log_entries:
        if e["ok"]:
            continue
        label = next((name for name, lo, hi in windows if lo <= e["t"] <= hi), "outside any fault")
        first = (e.get("error") or "").split(":")[0][:60]
        out.setdefault(label, Counter())[f"{e['name']} → {e['status']} {first}"] += 1
    return {k: dict(v) for k, v in out.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    run_load.add_arguments(ap)
    ap.set_defaults(run_time=180)
    ap.add_argument("--kill-at", type=float, default=45, help="seconds into the run")
    ap.add_argument("--refuse-at", type=float, default=100, help="seconds into the run")
    ap.add_argument("--refuse-for", type=float, default=10)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "fault.json")
    args = ap.parse_args()
    if not args.db.isidentifier():
        ap.error("--db: a plain name (letters, digits, _)")
    captured: list[dict] = []
    result = run_load.run(args, fault=make_fault(args), keep_log=captured)
    result["failures_by_fault"] = failures_by_window(result, captured)
    run_load.report(result)
    print("failures by fault:", json.dumps(result["failures_by_fault"], indent=1, ensure_ascii=False))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwrote {args.out}")
    m, r = result["meetings"], result["readings"]
    intact = (
        result["audit_verify"]["returncode"] == 0
        and m["accepted_missing_in_db"] == 0
        and m["duplicated"] == 0
        and r["accepted_missing_in_db"] == 0
        and r["duplicated"] == 0
    )
    return 0 if intact else 1


if __name__ == "__main__":
    raise SystemExit(main())
