"""Typed async client for the clinic-server API. Views call this; they never build URLs.

Errors arrive as ``ApiError`` subclasses carrying the server's ``code`` and ``params``; the UI
words them itself (``clinic_tui.errors``). ``message`` is English for logs, never shown as UI text.
Failures that never reached the server have codes of their own (``ClientErrorCode``).
The access token is renewed transparently (once, however many requests find it stale) when it
expires or the server no longer accepts it; every rotation of the refresh token is reported
through ``on_refresh_token`` so the caller can keep it in the keyring.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import uuid
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ValidationError

from clinic_tui import CLIENT_NAME, __version__
from clinic_tui.api import schemas as wire
from clinic_tui.api.schemas import (
    ErrorBody,
    LoginRequest,
    PatientDetail,
    PatientPage,
    RefreshRequest,
    ServerInfo,
    TokenPair,
    UserInfo,
)

M = TypeVar("M", bound=BaseModel)


class ClientErrorCode(StrEnum):
    """Why a request failed before any server answered it (or with an answer that was not ours)."""

    #: nothing answered at the server's address
    UNREACHABLE = "unreachable"
    #: no answer in time
    TIMEOUT = "timeout"
    #: an answer that is not an error body of this API (params: ``status``)
    BAD_RESPONSE = "bad_response"
    #: the server's TLS certificate could not be verified (params: ``url``)
    UNTRUSTED_CERTIFICATE = "untrusted_certificate"


class ApiError(Exception):
    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        code: str = "error",
        retry_after: int | None = None,
        params: dict | None = None,
        problems: list[wire.ProblemOut] | None = None,
    ):
        super().__init__(message)
        #: English, for logs; the UI shows its own text for ``code`` (clinic_tui.errors)
        self.message = message
        self.status = status
        self.code = code
        self.params = dict(params or {})
        self.retry_after = retry_after
        #: the error body's params and problems (what a screen needs to say which field or consent)
        self.params = dict(params or {})
        self.problems = list(problems or [])


class Unreachable(ApiError):
    """The server did not answer (stopped, unreachable, or too slow)."""


class NotAuthenticated(ApiError):
    pass


class OtpRequired(NotAuthenticated):
    pass


class Forbidden(ApiError):
    pass


class LockedOut(ApiError):
    pass


class InsecureServerUrl(ValueError):
    pass


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_server_url(url: str) -> str:
    """Accept https anywhere and http only on loopback; return the URL without a trailing slash."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InsecureServerUrl(f"{url!r} is not a server URL (expected https://host[:port])")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise InsecureServerUrl(
            f"refusing plain http:// to {parts.hostname}: health data only travels over https:// "
            "(http is allowed for 127.0.0.1/localhost only)"
        )
    return url.rstrip("/")


def _certificate_problem(exc: BaseException) -> bool:
    """Did the connection fail because the server's certificate could not be verified?"""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(exc)


