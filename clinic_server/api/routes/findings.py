"""Privacy monitoring for supervisors (``services/monitoring.py``): the findings queue, one finding
with its evidence, verdicts, and the rules."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path, Query

from clinic_server.api.deps import GuardDep
from clinic_server.api.routing import AuditedRouter
from clinic_server.services import monitoring
from clinic_tui.api.schemas.monitoring import FindingDetail, FindingPage, RuleList, VerdictRequest
from clinic_tui.domain.findings import RuleId

router = AuditedRouter(prefix="/audit/findings", tags=["privacy monitoring"])

FindingId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("", response_model=FindingPage, responses={403: {}, 422: {}})
def findings(
    guard: GuardDep,
    state: Annotated[
        Literal["waiting", "all", "new", "justified", "not_justified", "needs_follow_up"],
        Query(description="waiting (default: new or needing follow-up), all, or one state"),
    ] = "waiting",
    rule: Annotated[RuleId | None, Query(description="one rule's findings")] = None,
    before_id: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="next_before_id of the last page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> FindingPage:
    """Findings about the organization's users, newest first."""
    return monitoring.queue(guard, state=state, rule=rule, before_id=before_id, limit=limit)


@router.get("/rules", response_model=RuleList, responses={403: {}})
def rules(guard: GuardDep) -> RuleList:
    """The rules: id, version, the params of their reasons, their thresholds."""
    return monitoring.rule_list(guard)


@router.get("/{finding_id}", response_model=FindingDetail, responses={403: {}, 404: {}})
def finding(finding_id: FindingId, guard: GuardDep) -> FindingDetail:
    """One finding with its evidence records and its verdict history."""
    return monitoring.finding(guard, finding_id)


@router.post("/{finding_id}/verdicts", response_model=FindingDetail, responses={403: {}, 404: {}, 409: {}})
def judge(finding_id: FindingId, body: VerdictRequest, guard: GuardDep) -> FindingDetail:
    """A verdict (justified, not justified, needs follow-up) with a note; every verdict is kept."""
    return monitoring.judge(guard, finding_id, body)
