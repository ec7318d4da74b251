"""An issued employer report written out for sending: JSON, CSV or Markdown (pure functions).

Every format shows a suppressed number as "–" with the reason beside it (a note column in CSV, a
line under each table in Markdown), never as 0 and never as "fewer than k" (a number hidden to
protect another may be large). A table with too few people says so instead of showing cells.
Shares (per cent of a column) are computed from published numbers only, so they reveal nothing the
counts do not.
"""

from __future__ import annotations

import csv
import io

from clinic_server.services.reports.bounds import ALL
from clinic_tui.api.schemas.reports import CellStatus, EmployerReport, ReportCell, ReportTable, TableStatus

__all__ = ["SUPPRESSED_MARK", "to_csv", "to_json", "to_markdown"]

SUPPRESSED_MARK = "–"


def _suppressed_note(k: int) -> str:
    return (
        f"not shown: it rests on fewer than {k} people, or it would let such a number be worked out "
        "from the others"
    )


def _too_few_note(k: int) -> str:
    return f"not shown: fewer than {k} people in this table"


def to_json(report: EmployerReport) -> str:
    """The wire model (``clinic_tui.api.schemas.reports``) as JSON."""
    return report.model_dump_json(indent=2) + "\n"


def _number(value: int | float | None, decimals: int) -> str:
    if value is None:
        return ""
    return f"{value:.{decimals}f}" if decimals else str(int(value))


def _signed(value: float, decimals: int) -> str:
    text = f"{value:+.{decimals}f}" if decimals else f"{int(value):+d}"
    return text.replace("-", "−")


def to_csv(report: EmployerReport) -> str:
    """One line per cell: the table, row and column (code and label), status, value, n (means),
    the previous period's value and the change, and a note for anything not shown."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "employer",
            "period",
            "table",
            "table_label",
            "row",
            "row_label",
            "column",
            "column_label",
            "status",
            "value",
            "n",
            "unit",
            "previous",
            "change",
            "note",
        ]
    )
    for table in report.tables:
        if table.status is TableStatus.TOO_FEW:
            writer.writerow(
                [report.employer, report.period, table.id, table.label, "", "", "", "", table.status.value]
                + [SUPPRESSED_MARK, "", table.unit or "", "", "", _too_few_note(report.min_cell)]
            )
            continue
        rows = {r.code: r.label for r in table.rows}
        columns = {c.code: c.label for c in table.columns}
        for cell in table.cells:
            suppressed = cell.status is CellStatus.SUPPRESSED
            writer.writerow(
                [
                    report.employer,
                    report.period,
                    table.id,
                    table.label,
                    cell.row,
                    rows[cell.row],
                    cell.column,
                    columns[cell.column],
                    cell.status.value,
                    SUPPRESSED_MARK if suppressed else _number(cell.value, table.decimals),
                    "" if cell.n is None else cell.n,
                    table.unit or "",
                    _number(cell.previous, table.decimals),
                    "" if cell.change is None else cell.change,
                    _suppressed_note(report.min_cell) if suppressed else "",
                ]
            )
    return out.getvalue()


def _escape(text: str) -> str:
    return " ".join(text.replace("\\", "\\\\").replace("|", "\\|").split())


def _share(table: ReportTable, cell: ReportCell) -> str:
    total = table.cell(ALL, cell.column)
    if (
        cell.row == ALL
        or total is None
        or total.status is not CellStatus.PUBLISHED
        or not total.value
        or cell.value is None
    ):
        return ""
    return f" ({100 * cell.value / total.value:.0f} %)"


def _text(table: ReportTable, cell: ReportCell | None, previous_period: int | None) -> str:
    if cell is None or cell.status is CellStatus.SUPPRESSED:
        return SUPPRESSED_MARK
    if cell.status is CellStatus.EMPTY:
        return "nobody"
    text = _number(cell.value, table.decimals)
    extras = []
    if table.kind == "mean":
        extras.append(f"n={cell.n}")
    if cell.change is not None and previous_period is not None:
        if table.kind == "distribution" and cell.row != ALL:
            extras.append(f"{_signed(cell.change, 1)} pp")
        else:
            extras.append(_signed(cell.change, table.decimals))
    if table.kind == "distribution":
        text += _share(table, cell)
    return text + (f" [{', '.join(extras)}]" if extras else "")


def to_markdown(report: EmployerReport) -> str:
    """A report an employer can read: one section per table."""
    k = report.min_cell
    lines = [
        f"# Health profile report: {_escape(report.employer)}, {report.period}",
        "",
        "An aggregated, anonymized result (IMR privacy policy): no number in this report rests on "
        f"fewer than {k} people, and none can be worked out from the others. A table counts only "
        "the people whose consent covers the data it uses, each once, with their latest meeting in "
        f"the period. {SUPPRESSED_MARK} marks a number not shown.",
        "",
    ]
    if report.previous_period is not None:
        lines += [
            f"Changes [in brackets] are against the report for {report.previous_period}: percentage "
            "points (pp) of the column for distributions, the difference for means and counts.",
            "",
        ]
    for table in report.tables:
        lines += [f"## {_escape(table.label)}", ""]
        meta = []
        if table.consent_category:
            meta.append(f"People whose consent covers: {table.consent_category.replace('_', ' ')}.")
        if table.unit:
            meta.append(f"Unit: {table.unit}.")
        if table.source:
            meta.append(f"Source: {table.source}.")
        if table.note:
            meta.append(_escape(table.note))
        if table.breakdown_dropped:
            meta.append(f"Not broken down by sex: fewer than {k} women or men in this table.")
        if meta:
            lines += [" ".join(meta), ""]
        if table.status is TableStatus.TOO_FEW:
            lines += [f"Not shown: fewer than {k} people in this table.", ""]
            continue
        corner = "Sex" if table.kind in ("participation", "mean") else "Answer / category"
        lines.append("| " + " | ".join([corner, *(_escape(c.label) for c in table.columns)]) + " |")
        lines.append("|" + "---|" * (len(table.columns) + 1))
        for row in table.rows:
            texts = [
                _text(table, table.cell(row.code, col.code), report.previous_period) for col in table.columns
            ]
            lines.append("| " + " | ".join([_escape(row.label), *texts]) + " |")
        lines.append("")
        if any(c.status is CellStatus.SUPPRESSED for c in table.cells):
            lines += [f"{SUPPRESSED_MARK} {_suppressed_note(k)}.", ""]
    lines += [f"Report {report.report_rule}; disclosure control {report.disclosure_rule}.", ""]
    return "\n".join(lines)
