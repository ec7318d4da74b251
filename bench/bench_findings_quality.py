"""Benchmark: how well the findings rules find the demo's planted snooping (precision and recall).

    .venv/bin/python bench/bench_findings_quality.py [--pg postgresql+psycopg://...] [--seed N]

Seeds a fresh demo database (``seed_demo``, ``prepare_demo``, ``seed_monitoring``: four weeks of
routine audit traffic with improper accesses planted among it), runs the findings scan over the
whole log, and compares the findings with the planted cases the seed reports (the ground truth is
only in the seed's return value, never in the database):

- a planted case is found when some finding's evidence holds one of its records; recall is
  found / planted (every planted case counts, also the one no rule is expected to see);
- a finding is a true positive when its evidence holds a planted record; precision is true
  positives / findings.

Prints both with the goal (recall >= 0.9, precision >= 0.8), each false positive with its rule
and reason, and each missed case; writes bench/results/findings_quality.json.
``--pg`` must name a scratch database: its ``public`` schema is dropped and recreated.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clinic_server.db import make_engine, make_sessionmaker  # noqa: E402
from clinic_server.db.migrate import upgrade  # noqa: E402
from clinic_server.db.models import Finding  # noqa: E402
from clinic_server.demo.feed import prepare_demo  # noqa: E402
from clinic_server.demo.monitoring import seed_monitoring  # noqa: E402
from clinic_server.demo.seed import DEFAULT_SEED, seed_demo  # noqa: E402
from clinic_server.jobs.findings import scan_findings  # noqa: E402
from clinic_server.services.findings.identity import demo_key  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "findings_quality.json"


def fresh(url: str) -> None:
    engine = make_engine(url)
    if url.startswith("postgresql"):
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    upgrade(engine)
    engine.dispose()


def measure(url: str, seed: int, now: datetime) -> dict:
    fresh(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    with sessions() as s:
        seed_demo(s, now=now, seed=seed)
        prepare_demo(s, seed=seed, now=now)
        story = seed_monitoring(s, now=now, seed=seed)
    # the scan runs a day later, so every planted access has settled and 24 hours have passed
    # since the last emergency access
    run = scan_findings(sessions, demo_key(), now=now + timedelta(days=1))
    with sessions() as s:
        findings = list(s.scalars(sa.select(Finding).order_by(Finding.id)))
    engine.dispose()

    planted_seq = {seq: case.name for case in story.planted for seq in case.seqs}
    found_cases: dict[str, list[str]] = {c.name: [] for c in story.planted}
    false_positives = []
    true_positives = 0
    for f in findings:
        hits = {planted_seq[s] for s in f.evidence if s in planted_seq}
        for name in hits:
            found_cases[name].append(f.rule_id)
        if hits:
            true_positives += 1
        else:
            false_positives.append(
                {
                    "id": f.id,
                    "rule": f.rule_id,
                    "user": f.username,
                    "params": f.params,
                    "evidence": f.evidence[:10],
                }
            )
    missed = [
        {
            "case": c.name,
            "user": c.username,
            "expected_rules": [str(r) for r in c.rules],
            "why": c.description,
        }
        for c in story.planted
        if not found_cases[c.name]
    ]
    expected_rule_hits = sum(
        1 for c in story.planted if c.rules and set(map(str, c.rules)) & set(found_cases[c.name])
    )
    recall = (len(story.planted) - len(missed)) / len(story.planted)
    precision = true_positives / len(findings) if findings else 0.0
    return {
        "database": url.split("@")[-1] if "@" in url else "sqlite",
        "seed": seed,
        "audit_records": story.records,
        "planted_records": sum(len(c.seqs) for c in story.planted),
        "planted_cases": len(story.planted),
        "findings": len(findings),
        "findings_by_rule": dict(Counter(f.rule_id for f in findings)),
        "true_positives": true_positives,
        "false_positives": false_positives,
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "cases_found_by_an_expected_rule": expected_rule_hits,
        "cases": {
            c.name: {
                "rules_that_fired": sorted(set(found_cases[c.name])),
                "expected": [str(r) for r in c.rules],
            }
            for c in story.planted
        },
        "missed": missed,
        "alert_events_moved_into_hours": story.moved_events,
        "alert_events_left_out_of_hours": story.kept_events,
        "scan": run.summary(),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pg", help="PostgreSQL scratch database URL (its public schema is dropped)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--now", help="seed time (ISO, UTC; default now)")
    args = ap.parse_args()
    now = datetime.fromisoformat(args.now) if args.now else datetime.now(UTC)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.pg or f"sqlite:///{tmp}/quality.sqlite3"
        result = measure(url, args.seed, now)
    result.update(
        recorded_at=datetime.now(UTC).isoformat(timespec="seconds"),
        seeded_at=now.isoformat(timespec="seconds"),
        python=platform.python_version(),
        seconds=round(time.perf_counter() - started, 1),
    )
    print(
        f"planted cases {result['planted_cases']}, findings {result['findings']} {result['findings_by_rule']}"
    )
    print(f"recall    {result['recall']:.3f}  (goal >= 0.9)")
    print(f"precision {result['precision']:.3f}  (goal >= 0.8)")
    print("| case | expected | fired |\n| --- | --- | --- |")
    for name, c in result["cases"].items():
        expected = ", ".join(c["expected"]) or "(none)"
        print(f"| {name} | {expected} | {', '.join(c['rules_that_fired']) or 'MISSED'} |")
    for fp in result["false_positives"]:
        print(f"false positive: {fp['rule']} {fp['user']} {fp['params']}")
    for m in result["missed"]:
        print(f"missed: {m['case']} ({m['user']}): {m['why']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    existing["postgresql" if args.pg else "sqlite"] = result
    RESULTS.write_text(json.dumps(existing, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
