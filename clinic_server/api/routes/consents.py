"""Consent changes recorded by care staff on a person's behalf, and GDPR art. 18 restriction.

The policy reads consents and the restriction flag on every request, so a change here takes effect
on the very next request. Every call leaves exactly one audit record (action ``consent_change`` for
changes, ``read`` of resource ``consent`` for the list).
"""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import exists, select

from clinic_server.access import policy
from clinic_server.access.policy import Decision
from clinic_server.api.deps import Ctx, CtxDep
from clinic_server.db.models import CoachAssignment, Consent, Person, User
from clinic_tui.api.schemas import ConsentList, ConsentOut, RestrictionOut, RestrictionRequest

router = APIRouter(prefix="/patients", tags=["consents"])

NOT_PERMITTED = "You do not have access to this person's record."
NO_SUCH_CONSENT = "This person has no such consent with your organization."


def consent_out(c: Consent) -> ConsentOut:
    return ConsentOut(
        id=c.id,
        categories=sorted(c.categories),
        purpose=c.purpose,
        valid_from=c.valid_from,
        valid_until=c.valid_until,
        status=c.status,
        withdrawn_at=c.withdrawn_at,
    )


def visible_person(ctx: Ctx, person_id: str, base: dict, *, nurse_message: str) -> tuple[Person, Decision]:
    """The person, if the calling nurse may currently see them; otherwise an audited denial.

    ``base`` (action, resource_type, purpose, ...) is updated with the person and purpose found.
    """
    ctx.expect(**base)
    if ctx.actor.role != "nurse":
        raise ctx.deny(message=nurse_message, reason=f"{ctx.actor.role} may not do this", **base)
    person = ctx.session.get(Person, person_id) if len(person_id) <= 32 else None
    if person is None:
        raise ctx.deny(message=NOT_PERMITTED, reason="no such person", **base)
    base["person_id"] = person.id
    facts = policy.load_facts(ctx.session, ctx.actor, [person.id], ctx.now)[person.id]
    decision = policy.decide(ctx.actor, facts, ctx.now)
    base["purpose"] = decision.purpose
    ctx.expect(**base)
    if not decision.permitted:
        raise ctx.deny(message=NOT_PERMITTED, reason=decision.reason, **base)
    return person, decision


@router.get("/{person_id}/consents", response_model=ConsentList, responses={403: {}})
def list_consents(person_id: str, ctx: CtxDep) -> ConsentList:
    """The person's consents to the calling nurse's organization (not to anyone else)."""
    base = {
        "action": "read",
        "resource_type": "consent",
        "resource_id": person_id[:64],
        "purpose": policy.purpose_for(ctx.actor),
    }
    person, _decision = visible_person(
        ctx, person_id, base, nurse_message="Consents are listed to the care organization's nurses."
    )
    rows = list(
        ctx.session.scalars(
            select(Consent)
            .where(Consent.person_id == person.id, Consent.organization_id == ctx.actor.organization_id)
            .order_by(Consent.valid_from.desc(), Consent.id)
        )
    )
    ctx.record(
        **base,
        outcome="allowed",
        reason=f"{len(rows)} consents to the caller's organization",
        details={"consent_ids": [c.id for c in rows]},
    )
    return ConsentList(person_id=person.id, items=[consent_out(c) for c in rows])


@router.post(
    "/{person_id}/consents/{consent_id}/withdraw",
    response_model=ConsentOut,
    responses={403: {}, 404: {}, 409: {}},
)
def withdraw_consent(person_id: str, consent_id: str, ctx: CtxDep) -> ConsentOut:
    """Record that the person withdrew one of their consents to the nurse's organization."""
    base = {
        "action": "consent_change",
        "resource_type": "consent",
        "resource_id": consent_id[:64],
        "purpose": policy.purpose_for(ctx.actor),
    }
    person, _decision = visible_person(
        ctx, person_id, base, nurse_message="Consents are changed by the care organization's nurses."
    )
    consent = ctx.session.get(Consent, consent_id) if len(consent_id) <= 32 else None
    if (
        consent is None
        or consent.person_id != person.id
        or consent.organization_id != ctx.actor.organization_id
    ):
        # another organization's consent is as unknown to this nurse as a made-up id
        raise ctx.deny(
            status=404,
            code="not_found",
            message=NO_SUCH_CONSENT,
            reason="no such consent to the caller's organization",
            **base,
        )
    if consent.status == "withdrawn":
        raise ctx.deny(
            status=409,
            code="already_withdrawn",
            message="This consent was already withdrawn.",
            reason="consent already withdrawn",
            **base,
        )
    consent.status = "withdrawn"
    consent.withdrawn_at = ctx.now
    ctx.record(
        **base,
        outcome="allowed",
        reason="consent withdrawn on the person's behalf",
        details={"change": "withdraw", "consent_categories": sorted(consent.categories)},
    )
    return consent_out(consent)


def _related_to_organization(ctx: Ctx, person: Person) -> bool:
    """Is the person a data subject of the supervisor's organization (a consent, or an IMR coach)?"""
    org = ctx.actor.organization_id
    consented = exists().where(Consent.person_id == person.id, Consent.organization_id == org)
    coached = (
        exists()
        .where(CoachAssignment.person_id == person.id)
        .where(CoachAssignment.coach_id == User.id, User.organization_id == org)
    )
    return bool(ctx.session.scalar(select(consented | coached)))


@router.post("/{person_id}/restriction", response_model=RestrictionOut, responses={403: {}})
def set_restriction(person_id: str, body: RestrictionRequest, ctx: CtxDep) -> RestrictionOut:
    """Supervisors: restrict (GDPR art. 18) or lift the restriction of all processing of the person.

    While restricted, nobody may read the person's data (deny overrides every basis, even
    break-the-glass). Only a supervisor of an organization the person has a relationship with may
    change it; the answer carries no personal data.
    """
    base = {
        "action": "consent_change",
        "resource_type": "restriction",
        "resource_id": person_id[:64],
        "purpose": policy.purpose_for(ctx.actor),
    }
    ctx.expect(**base)
    if ctx.actor.role != "supervisor":
        raise ctx.deny(
            message="Only a supervisor may restrict or release a person's processing.",
            reason=f"{ctx.actor.role} may not change a restriction",
            **base,
        )
    person = ctx.session.get(Person, person_id) if len(person_id) <= 32 else None
    if person is None:
        raise ctx.deny(message=NOT_PERMITTED, reason="no such person", **base)
    base["person_id"] = person.id
    if not _related_to_organization(ctx, person):
        raise ctx.deny(
            message=NOT_PERMITTED, reason="person has no relationship with the organization", **base
        )
    previous = person.restricted
    person.restricted = body.restricted
    ctx.record(
        **base,
        outcome="allowed",
        reason=("processing restricted (GDPR art. 18)" if body.restricted else "restriction lifted")
        + ("" if previous != body.restricted else "; unchanged"),
        details={"restricted": body.restricted, "previous": previous},
    )
    return RestrictionOut(person_id=person.id, restricted=person.restricted)
