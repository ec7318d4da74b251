"""The supervisor's audit API: the access log (one record, the export), the chain check, a
person's identity for judging a relation, break-the-glass reviews and their verdicts."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path, Query, Response

from clinic_server.api.deps import GuardDep
from clinic_server.api.routing import AuditedRouter
from clinic_server.services import audit_log, monitoring
from clinic_tui.api.schemas import (
    AuditPage,
    AuditVerifyOut,
    BreakGlassReview,
    BreakGlassReviewList,
    ReviewRequest,
)
from clinic_tui.api.schemas.bounds import Id, Seq, line
from clinic_tui.api.schemas.monitoring import (
    AuditExport,
    AuditRecordOut,
    GrantDetail,
    PersonIdentityOut,
    csv_text,
)

router = AuditedRouter(prefix="/audit", tags=["audit"])

BeforeSeq = Annotated[Seq | None, Query(description="only records older than this one")]
Username = Annotated[line(80) | None, Query()]
PersonFilter = Annotated[
    line(40) | None,
    Query(description="the person's id, its first 6+ characters, or 'Patient 3fa2c1'"),
]
OutcomeFilter = Annotated[Literal["allowed", "denied", "error"] | None, Query()]
ActionFilter = Annotated[
    line(40) | None, Query(description="e.g. read, acknowledge, resolve, break_glass, login")
]


@router.get("/events", response_model=AuditPage, responses={403: {}, 422: {}})
def list_events(
    guard: GuardDep,
    before_seq: BeforeSeq = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    username: Username = None,
    person_id: PersonFilter = None,
    outcome: OutcomeFilter = None,
    action: ActionFilter = None,
    routine: Annotated[
        Literal["hide", "fold", "show"],
        Query(description="routine polling and background work: hidden and counted (default), folded, shown"),
    ] = "hide",
) -> AuditPage:
    """The audit log, newest first, keyset-paged by sequence number."""
    return audit_log.events(
        guard,
        before_seq=before_seq,
        limit=limit,
        username=username,
        person_id=person_id,
        outcome=outcome,
        action=action,
        routine=routine,
    )


@router.get("/events/{seq}", response_model=AuditRecordOut, responses={403: {}, 404: {}})
def one_event(seq: Annotated[int, Path(ge=1, le=2**63 - 1)], guard: GuardDep) -> AuditRecordOut:
    """One record in full, with its hash-chain links."""
    return audit_log.record(guard, seq)


@router.get(
    "/export",
    response_model=AuditExport,
    responses={200: {"content": {"text/csv": {}}}, 403: {}, 422: {}},
)
def export_events(
    guard: GuardDep,
    format: Annotated[Literal["json", "csv"], Query(description="json (default) or csv")] = "json",
    before_seq: BeforeSeq = None,
    limit: Annotated[int, Query(ge=1, le=audit_log.EXPORT_MAX)] = 10_000,
    username: Username = None,
    person_id: PersonFilter = None,
    outcome: OutcomeFilter = None,
    action: ActionFilter = None,
    routine: Annotated[bool, Query(description="include routine polling and background work")] = False,
):
    """The filtered log for filing: JSON, or CSV (spreadsheet-safe); newest first."""
    result = audit_log.export(
        guard,
        before_seq=before_seq,
        limit=limit,
        username=username,
        person_id=person_id,
        outcome=outcome,
        action=action,
        routine=routine,
    )
    if format == "csv":
        headers = {"Content-Disposition": 'attachment; filename="audit-log.csv"'}
        if result.next_before_seq is not None:
            headers["X-Next-Before-Seq"] = str(result.next_before_seq)
        return Response(csv_text(result.items), media_type="text/csv; charset=utf-8", headers=headers)
    return result


@router.get("/people/{person_id}", response_model=PersonIdentityOut, responses={403: {}})
def person_identity(person_id: str, guard: GuardDep) -> PersonIdentityOut:
    """Who a person in the organization's records is (name, personnummer, birth date), to judge a
    relation between a user and the person; each look-up is audited (purpose audit)."""
    return monitoring.identity(guard, person_id)


@router.get("/verify", response_model=AuditVerifyOut, responses={403: {}})
def verify_chain(guard: GuardDep) -> AuditVerifyOut:
    """Check the whole hash chain; names the first record that does not fit."""
    return audit_log.verify_chain(guard)


@router.get("/reviews", response_model=BreakGlassReviewList, responses={403: {}})
def pending_reviews(
    guard: GuardDep,
    state: Annotated[
        Literal["pending", "all", "reviewed", "justified", "not_justified", "needs_follow_up"],
        Query(description="pending (default: never reviewed, or needing follow-up), all, or one state"),
    ] = "pending",
) -> BreakGlassReviewList:
    """Break-the-glass grants by the organization's users, oldest first."""
    return audit_log.pending_reviews(guard, state)


@router.get("/reviews/{grant_id}", response_model=GrantDetail, responses={403: {}, 404: {}})
def review_detail(grant_id: str, guard: GuardDep) -> GrantDetail:
    """One break-the-glass access: the grant, its verdicts, and its records."""
    return audit_log.grant_detail(guard, grant_id)


@router.post("/reviews/{grant_id}", response_model=BreakGlassReview, responses={403: {}, 404: {}, 409: {}})
def review_grant(grant_id: Id, body: ReviewRequest, guard: GuardDep) -> BreakGlassReview:
    """Review a break-the-glass grant: a verdict with a note (kept as history), or a note only."""
    return audit_log.review(guard, grant_id, body.note, body.verdict, body.expected_version)
