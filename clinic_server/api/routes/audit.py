"""The supervisor's audit API: the access log, the chain check, break-the-glass reviews."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query

from clinic_server.api.deps import GuardDep
from clinic_server.api.routing import AuditedRouter
from clinic_server.services import audit_log
from clinic_tui.api.schemas import (
    AuditPage,
    AuditVerifyOut,
    BreakGlassReview,
    BreakGlassReviewList,
    ReviewRequest,
)
from clinic_tui.api.schemas.bounds import Id, Seq, line

router = AuditedRouter(prefix="/audit", tags=["audit"])


@router.get("/events", response_model=AuditPage, responses={403: {}})
def list_events(
    guard: GuardDep,
    before_seq: Annotated[Seq | None, Query(description="only records older than this one")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    username: Annotated[line(80) | None, Query()] = None,
    person_id: Annotated[line(32) | None, Query()] = None,
    outcome: Annotated[Literal["allowed", "denied", "error"] | None, Query()] = None,
    action: Annotated[line(40) | None, Query()] = None,
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
    )


@router.get("/verify", response_model=AuditVerifyOut, responses={403: {}})
def verify_chain(guard: GuardDep) -> AuditVerifyOut:
    """Check the whole hash chain; names the first record that does not fit."""
    return audit_log.verify_chain(guard)


@router.get("/reviews", response_model=BreakGlassReviewList, responses={403: {}})
def pending_reviews(guard: GuardDep) -> BreakGlassReviewList:
    """Break-the-glass grants by the organization's nurses that nobody has reviewed yet, oldest first."""
    return audit_log.pending_reviews(guard)


@router.post("/reviews/{grant_id}", response_model=BreakGlassReview, responses={403: {}, 404: {}, 409: {}})
def review_grant(grant_id: Id, body: ReviewRequest, guard: GuardDep) -> BreakGlassReview:
    """Mark a break-the-glass grant reviewed, with the supervisor's note."""
    return audit_log.review(guard, grant_id, body.note)
