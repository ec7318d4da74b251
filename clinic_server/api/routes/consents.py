"""Consents recorded on a person's behalf, and GDPR art. 18 restriction (``services/consents.py``)."""

from __future__ import annotations

from clinic_server.api.deps import GuardDep
from clinic_server.api.routing import AuditedRouter
from clinic_server.services import consents
from clinic_tui.api.schemas import ConsentList, ConsentOut, RestrictionOut, RestrictionRequest
from clinic_tui.api.schemas.bounds import Id

router = AuditedRouter(prefix="/patients", tags=["consents"])


@router.get("/{person_id}/consents", response_model=ConsentList, responses={403: {}})
def list_consents(person_id: Id, guard: GuardDep) -> ConsentList:
    """The person's consents to the caller's organization (not to anyone else)."""
    return consents.list_consents(guard, person_id)


@router.post(
    "/{person_id}/consents/{consent_id}/withdraw",
    response_model=ConsentOut,
    responses={403: {}, 404: {}, 409: {}},
)
def withdraw_consent(person_id: Id, consent_id: Id, guard: GuardDep) -> ConsentOut:
    """Record that the person withdrew one of their consents to the nurse's organization."""
    return consents.withdraw(guard, person_id, consent_id)


@router.post("/{person_id}/restriction", response_model=RestrictionOut, responses={403: {}})
def set_restriction(person_id: Id, body: RestrictionRequest, guard: GuardDep) -> RestrictionOut:
    """Restrict (GDPR art. 18) or lift the restriction of all processing of the person."""
    return consents.set_restriction(guard, person_id, body.restricted)
