"""Benchmark: a coach's meeting save, round trip through the API (issue 10).

    .venv/bin/python bench/bench_coaching.py [--saves 300] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/scratch]

A real server in its own process (``clinic-server serve``, uvicorn on 127.0.0.1, no background
jobs) over a database seeded with the full demo (``clinic-server seed-demo``); the client is the
app's own typed client (``CoachApi`` over ``ClinicClient``, httpx over loopback TCP), logged in as
the demo coach ``cecilia``. Each timed call is what the meeting screen's save does, from the
call to the parsed response:

- **save**: ``POST /coaching/participants/{id}/meetings`` with a whole meeting (measurements,
  22 questionnaire answers, an Ekblom-Bak cycle test, notes) and a new ``Idempotency-Key``:
  authentication, the guard (consent facts, decision), validation by the domain rules, the
  derived values (BMI, VO2max, the automated assessment), the key, the meeting's rows, the audit
  record, one commit, and the meeting read back as the response (goal: p95 < 100 ms on SQLite);
- **retry**: the same save again with the same key (answered with the stored meeting);
- **correction**: ``POST /coaching/meetings/{id}/corrections`` of the weight (a new revision with
  BMI, relative VO2max and assessment recomputed).

The machine is small and shared, so beside the wall-clock latencies it reports the CPU time the
server process (and the client) spent per save (``/proc/PID/stat``), which the load of other
processes does not inflate.

The saves rotate over cecilia's participants whose consent covers every meeting category, so
their histories grow as a coach's would. ``--pg`` must name a scratch database: its ``public``
schema is dropped and recreated. Prints a markdown table and writes bench/results/coaching.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clinic_server.db import make_engine  # noqa: E402
from clinic_server.demo.accounts import DEMO_PASSWORD  # noqa: E402
from clinic_tui.api.client import ClinicClient  # noqa: E402
from clinic_tui.api.coach import CoachApi, new_idempotency_key  # noqa: E402
from clinic_tui.api.schemas.coach import (  # noqa: E402
    Change,
    CorrectionIn,
    EkblomBakIn,
    MeasurementsIn,
    MeetingIn,
    QuestionnaireIn,
)
from clinic_tui.domain.meeting import MeetingKind  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "coaching.json"
SERVER = [sys.executable, "-m", "clinic_server"]
ANSWERS = {
    "physical_activity.everyday": "min_60_89",
    "exercise.vigorous": "min_30_59",
    "sitting.daily": "h_8_10",
    "diet.vegetables": "daily_2",
    "diet.fruit": "daily_1",
    "diet.fish": "weekly_1",
    "diet.sweets": "weekly_3_6",
    "alcohol.frequency": "weekly_2_3",
    "alcohol.typical_quantity": "d_3_4",
    "alcohol.heavy_episodes": "monthly",
    "tobacco.smoking": "never",
    "tobacco.snus": "daily",
    "stress.current": "rather_much",
    "recovery.rested": "sometimes",
    "sleep.duration": "h_6",
    "sleep.quality": "good",
    "perceived_health.self_rated": "good",
    "symptoms.neck_shoulders": "weekly",
    "symptoms.back": "rarely",
    "symptoms.headache": "monthly",
    "symptoms.fatigue": "rarely",
    "symptoms.stomach": "never",
}


def meeting(i: int) -> MeetingIn:
    return MeetingIn(
        held_on=datetime.now(UTC).date(),
        kind=MeetingKind.FOLLOW_UP,
        measurements=MeasurementsIn(
            height_cm=176.0,
            weight_kg=78.0 + i % 7,
            waist_cm=88.0,
            systolic=124.0,
            diastolic=80.0,
            heart_rate=62.0,
        ),
        questionnaire=QuestionnaireIn(questionnaire_id="imr-health-profile", version=1, answers=ANSWERS),
        fitness_test=EkblomBakIn(watts_low=30, hr_low=96, watts_high=130, hr_high=138 + i % 5),
        notes="Benchmark meeting: talked about sleep and cycling to work.",
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stats(ms: list[float]) -> dict:
    ordered = sorted(ms)
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[max(0, round(0.95 * len(ordered)) - 1)], 1),
        "max_ms": round(ordered[-1], 1),
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc): what a call costs, whatever the load."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def prepare(url: str) -> float:
    if url.startswith("postgresql"):
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
    started = time.perf_counter()
    subprocess.run([*SERVER, "--database-url", url, "seed-demo"], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


async def drive(port: int, server_pid: int, saves: int) -> dict:
    client = ClinicClient(f"http://127.0.0.1:{port}")
    for _ in range(200):  # the server is starting
        try:
            await client.info()
            break
        except Exception:  # noqa: BLE001 - not up yet
            await asyncio.sleep(0.05)
    await client.login("cecilia", DEMO_PASSWORD)
    api = CoachApi(client)
    everyone = (await api.participants()).items
    full = [p.id for p in everyone if not p.missing and not p.objected_to_profiling]
    timings: dict[str, list[float]] = {"save": [], "retry": [], "correction": []}
    made: list[tuple[str, str, MeetingIn]] = []
    for i in range(10):  # warm-up: imports, connections, caches
        await api.save_meeting(full[i % len(full)], meeting(i), idempotency_key=new_idempotency_key())
    server_cpu, client_cpu = cpu_seconds(server_pid), time.process_time()
    for i in range(saves):
        pid, body, key = full[i % len(full)], meeting(i), new_idempotency_key()
        t = time.perf_counter()
        out = await api.save_meeting(pid, body, idempotency_key=key)
        timings["save"].append((time.perf_counter() - t) * 1000)
        made.append((out.id, key, body))
    cpu = {
        "server_cpu_ms_per_save": round((cpu_seconds(server_pid) - server_cpu) * 1000 / saves, 1),
        "client_cpu_ms_per_save": round((time.process_time() - client_cpu) * 1000 / saves, 1),
    }
    for i, (_mid, key, body) in enumerate(made[: saves // 3]):
        t = time.perf_counter()
        await api.save_meeting(full[i % len(full)], body, idempotency_key=key)
        timings["retry"].append((time.perf_counter() - t) * 1000)
    for mid, _key, body in made[: saves // 3]:
        fix = CorrectionIn(
            expected_revision=1,
            reason="Benchmark: the scale was not zeroed",
            changes=[Change(field="measurements.weight_kg", value=body.measurements.weight_kg + 1.5)],
        )
        t = time.perf_counter()
        await api.correct(mid, fix)
        timings["correction"].append((time.perf_counter() - t) * 1000)
    history = await api.history(full[0])
    await client.aclose()
    return {
        "participants": len(full),
        "meetings_of_first_participant": len(history.meetings),
        **cpu,
        **{k: stats(v) for k, v in timings.items()},
    }


def run(url: str, saves: int) -> dict:
    seed_s = prepare(url)
    port = free_port()
    env = {**os.environ, "CLINIC_MISSING_SWEEP_MINUTES": "0"}
    server = subprocess.Popen(
        [*SERVER, "--database-url", url, "serve", "--port", str(port), "--log-level", "warning"], env=env
    )
    try:
        out = asyncio.run(drive(port, server.pid, saves))
    finally:
        server.terminate()
        server.wait(timeout=10)
    return {"seed_s": round(seed_s, 1), **out}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--saves", type=int, default=300)
    ap.add_argument("--pg", help="also run on this scratch PostgreSQL database (its schema is dropped)")
    args = ap.parse_args()
    load_before = os.getloadavg()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = run(f"sqlite:///{Path(tmp) / 'bench_coaching.sqlite3'}", args.saves)
    if args.pg:
        results["postgresql"] = run(args.pg, args.saves)
    print("\n| database | call | n | p50 (ms) | p95 (ms) | max (ms) |\n|---|---|---:|---:|---:|---:|")
    for db, res in results.items():
        for call in ("save", "retry", "correction"):
            r = res[call]
            print(f"| {db} | {call} | {r['n']} | {r['p50_ms']} | {r['p95_ms']} | {r['max_ms']} |")
    for db, res in results.items():
        print(
            f"{db}: CPU per save: server {res['server_cpu_ms_per_save']} ms, "
            f"client {res['client_cpu_ms_per_save']} ms"
        )
    record = {
        "recorded": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "sqlite": sqlite3.sqlite_version,
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        },
        "goal": "save p95 < 100 ms on SQLite",
        "results": results,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(record, indent=2) + "\n")
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
