"""The privacy officer's API: the people's requests (``services/rights.py``, ``services/registration.py``).

A person is found by personnummer in a request body (``POST /subjects/lookup``), never in a URL;
every later call names them by id. Every call is audited with the purpose data_subject_request.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import Query

from clinic_server.api.deps import GuardDep
from clinic_server.api.routing import AuditedRouter
from clinic_server.services import registration, rights
from clinic_tui.api.schemas import RestrictionOut, RestrictionRequest
from clinic_tui.api.schemas.rights import (
    AccountClosurePreview,
    ConfirmIn,
    ConsentGrant,
    ConsentGrantOut,
    ErasureIn,
    ErasureOut,
    ErasurePreview,
    ExtractDocument,
    LegalHoldIn,
    LegalHoldOut,
    ObjectionIn,
    ObjectionOut,
    RectificationIn,
    RectificationOut,
    RegisterExtract,
    RequestIn,
    RequestOut,
    RetentionPreview,
    SubjectExport,
    SubjectLookup,
    SubjectRef,
    WithdrawalOut,
    WithdrawalPreview,
)
from clinic_tui.domain.rights import ErasureMode

router = AuditedRouter(tags=["data subject requests"])
S = "/subjects/{person_id}"


@router.post("/subjects/lookup", response_model=SubjectRef, responses={403: {}, 404: {}, 422: {}})
def lookup(body: SubjectLookup, guard: GuardDep) -> SubjectRef:
    """Find the person a personnummer names: the id to act on, never their data."""
    return rights.lookup(guard, body.personnummer)


@router.get(S + "/extract", response_model=RegisterExtract, responses={403: {}})
def extract(person_id: str, guard: GuardDep) -> RegisterExtract:
    """The register extract (GDPR art. 15): categories, counts, dates, purposes, bases, recipients,
    accesses, retention. No values."""
    return rights.register_extract(guard, person_id)


@router.get(S + "/extract/document", response_model=ExtractDocument, responses={403: {}})
def extract_document(
    person_id: str, guard: GuardDep, language: Annotated[Literal["sv", "en"], Query()] = "sv"
) -> ExtractDocument:
    """The register extract as a Markdown document for the person."""
    return rights.document(guard, person_id, language)


@router.post(S + "/export", response_model=SubjectExport, responses={403: {}})
def export(person_id: str, guard: GuardDep) -> SubjectExport:
    """Everything held about the person as a FHIR R4 Bundle (GDPR art. 20), validated."""
    return rights.export(guard, person_id)


@router.post(S + "/rectification", response_model=RectificationOut, responses={403: {}, 409: {}, 422: {}})
def rectify(person_id: str, body: RectificationIn, guard: GuardDep) -> RectificationOut:
    """Correct identity or contact fields; the old values stay in the history."""
    return rights.rectify(guard, person_id, body)


@router.post(S + "/restriction", response_model=RestrictionOut, responses={403: {}})
def restrict(person_id: str, body: RestrictionRequest, guard: GuardDep) -> RestrictionOut:
    """Restrict (GDPR art. 18) or lift the restriction, at the person's request."""
    return rights.restrict(guard, person_id, body.restricted)


@router.post(S + "/objections", response_model=ObjectionOut, responses={403: {}, 404: {}})
def objection(person_id: str, body: ObjectionIn, guard: GuardDep) -> ObjectionOut:
    """Record an objection to profiling or to mailings, or its withdrawal."""
    return rights.object_(guard, person_id, body)


@router.post(S + "/requests", response_model=RequestOut, status_code=201, responses={403: {}, 422: {}})
def request(person_id: str, body: RequestIn, guard: GuardDep) -> RequestOut:
    """Record a request the person made (an IMR anonymization request starts its retention rule)."""
    return rights.record_request(guard, person_id, body)


@router.post(S + "/legal-holds", response_model=LegalHoldOut, status_code=201, responses={403: {}, 422: {}})
def legal_hold(person_id: str, body: LegalHoldIn, guard: GuardDep) -> LegalHoldOut:
    """Keep the person's data for a legal claim until it lapses (retention and erasure wait)."""
    return rights.set_legal_hold(guard, person_id, body)


@router.post(S + "/legal-holds/{hold_id}/release", response_model=LegalHoldOut, responses={403: {}, 404: {}})
def release_legal_hold(person_id: str, hold_id: int, guard: GuardDep) -> LegalHoldOut:
    return rights.release_legal_hold(guard, person_id, hold_id)


@router.post(S + "/consents", response_model=ConsentGrantOut, status_code=201, responses={403: {}, 422: {}})
def grant_consent(person_id: str, body: ConsentGrant, guard: GuardDep) -> ConsentGrantOut:
    """Record a consent the person gave (or changed) through the officer."""
    return registration.grant_consent(guard, person_id, body)


@router.post(
    S + "/consents/{consent_id}/withdraw/preview",
    response_model=WithdrawalPreview,
    responses={403: {}, 404: {}, 409: {}},
)
def withdrawal_preview(person_id: str, consent_id: str, guard: GuardDep) -> WithdrawalPreview:
    """What withdrawing the consent does (the last consent to ImagineCare AB ends the account)."""
    return registration.withdrawal_preview(guard, person_id, consent_id)


@router.post(
    S + "/consents/{consent_id}/withdraw", response_model=WithdrawalOut, responses={403: {}, 404: {}, 409: {}}
)
def withdraw(person_id: str, consent_id: str, body: ConfirmIn, guard: GuardDep) -> WithdrawalOut:
    return registration.withdraw_consent(guard, person_id, consent_id, body.confirmation)


@router.post(S + "/account/close/preview", response_model=AccountClosurePreview, responses={403: {}, 404: {}})
def closure_preview(person_id: str, guard: GuardDep) -> AccountClosurePreview:
    return registration.closure_preview(guard, person_id)


@router.post(S + "/account/close", response_model=WithdrawalOut, responses={403: {}, 404: {}, 409: {}})
def close_account(person_id: str, body: ConfirmIn, guard: GuardDep) -> WithdrawalOut:
    """Close the ImagineCare account: the person's data is deleted (confirmation of the preview)."""
    return registration.close_account(guard, person_id, body.confirmation)


@router.post(S + "/erasure/preview", response_model=ErasurePreview, responses={403: {}})
def erasure_preview(
    person_id: str, guard: GuardDep, mode: Annotated[ErasureMode, Query()] = ErasureMode.DELETE
) -> ErasurePreview:
    """What an erasure (or IMR anonymization) would remove, keep and retain; its confirmation."""
    return rights.erasure_preview(guard, person_id, mode)


@router.post(S + "/erasure", response_model=ErasureOut, responses={403: {}, 409: {}})
def erase(person_id: str, body: ErasureIn, guard: GuardDep) -> ErasureOut:
    """Erase the person as the confirmed preview showed (GDPR art. 17)."""
    return rights.erase(guard, person_id, body)


@router.get("/retention/preview", response_model=RetentionPreview, responses={403: {}})
def retention_preview(guard: GuardDep, as_of: Annotated[date | None, Query()] = None) -> RetentionPreview:
    """Who a retention run on ``as_of`` (default today) would remove, and by which rule."""
    return rights.retention_preview(guard, as_of)
