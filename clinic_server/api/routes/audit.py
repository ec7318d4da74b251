"""The supervisor's audit API: the access log, the chain check, break-the-glass reviews.

Supervisors only (everyone else gets 403, audited), and every call is itself audited with purpose
"audit". A supervisor sees the records of her own organization's users, plus records no user can
be named for (failed logins with unknown names, unknown refresh tokens); records carry who, what,
when, why and the outcome, never a value of personal data (a person appears by id only).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy import or_, select, update

from clinic_server import audit
from clinic_server.api.deps import Ctx, CtxDep
from clinic_server.db.models import AuditEvent, BreakGlassGrant, User
from clinic_tui.api.schemas import (
    AuditEventOut,
    AuditPage,
    AuditVerifyOut,
    BreakGlassReview,
    BreakGlassReviewList,
    ReviewRequest,
)

router = APIRouter(prefix="/audit", tags=["audit"])

SUPERVISORS_ONLY = "The audit log is open to supervisors only."


def _supervisor(ctx: Ctx, base: dict) -> None:
    ctx.expect(**base)
    if ctx.actor.role != "supervisor":
        raise ctx.deny(
            message=SUPERVISORS_ONLY, reason=f"{ctx.actor.role} may not read the audit log", **base
        )


def event_out(e: AuditEvent) -> AuditEventOut:
    return AuditEventOut(
        seq=e.seq,
        ts=e.ts,
        user_id=e.user_id,
        username=e.username,
        role=e.role,
        organization_id=e.organization_id,
        action=e.action,
        resource_type=e.resource_type,
        resource_id=e.resource_id,
        person_id=e.person_id,
        categories=list(e.categories or []),
        purpose=e.purpose,
        outcome=e.outcome,
        reason=e.reason,
        request_id=e.request_id,
        client_name=e.client_name,
        client_version=e.client_version,
        details=dict(e.details or {}),
    )


@router.get("/events", response_model=AuditPage, responses={403: {}})
def list_events(
    ctx: CtxDep,
    before_seq: Annotated[int | None, Query(ge=1, description="only records older than this one")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    username: Annotated[str | None, Query(max_length=80)] = None,
    person_id: Annotated[str | None, Query(max_length=32)] = None,
    outcome: Annotated[Literal["allowed", "denied", "error"] | None, Query()] = None,
    action: Annotated[str | None, Query(max_length=40)] = None,
) -> AuditPage:
    """The audit log, newest first, keyset-paged by sequence number."""
    filters = {
        k: v
        for k, v in {
            "username": username.strip().lower() if username else None,
            "person_id": person_id,
            "outcome": outcome,
            "action": action,
        }.items()
        if v
    }
    base = {
        "action": "audit_query",
        "resource_type": "audit_event",
        "person_id": filters.get("person_id"),
        "purpose": "audit",
    }
    _supervisor(ctx, base)
    stmt = select(AuditEvent).where(
        or_(
            AuditEvent.organization_id == ctx.actor.organization_id,
            AuditEvent.organization_id.is_(None),
        )
    )
    if before_seq is not None:
        stmt = stmt.where(AuditEvent.seq < before_seq)
    if "username" in filters:
        stmt = stmt.where(AuditEvent.username == filters["username"])
    if "person_id" in filters:
        stmt = stmt.where(AuditEvent.person_id == filters["person_id"])
    if "outcome" in filters:
        stmt = stmt.where(AuditEvent.outcome == filters["outcome"])
    if "action" in filters:
        stmt = stmt.where(AuditEvent.action == filters["action"])
    rows = list(ctx.session.scalars(stmt.order_by(AuditEvent.seq.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    items = [event_out(e) for e in rows]
    ctx.record(
        **base,
        outcome="allowed",
        reason=f"audit log query: {len(items)} records",
        details={
            "filters": filters,
            "before_seq": before_seq,
            "seq_range": [rows[-1].seq, rows[0].seq] if rows else None,
        },
    )
    return AuditPage(items=items, next_before_seq=rows[-1].seq if more else None)


@router.get("/verify", response_model=AuditVerifyOut, responses={403: {}})
def verify_chain(ctx: CtxDep) -> AuditVerifyOut:
    """Check the whole hash chain; names the first record that does not fit."""
    base = {"action": "audit_verify", "resource_type": "audit_event", "purpose": "audit"}
    _supervisor(ctx, base)
    result = audit.verify(ctx.session.connection())
    ctx.record(
        **base,
        outcome="allowed",
        reason=result.describe(),
        details={"ok": result.ok, "checked": result.checked, "first_bad_seq": result.first_bad_seq},
    )
    return AuditVerifyOut(
        ok=result.ok, checked=result.checked, first_bad_seq=result.first_bad_seq, problem=result.problem
    )


def _review_out(grant: BreakGlassGrant, nurse: User, reviewer: User | None) -> BreakGlassReview:
    return BreakGlassReview(
        id=grant.id,
        user_id=grant.user_id,
        username=nurse.username,
        person_id=grant.person_id,
        reason=grant.reason,
        created_at=grant.created_at,
        expires_at=grant.expires_at,
        reviewed_by=reviewer.username if reviewer else None,
        reviewed_at=grant.reviewed_at,
        review_note=grant.review_note,
    )


@router.get("/reviews", response_model=BreakGlassReviewList, responses={403: {}})
def pending_reviews(ctx: CtxDep) -> BreakGlassReviewList:
    """Break-the-glass grants by the organization's nurses that nobody has reviewed yet, oldest first."""
    base = {"action": "review_list", "resource_type": "break_glass_grant", "purpose": "audit"}
    _supervisor(ctx, base)
    rows = ctx.session.execute(
        select(BreakGlassGrant, User)
        .join(User, User.id == BreakGlassGrant.user_id)
        .where(User.organization_id == ctx.actor.organization_id, BreakGlassGrant.reviewed_at.is_(None))
        .order_by(BreakGlassGrant.created_at, BreakGlassGrant.id)
    ).all()
    items = [_review_out(g, u, None) for g, u in rows]
    ctx.record(
        **base,
        outcome="allowed",
        reason=f"{len(items)} break-the-glass grants awaiting review",
        details={"grant_ids": [i.id for i in items]},
    )
    return BreakGlassReviewList(items=items)


