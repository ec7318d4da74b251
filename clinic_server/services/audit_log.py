"""The supervisor's audit duties: the access log, the chain check, break-the-glass reviews.

A supervisor sees the records of her own organization's users, and of the records no user can be
named for: those about nobody in particular (the minute's aggregate of unauthenticated failures,
scheduled jobs), and device writes about people who gave her organization a consent (the data
is written for the organizations the person consented to; another organization's patient is not
hers to see). Records carry who, what, when, why and the outcome, never a value of personal data
(a person appears by id only).
"""

from __future__ import annotations

from sqlalchemy import and_, or_, select, update

from clinic_server.access.guard import Guard
from clinic_server.access.policy import Action
from clinic_server.audit.chain import verify
from clinic_server.db.models import AuditEvent, BreakGlassGrant, Consent, User
from clinic_server.errors import refused
from clinic_tui.api.schemas import (
    AuditEventOut,
    AuditPage,
    AuditVerifyOut,
    BreakGlassReview,
    BreakGlassReviewList,
    ErrorCode,
)
from clinic_tui.domain.roles import Outcome


def event_out(e: AuditEvent) -> AuditEventOut:
    return AuditEventOut.model_validate(e, from_attributes=True)


def events(
    guard: Guard,
    *,
    before_seq: int | None,
    limit: int,
    username: str | None,
    person_id: str | None,
    outcome: str | None,
    action: str | None,
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
    guard.duty(Action.READ_AUDIT, verb="audit_query", resource_type="audit_event")
    guard.scope.about(person_id=filters.get("person_id"))
    org = guard.actor.organization_id
    consented = select(Consent.person_id).where(Consent.organization_id == org)
    stmt = select(AuditEvent).where(
        or_(
            AuditEvent.organization_id == org,
            and_(
                AuditEvent.organization_id.is_(None),
                or_(AuditEvent.person_id.is_(None), AuditEvent.person_id.in_(consented)),
            ),
        )
    )
    if before_seq is not None:
        stmt = stmt.where(AuditEvent.seq < before_seq)
    for key, column in (
        ("username", AuditEvent.username),
        ("person_id", AuditEvent.person_id),
        ("outcome", AuditEvent.outcome),
        ("action", AuditEvent.action),
    ):
        if key in filters:
            stmt = stmt.where(column == filters[key])
    rows = list(guard.session.scalars(stmt.order_by(AuditEvent.seq.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    items = [event_out(e) for e in rows]
    guard.scope.note(
        filters=filters, before_seq=before_seq, seq_range=[rows[-1].seq, rows[0].seq] if rows else None
    )
    guard.scope.reason = f"audit log query: {len(items)} records"
    return AuditPage(items=items, next_before_seq=rows[-1].seq if more else None)


def verify_chain(guard: Guard) -> AuditVerifyOut:
    """Check the whole hash chain; names the first record that does not fit."""
    guard.duty(Action.VERIFY_AUDIT, verb="audit_verify", resource_type="audit_event")
    result = verify(guard.session.connection())
    guard.scope.note(ok=result.ok, checked=result.checked, first_bad_seq=result.first_bad_seq)
    guard.scope.reason = result.describe()
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


def pending_reviews(guard: Guard) -> BreakGlassReviewList:
    """Break-the-glass grants by the organization's nurses that nobody has reviewed yet, oldest first."""
    guard.duty(Action.REVIEW_BREAK_GLASS, verb="review_list", resource_type="break_glass_grant")
    rows = guard.session.execute(
        select(BreakGlassGrant, User)
        .join(User, User.id == BreakGlassGrant.user_id)
        .where(User.organization_id == guard.actor.organization_id, BreakGlassGrant.reviewed_at.is_(None))
        .order_by(BreakGlassGrant.created_at, BreakGlassGrant.id)
    ).all()
    items = [_review_out(g, u, None) for g, u in rows]
    guard.scope.note(grant_ids=[i.id for i in items])
    guard.scope.reason = f"{len(items)} break-the-glass grants awaiting review"
    return BreakGlassReviewList(items=items)


def review(guard: Guard, grant_id: str, note: str) -> BreakGlassReview:
    """Mark a break-the-glass grant reviewed, with the supervisor's note."""
    guard.duty(
        Action.REVIEW_BREAK_GLASS, verb="review", resource_type="break_glass_grant", resource_id=grant_id
    )
    session = guard.session
    grant = session.get(BreakGlassGrant, grant_id) if len(grant_id) <= 32 else None
    nurse = session.get(User, grant.user_id) if grant is not None else None
    if grant is None or nurse is None or nurse.organization_id != guard.actor.organization_id:
        raise refused(
            404,
            ErrorCode.NOT_FOUND,
            "No such break-the-glass grant in your organization.",
            outcome=Outcome.DENIED,
            resource="break_glass_grant",
        )
    guard.scope.about(person_id=grant.person_id)
    # conditional update: of two supervisors reviewing at once, exactly one wins
    won = session.execute(
        update(BreakGlassGrant)
        .where(BreakGlassGrant.id == grant.id, BreakGlassGrant.reviewed_at.is_(None))
        .values(reviewed_by_id=guard.actor.user_id, reviewed_at=guard.now, review_note=note)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not won:
        session.rollback()
        session.refresh(grant)
        reviewer = session.get(User, grant.reviewed_by_id) if grant.reviewed_by_id else None
        raise refused(
            409,
            ErrorCode.ALREADY_REVIEWED,
            f"This grant was already reviewed by {reviewer.username if reviewer else 'someone'}"
            + (f" at {grant.reviewed_at:%Y-%m-%d %H:%M} UTC." if grant.reviewed_at else "."),
            outcome=Outcome.DENIED,
            by=reviewer.username if reviewer else None,
            at=grant.reviewed_at.isoformat() if grant.reviewed_at else None,
        )
    # the note stays on the grant: free text may name the person, and the audit record is kept for ever
    guard.scope.note(grant_id=grant.id, note_given=True)
    guard.scope.reason = "break-the-glass grant reviewed"
    session.flush()
    session.refresh(grant)
    return _review_out(grant, nurse, guard.user)
