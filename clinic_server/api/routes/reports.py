"""Employer reports (IMR) for the report analyst (``services/reports/service.py``): issue one for an
employer and year, list the issued ones, read one again. Aggregates only: no route returns a person."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from clinic_server.api.deps import GuardDep
from clinic_server.api.routing import AuditedRouter
from clinic_server.services.reports import service
from clinic_tui.api.schemas.reports import IssuedReport, IssuedReportList, ReportRequest

router = AuditedRouter(prefix="/reports", tags=["employer reports"])

ReportId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[0-9a-f]+$")]


@router.post("/employer", response_model=IssuedReport, responses={403: {}, 404: {}, 409: {}, 503: {}})
def issue(body: ReportRequest, guard: GuardDep) -> IssuedReport:
    """Issue the report of one employer for one closed calendar year; the same people as an issued
    report give that report back (``reused``), anything else that would not be safe is refused."""
    return service.issue(guard, body.employer, body.period)


@router.get("/employer", response_model=IssuedReportList, responses={403: {}})
def issued(guard: GuardDep) -> IssuedReportList:
    """The reports issued so far."""
    return service.issued_list(guard)


@router.get("/employer/{report_id}", response_model=IssuedReport, responses={403: {}, 404: {}})
def issued_one(report_id: ReportId, guard: GuardDep) -> IssuedReport:
    """One issued report as it was given out."""
    return service.issued_one(guard, report_id)
