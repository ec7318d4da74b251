"""Benchmark: alert queue, one-year trend series, and ingestion with rule evaluation (issue 4).

    .venv/bin/python bench/bench_alerts.py [--patients 2000] [--alerts 10000] [--keep PATH]
    .venv/bin/python bench/bench_alerts.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench

Builds a database (a SQLite file, or the PostgreSQL database given, whose public schema is DROPPED
and recreated) with 2,000 patients, one year of daily readings each (weight, systolic,
diastolic, heart rate: ~2.9 M rows, bulk-inserted), one patient with hourly heart rate for a year,
and 10,000 open alerts; then drives the real FastAPI app in-process over httpx ASGITransport
(every request passes authentication, policy, the query, projection and the audit append):

- alert queue first page (limit 50) for a nurse: p50/p95 over 50 calls (goal p95 < 100 ms)
- one-year trend series downsampled to 120 points (goal p95 < 300 ms)
- ingestion with rule evaluation: batched POSTs of 500 readings through the app (goal >= 1,000/s)

Prints a markdown table and writes bench/results/alerts.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clinic_server.api.app import create_app  # noqa: E402
from clinic_server.db import make_engine  # noqa: E402
from clinic_server.db.migrate import upgrade  # noqa: E402
from clinic_server.db.models import (  # noqa: E402
    Alert,
    Condition,
    Consent,
    Device,
    Organization,
    Person,
    User,
)
from clinic_server.services.ingest import hash_key  # noqa: E402
from clinic_server.services.security import hash_password  # noqa: E402
from clinic_server.settings import Settings  # noqa: E402
from clinic_tui.domain import personnummer  # noqa: E402
from clinic_tui.domain.alerts import RULES, severity_rank  # noqa: E402
from clinic_tui.domain.codes import (  # noqa: E402
    LOINC_DIASTOLIC,
    LOINC_HEART_RATE,
    LOINC_SYSTOLIC,
    LOINC_WEIGHT,
)

PASSWORD = "bench-password-123"  # noqa: S105 - a throwaway benchmark account
RESULTS = ROOT / "bench" / "results" / "alerts.json"
FULL = ["identity", "contact", "conditions", "vitals", "medications", "history"]


def _ts(dt: datetime) -> str:
    """How UTCDateTime stores a time in SQLite (naive UTC, microseconds)."""
    return dt.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def build(url: str, n_patients: int, n_alerts: int, rng: random.Random) -> dict:
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    upgrade(engine)
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    with engine.begin() as conn:
        orgs = {"north": "o" * 31 + "1", "south": "o" * 31 + "2"}
        conn.execute(
            insert(Organization),
            [{"id": orgs["north"], "name": "Norra", "kind": "care_provider"},
             {"id": orgs["south"], "name": "Söder", "kind": "care_provider"}],
        )  # fmt: skip
        pw = hash_password(PASSWORD)
        conn.execute(
            insert(User),
            [
                {"id": f"{'u' * 31}{i}", "username": name, "display_name": name.title(), "role": "nurse",
                 "organization_id": orgs[org], "password_hash": pw, "is_active": True, "created_at": now}
                for i, (name, org) in enumerate((("anna", "north"), ("bertil", "south")))
            ],
        )  # fmt: skip
        people, conditions, consents, devices = [], [], [], []
        pnrs: set[str] = set()
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
            devices.append(
                {"id": f"d{i:031x}", "person_id": pid, "label": "bench", "key_hash": hash_key(f"key-{i}"),
                 "active": True, "created_at": now}
            )  # fmt: skip
        conn.execute(insert(Person), people)
        conn.execute(insert(Condition), conditions)
        conn.execute(insert(Consent), consents)
        conn.execute(insert(Device), devices)

        # open alerts: up to 5 distinct rules per patient (one active alert per person and rule)
        rule_ids = sorted(RULES)
        alerts = []
        per = -(-n_alerts // n_patients)
        for i in range(n_patients):
            for rule in rng.sample(rule_ids, min(per, len(rule_ids))):
                if len(alerts) >= n_alerts:
                    break
                sev = RULES[rule].severity
                opened = now - timedelta(minutes=rng.randint(1, 60 * 24 * 30))
                alerts.append(
                    {"person_id": f"{i:032x}", "rule_id": rule, "rule_version": 1, "severity": str(sev),
                     "severity_rank": severity_rank(sev), "loinc": LOINC_HEART_RATE, "value": 140.0,
                     "message": f"{RULES[rule].description}", "inputs": {}, "state": "open",
                     "opened_at": opened, "last_seen_at": opened, "updated_at": opened, "version": 1}
                )  # fmt: skip
        conn.execute(insert(Alert), alerts)
    setup_s = time.perf_counter() - t0

    # a year of daily readings: the bulk path (sqlite3 executemany, PostgreSQL COPY; no ORM)
    t0 = time.perf_counter()
    days = [now - timedelta(days=d, hours=rng.uniform(1, 3)) for d in range(365, 0, -1)]
    dense = f"{0:032x}"

    def rows():
        for i in range(n_patients):
            pid = f"{i:032x}"
            w, sysv, hr = rng.uniform(60, 110), rng.uniform(120, 145), rng.uniform(58, 80)
            for d in days:
                yield (pid, LOINC_WEIGHT, round(w + rng.gauss(0, 0.4), 1), "kg", d)
                sv = round(sysv + rng.gauss(0, 6))
                yield (pid, LOINC_SYSTOLIC, sv, "mm[Hg]", d)
                yield (pid, LOINC_DIASTOLIC, round(sv * 0.62 + rng.gauss(0, 3)), "mm[Hg]", d)
                yield (pid, LOINC_HEART_RATE, round(hr + rng.gauss(0, 4)), "/min", d)
        # one patient with hourly heart rate for a year (8,760 readings)
        for h in range(24 * 365, 0, -1):
            yield (
                dense,
                LOINC_HEART_RATE,
                round(70 + 10 * rng.random()),
                "/min",
                now - timedelta(hours=h, minutes=5),
            )

    n_obs = 0
    cols = "person_id, loinc, value, unit, effective_at, received_at"
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            cur = conn.connection.dbapi_connection.cursor()
            with cur.copy(f"COPY observation ({cols}) FROM STDIN") as copy:
                for pid, loinc, value, unit, at in rows():
                    copy.write_row((pid, loinc, value, unit, at, at))
                    n_obs += 1
            conn.execute(text("ANALYZE"))
    else:
        raw = sqlite3.connect(url.removeprefix("sqlite:///"))
        raw.execute("PRAGMA synchronous=OFF")
        sql = f"INSERT INTO observation ({cols}) VALUES (?, ?, ?, ?, ?, ?)"  # noqa: S608
        batch = []
        for pid, loinc, value, unit, at in rows():
            batch.append((pid, loinc, value, unit, _ts(at), _ts(at)))
            if len(batch) >= 50_000:
                raw.executemany(sql, batch)
                n_obs += len(batch)
                batch = []
        raw.executemany(sql, batch)
        n_obs += len(batch)
        raw.commit()
        raw.execute("ANALYZE")
        raw.close()
    load_s = time.perf_counter() - t0
    engine.dispose()
    return {"url": url, "observations": n_obs, "setup_s": setup_s, "load_s": load_s, "dense_patient": dense}


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(p / 100 * (len(values) - 1))))
    return values[k]


async def run(url: str, n_patients: int, dense: str, rng: random.Random) -> dict:
    # no missing-data sweep: at start it would walk every daily sender while the queue is timed
    settings = Settings(database_url=url, secret_key="bench-" + "k" * 40, demo=False, missing_sweep_minutes=0)
    app = create_app(settings)
    out: dict = {}
    transport = httpx.ASGITransport(app=app)
    # ASGITransport does not run the lifespan; run it as uvicorn would (start-up work, gc.freeze)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://bench/api/v1", timeout=60) as http,
    ):
        r = await http.post("/auth/login", json={"username": "anna", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}

        async def timed(n: int, call) -> tuple[list[float], httpx.Response]:
            times, last = [], None
            for _ in range(n):
                t = time.perf_counter()
                last = await call()
                times.append((time.perf_counter() - t) * 1000)
                assert last.status_code == 200, last.text
            return times, last

        # queue: first page
        await http.get("/alerts", headers=headers)  # warm-up
        times, last = await timed(50, lambda: http.get("/alerts", headers=headers, params={"limit": 50}))
        body = last.json()
        out["queue_first_page"] = {
            "calls": 50, "p50_ms": statistics.median(times), "p95_ms": pct(times, 95),
            "items": len(body["items"]), "visible_open": sum(body["counts"].values()),
        }  # fmt: skip

        cursor = body["next_cursor"]
        times, _ = await timed(
            20, lambda: http.get("/alerts", headers=headers, params={"limit": 50, "after": cursor})
        )
        out["queue_second_page"] = {"calls": 20, "p50_ms": statistics.median(times), "p95_ms": pct(times, 95)}
        times, _ = await timed(
            20, lambda: http.get("/alerts", headers=headers, params={"limit": 50, "state": "active"})
        )
        out["queue_active_first_page"] = {
            "calls": 20,
            "p50_ms": statistics.median(times),
            "p95_ms": pct(times, 95),
        }
        times, _ = await timed(
            20, lambda: http.get("/alerts", headers=headers, params={"limit": 50, "q": "family12"})
        )
        out["queue_search"] = {"calls": 20, "p50_ms": statistics.median(times), "p95_ms": pct(times, 95)}
        since = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        times, _ = await timed(
            20, lambda: http.get("/alerts/changes", headers=headers, params={"since": since})
        )
        out["changes_poll"] = {"calls": 20, "p50_ms": statistics.median(times), "p95_ms": pct(times, 95)}

        # series: a typical patient (daily readings) and the dense one (hourly)
        typical = f"{2:032x}"
        for name, pid, loinc in (
            ("series_1y_daily", typical, LOINC_SYSTOLIC),
            ("series_1y_hourly", dense, LOINC_HEART_RATE),
        ):
            params = {"loinc": loinc, "range": "1y", "points": 120}
            times, last = await timed(
                30,
                lambda pid=pid, params=params: http.get(
                    f"/patients/{pid}/observations", headers=headers, params=params
                ),
            )
            out[name] = {
                "calls": 30, "p50_ms": statistics.median(times), "p95_ms": pct(times, 95),
                "readings": last.json()["total"], "points": len(last.json()["points"]),
            }  # fmt: skip

        # ingestion through the app: batches of 500 readings, each item evaluated against the rules
        now = datetime.now(UTC)
        total, posts, t0 = 0, 0, time.perf_counter()
        seq = 0
        for b in range(40):
            i = rng.randrange(n_patients)
            items = []
            for k in range(500):
                seq += 1
                loinc, unit, value = rng.choice(
                    [(LOINC_SYSTOLIC, "mm[Hg]", rng.choice([132, 141, 150, 166, 185])),
                     (LOINC_HEART_RATE, "/min", rng.choice([62, 71, 88, 135])),
                     (LOINC_WEIGHT, "kg", round(rng.uniform(70, 90), 1))]
                )  # fmt: skip
                at = now - timedelta(seconds=500 - k, minutes=b)
                items.append(
                    {"source_id": f"bench-{seq}", "loinc": loinc, "unit": unit, "value": value,
                     "effective_at": at.isoformat()}
                )  # fmt: skip
            r = await http.post(
                "/ingest/observations", json={"observations": items}, headers={"X-Device-Key": f"key-{i}"}
            )
            assert r.status_code == 200 and r.json()["stored"] == 500, r.text
            total += 500
            posts += 1
        elapsed = time.perf_counter() - t0
        out["ingest_batched_500"] = {
            "posts": posts,
            "readings": total,
            "seconds": elapsed,
            "per_second": total / elapsed,
        }
        # and one reading per post, for contrast
        t0 = time.perf_counter()
        for j in range(300):
            i = rng.randrange(n_patients)
            item = {"source_id": f"single-{j}", "loinc": LOINC_HEART_RATE, "unit": "/min", "value": 72,
                    "effective_at": (now - timedelta(seconds=j)).isoformat()}  # fmt: skip
            r = await http.post("/ingest/observations", json=item, headers={"X-Device-Key": f"key-{i}"})
            assert r.status_code == 200, r.text
        elapsed = time.perf_counter() - t0
        out["ingest_single"] = {
            "posts": 300,
            "readings": 300,
            "seconds": elapsed,
            "per_second": 300 / elapsed,
        }

    # the plan of the page query as the endpoint builds it (SQLite)
    from clinic_server.access.policy import Actor
    from clinic_server.access.visible_sql import allows
    from clinic_server.db.queries import keyset_page
    from clinic_server.services.alerts import QUEUE_KEY, Visible, state_parts
    from clinic_tui.domain.categories import Category

    captured = []

    class Capture:
        def execute(self, stmt):
            captured.append(stmt)
            return []

    with app.state.sessionmaker() as session:
        # anna's queue filter, as the endpoint builds it (the SQL rendering of her visibility)
        nurse = Actor("u" * 31 + "0", "anna", "nurse", "o" * 31 + "1", "care_provider")
        at = datetime.now(UTC)
        cats = (Category.VITALS, Category.CONDITIONS, Category.IDENTITY)
        shown = Visible(*(allows(session, nurse, at, c, consent_only=True) for c in cats))
        keyset_page(
            Capture(),
            key=QUEUE_KEY,
            parts=state_parts("open", datetime.now(UTC)),
            filters=[shown.shown(session, drive_index=False)],
            after=None,
            limit=50,
        )
    with app.state.engine.connect() as conn:
        sql = str(captured[0].compile(conn.engine, compile_kwargs={"literal_binds": True}))
        explain = "EXPLAIN QUERY PLAN " if conn.dialect.name == "sqlite" else "EXPLAIN "
        out["page_plan"] = [str(r[-1]) for r in conn.execute(text(explain + sql))]
    app.state.engine.dispose()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=2000)
    ap.add_argument("--alerts", type=int, default=10_000)
    ap.add_argument("--keep", type=Path, help="build the SQLite database here and keep it")
    ap.add_argument("--database-url", help="a PostgreSQL database to build in (its public schema is dropped)")
    args = ap.parse_args()
    rng = random.Random(4)
    with tempfile.TemporaryDirectory() as tmp:
        if args.database_url:
            url = args.database_url
        else:
            path = args.keep or Path(tmp) / "bench_alerts.sqlite3"
            if path.exists():
                path.unlink()
            url = f"sqlite:///{path}"
        built = build(url, args.patients, args.alerts, rng)
        res = asyncio.run(run(built["url"], args.patients, built["dense_patient"], rng))
    backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite file"
    s1, s2 = res["series_1y_daily"], res["series_1y_hourly"]
    ib, i1 = res["ingest_batched_500"], res["ingest_single"]

    def lat(key: str) -> str:
        return f"p50 {res[key]['p50_ms']:.1f} ms, p95 {res[key]['p95_ms']:.1f} ms"

    rows = [
        ("Alert queue, first page (50 of 10,000 open; the nurse sees 60 % of 2,000 patients; every "
         "policy answer recomputed)", lat("queue_first_page"), "p95 < 100 ms"),
        ("Alert queue, second page (keyset cursor)", lat("queue_second_page"), ""),
        ("Alert queue, state=active (3 merged index ranges)", lat("queue_active_first_page"), ""),
        ("Alert queue, q=name search", lat("queue_search"), ""),
        ("Alert change poll (/alerts/changes)", lat("changes_poll"), ""),
        (f"Trend series, 1 year daily ({s1['readings']} readings → {s1['points']} points)",
         lat("series_1y_daily"), "p95 < 300 ms"),
        (f"Trend series, 1 year hourly ({s2['readings']} readings → {s2['points']} points)",
         lat("series_1y_hourly"), "p95 < 300 ms"),
        ("Ingestion + rule evaluation, POST batches of 500 through the app (ASGITransport)",
         f"{ib['per_second']:,.0f} readings/s ({ib['readings']} in {ib['seconds']:.1f} s)", "≥ 1,000/s"),
        ("Ingestion + rule evaluation, one reading per POST", f"{i1['per_second']:,.0f} readings/s", ""),
    ]  # fmt: skip
    print(f"\nDatabase: {backend}, {args.patients} patients, {built['observations']:,} observations, "
          f"{args.alerts:,} open alerts (built in {built['setup_s'] + built['load_s']:.0f} s)\n")  # fmt: skip
    print("| measurement | result | goal |\n|---|---|---|")
    for name, value, goal in rows:
        print(f"| {name} | {value} | {goal} |")
    plan = [
        line.split("  (cost")[0].strip()
        for line in res["page_plan"]
        if "Scan" in line or "SCAN" in line or "SEARCH" in line
    ]
    print("\nPage query plan (state=open):", "; ".join(plan))
    record = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "database": backend,
            "sqlite": sqlite3.sqlite_version,
        },  # fmt: skip
        "dataset": {
            "patients": args.patients,
            "observations": built["observations"],
            "open_alerts": args.alerts,
        },
        "results": res,
        "table": [{"measurement": n, "result": v, "goal": g} for n, v, g in rows],
    }
    out_file = RESULTS if backend.startswith("SQLite") else RESULTS.with_name("alerts_postgresql.json")
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwrote {out_file.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
