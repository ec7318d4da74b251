"""Wire models of the employer report (IMR): only published aggregates, never a person.

A report is tables of cells. A cell the disclosure control hid is ``status = suppressed`` with no
value: a client shows it as suppressed (never as 0, never as "fewer than k", since a cell hidden to
protect another one may hold many people). A table with fewer than ``min_cell`` people in it is
``too_few`` and carries no cells. Codes (row, column, table id) are those of the server's report
definitions; ``label`` is the English text the client translates.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from clinic_tui.api.schemas.bounds import line

__all__ = [
    "CellStatus",
    "EmployerReport",
    "IssuedReport",
    "IssuedReportList",
    "IssuedReportSummary",
    "ReportRequest",
    "ReportAxisItem",
    "ReportCell",
    "ReportTable",
    "TableStatus",
]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CellStatus(StrEnum):
    PUBLISHED = "published"
    #: hidden: it rests on fewer than ``min_cell`` people, or it would let such a number be worked out
    SUPPRESSED = "suppressed"
    #: a mean of a group nobody is in (``n`` is 0): there is no value to show
    EMPTY = "empty"


class TableStatus(StrEnum):
    PUBLISHED = "published"
    #: fewer than ``min_cell`` people in the whole table: nothing of it is shown
    TOO_FEW = "too_few"


class ReportAxisItem(_Wire):
    code: str
    label: str


class ReportCell(_Wire):
    #: a row code, or "all" for a column's total
    row: str
    #: a column code, or "all" for a row's total
    column: str
    status: CellStatus
    #: a count (participation, distribution) or a mean (rounded to ``ReportTable.decimals``)
    value: int | float | None = None
    #: the number of people a mean rests on (means only; shown with the mean)
    n: int | None = None
    #: the same cell in the previous period's issued report, where both are published
    previous: int | float | None = None
    #: change against ``previous``: percentage points of the column for a distribution's categories,
    #: the difference of the means for means, the difference of the counts for every other count
    #: (participation, a distribution's totals)
    change: float | None = None


class ReportTable(_Wire):
    id: str
    kind: Literal["participation", "distribution", "mean"]
    label: str
    status: TableStatus
    #: the data category a person's consent to IMR must cover to count in this table
    consent_category: str | None = None
    #: the rule (id and version) the values come from
    source: str | None = None
    unit: str | None = None
    decimals: int = 0
    note: str | None = None
    #: distributions: not broken down by sex, because a sex had too few people in this table
    breakdown_dropped: bool = False
    rows: list[ReportAxisItem] = []
    columns: list[ReportAxisItem] = []
    cells: list[ReportCell] = []

    def cell(self, row: str, column: str) -> ReportCell | None:
        for c in self.cells:
            if c.row == row and c.column == column:
                return c
        return None


class EmployerReport(_Wire):
    #: the report definition, "id vN"
    report_rule: str
    #: the disclosure control that protected it, "id vN"
    disclosure_rule: str
    employer: str
    #: the calendar year the report covers
    period: int
    #: the period whose issued report the changes compare against (None: no changes shown)
    previous_period: int | None = None
    #: no published number rests on fewer than this many people
    min_cell: int
    tables: list[ReportTable]

    def table(self, table_id: str) -> ReportTable | None:
        return next((t for t in self.tables if t.id == table_id), None)


class ReportRequest(_Wire):
    """An analyst's request: one employer (by name) and one calendar year; nothing else."""

    employer: line(200, min_length=1)  # type: ignore[valid-type]
    period: int = Field(ge=2000, le=2100)


class IssuedReportSummary(_Wire):
    id: str
    employer: str
    period: int
    min_cell: int
    issued_at: AwareDatetime
    #: the analyst who issued it (username)
    issued_by: str


class IssuedReport(IssuedReportSummary):
    """A report as issued. ``reused``: it had been issued before for the same people, and this is
    that report as it was given out then (a report is final)."""

    reused: bool = False
    report: EmployerReport


class IssuedReportList(_Wire):
    items: list[IssuedReportSummary]
