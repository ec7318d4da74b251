"""Typed client calls for the report analyst (``/reports/employer``): issue an employer's report for
a closed year, list the issued ones, read one again. Views call these in workers; they never build
URLs. Refusals (too few, year not over, already issued, differencing, no report key) arrive as the
client's ``ApiError`` with their code, which ``clinic_tui.errors`` words."""

from __future__ import annotations

from typing import TYPE_CHECKING

from clinic_tui.api.schemas.reports import IssuedReport, IssuedReportList, ReportRequest

if TYPE_CHECKING:
    from clinic_tui.api.client import ClinicClient


class ReportsApi:
    def __init__(self, client: ClinicClient):
        self._client = client

    async def issue(self, employer: str, period: int) -> IssuedReport:
        """Issue the report (or get the one issued before for the same people: ``reused``)."""
        body = ReportRequest(employer=employer, period=period).model_dump(mode="json")
        return await self._client._call("POST", "/reports/employer", IssuedReport, json=body)

    async def issued(self) -> IssuedReportList:
        return await self._client._call("GET", "/reports/employer", IssuedReportList)

    async def one(self, report_id: str) -> IssuedReport:
        return await self._client._call("GET", f"/reports/employer/{report_id}", IssuedReport)
