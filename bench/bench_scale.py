"""Benchmark: cost as the work grows (issue 14 item 5) on PostgreSQL.

    createdb -h 127.0.0.1 -U postgres scale_bench
    .venv/bin/python bench/bench_scale.py --scale 1 [--audit-records N] [--runs 60] \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/scale_bench

``--scale 1`` is today's benchmark data: 2,000 patients and 10,000 open alerts (bench/bench_alerts.py)
and 1,000,000 audit records (bench/bench_monitoring_scale.py); ``--scale 10`` is 20,000 / 100,000 /
10,000,000. ``--audit-records`` caps the audit log when the full figure does not fit (say so).

The database's ``public`` schema is DROPPED and recreated. It builds:

- the care world of bench_alerts.py without its year of readings (not read by these screens): two
  care providers, nurse "anna" in the north one; a patient consents to north (i % 2 == 0), south
  (i % 5 != 0 otherwise) or both, so anna sees 60 % of the patients; open alerts spread over them;
- the audit world of bench_monitoring_scale.py (4 care providers of 40 nurses, IMR's coaches, 8,000
  patients and 1,000 participants of their own) and its routine traffic, chained with
  ``audit.chain_hash`` and written with COPY; the log starts as many days back as the records need.

Then it drives the real app in-process (httpx ASGITransport, lifespan run, background jobs off;
every request authenticated, every policy answer computed afresh, its own audit record appended
and committed), interleaving ``--runs`` rounds of the three first pages the screens load:

- alert queue (anna): ``GET /alerts?state=open&limit=50``  (the client's defaults)
- patient list (anna): ``GET /patients?limit=200``         (the client's defaults)
- audit view (supervisor of care provider 0): ``GET /audit/events?limit=100`` (default filter:
  routine hidden)

p50/p95/max of wall time per page, and the median CPU time of this process per call (the app's
own work, without PostgreSQL's: on a shared machine the wall time mostly measures the queue for a
CPU). ``--measure-only`` measures the database an earlier run at that scale left (key
"<scale>x_remeasured"). Results merge into bench/results/scale.json under the scale's key.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_monitoring_scale as mon  # noqa: E402

from clinic_server.api.app import create_app  # noqa: E402
from clinic_server.db import make_engine  # noqa: E402
from clinic_server.db.models import Alert, Condition, Consent, Organization, Person, User  # noqa: E402
from clinic_server.services.security import hash_password  # noqa: E402
from clinic_server.settings import Settings  # noqa: E402
from clinic_tui.domain import personnummer  # noqa: E402
from clinic_tui.domain.alerts import RULES, severity_rank  # noqa: E402
from clinic_tui.domain.codes import LOINC_HEART_RATE  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "scale.json"
SECRET = mon.SECRET
PASSWORD = "bench-password"  # noqa: S105 - the audit world's throwaway accounts
FULL = ["identity", "contact", "conditions", "vitals", "medications", "history"]
BASE = {"patients": 2_000, "alerts": 10_000, "audit": 1_000_000}
RECORDS_PER_DAY = 15_000  # the monitoring world's traffic is ~16,000 records a day; start early enough


def build_care(url: str, n_patients: int, n_alerts: int, rng: random.Random) -> str:
    """bench_alerts.build without the readings; returns the nurse's username."""
    engine = make_engine(url)
    now = datetime.now(UTC)
    anna = "u" * 31 + "0"
    with engine.begin() as conn:
        orgs = {"north": "o" * 31 + "1", "south": "o" * 31 + "2"}
        conn.execute(
            sa.insert(Organization),
            [{"id": orgs["north"], "name": "Norra", "kind": "care_provider"},
             {"id": orgs["south"], "name": "Söder", "kind": "care_provider"}],
        )  # fmt: skip
        conn.execute(
            sa.insert(User),
            [{"id": anna, "username": "anna", "display_name": "Anna", "role": "nurse",
              "organization_id": orgs["north"], "password_hash": hash_password(PASSWORD),
              "is_active": True, "created_at": now}],
        )  # fmt: skip
        people, conditions, consents, alerts = [], [], [], []
        pnrs = set(conn.execute(sa.select(Person.personnummer)).scalars())  # the audit world's people
        rule_ids = sorted(RULES)
        per = -(-n_alerts // n_patients)
        for i in range(n_patients):
            birth = date(rng.randint(1935, 1985), rng.randint(1, 12), rng.randint(1, 28))
            sex = rng.choice(("female", "male"))
            pnr = personnummer.generate(rng, birth, sex)
            while pnr in pnrs:
                pnr = personnummer.generate(rng, birth, sex)
            pnrs.add(pnr)
            pid = f"{i:032x}"
            people.append(
                {"id": pid, "personnummer": pnr, "given_name": f"Given{i}", "family_name": f"Family{i}",
                 "birth_date": birth, "sex": sex, "restricted": False, "sends_daily": True, "created_at": now}
            )  # fmt: skip
            for code in rng.sample(
                ["hypertension", "heart_failure", "diabetes_t2", "copd"], rng.randint(1, 2)
            ):
                conditions.append({"person_id": pid, "code": code})
            for org in ("north",) if i % 2 == 0 else ("south",) if i % 5 else ("north", "south"):
                consents.append(
                    {"id": f"c{i:030x}{org[0]}", "person_id": pid, "organization_id": orgs[org],
                     "categories": FULL, "purpose": "care", "valid_from": now - timedelta(days=400),
                     "valid_until": None, "status": "active", "created_at": now}
                )  # fmt: skip
            for rule in rng.sample(rule_ids, min(per, len(rule_ids))):
                if len(alerts) >= n_alerts:
                    break
                sev = RULES[rule].severity
                opened = now - timedelta(minutes=rng.randint(1, 60 * 24 * 30))
                alerts.append(
                    {"person_id": pid, "rule_id": rule, "rule_version": 1, "severity": str(sev),
                     "severity_rank": severity_rank(sev), "loinc": LOINC_HEART_RATE, "value": 140.0,
                     "message": f"{RULES[rule].description}", "inputs": {}, "state": "open",
                     "opened_at": opened, "last_seen_at": opened, "updated_at": opened, "version": 1}
                )  # fmt: skip
        for table, rows in ((Person, people), (Condition, conditions), (Consent, consents), (Alert, alerts)):
            for k in range(0, len(rows), 20_000):
                conn.execute(sa.insert(table), rows[k : k + 20_000])
    engine.dispose()
    return "anna"


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def measure(url: str, anna: str, supervisor: str, runs: int) -> dict:
    settings = Settings(
        database_url=url,
        secret_key=SECRET,
        demo=False,
        missing_sweep_minutes=0,
        findings_scan_minutes=0,
        retention_hours=0,
        audit_checkpoint_minutes=0,
    )
    app = create_app(settings)
    pages = {
        "alert_queue": ("nurse", "/alerts", {"state": "open", "limit": 50}),
        "patient_list": ("nurse", "/patients", {"limit": 200}),
        "audit_view": ("supervisor", "/audit/events", {"limit": 100}),
    }
    times: dict[str, list[float]] = {k: [] for k in pages}
    cpu: dict[str, list[float]] = {k: [] for k in pages}  # this process's CPU (not PostgreSQL's)
    shown: dict[str, dict] = {}
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://bench/api/v1", timeout=120) as http,
    ):
        tokens = {}
        for who, username in (("nurse", anna), ("supervisor", supervisor)):
            r = await http.post("/auth/login", json={"username": username, "password": PASSWORD})
            assert r.status_code == 200, r.text
            tokens[who] = r.json()["access_token"]

        async def get(name: str) -> httpx.Response:
            who, path, params = pages[name]
            r = await http.get(path, params=params, headers={"Authorization": f"Bearer {tokens[who]}"})
            assert r.status_code == 200, (name, r.status_code, r.text[:300])
            return r

        for name in pages:  # warm-up: two calls each
            await get(name)
            body = (await get(name)).json()
            shown[name] = {"items": len(body["items"])}
            if name == "alert_queue":
                shown[name]["visible_open"] = sum(body["counts"].values())
        rng = random.Random(5)
        for _ in range(runs):
            order = list(pages)
            rng.shuffle(order)
            for name in order:
                t, c = time.perf_counter(), time.process_time()
                await get(name)
                times[name].append((time.perf_counter() - t) * 1000)
                cpu[name].append((time.process_time() - c) * 1000)
    app.state.engine.dispose()
    return {
        name: {
            **shown[name],
            "calls": len(v),
            "p50_ms": round(statistics.median(v), 1),
            "p95_ms": round(pct(v, 95), 1),
            "max_ms": round(max(v), 1),
            "cpu_p50_ms": round(statistics.median(cpu[name]), 1),
        }
        for name, v in times.items()
    }


