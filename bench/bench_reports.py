"""Benchmark: the employer report's disclosure control, by employer size.

    .venv/bin/python bench/bench_reports.py [--sizes 20,100,500,2000,10000] [--repeats 5]

For each size, a deterministic employer (seeded): sexes half and half, age bands and BMI classes in
roughly Swedish working-age proportions, the other categories and answers skewed towards a few
codes, nine in ten consenting to every health category. Times ``tabulate`` + ``build`` (every
table of EMPLOYER_REPORT protected: threshold, group disclosure, complementary suppression with its
exact audit, means) and counts how many cells end up suppressed. Pure Python, no database: what
an API request or ``clinic-server report`` adds on top is the query.

Prints a markdown table and writes bench/results/reports.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clinic_server.services.reports.definitions import AGE_BANDS, EMPLOYER_REPORT, Participant, tabulate  # noqa: E402
from clinic_server.services.reports.disclosure import build  # noqa: E402
from clinic_tui.api.schemas.reports import CellStatus, TableStatus  # noqa: E402
from clinic_tui.domain.categories import Category  # noqa: E402

HEALTH = frozenset({Category.VITALS, Category.FITNESS_TESTS, Category.QUESTIONNAIRES})


def employer(size: int, seed: int) -> list[Participant]:
    rng = random.Random(seed)
    questions = [q for q in EMPLOYER_REPORT.questionnaire.questions if q.only_if is None]

    def pick(codes, weights):
        return rng.choices(codes, weights=weights[: len(codes)])[0]

    people = []
    for i in range(size):
        consent = HEALTH if rng.random() < 0.9 else frozenset(rng.sample(sorted(HEALTH), 1))
        people.append(
            Participant(
                f"p{i}",
                rng.choice(("female", "male")),
                pick(AGE_BANDS, [18, 24, 24, 22, 12]),
                consent,
                fitness_category=pick(
                    EMPLOYER_REPORT.table("fitness_category").row_codes, [10, 20, 35, 25, 10]
                ),
                vo2max_ml_kg_min=round(rng.gauss(38, 7), 1),
                bmi_category=pick(EMPLOYER_REPORT.table("bmi_category").row_codes, [2, 48, 36, 10, 3, 1]),
                waist_category=pick(EMPLOYER_REPORT.table("waist_category").row_codes, [55, 25, 20]),
                bp_grade=pick(EMPLOYER_REPORT.table("bp_grade").row_codes, [30, 30, 20, 14, 5, 1]),
                answers={q.id: pick(q.codes, [30, 25, 20, 12, 8, 4, 1]) for q in questions},
            )
        )
    return people


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20,100,500,2000,10000")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        people = employer(size, seed=size)
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            report = build(tabulate(EMPLOYER_REPORT, people), "Bench AB", 2025, 5).report
            times.append(time.perf_counter() - start)
        cells = [c for t in report.tables for c in t.cells]
        rows.append(
            {
                "participants": size,
                "median_s": statistics.median(times),
                "max_s": max(times),
                "tables": len(report.tables),
                "withheld_tables": sum(t.status is TableStatus.TOO_FEW for t in report.tables),
                "cells": len(cells),
                "suppressed": sum(c.status is CellStatus.SUPPRESSED for c in cells),
            }
        )
    print("| participants | median | max | cells | suppressed | tables withheld |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        share = 100 * r["suppressed"] / max(r["cells"], 1)
        timing = f"{r['median_s'] * 1000:.0f} ms | {r['max_s'] * 1000:.0f} ms"
        print(
            f"| {r['participants']} | {timing} | {r['cells']} | {r['suppressed']} ({share:.0f} %) "
            f"| {r['withheld_tables']} |"
        )
    out = ROOT / "bench" / "results" / "reports.json"
    out.write_text(
        json.dumps(
            {
                "machine": platform.platform(),
                "python": platform.python_version(),
                "repeats": args.repeats,
                "rows": rows,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
