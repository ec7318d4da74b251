"""Load run (issue 14): realistic users against ``clinic-server serve --workers 2`` on PostgreSQL.

    .venv/bin/pip install -e '.[bench]'          # locust
    .venv/bin/python bench/run_load.py [--db load_bench] [--run-time 300]

1. (Re)creates the PostgreSQL database ``--db`` on ``--pg-host`` (``dropdb`` + ``createdb``: use a
   name of your own), seeds it with the full demo (``clinic-server seed-demo``: migrations, 260
   people, 126,000 readings, weeks of audited routine work) and adds the load accounts: 30 nurses
   (clones of anna and bertil, alternating between their care providers), 10 coaches (clones of
   cecilia: her participants and employers), 5 supervisors (the demo's three organizations) and 25
   devices of demo patients, all with known passwords and keys.
2. Starts ``clinic-server serve --workers 2`` on it (the scheduled jobs off, so every audit record
   written during the run belongs to a request), and runs ``bench/load_locust.py`` headless:
   30 nurses polling their alert changes every 5 s and acting on an alert about every 30 s, 10
   coaches saving a whole meeting every 10–20 s (``Idempotency-Key``), 5 supervisors filtering the
   audit log every 10–20 s, 25 devices posting 4 readings each once a second (100 readings/s).
3. Afterwards: errors and p50/p95 per endpoint from every request made; ``clinic-server audit
   verify``; the audit records written during the run matched with the requests by the request id
   each carried (exactly one record per request, none other); the writes the clients saw accepted
   matched with the rows (meetings by idempotency key, readings by source id, alert actions).
   CPU load is sampled every 5 s (the machine is shared).

Prints a markdown table and writes ``bench/results/load.json``. ``bench/fault_run.py`` runs the same
with faults injected.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

import psutil
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clinic_server.db import make_engine  # noqa: E402
from clinic_server.db.models import CoachAssignment, CoachEmployer, Device, Organization, User  # noqa: E402
from clinic_server.demo.accounts import IMR, NORRA, SODER  # noqa: E402
from clinic_server.services.ingest import hash_key  # noqa: E402
from clinic_server.services.security import hash_password  # noqa: E402

PASSWORD = "load-password-123"  # noqa: S105 - throwaway benchmark accounts
SERVER = [sys.executable, "-m", "clinic_server"]
LOCUST = Path(sys.executable).with_name("locust")
SECRET = "load-bench-" + "k" * 40  # noqa: S105 - a throwaway signing key shared by the workers


def pg_url(host: str, db: str) -> str:
    return f"postgresql+psycopg://postgres@{host}:5432/{db}"


def sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def prepare(host: str, db: str, counts: dict) -> dict:
    """A fresh database with the demo and the load accounts; returns what was made."""
    t0 = time.perf_counter()
    sh("dropdb", "-h", host, "-U", "postgres", "--if-exists", "--force", db)
    sh("createdb", "-h", host, "-U", "postgres", db)
    url = pg_url(host, db)
    sh(*SERVER, "--database-url", url, "seed-demo")
    engine = make_engine(url)
    pw = hash_password(PASSWORD)
    with engine.begin() as conn:
        org = dict(conn.execute(sa.select(Organization.name, Organization.id)).all())
        users = dict(conn.execute(sa.select(User.username, User.id)).all())

        def add_user(name: str, role: str, org_name: str) -> str:
            uid = f"load{name}".ljust(32, "0")[:32]
            conn.execute(
                sa.insert(User).values(
                    id=uid, username=name, display_name=name.title(), role=role,
                    organization_id=org[org_name], password_hash=pw, is_active=True,
                    created_at=datetime.now(UTC),
                )
            )  # fmt: skip
            return uid

        for i in range(1, counts["nurses"] + 1):
            add_user(f"nurse{i:02d}", "nurse", NORRA if i % 2 else SODER)
        cecilia = users["cecilia"]
        assignments = conn.execute(
            sa.select(CoachAssignment.person_id, CoachAssignment.active).where(
                CoachAssignment.coach_id == cecilia
            )
        ).all()
        employers = conn.execute(
            sa.select(CoachEmployer.employer_id, CoachEmployer.valid_from, CoachEmployer.valid_until).where(
                CoachEmployer.coach_id == cecilia
            )
        ).all()
        for i in range(1, counts["coaches"] + 1):
            uid = add_user(f"coach{i:02d}", "coach", IMR)
            for person_id, active in assignments:
                conn.execute(
                    sa.insert(CoachAssignment).values(coach_id=uid, person_id=person_id, active=active)
                )
            for employer_id, valid_from, valid_until in employers:
                conn.execute(
                    sa.insert(CoachEmployer).values(
                        coach_id=uid, employer_id=employer_id, valid_from=valid_from, valid_until=valid_until
                    )
                )
        for i in range(1, counts["supervisors"] + 1):
            add_user(f"supervisor{i:02d}", "supervisor", (NORRA, SODER, IMR)[(i - 1) % 3])
        # devices of demo patients that already have one (people the nurses follow)
        people = conn.scalars(
            sa.select(Device.person_id).distinct().order_by(Device.person_id).limit(counts["devices"])
        ).all()
        for i in range(1, counts["devices"] + 1):
            conn.execute(
                sa.insert(Device).values(
                    id=f"loaddevice{i:02d}".ljust(32, "0"), person_id=people[(i - 1) % len(people)],
                    label="load run", key_hash=hash_key(f"load-device-key-{i:02d}"), active=True,
                    created_at=datetime.now(UTC),
                )
            )  # fmt: skip
        conn.execute(sa.text("ANALYZE"))
    engine.dispose()
    return {"seed_s": round(time.perf_counter() - t0, 1), "coach_participants": len(assignments)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(port: int, timeout: float = 60) -> None:
    until = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/info", timeout=2) as r:  # noqa: S310
                if r.status == 200:
                    return
        except OSError:
            if time.monotonic() > until:
                raise
        time.sleep(0.2)


def start_server(url: str, port: int, workers: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "CLINIC_SECRET_KEY": SECRET,
        "CLINIC_MISSING_SWEEP_MINUTES": "0",
        "CLINIC_RETENTION_HOURS": "0",
        "CLINIC_FINDINGS_SCAN_MINUTES": "0",
    }
    server = subprocess.Popen(
        [*SERVER, "--database-url", url, "serve", "--workers", str(workers), "--port", str(port),
         "--log-level", "warning"],
        env=env, start_new_session=True,
    )  # fmt: skip
    wait_up(port)
    return server


def worker_pids(server_pid: int) -> list[int]:
    """The uvicorn worker processes under the server (its multiprocessing children)."""
    out = subprocess.run(
        ["ps", "--ppid", str(server_pid), "-o", "pid=,args="], capture_output=True, text=True
    )
    return [
        int(line.split()[0])
        for line in out.stdout.splitlines()
        if "multiprocessing.spawn" in line or "spawn_main" in line
    ]


def cpu_busy() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


class Sampler(threading.Thread):
    """Load average and whole-machine CPU use every 5 s."""

    def __init__(self):
        super().__init__(daemon=True)
        self.samples: list[dict] = []
        self.stop = threading.Event()

    def run(self):
        busy, total = cpu_busy()
        while not self.stop.wait(5):
            b, t = cpu_busy()
            self.samples.append(
                {
                    "t": time.time(),
                    "load1": os.getloadavg()[0],
                    "cpu_pct": 100 * (b - busy) / max(1, t - total),
                }
            )
            busy, total = b, t


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(p / 100 * len(ordered)) - 1)]


def analyse(url: str, log: list[dict], start_seq: int, started: datetime) -> dict:
    out: dict = {}
    # per endpoint
    by_name: dict[str, list[dict]] = defaultdict(list)
    for e in log:
        by_name[e["name"]].append(e)
    out["endpoints"] = {
        name: {
            "requests": len(es),
            "errors": sum(not e["ok"] for e in es),
            "statuses": dict(Counter(str(e["status"]) for e in es)),
            "p50_ms": round(statistics.median(e["ms"] for e in es), 1),
            "p95_ms": round(pct([e["ms"] for e in es], 95), 1),
            "max_ms": round(max(e["ms"] for e in es), 1),
        }
        for name, es in sorted(by_name.items())
    }
    out["requests"] = len(log)
    out["errors"] = sum(not e["ok"] for e in log)
    out["error_samples"] = [
        {k: e.get(k) for k in ("name", "status", "error", "t")} for e in log if not e["ok"]
    ][:20]

    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT details->'client_asserted'->>'request_id' AS rid, count(*) FROM audit_event "
                "WHERE seq > :s GROUP BY 1"
            ),
            {"s": start_seq},
        ).all()
        per_rid = {rid: n for rid, n in rows}
        total_records = sum(per_rid.values())
        sent = {e["rid"]: e for e in log}
        answered = [e for e in log if e["status"] and e["status"] < 500]
        out["audit"] = {
            "records_during_run": total_records,
            "requests_made": len(log),
            "requests_answered_below_500": len(answered),
            "answered_with_exactly_one_record": sum(per_rid.get(e["rid"]) == 1 for e in answered),
            "answered_without_record": sum(e["rid"] not in per_rid for e in answered),
            "requests_with_several_records": sum(1 for rid, n in per_rid.items() if rid in sent and n > 1),
            "records_of_no_request_made": sum(n for rid, n in per_rid.items() if rid not in sent),
            "unanswered_or_5xx": len(log) - len(answered),
            "unanswered_or_5xx_with_record": sum(
                1 for e in log if not (e["status"] and e["status"] < 500) and e["rid"] in per_rid
            ),
        }

        # writes the clients saw accepted against the rows
        keys_ok = {}
        keys_tried = set()
        for e in log:
            w = e.get("write")
            if w and w["kind"] == "meeting":
                keys_tried.add(w["key"])
                if e["status"] in (200, 201):
                    keys_ok[w["key"]] = w.get("meeting_id")
        db_keys = conn.execute(
            sa.text(
                "SELECT k.key, k.resource_id FROM idempotency_key k JOIN app_user u ON u.id = k.user_id "
                "WHERE u.username LIKE 'coach%'"
            )
        ).all()
        db_key_map = defaultdict(list)
        for k, rid in db_keys:
            db_key_map[k].append(rid)
        meetings = conn.execute(
            sa.text(
                "SELECT count(*) FROM coaching_meeting m JOIN app_user u ON u.id = m.coach_id "
                "WHERE u.username LIKE 'coach%'"
            )
        ).scalar_one()
        out["meetings"] = {
            "accepted_by_client": len(keys_ok),
            "keys_tried": len(keys_tried),
            "rows": meetings,
            "accepted_missing_in_db": sum(1 for k in keys_ok if k not in db_key_map),
            "accepted_with_other_id_in_db": sum(
                1 for k, mid in keys_ok.items() if k in db_key_map and db_key_map[k] != [mid]
            ),
            "rows_not_accepted_by_client": sum(1 for k in db_key_map if k not in keys_ok),
            "duplicated": meetings - len(db_key_map),
        }

        accepted_sources: set[str] = set()
        tried_sources: set[str] = set()
        for e in log:
            w = e.get("write")
            if w and w["kind"] == "readings":
                tried_sources.update(w["sources"])
                if e["status"] == 200:
                    accepted_sources.update(w["sources"])
        stored = (
            conn.execute(sa.text("SELECT source_id FROM observation WHERE device_id LIKE 'loaddevice%'"))
            .scalars()
            .all()
        )
        stored_set = set(stored)
        out["readings"] = {
            "accepted_by_client": len(accepted_sources),
            "posted": len(tried_sources),
            "rows": len(stored),
            "accepted_missing_in_db": len(accepted_sources - stored_set),
            "rows_not_accepted_by_client": len(stored_set - accepted_sources),
            "duplicated": len(stored) - len(stored_set),
            "rejected_items": sum(
                e["write"].get("rejected", 0) for e in log if e.get("write", {}).get("kind") == "readings"
            ),
            "per_second": round(len(stored) / max(1.0, (datetime.now(UTC) - started).total_seconds()), 1),
        }

        trans_ok = sum(
            1 for e in log if e.get("write", {}).get("kind") == "transition" and e["status"] == 200
        )
        trans_conflict = sum(
            1 for e in log if e.get("write", {}).get("kind") == "transition" and e["status"] == 409
        )
        trans_unknown = sum(
            1
            for e in log
            if e.get("write", {}).get("kind") == "transition" and not (e["status"] and e["status"] < 500)
        )
        events = conn.execute(
            sa.text(
                "SELECT count(*) FROM alert_event a JOIN app_user u ON u.id = a.user_id "
                "WHERE u.username LIKE 'nurse%'"
            )
        ).scalar_one()
        out["alert_actions"] = {
            "accepted_by_client": trans_ok,
            "conflicts_409": trans_conflict,
            "outcome_unknown_to_client": trans_unknown,
            "rows": events,
        }
    engine.dispose()
    verify = subprocess.run(
        [*SERVER, "--database-url", url, "audit", "verify"], capture_output=True, text=True
    )
    out["audit_verify"] = {"returncode": verify.returncode, "output": verify.stdout.strip()}
    return out


def run(args, fault=None, keep_log: list | None = None) -> dict:
    """Prepare, serve, load (calling ``fault(server, port, url, log)`` in a thread if given), analyse."""
    counts = {"nurses": args.nurses, "coaches": args.coaches, "supervisors": args.supervisors,
              "devices": args.devices}  # fmt: skip
    url = pg_url(args.pg_host, args.db)
    prepared = prepare(args.pg_host, args.db, counts)
    print(f"seeded {args.db} in {prepared['seed_s']} s", flush=True)
    engine = make_engine(url)
    with engine.connect() as conn:
        start_seq = conn.execute(sa.text("SELECT coalesce(max(seq), 0) FROM audit_event")).scalar_one()
        sizes = {
            t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()  # noqa: S608 - fixed names
            for t in ("person", "observation", "alert", "audit_event", "coaching_meeting")
        }
    engine.dispose()
    port = free_port()
    server = start_server(url, port, args.workers)
    pids = worker_pids(server.pid)
    print(f"server up on port {port}: supervisor {server.pid}, workers {pids}", flush=True)
    sampler = Sampler()
    sampler.start()
    load_before = os.getloadavg()
    started = datetime.now(UTC)
    users = args.nurses + args.coaches + args.supervisors + args.devices
    fault_log: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        log_path = Path(tmp) / "requests.jsonl"
        env = {**os.environ, "LOAD_PASSWORD": PASSWORD, "LOAD_LOG": str(log_path),
               "LOAD_NURSES": str(args.nurses), "LOAD_COACHES": str(args.coaches),
               "LOAD_SUPERVISORS": str(args.supervisors), "LOAD_DEVICES": str(args.devices),
               "LOAD_DEVICE_BATCH": str(args.batch)}  # fmt: skip
        locust = subprocess.Popen(
            [str(LOCUST), "-f", str(ROOT / "bench" / "load_locust.py"), "--headless",
             "--users", str(users), "--spawn-rate", "10", "--run-time", f"{args.run_time}s",
             "--host", f"http://127.0.0.1:{port}", "--only-summary", "--stop-timeout", "60",
             "--loglevel", "WARNING"],
            env=env,
        )  # fmt: skip
        injector = None
        if fault is not None:
            injector = threading.Thread(target=fault, args=(server, port, url, fault_log), daemon=True)
            injector.start()
        locust_proc = psutil.Process(locust.pid)
        locust_cpu = 0.0
        while locust.poll() is None:
            try:
                t = locust_proc.cpu_times()
                locust_cpu = t.user + t.system
            except psutil.Error:
                pass
            time.sleep(1)
        if injector is not None:
            injector.join(timeout=120)
        finished = datetime.now(UTC)
        log = [json.loads(line) for line in log_path.read_text().splitlines()]
        if args.request_log:
            shutil.copyfile(log_path, args.request_log)
    if keep_log is not None:
        keep_log.extend(log)
    sampler.stop.set()
    load_after = os.getloadavg()
    server_cpu = 0.0
    for proc in [psutil.Process(server.pid), *psutil.Process(server.pid).children(recursive=True)]:
        try:
            t = proc.cpu_times()
            server_cpu += t.user + t.system
        except psutil.Error:
            pass
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
    result = analyse(url, log, start_seq, started)
    samples = sampler.samples
    result.update(
        {
            "recorded": started.isoformat(timespec="seconds"),
            "seconds": round((finished - started).total_seconds(), 1),
            "run_time_s": args.run_time,
            "users": counts,
            "device_batch": args.batch,
            "workers": args.workers,
            "dataset_before": sizes,
            "seed": prepared,
            "faults": fault_log,
            "cpu_s": {"api_processes": round(server_cpu, 1), "locust": round(locust_cpu, 1)},
            "requests_per_s": round(len(log) / max(1.0, (finished - started).total_seconds()), 1),
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
                "loadavg_before": [round(x, 2) for x in load_before],
                "loadavg_after": [round(x, 2) for x in load_after],
                "load1_during": {
                    "min": round(min(s["load1"] for s in samples), 2),
                    "median": round(statistics.median(s["load1"] for s in samples), 2),
                    "max": round(max(s["load1"] for s in samples), 2),
                }
                if samples
                else None,
                "cpu_busy_pct_during": {
                    "median": round(statistics.median(s["cpu_pct"] for s in samples), 1),
                    "max": round(max(s["cpu_pct"] for s in samples), 1),
                }
                if samples
                else None,
            },
        }
    )
    return result


def report(result: dict) -> None:
    print(
        "\n| endpoint | requests | errors | p50 (ms) | p95 (ms) | max (ms) |\n|---|---:|---:|---:|---:|---:|"
    )
    for name, r in result["endpoints"].items():
        print(
            f"| `{name}` | {r['requests']} | {r['errors']} | {r['p50_ms']} | {r['p95_ms']} | {r['max_ms']} |"
        )
    print(f"\nrequests {result['requests']}, errors {result['errors']} in {result['seconds']} s")
    keys = ("audit", "meetings", "readings", "alert_actions", "audit_verify", "machine", "cpu_s", "faults")
    for key in keys:
        print(f"{key}: {json.dumps(result[key])}")
    for e in result["error_samples"][:5]:
        print("error:", e)


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--db", default="load_bench", help="PostgreSQL database to (re)create: DROPPED first")
    ap.add_argument("--pg-host", default="127.0.0.1")
    ap.add_argument("--run-time", type=int, default=300, help="seconds of load")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--nurses", type=int, default=30)
    ap.add_argument("--coaches", type=int, default=10)
    ap.add_argument("--supervisors", type=int, default=5)
    ap.add_argument("--devices", type=int, default=25)
    ap.add_argument("--batch", type=int, default=4, help="readings per device post (one post a second)")
    ap.add_argument("--request-log", type=Path, help="keep the log of every request made (JSON lines) here")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(ap)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "load.json")
    args = ap.parse_args()
    result = run(args)
    report(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    a = result["audit"]
    clean = (
        result["errors"] == 0
        and result["audit_verify"]["returncode"] == 0
        and a["answered_with_exactly_one_record"] == a["requests_made"]
        and a["records_of_no_request_made"] == 0
    )
    return 0 if clean else 1


if __name__ == "__main__":
    raise SystemExit(main())
