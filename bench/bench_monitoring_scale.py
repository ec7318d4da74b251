"""Benchmark: privacy monitoring at scale, over 1,000,000 audit records.

    .venv/bin/python bench/bench_monitoring_scale.py [--records 1000000] [--runs 30]
                                                     [--pg postgresql+psycopg://postgres@127.0.0.1:5432/scratch]

Builds a database of four care providers (40 nurses and a supervisor each) and IMR (10 coaches, a
supervisor), 8,000 patients and 1,000 participants, and an audit log of ``--records`` records over
60 days of routine work like the demo's: logins, the screens' polling (every 10 minutes), list
loads, token refreshes, searches, nurses opening patients and acting on their alerts minutes later,
follow-ups, coaches opening participants, supervisors' log reviews, now and then a refused request,
and a few planted improper accesses. The chain is computed with ``audit.chain_hash`` and
bulk-inserted (SQLite executemany, PostgreSQL COPY).

Then it measures, on the same database:

(a) the supervisor's filtered audit view, ``GET /api/v1/audit/events`` through the real app
    in-process (httpx ASGITransport: authentication, the guard, the query, the request's own audit
    record and commit), ``--runs`` times each for a set of typical filters, interleaved; p50/p95
    per filter (goal: p95 < 100 ms);
(b) a full findings scan (``clinic-server findings scan --from-start``: every rule over every
    record, findings stored, one audit record per batch) in records/s (goal >= 100,000), and an
    incremental run over the newest 10,000 records.

``--pg`` must name a scratch database: its ``public`` schema is dropped and recreated.
Prints a markdown table and writes bench/results/monitoring_scale.json.
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
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clinic_server.api.app import create_app  # noqa: E402
from clinic_server.audit import chain as audit  # noqa: E402
from clinic_server.db import make_engine, make_sessionmaker  # noqa: E402
from clinic_server.db.migrate import upgrade  # noqa: E402
from clinic_server.db.models import (  # noqa: E402
    CoachAssignment,
    CoachEmployer,
    Consent,
    Employer,
    Finding,
    FindingCursor,
    Organization,
    Person,
    User,
)
from clinic_server.jobs.findings import scan_findings  # noqa: E402
from clinic_server.services.findings.identity import IdentityKey, link_user  # noqa: E402
from clinic_server.services.security import hash_password, make_access_token, open_session  # noqa: E402
from clinic_server.settings import Settings  # noqa: E402
from clinic_tui.domain import personnummer  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "monitoring_scale.json"
SECRET = "bench-secret-" + "x" * 40
KEY = IdentityKey(b"bench-identity-key-" + b"b" * 30)
DAYS = 60
ORGS = 4
NURSES = 40
PATIENTS_PER_ORG = 2000
COACHES = 10
PARTICIPANTS = 1000
SURNAMES = [
    "Andersson",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Eriksson",
    "Larsson",
    "Olsson",
    "Persson",
    "Svensson",
    "Gustafsson",
    "Lind",
    "Berg",
    "Holm",
    "Ek",
    "Wallin",
    "Sandberg",
]
COLUMNS = list(audit.FIELDS) + ["prev_hash", "hash"]
REASONS = {"allowed": "active consent names the care organization", "denied": "no active consent"}
CARE_CATS = ["conditions", "contact", "history", "identity", "medications", "vitals"]


def fresh(url: str) -> None:
    engine = make_engine(url)
    if url.startswith("postgresql"):
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    upgrade(engine)
    engine.dispose()


# --------------------------------------------------------------------------- the world


def build_world(url: str, start: datetime, rng: random.Random) -> dict:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    pw = hash_password("bench-password")
    world: dict = {
        "orgs": [],
        "nurses": {},
        "coaches": [],
        "supervisors": {},
        "patients": {},
        "participants": [],
    }
    with sessions() as s:
        for i in range(ORGS):
            org = Organization(name=f"Vårdcentral {i}", kind="care_provider")
            s.add(org)
            s.flush()
            world["orgs"].append(org.id)
            world["nurses"][org.id] = []
            for n in range(NURSES):
                u = User(
                    username=f"n{i}_{n}",
                    display_name=f"Nurse {i}.{n}",
                    role="nurse",
                    organization_id=org.id,
                    password_hash=pw,
                )
                s.add(u)
                s.flush()
                world["nurses"][org.id].append((u.id, u.username))
            sup = User(
                username=f"sup{i}",
                display_name=f"Supervisor {i}",
                role="supervisor",
                organization_id=org.id,
                password_hash=pw,
            )
            s.add(sup)
            s.flush()
            world["supervisors"][org.id] = (sup.id, sup.username)
        imr = Organization(name="IMR", kind="imr")
        s.add(imr)
        s.flush()
        world["imr"] = imr.id
        employers = []
        for e in range(5):
            emp = Employer(name=f"Employer {e}", contract_start=date(2020, 1, 1))
            s.add(emp)
            s.flush()
            employers.append(emp.id)
        for c in range(COACHES):
            u = User(
                username=f"coach{c}",
                display_name=f"Coach {c}",
                role="coach",
                organization_id=imr.id,
                password_hash=pw,
            )
            s.add(u)
            s.flush()
            world["coaches"].append((u.id, u.username))
            # each coach serves her participants' employer (and one more)
            for emp in {employers[c % 5], employers[(c + 1) % 5]}:
                s.add(CoachEmployer(coach_id=u.id, employer_id=emp, valid_from=date(2020, 1, 1)))
        sup = User(
            username="supimr",
            display_name="Supervisor IMR",
            role="supervisor",
            organization_id=imr.id,
            password_hash=pw,
        )
        s.add(sup)
        s.flush()
        world["supervisors"][imr.id] = (sup.id, sup.username)
        used: set[str] = set()
        rows, consents = [], []

        def person(employer: str | None) -> dict:
            birth = date(rng.randint(1940, 1995), rng.randint(1, 12), rng.randint(1, 28))
            sex = rng.choice(("female", "male"))
            pnr = personnummer.generate(rng, birth, sex)
            while pnr in used:
                pnr = personnummer.generate(rng, birth, sex)
            used.add(pnr)
            return {
                "id": f"{rng.getrandbits(128):032x}",
                "personnummer": pnr,
                "given_name": "Test",
                "family_name": rng.choice(SURNAMES),
                "birth_date": birth,
                "sex": sex,
                "address": f"Gatan {rng.randint(1, 200)}, {rng.randint(100, 999)} {rng.randint(10, 99)} Stad",
                "employer_id": employer,
                "restricted": False,
                "sends_daily": True,
                "created_at": start,
            }

        for org in world["orgs"]:
            world["patients"][org] = []
            for _ in range(PATIENTS_PER_ORG):
                p = person(None)
                rows.append(p)
                world["patients"][org].append(p["id"])
                consents.append(
                    {
                        "id": f"{rng.getrandbits(128):032x}",
                        "person_id": p["id"],
                        "organization_id": org,
                        "categories": CARE_CATS,
                        "purpose": "care",
                        "valid_from": start - timedelta(days=400),
                        "valid_until": None,
                        "status": "active",
                        "withdrawn_at": None,
                        "created_at": start - timedelta(days=400),
                    }
                )
        assignments = []
        for j in range(PARTICIPANTS):
            p = person(employers[j % 5])
            rows.append(p)
            coach = world["coaches"][j % COACHES][0]
            world["participants"].append((p["id"], coach))
            assignments.append({"coach_id": coach, "person_id": p["id"], "active": True, "created_at": start})
            consents.append(
                {
                    "id": f"{rng.getrandbits(128):032x}",
                    "person_id": p["id"],
                    "organization_id": imr.id,
                    "categories": ["fitness_tests", "profiling", "vitals"],
                    "purpose": "coaching",
                    "valid_from": start - timedelta(days=400),
                    "valid_until": None,
                    "status": "active",
                    "withdrawn_at": None,
                    "created_at": start - timedelta(days=400),
                }
            )
        s.execute(sa.insert(Person), rows)
        s.execute(sa.insert(Consent), consents)
        s.execute(sa.insert(CoachAssignment), assignments)
        # a few staff linked to their own identity (the relation rule then hashes the people it meets)
        for org in world["orgs"]:
            uid, _ = world["nurses"][org][0]
            link_user(s, KEY, uid, personnummer_value=None, family_name="Lind", address=None)
        s.commit()
    engine.dispose()
    return world


# --------------------------------------------------------------------------- the traffic


def local(day: date, minutes: float) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC) + timedelta(minutes=minutes - 60)


def day_traffic(world: dict, day: date, rng: random.Random, recent: dict) -> list[tuple]:
    """(ts, user, username, role, org, action, rtype, rid, person, cats, purpose, outcome, details)"""
    out: list[tuple] = []

    def add(
        ts,
        who,
        action,
        rtype,
        rid=None,
        person=None,
        cats=(),
        purpose="care",
        outcome="allowed",
        details=None,
    ):
        uid, name, role, org = who
        out.append(
            (
                ts,
                uid,
                name,
                role,
                org,
                action,
                rtype,
                rid,
                person,
                list(cats),
                purpose,
                outcome,
                details or {},
            )
        )

    weekday = day.weekday() < 5
    for org in world["orgs"]:
        patients = world["patients"][org]
        for uid, name in world["nurses"][org]:
            if rng.random() > (0.8 if weekday else 0.45):
                continue
            who = (uid, name, "nurse", org)
            start = local(day, 7 * 60 + rng.uniform(-15, 15))
            end = local(day, 16 * 60 + rng.uniform(-15, 30))
            add(start, who, "login", "session", purpose="authentication")
            t = start + timedelta(seconds=30)
            while t < end:
                add(
                    t,
                    who,
                    "list",
                    "alert",
                    cats=("conditions", "identity", "vitals"),
                    details={"changes_since": "x"},
                )
                if rng.random() < 0.17:
                    add(t + timedelta(seconds=5), who, "list", "person", cats=("identity",))
                if rng.random() < 0.17:
                    add(t + timedelta(seconds=8), who, "token_refresh", "session", purpose="authentication")
                t += timedelta(minutes=10)
            for _ in range(rng.randint(3, 6)):
                add(start + (end - start) * rng.random(), who, "search", "person", cats=("identity",))
            mine = recent.setdefault(uid, [])
            earlier = mine[-20:]  # people she acted on on earlier days
            for _ in range(rng.randint(8, 14)):
                at = start + (end - start) * rng.random()
                if earlier and rng.random() < 0.25:
                    pid = rng.choice(earlier)  # a follow-up
                    act = False
                else:
                    pid = rng.choice(patients)
                    act = True
                add(at, who, "read", "person", pid, pid, CARE_CATS)
                add(at + timedelta(seconds=1), who, "read", "observation", "8480-6", pid, ("vitals",))
                add(at + timedelta(seconds=2), who, "read", "alert", pid, pid, ("vitals",))
                if act:
                    alert = str(rng.randint(1, 10**6))
                    add(
                        at + timedelta(minutes=rng.uniform(1, 4)),
                        who,
                        "acknowledge",
                        "alert",
                        alert,
                        pid,
                        ("identity", "vitals"),
                        details={"action": "acknowledge"},
                    )
                    if rng.random() < 0.7:
                        add(
                            at + timedelta(minutes=rng.uniform(6, 40)),
                            who,
                            "resolve",
                            "alert",
                            alert,
                            pid,
                            ("identity", "vitals"),
                            details={"action": "resolve", "note": True},
                        )
                    mine.append(pid)
            if rng.random() < 0.03:
                other = world["patients"][world["orgs"][(world["orgs"].index(org) + 1) % ORGS]]
                add(
                    start + (end - start) * rng.random(),
                    who,
                    "read",
                    "person",
                    person=rng.choice(other),
                    outcome="denied",
                )
            add(end, who, "logout", "session", purpose="authentication")
    if weekday:
        for uid, name in world["coaches"]:
            who = (uid, name, "coach", world["imr"])
            start, end = local(day, 8 * 60 + rng.uniform(-10, 10)), local(day, 17 * 60)
            add(start, who, "login", "session", purpose="authentication")
            mine = [p for p, c in world["participants"] if c == uid]
            for h in range(9):
                add(
                    start + timedelta(hours=h, minutes=1),
                    who,
                    "list",
                    "person",
                    cats=("identity",),
                    purpose="coaching",
                )
            for _ in range(rng.randint(3, 7)):
                pid = rng.choice(mine)
                add(
                    start + (end - start) * rng.random(),
                    who,
                    "read",
                    "person",
                    pid,
                    pid,
                    ("fitness_tests", "identity"),
                    "coaching",
                )
            add(end, who, "logout", "session", purpose="authentication")
        if day.weekday() == 0:
            for org, (uid, name) in world["supervisors"].items():
                who = (uid, name, "supervisor", org)
                at = local(day, 10 * 60)
                for k in range(5):
                    add(
                        at + timedelta(minutes=k),
                        who,
                        "audit_query",
                        "audit_event",
                        purpose="audit",
                        details={"filters": {}},
                    )
    return out


def planted(world: dict, day: date, rng: random.Random) -> list[tuple]:
    """A nurse sweeping through 30 patients in the afternoon, and trying doors at night."""
    org = world["orgs"][0]
    uid, name = world["nurses"][org][5]
    who = (uid, name, "nurse", org)
    out = []
    at = local(day, 14 * 60)
    for i, pid in enumerate(rng.sample(world["patients"][org], 30)):
        out.append(
            (at + timedelta(minutes=i), *who, "read", "person", pid, pid, CARE_CATS, "care", "allowed", {})
        )
    other = world["patients"][world["orgs"][1]]
    for i in range(6):
        pid = rng.choice(other)
        out.append((local(day, 23 * 60 + i), *who, "read", "person", pid, pid, [], "care", "denied", {}))
    return out


def fill(url: str, world: dict, start: datetime, n: int, rng: random.Random) -> tuple[int, float, datetime]:
    """Write ``n`` records of traffic from ``start`` on; returns (records, seconds, last time)."""
    engine = make_engine(url)
    t0 = time.perf_counter()
    prev = audit.GENESIS_HASH
    seq = 0
    recent: dict = {}
    last_ts = start

    def records():
        nonlocal seq, prev, last_ts
        day = start.date()
        while True:
            rows = day_traffic(world, day, rng, recent)
            if day.toordinal() % 9 == 0:
                rows += planted(world, day, rng)
            rows.sort(key=lambda r: r[0])
            for ts, uid, name, role, org, action, rtype, rid, pid, cats, purpose, outcome, details in rows:
                if seq >= n:
                    return
                seq += 1
                last_ts = ts
                record = {
                    "seq": seq,
                    "ts": ts,
                    "user_id": uid,
                    "username": name,
                    "role": role,
                    "organization_id": org,
                    "action": action,
                    "resource_type": rtype,
                    "resource_id": rid,
                    "person_id": pid,
                    "categories": sorted(cats),
                    "purpose": purpose,
                    "outcome": outcome,
                    "reason": REASONS[outcome],
                    "request_id": f"{rng.getrandbits(128):032x}",
                    "client_name": "clinic-tui",
                    "client_version": "0.1.0",
                    "details": details,
                }
                digest = audit.chain_hash(prev, record)
                texts = [
                    audit.json_text(record[f]) if f in audit.JSON_FIELDS else record[f]
                    for f in audit.TEXT_FIELDS
                ]
                yield record, texts, prev, digest
                prev = digest
            day += timedelta(days=1)

    with engine.begin() as conn:
        cur = conn.connection.dbapi_connection.cursor()
        if url.startswith("postgresql"):
            with cur.copy(f"COPY audit_event ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for record, texts, p, digest in records():
                    copy.write_row((record["seq"], record["ts"], *texts, p, digest))
        else:
            sql = f"INSERT INTO audit_event ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"  # noqa: S608
            batch = []
            for record, texts, p, digest in records():
                batch.append((record["seq"], audit.ts_text(record["ts"]), *texts, p, digest))
                if len(batch) == 50_000:
                    cur.executemany(sql, batch)
                    batch.clear()
            cur.executemany(sql, batch)
        audit.loaded(conn, seq, prev)
    if url.startswith("postgresql"):
        with engine.connect() as conn:
            conn.execute(sa.text("ANALYZE"))
            conn.commit()
    else:
        with engine.connect() as conn:
            conn.execute(sa.text("ANALYZE"))
    engine.dispose()
    return seq, time.perf_counter() - t0, last_ts


# --------------------------------------------------------------------------- (a) the audit view


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def audit_view(url: str, world: dict, runs: int, rng: random.Random) -> list[dict]:
    settings = Settings(database_url=url, secret_key=SECRET, findings_scan_minutes=0, missing_sweep_minutes=0)
    app = create_app(settings)
    org = world["orgs"][0]
    sup_id, _ = world["supervisors"][org]
    with app.state.sessionmaker() as s:
        now = datetime.now(UTC)
        # a token names an open session (issue 9: a session is revocable)
        sid, _refresh = open_session(s, sup_id, now, 1)
        s.commit()
        token = make_access_token(s.get(User, sup_id), SECRET, now, 600, sid)
    nurse = world["nurses"][org][3][1]
    patient = world["patients"][org][7]
    with app.state.engine.connect() as conn:
        mid = conn.execute(sa.text("SELECT max(seq) FROM audit_event")).scalar() // 2
    cases = {
        "newest page (routine hidden)": {},
        "routine shown": {"routine": "show"},
        "routine folded": {"routine": "fold"},
        "user:NAME": {"username": nurse},
        "person: (first 6 characters)": {"person_id": patient[:6]},
        "person: (full id)": {"person_id": patient},
        "outcome:denied": {"outcome": "denied"},
        "action:read": {"action": "read"},
        "action:acknowledge": {"action": "acknowledge"},
        "user + outcome:denied": {"username": nurse, "outcome": "denied"},
        "older page (before_seq mid-log)": {"before_seq": mid},
    }
    times: dict[str, list[float]] = {k: [] for k in cases}
    counts: dict[str, int] = {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench/api/v1") as http:
        headers = {"Authorization": f"Bearer {token}"}
        for k, params in cases.items():  # warm up
            r = await http.get("/audit/events", params=params, headers=headers)
            assert r.status_code == 200, r.text
            counts[k] = len(r.json()["items"])
        for _ in range(runs):
            order = list(cases.items())
            rng.shuffle(order)
            for k, params in order:
                t = time.perf_counter()
                r = await http.get("/audit/events", params=params, headers=headers)
                times[k].append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200
    app.state.engine.dispose()
    return [
        {
            "filter": k,
            "items": counts[k],
            "p50_ms": round(statistics.median(v), 1),
            "p95_ms": round(_pct(v, 95), 1),
        }
        for k, v in times.items()
    ]


# --------------------------------------------------------------------------- (b) the scan


def scans(url: str) -> dict:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    cpu = time.process_time()
    full = scan_findings(sessions, KEY, from_start=True)
    cpu = time.process_time() - cpu
    assert full.ran
    with sessions() as s:
        found = dict(s.execute(sa.select(Finding.rule_id, sa.func.count()).group_by(Finding.rule_id)).all())
        head = s.get(FindingCursor, "findings").last_seq
        s.get(FindingCursor, "findings").last_seq = head - 10_000
        s.commit()
    incremental = scan_findings(sessions, KEY)
    assert incremental.ran
    engine.dispose()
    return {
        "full_records": full.outcome.records,
        "full_not_routine": full.outcome.considered,
        "full_seconds": round(full.seconds, 2),
        "full_cpu_seconds": round(cpu, 2),
        "full_records_per_s": round(full.outcome.records / full.seconds),
        "findings": found,
        "incremental_records": incremental.outcome.records,
        "incremental_seconds": round(incremental.seconds, 3),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--pg", help="PostgreSQL scratch database URL (its public schema is dropped)")
    args = ap.parse_args()
    rng = random.Random(12)
    start = datetime(2026, 9, 1, tzinfo=UTC)
    load_at_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.pg or f"sqlite:///{tmp}/scale.sqlite3"
        fresh(url)
        world = build_world(url, start, rng)
        n, fill_s, _last = fill(url, world, start, args.records, rng)
        print(f"{n:,} records written in {fill_s:.1f} s")
        view = asyncio.run(audit_view(url, world, args.runs, rng))
        scan = scans(url)
    result = {
        "database": "postgresql" if args.pg else "sqlite",
        "records": n,
        "load_average_at_start": load_at_start,
        "load_average_at_end": os.getloadavg(),
        "fill_seconds": round(fill_s, 1),
        "audit_view": view,
        "scan": scan,
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "sqlite": sa.__version__ and __import__("sqlite3").sqlite_version,
    }
    print("| filter | items | p50 (ms) | p95 (ms) |\n| --- | ---: | ---: | ---: |")
    for row in view:
        print(f"| {row['filter']} | {row['items']} | {row['p50_ms']} | {row['p95_ms']} |")
    print(
        f"full scan: {scan['full_records']:,} records in {scan['full_seconds']} s "
        f"({scan['full_cpu_seconds']} s CPU) = "
        f"{scan['full_records_per_s']:,} records/s; findings {scan['findings']}; "
        f"incremental: {scan['incremental_records']:,} records in {scan['incremental_seconds']} s"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    existing[result["database"]] = result
    RESULTS.write_text(json.dumps(existing, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
