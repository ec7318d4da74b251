"""Break-the-glass: a nurse opens a record without consent in an emergency (vital interests).

The grant is time-boxed (``Settings.break_glass_minutes``), flagged for a supervisor's review, and
the person gets a notice naming the organization and the time. ``policy.decide`` is asked with the
prospective grant, so every deny (restriction, age under 18) still overrides.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from fastapi import APIRouter
from sqlalchemy import select

from clinic_server.access import policy
from clinic_server.api.deps import CtxDep
from clinic_server.db.models import BreakGlassGrant, Person, PersonNotice
from clinic_tui.api.schemas import BreakGlassGrantOut, BreakGlassLookup, BreakGlassRequest
from clinic_tui.domain import personnummer

router = APIRouter(tags=["break-the-glass"])

NOT_PERMITTED = "You do not have access to this person's record."


@router.post(
    "/patients/{person_id}/break-glass",
    response_model=BreakGlassGrantOut,
    status_code=201,
    responses={403: {}, 409: {}, 422: {}},
)
def break_glass(person_id: str, body: BreakGlassRequest, ctx: CtxDep) -> BreakGlassGrantOut:
    """Nurses only: time-boxed emergency access; refused if restricted or under 18."""
    base = _base(ctx)
    person = ctx.session.get(Person, person_id) if len(person_id) <= 32 else None
    if person is None:
        raise ctx.deny(message=NOT_PERMITTED, reason="no such person", **base)
    return _grant(ctx, person, body.reason, base)


@router.post(
    "/break-glass",
    response_model=BreakGlassGrantOut,
    status_code=201,
    responses={403: {}, 404: {}, 409: {}, 422: {}},
    include_in_schema=True,
)
def break_glass_by_personnummer(body: BreakGlassLookup, ctx: CtxDep) -> BreakGlassGrantOut:
    """Nurses only: the same emergency access, for someone not in the nurse's list (found by personnummer).

    Telling "no record" apart from "not allowed" is deliberate here: in an emergency a mistyped
    number must be noticed. The lookup itself is audited (denied, with the reason) and reviewed.
    """
    base = _base(ctx)
    try:
        pnr = personnummer.normalize(body.personnummer)
    except personnummer.PersonnummerError as exc:
        raise ctx.deny(
            status=422,
            code="invalid_personnummer",
            message=f"Personnummer: {exc}",
            reason="invalid personnummer",
            **base,
        ) from None
    person = ctx.session.scalar(select(Person).where(Person.personnummer == pnr))
    if person is None:
        raise ctx.deny(
            status=404,
            code="not_found",
            message="No record found for that personnummer.",
            reason="no such person",
            **base,
        )
    return _grant(ctx, person, body.reason, base)


def _base(ctx) -> dict:
    base = {
        "action": "break_glass",
        "resource_type": "break_glass_grant",
        "resource_id": None,
        "purpose": "emergency",
    }
    ctx.expect(**base)
    if ctx.actor.role != "nurse":
        raise ctx.deny(
            message="Only nurses may use break-the-glass access.",
            reason=f"{ctx.actor.role} may not break the glass",
            **base,
        )
    return base


def _grant(ctx, person: Person, reason: str, base: dict) -> BreakGlassGrantOut:
    base["person_id"] = person.id
    ctx.expect(**base)
    facts = policy.load_facts(ctx.session, ctx.actor, [person.id], ctx.now)[person.id]
    current = policy.decide(ctx.actor, facts, ctx.now)
    if current.permitted and current.basis == "consent":
        raise ctx.deny(
            status=409,
            code="already_has_access",
            message="You already have access to this person's record through their consent.",
            reason="nurse already has access by consent",
            **base,
        )
    expires_at = ctx.now + timedelta(minutes=ctx.settings.break_glass_minutes)
    prospective = policy.decide(ctx.actor, dataclasses.replace(facts, break_glass_until=expires_at), ctx.now)
    if not prospective.permitted or prospective.basis != "break_glass":
        raise ctx.deny(
            message="Break-the-glass access is not allowed for this person: " + prospective.reason + ".",
            reason=prospective.reason,
            **base,
        )
    grant = BreakGlassGrant(
        user_id=ctx.actor.user_id,
        person_id=person.id,
        reason=reason,
        created_at=ctx.now,
        expires_at=expires_at,
    )
    ctx.session.add(grant)
    organization = ctx.user.organization.name
    ctx.session.add(
        PersonNotice(
            person_id=person.id,
            kind="break_glass",
            text=(
                f"{organization} opened your record without your consent in an emergency "
                f"(break-the-glass) on {ctx.now:%Y-%m-%d} at {ctx.now:%H:%M} UTC. "
                "The access is time-limited and reviewed by the organization's supervisor."
            ),
            created_at=ctx.now,
        )
    )
    ctx.session.flush()
    base["resource_id"] = grant.id
    ctx.record(
        **base,
        outcome="allowed",
        reason="break-the-glass grant created (vital interests); flagged for review",
        details={"reason": reason, "expires_at": expires_at.isoformat()},
    )
    return BreakGlassGrantOut(id=grant.id, person_id=person.id, expires_at=expires_at)
