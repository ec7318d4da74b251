"""The report written out (JSON, CSV, Markdown): suppressed numbers are marked, never shown as 0."""

from __future__ import annotations

import csv
import io

import pytest

from clinic_server.services.reports.definitions import EMPLOYER_REPORT, Participant, tabulate
from clinic_server.services.reports.disclosure import build
from clinic_server.services.reports.formats import SUPPRESSED_MARK, to_csv, to_json, to_markdown
from clinic_tui.api.schemas.reports import CellStatus, EmployerReport, TableStatus
from clinic_tui.domain.categories import Category

EVERYTHING = frozenset(Category)


def _people(n_normal: int, n_over: int, n_obese: int, start: int = 0) -> list[Participant]:
    out = []
    for i, category in enumerate(
        ["normal"] * n_normal + ["overweight"] * n_over + ["obesity_class_1"] * n_obese
    ):
        out.append(
            Participant(
                f"p{start + i}",
                "female" if i % 2 else "male",
                "30-39" if i % 3 else "40-49",
                EVERYTHING,
                bmi_category=category,
                vo2max_ml_kg_min=35.0 + i % 7,
                fitness_category="average",
                answers={"tobacco.smoking": "never"},
            )
        )
    return out


@pytest.fixture
def report() -> EmployerReport:
    # 3 obese people: suppressed, and something with them; nobody underweight: a true zero
    return build(tabulate(EMPLOYER_REPORT, _people(14, 9, 3)), "Acme | Bygg AB", 2025, 5).report


def test_the_fixture_has_suppressed_cells_true_zeros_and_withheld_tables(report):
    bmi = report.table("bmi_category")
    assert bmi.cell("obesity_class_1", "all").status is CellStatus.SUPPRESSED
    assert (
        bmi.cell("underweight", "all").status is CellStatus.PUBLISHED
        and bmi.cell("underweight", "all").value == 0
    )
    assert report.table("waist_category").status is TableStatus.TOO_FEW


def test_json_is_the_wire_model(report):
    assert EmployerReport.model_validate_json(to_json(report)) == report


def test_csv_marks_every_suppressed_cell_and_shows_true_zeros(report):
    rows = list(csv.DictReader(io.StringIO(to_csv(report))))
    cells = sum(len(t.cells) for t in report.tables) + sum(
        t.status is TableStatus.TOO_FEW for t in report.tables
    )
    assert len(rows) == cells
    suppressed = [r for r in rows if r["status"] == "suppressed"]
    assert suppressed
    for r in suppressed:
        assert r["value"] == SUPPRESSED_MARK and "fewer than 5 people" in r["note"]
    for r in rows:
        if r["value"] == "0":
            assert r["status"] == "published"
    underweight = next(
        r for r in rows if r["table"] == "bmi_category" and r["row"] == "underweight" and r["column"] == "all"
    )
    assert underweight["value"] == "0" and underweight["status"] == "published"
    waist = [r for r in rows if r["table"] == "waist_category"]
    assert len(waist) == 1 and waist[0]["status"] == "too_few" and waist[0]["value"] == SUPPRESSED_MARK
    assert rows[0]["employer"] == "Acme | Bygg AB" and rows[0]["period"] == "2025"


def test_markdown_reads_for_an_employer(report):
    text = to_markdown(report)
    assert text.startswith("# Health profile report: Acme \\| Bygg AB, 2025")
    assert "fewer than 5 people" in text
    lines = text.splitlines()
    obese = next(line for line in lines if line.startswith("| Obesity class I "))
    assert SUPPRESSED_MARK in obese and "| 0" not in obese
    assert f"{SUPPRESSED_MARK} not shown: it rests on fewer than 5 people" in text
    underweight = next(line for line in lines if line.startswith("| Underweight"))
    assert "| 0 (0 %)" in underweight
    assert "## Waist circumference (risk)" in text and "Not shown: fewer than 5 people in this table." in text
    assert "n=26" in text  # the overall mean carries its n
    assert "imr-employer-report v1" in text and "imr-report-disclosure v1" in text


def test_changes_against_the_previous_period_are_written_out():
    before = build(tabulate(EMPLOYER_REPORT, _people(10, 10, 0)), "Acme", 2024, 5).report
    now = build(tabulate(EMPLOYER_REPORT, _people(15, 10, 0)), "Acme", 2025, 5, previous=before).report
    text = to_markdown(now)
    assert "against the report for 2024" in text
    normal = next(line for line in text.splitlines() if line.startswith("| Normal weight"))
    assert "+10.0 pp" in normal
    total = next(line for line in text.splitlines() if line.startswith("| Total | 25"))
    assert "[+5]" in total and "pp" not in total
    rows = list(csv.DictReader(io.StringIO(to_csv(now))))
    cell = next(
        r for r in rows if r["table"] == "bmi_category" and r["row"] == "normal" and r["column"] == "all"
    )
    assert (cell["value"], cell["previous"], cell["change"]) == ("15", "10", "10.0")
