"""Typed async client for the clinic-server API. Views call this; they never build URLs.

Errors arrive as ``ApiError`` subclasses with a message fit to show a user as it is.
The access token is refreshed transparently once when it expires; every rotation of the
refresh token is reported through ``on_refresh_token`` so the caller can keep it in the keyring.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ValidationError

from clinic_tui import CLIENT_NAME, __version__
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


class ApiError(Exception):
    def __init__(self, message: str, *, status: int = 0, code: str = "error", retry_after: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.retry_after = retry_after


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


class ClinicClient:
    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        on_refresh_token: Callable[[str | None], None] | None = None,
    ):
        self.base_url = check_server_url(base_url)
        self._http = httpx.AsyncClient(
            base_url=self.base_url + "/api/v1",
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            transport=transport,
            headers={"X-Client-Name": CLIENT_NAME, "X-Client-Version": __version__},
        )
        self._access: str | None = None
        self._refresh: str | None = None
        self.user: UserInfo | None = None
        self.on_refresh_token = on_refresh_token

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

    async def _send(self, method: str, path: str, *, auth: bool, **kwargs) -> httpx.Response:
        headers = {"X-Request-ID": uuid.uuid4().hex}
        if auth and self._access:
            headers["Authorization"] = f"Bearer {self._access}"
        try:
            return await self._http.request(method, path, headers=headers, **kwargs)
        except httpx.TimeoutException:
            raise Unreachable("The server did not answer in time. Nothing was lost; try again.") from None
        except httpx.TransportError:
            raise Unreachable(f"Cannot reach the server at {self.base_url}.") from None

    @staticmethod
    def _raise_for(resp: httpx.Response) -> None:
        if resp.is_success:
            return
        try:
            err = ErrorBody.model_validate(resp.json())
            message, code, retry = err.message, err.code, err.retry_after
        except (ValueError, ValidationError):
            message, code, retry = f"The server answered {resp.status_code}.", "http_error", None
        kind: type[ApiError] = ApiError
        if resp.status_code == 401:
            kind = OtpRequired if code == "otp_required" else NotAuthenticated
        elif resp.status_code == 403:
            kind = Forbidden
        elif resp.status_code == 429:
            kind = LockedOut
        raise kind(message, status=resp.status_code, code=code, retry_after=retry)

    async def _call(
        self, method: str, path: str, model: type[M] | None, *, auth: bool = True, **kw
    ) -> M | None:
        resp = await self._send(method, path, auth=auth, **kw)
        if auth and resp.status_code == 401 and self._refresh:
            try:
                code = resp.json().get("code")
            except ValueError:
                code = None
            if code == "token_expired":
                await self.resume(self._refresh)
                resp = await self._send(method, path, auth=auth, **kw)
        self._raise_for(resp)
        if model is None:
            return None
        return model.model_validate(resp.json())

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