class ClinicClient:
    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        on_refresh_token: Callable[[str | None], None] | None = None,
        ca_file: str | None = None,
    ):
        self.base_url = check_server_url(base_url)
        # https is verified against the system's certificate authorities, or the bundle given
        # (a care provider's own CA); verification is never turned off
        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_file) if ca_file else True
        self._http = httpx.AsyncClient(
            base_url=self.base_url + "/api/v1",
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            transport=transport,
            verify=verify,
            headers={"X-Client-Name": CLIENT_NAME, "X-Client-Version": __version__},
        )
        self._access: str | None = None
        self._refresh: str | None = None
        self._renew_lock = asyncio.Lock()
        self.user: UserInfo | None = None
        self.on_refresh_token = on_refresh_token

    def move_to(self, base_url: str) -> None:
        """The same server (same database, same sessions) now answers at ``base_url``."""
        self.base_url = check_server_url(base_url)
        self._http.base_url = self.base_url + "/api/v1"

    @property
    def logged_in(self) -> bool:
        return self._access is not None

    def forget_session(self) -> None:
        """Drop the tokens locally (the server said the session is over)."""
        self._access = self._refresh = None
        self.user = None

    async def aclose(self) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------------ plumbing

    async def _send(
        self, method: str, path: str, *, auth: bool, headers: dict[str, str] | None = None, **kwargs
    ) -> httpx.Response:
        headers = {**(headers or {}), "X-Request-ID": uuid.uuid4().hex}
        if auth and self._access:
            headers["Authorization"] = f"Bearer {self._access}"
        try:
            return await self._http.request(method, path, headers=headers, **kwargs)
        except httpx.TimeoutException:
            raise Unreachable(
                "no answer in time", code=ClientErrorCode.TIMEOUT, params={"url": self.base_url}
            ) from None
        except httpx.ConnectError as exc:
            if _certificate_problem(exc):
                raise Unreachable(
                    f"the certificate of {self.base_url} is not trusted",
                    code=ClientErrorCode.UNTRUSTED_CERTIFICATE,
                    params={"url": self.base_url},
                ) from None
            raise Unreachable(
                f"cannot reach {self.base_url}",
                code=ClientErrorCode.UNREACHABLE,
                params={"url": self.base_url},
            ) from None
        except httpx.TransportError:
            raise Unreachable(
                f"cannot reach {self.base_url}",
                code=ClientErrorCode.UNREACHABLE,
                params={"url": self.base_url},
            ) from None

    @staticmethod
    def _raise_for(resp: httpx.Response) -> None:
        if resp.is_success:
            return
        params: dict = {}
        problems: list[wire.ProblemOut] = []
        try:
            err = ErrorBody.model_validate(resp.json())
            message, code, retry = err.message, err.code, err.retry_after
            params, problems = err.params, err.problems
        except (ValueError, ValidationError):
            message, code, retry = (
                f"HTTP {resp.status_code} without an error body",
                ClientErrorCode.BAD_RESPONSE,
                None,
            )
            params = {"status": resp.status_code}
        kind: type[ApiError] = ApiError
        if resp.status_code == 401:
            kind = OtpRequired if code == "otp_required" else NotAuthenticated
        elif resp.status_code == 403:
            kind = Forbidden
        elif resp.status_code == 429:
            kind = LockedOut
        raise kind(
            message, status=resp.status_code, code=code, retry_after=retry, params=params, problems=problems
        )

    async def _call(
        self, method: str, path: str, model: type[M] | None, *, auth: bool = True, **kw
    ) -> M | None:
        sent_with = self._access
        resp = await self._send(method, path, auth=auth, **kw)
        if auth and resp.status_code == 401 and self._refresh:
            try:
                code = resp.json().get("code")
            except ValueError:
                code = None
            # expired, or signed by a key the server no longer has (it restarted): renew and retry
            if code in ("token_expired", "invalid_token") and await self._renew(sent_with):
                resp = await self._send(method, path, auth=auth, **kw)
        self._raise_for(resp)
        if model is None:
            return None
        return model.model_validate(resp.json())

    async def _renew(self, stale: str | None) -> bool:
        """One refresh for every request that found ``stale`` refused.

        Requests run side by side (the patient screen asks for three things at once); each would
        otherwise spend the same refresh token, and the second use of a spent token revokes the
        whole session. The first refreshes; the others find a new access token and just retry.
        """
        async with self._renew_lock:
            if self._access is not None and self._access != stale:
                return True
            if not self._refresh:
                return False
            await self.resume(self._refresh)
            return True

    def _accept(self, pair: TokenPair) -> TokenPair:
        self._access = pair.access_token
        self._refresh = pair.refresh_token
        self.user = pair.user
        if self.on_refresh_token:
            self.on_refresh_token(pair.refresh_token)
        return pair

    # ------------------------------------------------------------------ endpoints

    async def info(self) -> ServerInfo:
        return await self._call("GET", "/info", ServerInfo, auth=False)

    async def login(self, username: str, password: str, otp: str | None = None) -> TokenPair:
        body = LoginRequest(username=username, password=password, otp=otp or None)
        pair = await self._call("POST", "/auth/login", TokenPair, auth=False, json=body.model_dump())
        return self._accept(pair)

    async def resume(self, refresh_token: str) -> TokenPair:
        """Trade a refresh token for a new token pair (the old one is spent)."""
        try:
            pair = await self._call(
                "POST",
                "/auth/refresh",
                TokenPair,
                auth=False,
                json=RefreshRequest(refresh_token=refresh_token).model_dump(),
            )
        except NotAuthenticated:
            self._access = self._refresh = None
            if self.on_refresh_token:
                self.on_refresh_token(None)
            raise
        return self._accept(pair)

    async def logout(self) -> None:
        refresh, self._refresh = self._refresh, None
        try:
            if refresh and self._access:
                await self._call(
                    "POST", "/auth/logout", None, json=RefreshRequest(refresh_token=refresh).model_dump()
                )
        finally:
            self._access = None
            self.user = None
            if self.on_refresh_token:
                self.on_refresh_token(None)

    async def me(self) -> UserInfo:
        return await self._call("GET", "/auth/me", UserInfo)

    async def patients(
        self, q: str | None = None, cursor: str | None = None, limit: int = 200
    ) -> PatientPage:
        params = {"limit": limit}
        if q:
            params["q"] = q
        if cursor:
            params["cursor"] = cursor
        return await self._call("GET", "/patients", PatientPage, params=params)

    async def patient(self, person_id: str) -> PatientDetail:
        return await self._call("GET", f"/patients/{person_id}", PatientDetail)

    # --- measurements and alerts ---

    async def alerts(
        self,
        state: str = "open",
        *,
        severity: str | None = None,
        q: str | None = None,
        after: str | None = None,
        limit: int = 50,
        resolved_since: datetime | None = None,
    ) -> wire.AlertPage:
        """The alert queue (state "open", "active", "snoozed", "escalated", "resolved" or "all"),
        most severe then oldest first.

        Pass ``page.next_cursor`` as ``after`` for the next page; ``severity`` is e.g. "high" or
        "high,medium"; ``q`` matches shared names, pseudonyms, rule ids and messages;
        ``resolved_since`` (with "resolved", an aware time) keeps those resolved at or after it.
        """
        params: dict = {"state": state, "limit": limit}
        if resolved_since is not None:
            params["resolved_since"] = resolved_since.isoformat()
        if severity:
            params["severity"] = severity
        if q:
            params["q"] = q
        if after:
            params["after"] = after
        return await self._call("GET", "/alerts", wire.AlertPage, params=params)

    async def alert_changes(self, since: datetime) -> wire.AlertChanges:
        """Alerts changed since ``since`` (use the previous answer's ``next_since``); update by id."""
        return await self._call(
            "GET", "/alerts/changes", wire.AlertChanges, params={"since": since.isoformat()}
        )

    async def transition_alert(
        self,
        alert_id: int,
        action: str,
        expected_version: int,
        *,
        note: str | None = None,
        snooze_until: datetime | None = None,
        recipient: str | None = None,
    ) -> wire.AlertItem:
        """acknowledge / resolve / escalate (note and recipient required) / snooze (snooze_until) /
        unsnooze / reopen.

        Raises ``AlertConflict`` when someone else changed the alert first (its params say who and
        when), ``ApiError`` with code "invalid_transition" (409), "note_required" or
        "recipient_required" (422).
        """
        body = wire.AlertTransition(
            action=action,
            expected_version=expected_version,
            note=note,
            snooze_until=snooze_until,
            recipient=recipient,
        )
        try:
            return await self._call(
                "POST", f"/alerts/{alert_id}/transition", wire.AlertItem, json=body.model_dump(mode="json")
            )
        except ApiError as exc:
            if exc.status == 409 and exc.code == "conflict":
                raise AlertConflict(exc.message, status=409, code="conflict", params=exc.params) from None
            raise

    async def patient_alerts(self, person_id: str, limit: int = 200) -> wire.PatientAlerts:
        """One patient's alerts in every state, newest first, with their events and notes."""
        return await self._call(
            "GET", f"/patients/{person_id}/alerts", wire.PatientAlerts, params={"limit": limit}
        )

    async def observation_series(
        self, person_id: str, loinc: str, range_: str = "30d", points: int = 120
    ) -> wire.ObservationSeries:
        """A trend for a chart ``points`` wide (range "7d", "30d", "90d" or "1y"), with thresholds."""
        params = {"loinc": loinc, "range": range_, "points": points}
        return await self._call(
            "GET", f"/patients/{person_id}/observations", wire.ObservationSeries, params=params
        )

    async def thresholds(self, person_id: str) -> wire.ThresholdSettings:
        return await self._call("GET", f"/patients/{person_id}/thresholds", wire.ThresholdSettings)

    async def set_thresholds(self, person_id: str, values: dict[str, float | None]) -> wire.ThresholdSettings:
        """Override thresholds ({key: number}); None restores a key's default."""
        return await self._call(
            "PUT", f"/patients/{person_id}/thresholds", wire.ThresholdSettings, json=values
        )

    # --- consent, break-the-glass, audit ---

    async def consents(self, person_id: str) -> wire.ConsentList:
        """The person's consents to the caller's organization (nurses)."""
        return await self._call("GET", f"/patients/{person_id}/consents", wire.ConsentList)

    async def withdraw_consent(self, person_id: str, consent_id: str) -> wire.ConsentOut:
        """Record that the person withdrew this consent; it stops access from the next request on."""
        return await self._call(
            "POST", f"/patients/{person_id}/consents/{consent_id}/withdraw", wire.ConsentOut
        )

    async def set_restriction(self, person_id: str, restricted: bool) -> wire.RestrictionOut:
        """Supervisors: restrict (GDPR art. 18) or lift the restriction of the person's processing."""
        body = wire.RestrictionRequest(restricted=restricted)
        return await self._call(
            "POST", f"/patients/{person_id}/restriction", wire.RestrictionOut, json=body.model_dump()
        )

    async def break_glass(self, person_id: str, reason: str) -> wire.BreakGlassGrantOut:
        """Nurses: open a record without consent in an emergency (time-boxed, reviewed, notified).

        Raises ``Forbidden`` when refused (restricted, under 18, not a nurse) and ``ApiError`` with
        status 409 when the nurse already has access by consent.
        """
        body = wire.BreakGlassRequest(reason=reason)
        return await self._call(
            "POST", f"/patients/{person_id}/break-glass", wire.BreakGlassGrantOut, json=body.model_dump()
        )

    async def break_glass_by_personnummer(self, personnummer: str, reason: str) -> wire.BreakGlassGrantOut:
        """Nurses: break the glass for someone not in their list, found by personnummer.

        ``ApiError`` 404 when no record has that number; 409 when consent already gives access.
        """
        body = wire.BreakGlassLookup(personnummer=personnummer, reason=reason)
        return await self._call("POST", "/break-glass", wire.BreakGlassGrantOut, json=body.model_dump())

    async def audit_events(
        self,
        *,
        before_seq: int | None = None,
        limit: int = 100,
        username: str | None = None,
        person_id: str | None = None,
        outcome: str | None = None,
        action: str | None = None,
    ) -> wire.AuditPage:
        """Supervisors: the audit log, newest first; pass ``page.next_before_seq`` for older records."""
        params: dict = {"limit": limit}
        for key, value in (
            ("before_seq", before_seq),
            ("username", username),
            ("person_id", person_id),
            ("outcome", outcome),
            ("action", action),
        ):
            if value is not None and value != "":
                params[key] = value
        return await self._call("GET", "/audit/events", wire.AuditPage, params=params)

    async def audit_verify(self) -> wire.AuditVerifyOut:
        """Supervisors: check the audit hash chain; names the first broken record."""
        return await self._call("GET", "/audit/verify", wire.AuditVerifyOut)

    async def break_glass_reviews(self) -> wire.BreakGlassReviewList:
        """Supervisors: break-the-glass grants by their organization's nurses awaiting review."""
        return await self._call("GET", "/audit/reviews", wire.BreakGlassReviewList)

    async def review_break_glass(self, grant_id: str, note: str) -> wire.BreakGlassReview:
        """Supervisors: mark a grant reviewed (note required); 409 if someone already did."""
        body = wire.ReviewRequest(note=note)
        return await self._call(
            "POST", f"/audit/reviews/{grant_id}", wire.BreakGlassReview, json=body.model_dump()
        )


class AlertConflict(ApiError):
    """Someone else changed the alert first; the params say who, when, and its state now."""
