"""Benchmark: the FHIR export of one person with a year of hourly readings (goal: under 3 s).

    .venv/bin/python bench/bench_export.py [--runs 5] [--hours 8784] [--pg postgresql+psycopg://...]

A fresh SQLite database (and PostgreSQL with ``--pg``, a scratch database whose ``public`` schema
is dropped) holds one patient with a year of hourly readings (heart rate every hour, 8,784 by
default: 2024 was a leap year; plus a daily weight, so about 9,100 observations), a consent, a
device and, for the access log, a few hundred audit records about them. Each run times
``services.fhir_export.build`` (the queries, one resource per row, ``Bundle.model_validate`` of the
whole bundle with the fhir.resources R4B models) and writing the bundle as JSON, as
``clinic-server subject export`` does. One untimed warm-up run first (imports, model compilation).
Reports wall time (median, min, max) and the process's CPU time (median), which the other load of a
shared machine does not inflate. Prints a table and writes bench/results/export.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clinic_server.audit.chain import RequestInfo, Who, append  # noqa: E402
from clinic_server.db import make_engine, make_sessionmaker  # noqa: E402
from clinic_server.db.migrate import upgrade  # noqa: E402
from clinic_server.db.models import Consent, Device, Observation, Organization, Person  # noqa: E402
from clinic_server.services import fhir_export  # noqa: E402

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def _fill(url: str, hours: int) -> str:
    engine = make_engine(url)
    upgrade(engine)
    with make_sessionmaker(engine)() as s:
        org = Organization(name="Vårdcentralen Norra", kind="care_provider")
        s.add(org)
        s.flush()
        p = Person(
            personnummer="197001011234"[:12],
            given_name="Bea",
            family_name="Bench",
            birth_date=date(1970, 1, 1),
            sex="female",
            phone="070-1",
            email="b@example.se",
            address="Gatan 1",
            created_at=NOW - timedelta(days=400),
        )
        s.add(p)
        s.flush()
        s.add(
            Consent(
                person_id=p.id,
                organization_id=org.id,
                categories=["vitals"],
                purpose="care",
                valid_from=NOW - timedelta(days=400),
            )
        )
        device = Device(person_id=p.id, label="watch", key_hash="x" * 64)
        s.add(device)
        s.flush()
        start = NOW - timedelta(hours=hours)
        rows = [
            {
                "person_id": p.id,
                "loinc": "8867-4",
                "value": 60 + (i * 7) % 40,
                "unit": "/min",
                "effective_at": start + timedelta(hours=i),
                "received_at": start + timedelta(hours=i, minutes=1),
                "device_id": device.id,
                "source_id": f"hr{i}",
            }
            for i in range(hours)
        ]
        rows += [
            {
                "person_id": p.id,
                "loinc": "29463-7",
                "value": 70 + (d % 5) / 10,
                "unit": "kg",
                "effective_at": start + timedelta(days=d, hours=7),
                "received_at": start + timedelta(days=d, hours=7),
                "device_id": None,
                "source_id": None,
            }
            for d in range(hours // 24)
        ]
        for i in range(0, len(rows), 5000):
            s.execute(sa.insert(Observation), rows[i : i + 5000])
        who = Who("u1", "anna", "nurse", org.id)
        for i in range(300):
            append(
                s,
                who=who,
                request=RequestInfo(f"r{i}", "bench", "1"),
                action="read",
                resource_type="person",
                outcome="allowed",
                reason="bench",
                purpose="care",
                person_id=p.id,
                categories=["vitals"],
            )
        s.commit()
        pid = p.id
    engine.dispose()
    return pid


def _measure(url: str, pid: str, runs: int, out_dir: Path) -> dict:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    times, build_times, cpu_times, counts, size = [], [], [], {}, 0
    try:
        for i in range(runs + 1):
            with sessions() as s:
                person = s.get(Person, pid)
                started, cpu = time.perf_counter(), time.process_time()
                export = fhir_export.build(s, person, NOW)
                built = time.perf_counter()
                path = out_dir / f"export-{i}.json"
                path.write_text(json.dumps(export.bundle, ensure_ascii=False, separators=(",", ":")))
                done, cpu = time.perf_counter(), time.process_time() - cpu
            if i == 0:
                continue  # warm-up
            times.append(done - started)
            build_times.append(built - started)
            cpu_times.append(cpu)
            counts, size = export.counts, path.stat().st_size
    finally:
        engine.dispose()
    return {
        "runs": runs,
        "resources": counts,
        "observations": counts.get("Observation", 0),
        "median_s": round(statistics.median(times), 3),
        "min_s": round(min(times), 3),
        "max_s": round(max(times), 3),
        "build_and_validate_median_s": round(statistics.median(build_times), 3),
        # CPU time of this process: what a shared machine's other load does not inflate
        "cpu_median_s": round(statistics.median(cpu_times), 3),
        "bundle_bytes": size,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--hours", type=int, default=8784)
    parser.add_argument("--pg", help="a scratch PostgreSQL database (its public schema is dropped)")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'export.sqlite3'}"
        pid = _fill(url, args.hours)
        results["sqlite"] = _measure(url, pid, args.runs, Path(tmp))
        if args.pg:
            engine = make_engine(args.pg)
            with engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
                conn.execute(sa.text("CREATE SCHEMA public"))
            engine.dispose()
            pid = _fill(args.pg, args.hours)
            results["postgresql"] = _measure(args.pg, pid, args.runs, Path(tmp))
    record = {
        "recorded": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "load_average": os.getloadavg(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "goal_s": 3.0,
        **results,
    }
    print("| database | observations | resources | median (s) | min (s) | max (s) | CPU median (s) | MB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, r in results.items():
        total = sum(r["resources"].values())
        print(
            f"| {name} | {r['observations']} | {total} | {r['median_s']} | {r['min_s']} | {r['max_s']} "
            f"| {r['cpu_median_s']} | {r['bundle_bytes'] / 1e6:.1f} |"
        )
    out = ROOT / "bench" / "results" / "export.json"
    out.write_text(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
