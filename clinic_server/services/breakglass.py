"""Break-the-glass: a nurse opens a record without consent in an emergency (vital interests).

The grant is time-boxed (``Settings.break_glass_minutes``), flagged for a supervisor's review, and
the person gets a notice. ``policy.decide`` is asked with the prospective grant, so every deny
(restriction, age under 18) still overrides; a refusal tells the nurse nothing of why (that is
for the audit record), so break-the-glass cannot be used to probe a stranger's restriction or age.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from sqlalchemy import select

from clinic_server.access.guard import Guard
from clinic_server.access.policy import Action
from clinic_server.db.models import BreakGlassGrant, Person, PersonNotice
from clinic_server.errors import denied, refused
from clinic_tui.api.schemas import BreakGlassGrantOut, ErrorCode
from clinic_tui.domain import personnummer
from clinic_tui.domain.roles import Basis, Outcome

VERB = {"verb": "break_glass", "resource_type": "break_glass_grant"}


def by_id(guard: Guard, person_id: str, reason: str) -> BreakGlassGrantOut:
    guard.about(Action.BREAK_GLASS, **VERB)
    guard.require_role(Action.BREAK_GLASS)
    person = guard.session.get(Person, person_id) if len(person_id) <= 32 else None
    if person is None:
        raise denied("no such person")
    return _grant(guard, person, reason)


def by_personnummer(guard: Guard, number: str, reason: str) -> BreakGlassGrantOut:
    """For someone not in the nurse's list. Telling "no record" apart from "not allowed" is deliberate:
    in an emergency a mistyped number must be noticed. The lookup itself is audited."""
    guard.about(Action.BREAK_GLASS, **VERB)
    guard.require_role(Action.BREAK_GLASS)
    try:
        pnr = personnummer.normalize(number)
    except personnummer.PersonnummerError as exc:
        raise refused(
            422,
            ErrorCode.INVALID_PERSONNUMMER,
            f"Personnummer: {exc}",
            outcome=Outcome.DENIED,
            problem=getattr(exc, "code", "invalid"),
        ) from None
    person = guard.session.scalar(select(Person).where(Person.personnummer == pnr))
    if person is None:
        raise refused(
            404, ErrorCode.NOT_FOUND, "No record found for that personnummer.", outcome=Outcome.DENIED
        )
    return _grant(guard, person, reason)


def _grant(guard: Guard, person: Person, reason: str) -> BreakGlassGrantOut:
    guard.scope.about(person_id=person.id)
    facts = guard.facts_for(person)
    if guard.would(Action.READ_RECORD, facts).basis == Basis.CONSENT:
        raise refused(
            409,
            ErrorCode.ALREADY_HAS_ACCESS,
            "You already have access to this person's record through their consent.",
            outcome=Outcome.DENIED,
        )
    expires_at = guard.now + timedelta(minutes=guard.settings.break_glass_minutes)
    access = guard.access(
        person, Action.BREAK_GLASS, dataclasses.replace(facts, break_glass_until=expires_at)
    )
    if access.decision.basis != Basis.BREAK_GLASS:
        raise denied(access.decision.reason)
    grant = BreakGlassGrant(
        user_id=guard.actor.user_id,
        person_id=person.id,
        reason=reason,
        created_at=guard.now,
        expires_at=expires_at,
    )
    guard.session.add(grant)
    guard.session.add(
        PersonNotice(
            person_id=person.id,
            kind="break_glass",
            text=(
                f"{guard.user.organization.name} opened your record without your consent in an emergency "
                f"(break-the-glass) on {guard.now:%Y-%m-%d} at {guard.now:%H:%M} UTC. "
                "The access is time-limited and reviewed by the organization's supervisor."
            ),
            created_at=guard.now,
        )
    )
    guard.session.flush()
    guard.scope.about(resource_id=grant.id)
    # the typed reason stays on the grant (the supervisor reviews it there, and it goes with the
    # person on erasure): the audit record is kept for ever and names people by id only
    guard.scope.note(grant_id=grant.id, reason_given=True, expires_at=expires_at.isoformat())
    guard.scope.reason = "break-the-glass grant created (vital interests); flagged for review"
    return BreakGlassGrantOut(id=grant.id, person_id=person.id, expires_at=expires_at)
