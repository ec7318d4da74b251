"""Consent changes recorded by care staff on a person's behalf, and GDPR art. 18 restriction.

``decide`` reads consents and the restriction flag on every request, so a change here takes
effect on the very next request.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import select

from clinic_server.access.guard import MAX_ID, Guard
from clinic_server.access.policy import Action
from clinic_server.db.models import Consent, Person
from clinic_server.errors import denied, refused
from clinic_tui.api.schemas import ConsentList, ConsentOut, ErrorCode, RestrictionOut
from clinic_tui.domain.roles import Outcome


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


def list_consents(guard: Guard, person_id: str) -> ConsentList:
    """The person's consents to the caller's organization (not to anyone else)."""
    access = guard.person(person_id, Action.READ_CONSENTS, verb="read", resource_type="consent")
    rows = list(
        guard.session.scalars(
            select(Consent)
            .where(
                Consent.person_id == access.person.id, Consent.organization_id == guard.actor.organization_id
            )
            .order_by(Consent.valid_from.desc(), Consent.id)
        )
    )
    guard.scope.note(consent_ids=[c.id for c in rows])
    guard.scope.reason = f"{len(rows)} consents to the caller's organization"
    return ConsentList(person_id=access.person.id, items=[consent_out(c) for c in rows])


def withdraw(guard: Guard, person_id: str, consent_id: str) -> ConsentOut:
    """Record that the person withdrew one of their consents to the caller's organization."""
    access = guard.person(
        person_id,
        Action.WITHDRAW_CONSENT,
        verb="consent_change",
        resource_type="consent",
        resource_id=consent_id,
    )
    consent = guard.session.get(Consent, consent_id) if len(consent_id) <= 32 else None
    if (
        consent is None
        or consent.person_id != access.person.id
        or consent.organization_id != guard.actor.organization_id
    ):
        # another organization's consent is as unknown to this nurse as a made-up id
        raise refused(
            404,
            ErrorCode.NOT_FOUND,
            "This person has no such consent with your organization.",
            outcome=Outcome.DENIED,
            resource="consent",
        )
    if consent.status == "withdrawn":
        raise refused(
            409, ErrorCode.ALREADY_WITHDRAWN, "This consent was already withdrawn.", outcome=Outcome.DENIED
        )
    consent.status = "withdrawn"
    consent.withdrawn_at = guard.now
    guard.scope.note(change="withdraw", consent_categories=sorted(consent.categories))
    guard.scope.reason = "consent withdrawn on the person's behalf"
    return consent_out(consent)


def set_restriction(
    guard: Guard, person_id: str, restricted: bool, *, action: Action | None = None
) -> RestrictionOut:
    """Restrict (GDPR art. 18) or lift the restriction of all processing of the person.

    While restricted, nobody may read the person's data (deny overrides every basis, even
    break-the-glass). A supervisor of an organization the person has a relationship with, or the
    privacy officer, may restrict; only the organization that restricted (recorded on the person)
    or the privacy officer may lift it. The privacy officer acting on the person's own request comes
    through ``Action.SUBJECT_RESTRICTION``. The answer carries no personal data.
    """
    if action is None:
        action = Action.SET_RESTRICTION if restricted else Action.LIFT_RESTRICTION
    guard.about(action, verb="consent_change", resource_type="restriction", resource_id=person_id)
    person = guard.session.get(Person, person_id) if len(person_id) <= MAX_ID else None
    if person is None:
        raise denied("no such person")
    facts = dataclasses.replace(guard.facts_for(person), restricted_by=person.restricted_by_org_id)
    guard.access(person, action, facts)
    previous = person.restricted
    if restricted and not previous:
        person.restricted_by_org_id = guard.actor.organization_id
    elif not restricted:
        person.restricted_by_org_id = None
    person.restricted = restricted
    guard.scope.note(restricted=restricted, previous=previous, restricted_by=person.restricted_by_org_id)
    guard.scope.reason = ("processing restricted (GDPR art. 18)" if restricted else "restriction lifted") + (
        "" if previous != restricted else "; unchanged"
    )
    return RestrictionOut(person_id=person.id, restricted=person.restricted)