def sizes(url: str) -> dict:
    engine = make_engine(url)
    with engine.connect() as conn:
        out = {
            t: {
                "rows": conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar(),  # noqa: S608
                "bytes_with_indexes": conn.execute(sa.text(f"SELECT pg_total_relation_size('{t}')")).scalar(),
            }
            for t in ("person", "consent", "alert", "audit_event")
        }
        out["database_bytes"] = conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar()
    engine.dispose()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", required=True, help="a scratch PostgreSQL database (schema dropped)")
    ap.add_argument("--scale", type=int, default=1, help="1: today's benchmark data; 10: ten times it")
    ap.add_argument("--audit-records", type=int, help="cap the audit log (default: 1,000,000 x scale)")
    ap.add_argument("--runs", type=int, default=60)
    ap.add_argument("--build-only", action="store_true", help="build the database, measure nothing")
    ap.add_argument("--measure-only", action="store_true", help="measure the database the last run built")
    args = ap.parse_args()
    if not args.database_url.startswith("postgresql"):
        ap.error("this benchmark is for PostgreSQL")
    n_patients, n_alerts = BASE["patients"] * args.scale, BASE["alerts"] * args.scale
    n_audit = args.audit_records or BASE["audit"] * args.scale
    url = args.database_url
    load_start = os.getloadavg()
    if args.measure_only:  # the database built by an earlier run at this scale
        return report(args, url, load_start, {}, None, "anna", "sup0")
    rng = random.Random(14)
    t0 = time.perf_counter()
    mon.fresh(url)
    start = datetime.combine(
        date.today() - timedelta(days=n_audit // RECORDS_PER_DAY + 2), datetime.min.time(), UTC
    )
    world = mon.build_world(url, start, rng)
    anna = build_care(url, n_patients, n_alerts, rng)
    care_s = time.perf_counter() - t0
    print(f"scale {args.scale}: care world ({n_patients:,} patients, {n_alerts:,} alerts) in {care_s:.0f} s")
    written, fill_s, _ = mon.fill(url, world, start, n_audit, rng)
    print(f"{written:,} audit records in {fill_s:.0f} s")
    supervisor = world["supervisors"][world["orgs"][0]][1]  # username
    build = {"care_and_people": round(care_s, 1), "audit_copy": round(fill_s, 1)}
    if args.build_only:
        return 0
    return report(args, url, load_start, build, written, anna, supervisor)


def report(args, url: str, load_start, build: dict, written: int | None, anna: str, supervisor: str) -> int:
    tables = sizes(url)
    n_patients, n_alerts = BASE["patients"] * args.scale, BASE["alerts"] * args.scale
    written = written or tables["audit_event"]["rows"]
    load_measure = os.getloadavg()
    pages = asyncio.run(measure(url, anna, supervisor, args.runs))
    result = {
        "scale": args.scale,
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "dataset": {"patients": n_patients, "open_alerts": n_alerts, "audit_records": written},
        "build_seconds": build,
        "tables": tables,
        "pages": pages,
        "load_average": {"start": load_start, "before_measuring": load_measure, "end": os.getloadavg()},
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
    }
    print("| page | items | p50 (ms) | p95 (ms) | max (ms) | CPU p50 (ms) |\n|---|---:|---:|---:|---:|---:|")
    for name, row in pages.items():
        print(
            f"| {name} | {row['items']} | {row['p50_ms']} | {row['p95_ms']} | {row['max_ms']} "
            f"| {row['cpu_p50_ms']} |"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    key = f"{args.scale}x" + ("_remeasured" if args.measure_only else "")
    existing[key] = result
    RESULTS.write_text(json.dumps(existing, indent=2, default=str) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
