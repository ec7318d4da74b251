"""Typed client calls of the privacy officer's screen (the people's rights).

``RightsClient(client)`` wraps a logged-in ``ClinicClient`` and uses its ``_call`` (token renewal,
error mapping), so the officer's screen calls these in workers and never builds a URL. A person is
found by personnummer (``lookup``, sent in a body, never in a URL); everything after names them by
the id it returns. Errors arrive as the client's ``ApiError`` with the server's code (for example
``confirmation_stale``, ``legal_hold``, ``invalid_correction``).
"""

from __future__ import annotations

from datetime import date
from typing import Literal
from urllib.parse import quote

from clinic_tui.api.client import ClinicClient
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
from clinic_tui.domain.categories import Category
from clinic_tui.domain.rights import ConsentPurpose, ErasureMode, ObjectionKind, RequestKind


def _s(person_id: str) -> str:
    return f"/subjects/{quote(person_id, safe='')}"


class RightsClient:
    def __init__(self, client: ClinicClient):
        self._client = client

    async def _post(self, path: str, model, body=None, **params):
        kw: dict = {"json": body.model_dump(mode="json", exclude_none=True) if body is not None else {}}
        if params:
            kw["params"] = {k: str(v) for k, v in params.items() if v is not None}
        return await self._client._call("POST", path, model, **kw)

    # --------------------------------------------------------------- finding, extract, export

    async def lookup(self, personnummer: str) -> SubjectRef:
        """The person a personnummer names: their id and standing (never their data)."""
        return await self._post("/subjects/lookup", SubjectRef, SubjectLookup(personnummer=personnummer))

    async def extract(self, person_id: str) -> RegisterExtract:
        return await self._client._call("GET", f"{_s(person_id)}/extract", RegisterExtract)

    async def extract_document(self, person_id: str, language: Literal["sv", "en"] = "sv") -> ExtractDocument:
        return await self._client._call(
            "GET", f"{_s(person_id)}/extract/document", ExtractDocument, params={"language": language}
        )

    async def export(self, person_id: str) -> SubjectExport:
        """Everything held about the person as a validated FHIR R4 Bundle (``.bundle``)."""
        return await self._post(f"{_s(person_id)}/export", SubjectExport)

    # --------------------------------------------------------------- rectification, restriction, objection

    async def rectify(self, person_id: str, changes: dict[str, str | None], reason: str) -> RectificationOut:
        body = RectificationIn(changes=changes, reason=reason)  # type: ignore[arg-type]
        return await self._client._call(
            "POST", f"{_s(person_id)}/rectification", RectificationOut, json=body.model_dump(mode="json")
        )

    async def restrict(self, person_id: str, restricted: bool) -> RestrictionOut:
        return await self._post(
            f"{_s(person_id)}/restriction", RestrictionOut, RestrictionRequest(restricted=restricted)
        )

    async def object(self, person_id: str, kind: ObjectionKind, objected: bool = True) -> ObjectionOut:
        return await self._post(
            f"{_s(person_id)}/objections", ObjectionOut, ObjectionIn(kind=kind, objected=objected)
        )

    async def record_request(
        self, person_id: str, kind: RequestKind, received_on: date | None = None
    ) -> RequestOut:
        return await self._post(
            f"{_s(person_id)}/requests", RequestOut, RequestIn(kind=kind, received_on=received_on)
        )

    async def set_legal_hold(
        self, person_id: str, reason: str, held_until: date | None = None
    ) -> LegalHoldOut:
        body = LegalHoldIn(reason=reason, held_until=held_until)
        return await self._post(f"{_s(person_id)}/legal-holds", LegalHoldOut, body)

    async def release_legal_hold(self, person_id: str, hold_id: int) -> LegalHoldOut:
        return await self._post(f"{_s(person_id)}/legal-holds/{int(hold_id)}/release", LegalHoldOut)

    # --------------------------------------------------------------- consents on the person's behalf

    async def grant_consent(
        self, person_id: str, organization_id: str, purpose: ConsentPurpose, categories: list[Category]
    ) -> ConsentGrantOut:
        body = ConsentGrant(organization_id=organization_id, purpose=purpose, categories=categories)
        return await self._post(f"{_s(person_id)}/consents", ConsentGrantOut, body)

    async def withdrawal_preview(self, person_id: str, consent_id: str) -> WithdrawalPreview:
        path = f"{_s(person_id)}/consents/{quote(consent_id, safe='')}/withdraw/preview"
        return await self._post(path, WithdrawalPreview)

    async def withdraw_consent(
        self, person_id: str, consent_id: str, confirmation: str | None = None
    ) -> WithdrawalOut:
        """Withdraw; when the preview said it ends the account, pass its ``confirmation``."""
        path = f"{_s(person_id)}/consents/{quote(consent_id, safe='')}/withdraw"
        return await self._post(path, WithdrawalOut, ConfirmIn(confirmation=confirmation))

    async def closure_preview(self, person_id: str) -> AccountClosurePreview:
        return await self._post(f"{_s(person_id)}/account/close/preview", AccountClosurePreview)

    async def close_account(self, person_id: str, confirmation: str) -> WithdrawalOut:
        return await self._post(
            f"{_s(person_id)}/account/close", WithdrawalOut, ConfirmIn(confirmation=confirmation)
        )

    # --------------------------------------------------------------- erasure, retention

    async def erasure_preview(self, person_id: str, mode: ErasureMode = ErasureMode.DELETE) -> ErasurePreview:
        return await self._post(f"{_s(person_id)}/erasure/preview", ErasurePreview, mode=mode.value)

    async def erase(self, person_id: str, mode: ErasureMode, confirmation: str) -> ErasureOut:
        """Erase exactly what the preview with this ``confirmation`` showed (else ``confirmation_stale``)."""
        return await self._post(
            f"{_s(person_id)}/erasure", ErasureOut, ErasureIn(mode=mode, confirmation=confirmation)
        )

    async def retention_preview(self, as_of: date | None = None) -> RetentionPreview:
        params = {"as_of": as_of.isoformat()} if as_of else {}
        return await self._client._call("GET", "/retention/preview", RetentionPreview, params=params)