@router.post("/reviews/{grant_id}", response_model=BreakGlassReview, responses={403: {}, 404: {}, 409: {}})
def review_grant(grant_id: str, body: ReviewRequest, ctx: CtxDep) -> BreakGlassReview:
    """Mark a break-the-glass grant reviewed, with the supervisor's note."""
    base = {
        "action": "review",
        "resource_type": "break_glass_grant",
        "resource_id": grant_id[:64],
        "purpose": "audit",
    }
    _supervisor(ctx, base)
    grant = ctx.session.get(BreakGlassGrant, grant_id) if len(grant_id) <= 32 else None
    nurse = ctx.session.get(User, grant.user_id) if grant is not None else None
    if grant is None or nurse is None or nurse.organization_id != ctx.actor.organization_id:
        raise ctx.deny(
            status=404,
            code="not_found",
            message="No such break-the-glass grant in your organization.",
            reason="no such grant in the supervisor's organization",
            **base,
        )
    base["person_id"] = grant.person_id
    # conditional update: of two supervisors reviewing at once, exactly one wins
    won = ctx.session.execute(
        update(BreakGlassGrant)
        .where(BreakGlassGrant.id == grant.id, BreakGlassGrant.reviewed_at.is_(None))
        .values(reviewed_by_id=ctx.actor.user_id, reviewed_at=ctx.now, review_note=body.note)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not won:
        ctx.session.rollback()
        ctx.session.refresh(grant)
        reviewer = ctx.session.get(User, grant.reviewed_by_id) if grant.reviewed_by_id else None
        raise ctx.deny(
            status=409,
            code="already_reviewed",
            message=f"This grant was already reviewed by {reviewer.username if reviewer else 'someone'}"
            + (f" at {grant.reviewed_at:%Y-%m-%d %H:%M} UTC." if grant.reviewed_at else "."),
            reason="grant already reviewed",
            **base,
        )
    ctx.record(
        **base, outcome="allowed", reason="break-the-glass grant reviewed", details={"note": body.note}
    )
    ctx.session.refresh(grant)
    return _review_out(grant, nurse, ctx.user)
