"""Issuing employer reports: the guarded service behind the API and the CLI.

``issue(guard, employer, period)``: the guard's duty check (``Action.ISSUE_REPORT``, a
``report_analyst``'s duty, audited with purpose ``reporting``), then the query, the engine, and
``may_aggregate`` against the reports already issued for the employer (their populations as
stored, hashed with the report key). A new report is stored with its populations; the same
people as an issued report give that report back as it was stored (``reused``); anything else is
refused with an error code the client words, the facts (which report, table, group, how many
people) going to the audit record only.

No person's data leaves here: the response is the protected report. The audit record names the
employer, the year, the report and how many people it rests on, never who.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from clinic_server.access.guard import Guard
from clinic_server.access.policy import Action, AggregateRefusal, AggregateRequest, may_aggregate
from clinic_server.db.models import Employer, IssuedReport, User
from clinic_server.errors import ApiError, denied, refused
from clinic_server.services.reports import queries, store
from clinic_server.services.reports.definitions import EMPLOYER_REPORT, tabulate
from clinic_server.services.reports.disclosure import build
from clinic_tui.api.schemas import ErrorCode
from clinic_tui.api.schemas.reports import EmployerReport, IssuedReportList, IssuedReportSummary
from clinic_tui.api.schemas.reports import IssuedReport as IssuedReportOut
from clinic_tui.domain.roles import Outcome

_REFUSAL = {
    AggregateRefusal.TOO_FEW: (409, ErrorCode.REPORT_TOO_FEW, "Too few people took part for a report."),
    AggregateRefusal.PERIOD_OPEN: (409, ErrorCode.REPORT_PERIOD_OPEN, "The year is not over yet."),
    AggregateRefusal.ALREADY_ISSUED: (
        409,
        ErrorCode.REPORT_ALREADY_ISSUED,
        "A report for this employer and year was issued and is final; the data changed since.",
    ),
    AggregateRefusal.DIFFERENCING: (
        409,
        ErrorCode.REPORT_DIFFERENCING,
        "So few people differ from an issued report that subtracting the two could single them out.",
    ),
}


def _key_unavailable(reason: str) -> ApiError:
    return ApiError(
        503,
        ErrorCode.REPORT_KEY_UNAVAILABLE,
        "The server's report key is missing or not the one earlier reports were issued with.",
        outcome=Outcome.ERROR,
        audit_reason=reason,
    )


def _out(guard: Guard, row: IssuedReport, employer: Employer, *, reused: bool) -> IssuedReportOut:
    by = guard.session.get(User, row.issued_by_id)
    return IssuedReportOut(
        id=row.id,
        employer=employer.name,
        period=row.period,
        min_cell=row.min_cell,
        issued_at=row.issued_at,
        issued_by=by.username if by else "",
        reused=reused,
        report=EmployerReport.model_validate(row.report),
    )


def issue(guard: Guard, employer_name: str, period: int) -> IssuedReportOut:
    """Issue (or give again) the report of ``employer_name`` for ``period`` (module docstring)."""
    guard.duty(Action.ISSUE_REPORT, verb="issue_report", resource_type="employer_report")
    guard.scope.note(employer=employer_name[:200], period=period)
    employer = guard.session.scalar(select(Employer).where(Employer.name == employer_name))
    if employer is None:
        raise refused(
            404, ErrorCode.NOT_FOUND, "No such employer.", outcome=Outcome.DENIED, resource="employer"
        )
    guard.scope.about(resource_id=employer.id)
    try:
        key = store.report_key(guard.settings)
        issued = store.issued_for(guard.session, employer.id, key)
    except (store.KeyMissing, store.KeyChanged) as exc:
        raise _key_unavailable(str(exc)) from None
    k = guard.settings.report_min_cell
    participants = queries.participants(guard.session, employer.id, period, guard.now)
    previous = store.previous_report(guard.session, employer.id, period)
    built = build(tabulate(EMPLOYER_REPORT, participants), employer.name, period, k, previous)
    populations = store.tokenized(key, built.populations)
    decision = may_aggregate(
        guard.actor,
        AggregateRequest(employer.id, period),
        populations,
        issued,
        k=k,
        today=guard.now.date(),
    )
    guard.scope.reason = decision.reason
    if not decision.permitted:
        kind = decision.extra.get("refusal")
        if kind not in _REFUSAL:
            raise denied(decision.reason)
        status, code, message = _REFUSAL[kind]
        params: dict = {"period": period}
        if kind is AggregateRefusal.TOO_FEW:
            params["min_cell"] = k
        raise ApiError(
            status, code, message, params=params, outcome=Outcome.DENIED, audit_reason=decision.reason
        )
    if "reuse" in decision.extra:
        row = guard.session.get(IssuedReport, decision.extra["reuse"])
        guard.scope.note(report_id=row.id, reused=True, participants=len(participants))
        return _out(guard, row, employer, reused=True)
    try:
        row = store.save(
            guard.session,
            employer_id=employer.id,
            report=built.report,
            populations=populations,
            key=key,
            issued_by_id=guard.actor.user_id,
            now=guard.now,
        )
    except IntegrityError:
        # another analyst issued this employer's year at the same instant: theirs is the report
        raise refused(
            409, ErrorCode.CONFLICT, "The report was issued by someone else just now; ask again to get it."
        ) from None
    guard.scope.note(report_id=row.id, reused=False, participants=len(participants))
    guard.scope.reason = f"issued report {row.id}: {decision.reason}"
    return _out(guard, row, employer, reused=False)


def _summary(row: IssuedReport, employer: str, by: str) -> IssuedReportSummary:
    return IssuedReportSummary(
        id=row.id,
        employer=employer,
        period=row.period,
        min_cell=row.min_cell,
        issued_at=row.issued_at,
        issued_by=by,
    )


def issued_list(guard: Guard) -> IssuedReportList:
    """Every issued report, newest year first (aggregates only: no person is read)."""
    guard.duty(Action.ISSUE_REPORT, verb="list_reports", resource_type="employer_report")
    rows = guard.session.execute(
        select(IssuedReport, Employer.name, User.username)
        .join(Employer, Employer.id == IssuedReport.employer_id)
        .join(User, User.id == IssuedReport.issued_by_id)
        .order_by(Employer.name, IssuedReport.period.desc())
    )
    items = [_summary(r, name, by) for r, name, by in rows]
    guard.scope.reason = f"issued reports: {len(items)}"
    return IssuedReportList(items=items)


def issued_one(guard: Guard, report_id: str) -> IssuedReportOut:
    """One issued report as it was given out."""
    guard.duty(
        Action.ISSUE_REPORT, verb="read_report", resource_type="employer_report", resource_id=report_id
    )
    row = guard.session.get(IssuedReport, report_id) if len(report_id) <= 32 else None
    if row is None:
        raise refused(404, ErrorCode.NOT_FOUND, "No such report.", outcome=Outcome.DENIED, resource="report")
    return _out(guard, row, guard.session.get(Employer, row.employer_id), reused=True)
