"""The organizations' systems: the patient app's backend (ImagineCare AB) and IMR's onboarding.

They authenticate with an integration key of their organization (``X-Client-Key``, see
``services/integrations.py``); what each may do is in the action table (``integrations``), and on a
person only where the person has a relationship with that organization.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from clinic_server.api.deps import IntegrationGuardDep
from clinic_server.api.routing import AuditedRouter
from clinic_server.services import registration, rights
from clinic_tui.api.schemas.rights import (
    AccountClosurePreview,
    ConfirmIn,
    ConsentGrant,
    ConsentGrantOut,
    ObjectionIn,
    ObjectionOut,
    OrganizationList,
    RegistrationIn,
    RegistrationOut,
    RequestIn,
    RequestOut,
    RosterImportOut,
    RosterIn,
    WithdrawalOut,
    WithdrawalPreview,
)

router = AuditedRouter(prefix="/integration", tags=["integration"])
P = "/people/{person_id}"


@router.get("/care-providers", response_model=OrganizationList, responses={401: {}, 403: {}})
def care_providers(guard: IntegrationGuardDep) -> OrganizationList:
    """The care providers a person may choose at registration."""
    return registration.care_providers(guard)


@router.post(
    "/people", response_model=RegistrationOut, status_code=201, responses={401: {}, 403: {}, 409: {}}
)
def register(body: RegistrationIn, guard: IntegrationGuardDep) -> RegistrationOut:
    """Register a person from the patient app (ImagineCare AB's integration)."""
    return registration.register(guard, body)


@router.post(P + "/consents", response_model=ConsentGrantOut, status_code=201, responses={401: {}, 403: {}})
def grant_consent(person_id: str, body: ConsentGrant, guard: IntegrationGuardDep) -> ConsentGrantOut:
    """The person gives or changes a consent (replacing one to the same organization and purpose)."""
    return registration.grant_consent(guard, person_id, body)


@router.post(
    P + "/consents/{consent_id}/withdraw/preview",
    response_model=WithdrawalPreview,
    responses={401: {}, 403: {}, 404: {}, 409: {}},
)
def withdrawal_preview(person_id: str, consent_id: str, guard: IntegrationGuardDep) -> WithdrawalPreview:
    return registration.withdrawal_preview(guard, person_id, consent_id)


@router.post(
    P + "/consents/{consent_id}/withdraw",
    response_model=WithdrawalOut,
    responses={401: {}, 403: {}, 404: {}, 409: {}},
)
def withdraw(person_id: str, consent_id: str, body: ConfirmIn, guard: IntegrationGuardDep) -> WithdrawalOut:
    """Withdraw a consent; the last one to ImagineCare AB ends the account and deletes the data."""
    return registration.withdraw_consent(guard, person_id, consent_id, body.confirmation)


@router.post(P + "/account/close/preview", response_model=AccountClosurePreview, responses={401: {}, 403: {}})
def closure_preview(person_id: str, guard: IntegrationGuardDep) -> AccountClosurePreview:
    return registration.closure_preview(guard, person_id)


@router.post(P + "/account/close", response_model=WithdrawalOut, responses={401: {}, 403: {}, 409: {}})
def close_account(person_id: str, body: ConfirmIn, guard: IntegrationGuardDep) -> WithdrawalOut:
    """Close the ImagineCare account: every personal datum is deleted (confirmation of the preview)."""
    return registration.close_account(guard, person_id, body.confirmation)


@router.post(P + "/objections", response_model=ObjectionOut, responses={401: {}, 403: {}, 404: {}})
def objection(person_id: str, body: ObjectionIn, guard: IntegrationGuardDep) -> ObjectionOut:
    """The person objects to profiling or to mailings (or withdraws the objection) in the app."""
    return rights.object_(guard, person_id, body)


@router.post(P + "/requests", response_model=RequestOut, status_code=201, responses={401: {}, 403: {}})
def request(person_id: str, body: RequestIn, guard: IntegrationGuardDep) -> RequestOut:
    """The person asks IMR to anonymize their data (carried out by the next retention run)."""
    return rights.record_request(guard, person_id, body)


@router.post("/participants/import", response_model=RosterImportOut, responses={401: {}, 403: {}, 422: {}})
def import_participants(
    body: RosterIn, guard: IntegrationGuardDep, dry_run: Annotated[bool, Query()] = False
) -> RosterImportOut:
    """Onboard an employer's participants (IMR's integration): all rows or none."""
    return registration.import_roster(guard, employer_name=body.employer, text=body.csv, dry_run=dry_run)
