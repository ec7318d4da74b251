"""Benchmark: a retention run over 100,000 people on SQLite (goal: under 60 s).

    .venv/bin/python bench/bench_retention.py [--people 100000] [--pg postgresql+psycopg://...]

A fresh database holds ``--people`` people, built with set-based inserts:

- 60 % ImagineCare patients: a consent to ImagineCare AB (the account; 3 % of them withdrawn, so the
  account ended), a care consent, a condition and 5 measurements each;
- 40 % IMR participants of three employers (one contract ended eight months ago): a coach
  assignment made between 1 and 30 months ago, a coaching consent, a statistics consent for half of
  them, 5 measurements and a billing record each (some past their bookkeeping date), and an
  anonymization request for 1 %.

Then it times, with the real job (``jobs/retention.run_retention``): a dry run (who is due, by
which rule: the assessment alone), and the real run (the same assessment, then the erasure or
anonymization of everyone due, through the data map, and the expired bookkeeping rows), each
leaving its one audit record. ``--pg`` names a scratch PostgreSQL database (its ``public`` schema is
dropped). Prints a table and writes bench/results/retention.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clinic_server.db import make_engine, make_sessionmaker  # noqa: E402
from clinic_server.db.migrate import upgrade  # noqa: E402
from clinic_server.db.models import (  # noqa: E402
    BillingRecord,
    CoachAssignment,
    Condition,
    Consent,
    Employer,
    Observation,
    Organization,
    Person,
    SubjectRequest,
    User,
    new_id,
)
from clinic_server.jobs.retention import run_retention  # noqa: E402
from clinic_tui.domain import personnummer  # noqa: E402

NOW = datetime(2026, 11, 30, 3, tzinfo=UTC)
CHUNK = 5000


def _insert(s, model, rows: list[dict]) -> None:
    for i in range(0, len(rows), CHUNK):
        s.execute(sa.insert(model), rows[i : i + CHUNK])


def _fill(url: str, n: int) -> dict:
    rng = random.Random(42)
    engine = make_engine(url)
    upgrade(engine)
    with make_sessionmaker(engine)() as s:
        orgs = {
            k: Organization(id=new_id(), name=name, kind=k)
            for k, name in (("care_provider", "VC Norra"), ("imr", "IMR"), ("imaginecare", "ImagineCare AB"))
        }
        s.add_all(orgs.values())
        employers = [
            Employer(id=new_id(), name="Running AB", contract_start=date(2020, 1, 1)),
            Employer(id=new_id(), name="Also AB", contract_start=date(2021, 1, 1)),
            Employer(
                id=new_id(), name="Ended AB", contract_start=date(2019, 1, 1), contract_end=date(2026, 3, 31)
            ),
        ]
        s.add_all(employers)
        s.flush()
        coach = User(
            id=new_id(),
            username="coach",
            display_name="C",
            role="coach",
            organization_id=orgs["imr"].id,
            password_hash="!",  # noqa: S106 - no password: nobody logs in as the benchmark's coach
        )
        s.add(coach)
        s.flush()
        people, consents, conditions, obs, assignments, bills, requests = [], [], [], [], [], [], []
        used: set[str] = set()
        for i in range(n):
            birth = date(1950 + rng.randrange(50), 1 + rng.randrange(12), 1 + rng.randrange(28))
            pnr = personnummer.generate(rng, birth, "female")
            while pnr in used:
                pnr = personnummer.generate(rng, birth, "female")
            used.add(pnr)
            pid = new_id()
            patient = i < n * 0.6
            created = NOW - timedelta(days=rng.randrange(30, 900))
            emp = None if patient else employers[rng.randrange(3)].id
            people.append(
                {
                    "id": pid,
                    "personnummer": pnr,
                    "given_name": f"G{i}",
                    "family_name": f"F{i}",
                    "birth_date": birth,
                    "sex": "female",
                    "phone": f"070-{i:07d}",
                    "email": f"p{i}@example.se",
                    "address": f"Gatan {i}",
                    "employer_id": emp,
                    "job_title": None if patient else "Snickare",
                    "restricted": False,
                    "sends_daily": True,
                    "created_at": created,
                }
            )

            def consent(org: str, purpose: str, cats: list[str], pid=pid, created=created, **kw) -> None:
                row = {
                    "id": new_id(),
                    "person_id": pid,
                    "organization_id": orgs[org].id,
                    "categories": cats,
                    "purpose": purpose,
                    "valid_from": created,
                    "valid_until": None,
                    "status": "active",
                    "withdrawn_at": None,
                    "created_at": created,
                }
                row.update(kw)
                consents.append(row)

            if patient:
                closed = rng.random() < 0.03
                consent(
                    "imaginecare",
                    "self_care",
                    ["vitals", "conditions"],
                    **({"status": "withdrawn", "withdrawn_at": NOW - timedelta(days=2)} if closed else {}),
                )
                consent("care_provider", "care", ["vitals", "conditions"])
                conditions.append({"person_id": pid, "code": "hypertension", "onset": date(2015, 1, 1)})
            else:
                contact = NOW - timedelta(days=rng.randrange(30, 900))
                assignments.append(
                    {"coach_id": coach.id, "person_id": pid, "active": True, "created_at": contact}
                )
                consent("imr", "coaching", ["vitals"], valid_from=contact, created_at=contact)
                if rng.random() < 0.5:
                    consent("imr", "statistics", ["vitals"], valid_from=contact, created_at=contact)
                served = contact.date()
                fiscal = date(served.year, 12, 31)
                bills.append(
                    {
                        "person_id": pid,
                        "employer_id": emp,
                        "service": "health_profile_meeting",
                        "service_date": served,
                        "name": f"G{i} F{i}",
                        "fiscal_year_end": fiscal,
                        "keep_until": date(fiscal.year + 7, 12, 31),
                        "created_at": contact,
                    }
                )
                if rng.random() < 0.01:
                    requests.append(
                        {
                            "id": new_id(),
                            "person_id": pid,
                            "kind": "anonymization",
                            "received_on": (NOW - timedelta(days=1)).date(),
                            "recorded_by": "bench",
                            "recorded_at": NOW,
                            "status": "open",
                        }
                    )
            for k in range(5):
                at = NOW - timedelta(days=k * 7 + 1)
                obs.append(
                    {
                        "person_id": pid,
                        "loinc": "29463-7",
                        "value": 70.0 + k,
                        "unit": "kg",
                        "effective_at": at,
                        "received_at": at,
                        "device_id": None,
                        "source_id": None,
                    }
                )
        # bookkeeping records of erased people, past their date
        bills += [
            {
                "person_id": None,
                "employer_id": employers[0].id,
                "service": "health_profile_meeting",
                "service_date": date(2017, 5, 1),
                "name": f"Old {j}",
                "fiscal_year_end": date(2017, 12, 31),
                "keep_until": date(2024, 12, 31),
                "created_at": NOW,
            }
            for j in range(n // 100)
        ]
        _insert(s, Person, people)
        for model, rows in (
            (Consent, consents),
            (Condition, conditions),
            (Observation, obs),
            (CoachAssignment, assignments),
            (BillingRecord, bills),
            (SubjectRequest, requests),
        ):
            _insert(s, model, rows)
        s.commit()
        counts = {
            "people": n,
            "observations": len(obs),
            "consents": len(consents),
            "billing_records": len(bills),
        }
    engine.dispose()
    return counts


def _measure(url: str) -> dict:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        started, cpu = time.perf_counter(), time.process_time()
        dry = run_retention(sessions, now=NOW, dry_run=True)
        dry_s, dry_cpu = time.perf_counter() - started, time.process_time() - cpu
        started, cpu = time.perf_counter(), time.process_time()
        real = run_retention(sessions, now=NOW)
        real_s, real_cpu = time.perf_counter() - started, time.process_time() - cpu
        with sessions() as s:
            left = s.scalar(sa.select(sa.func.count()).select_from(Person))
    finally:
        engine.dispose()
    return {
        "dry_run_s": round(dry_s, 2),
        "run_s": round(real_s, 2),
        # CPU time of this process (the database server's, for PostgreSQL, is not in it)
        "dry_run_cpu_s": round(dry_cpu, 2),
        "run_cpu_s": round(real_cpu, 2),
        "due_by_rule": real.by_rule(),
        "removed_people": len(real.due),
        "bookkeeping_rows_removed": real.billing,
        "people_left": left,
        "dry_matches_run": dry.by_rule() == real.by_rule(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--pg", help="a scratch PostgreSQL database (its public schema is dropped)")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'retention.sqlite3'}"
        started = time.perf_counter()
        counts = _fill(url, args.people)
        fill_s = time.perf_counter() - started
        results["sqlite"] = {"fill_s": round(fill_s, 1), **_measure(url)}
    if args.pg:
        engine = make_engine(args.pg)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
        started = time.perf_counter()
        _fill(args.pg, args.people)
        results["postgresql"] = {"fill_s": round(time.perf_counter() - started, 1), **_measure(args.pg)}
    record = {
        "recorded": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average": os.getloadavg(),
        },
        "goal_s": 60.0,
        "data": counts,
        **results,
    }
    print(f"data: {counts}")
    print("| database | dry run (s) | run (s) | run CPU (s) | removed | by rule | bookkeeping rows | left |")
    print("| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |")
    for name, r in results.items():
        rules = ", ".join(f"{k} {v}" for k, v in r["due_by_rule"].items())
        print(
            f"| {name} | {r['dry_run_s']} | {r['run_s']} | {r['run_cpu_s']} | {r['removed_people']} "
            f"| {rules} | {r['bookkeeping_rows_removed']} | {r['people_left']} |"
        )
    (ROOT / "bench" / "results" / "retention.json").write_text(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
