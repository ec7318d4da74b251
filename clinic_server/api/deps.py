"""Per-request plumbing: the session, the caller, the audit bookkeeping, API errors."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

import jwt
from fastapi import Depends, Request
from sqlalchemy.orm import Session

from clinic_server import audit
from clinic_server.access.policy import Actor, purpose_for
from clinic_server.db import utcnow
from clinic_server.db.models import User
from clinic_server.services.security import decode_access_token
from clinic_server.settings import Settings


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    session = request.app.state.sessionmaker()
    try:
        yield session
    finally:
        session.close()


def request_info(request: Request) -> audit.RequestInfo:
    rid = request.headers.get("x-request-id") or uuid.uuid4().hex
    request.state.request_id = rid[:64]
    return audit.RequestInfo(
        request_id=rid[:64],
        client_name=(request.headers.get("x-client-name") or request.headers.get("user-agent") or "")[:80]
        or None,
        client_version=(request.headers.get("x-client-version") or "")[:40] or None,
    )


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(settings_of)]
RequestInfoDep = Annotated[audit.RequestInfo, Depends(request_info)]


def who_of(user: User | None, username: str | None = None) -> audit.Who:
    if user is None:
        return audit.Who(None, username, None, None)
    return audit.Who(user.id, user.username, user.role, user.organization_id)


def actor_of(user: User) -> Actor:
    return Actor(user.id, user.username, user.role, user.organization_id, user.organization.kind)


@dataclass
class Ctx:
    """Everything a personal-data endpoint needs; it records exactly one audit row per request."""

    request: Request
    session: Session
    user: User
    actor: Actor
    info: audit.RequestInfo
    settings: Settings
    now: datetime = field(default_factory=utcnow)
    recorded: bool = False
    #: what the generic error handler writes if the endpoint fails before recording
    pending: dict = field(default_factory=dict)

    def record(self, **kwargs) -> None:
        """Append the request's audit record and commit, in the same transaction as any writes."""
        audit.append(self.session, who=who_of(self.user), request=self.info, **kwargs)
        self.session.commit()
        self.recorded = True

    def expect(self, **kwargs) -> None:
        """Say what the request is about, for the error record if it fails."""
        self.pending = kwargs

    def deny(self, *, status: int = 403, code: str = "not_permitted", message: str, **kwargs) -> ApiError:
        self.session.rollback()
        self.record(outcome="denied", **kwargs)
        return ApiError(status, code, message)


def _what_failed(request: Request) -> dict:
    """What an endpoint that never ran (e.g. its body was invalid) was about, from its route."""
    route = request.scope.get("route")
    params = request.path_params or {}
    first = next(iter(params.values()), None)
    return {
        "action": getattr(route, "name", None) or "request",
        "resource_type": "request",
        "resource_id": str(first)[:64] if first is not None else None,
    }


def record_unrecorded(request: Request, outcome: str, reason: str) -> None:
    """Leave the one audit record a failed request still owes (its own writes are rolled back).

    Endpoints record through ``Ctx.record``/``Ctx.deny``; this catches the rest: a body that did
    not validate, an ``ApiError`` raised without ``deny``, an unexpected exception.
    """
    ctx: Ctx | None = getattr(request.state, "ctx", None)
    if ctx is None or ctx.recorded:
        return
    pending = dict(ctx.pending) or _what_failed(request)
    if not pending.get("purpose"):
        pending["purpose"] = purpose_for(ctx.actor)
    session = ctx.session
    try:
        session.rollback()
        ctx.record(outcome=outcome, reason=reason[:500], **pending)
    finally:
        session.close()


def authenticate(request: Request, session: Session, settings: Settings) -> User:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "not_authenticated", "Log in first: no access token was sent.")
    try:
        claims = decode_access_token(token, settings.secret_key)
    except jwt.ExpiredSignatureError:
        raise ApiError(401, "token_expired", "Your session token expired; refresh it.") from None
    except jwt.InvalidTokenError:
        raise ApiError(401, "invalid_token", "The access token is not valid.") from None
    user = session.get(User, claims["sub"])
    if user is None or not user.is_active:
        raise ApiError(401, "invalid_token", "The account behind this token is no longer active.")
    return user


def get_ctx(request: Request, session: SessionDep, settings: SettingsDep, info: RequestInfoDep) -> Ctx:
    user = authenticate(request, session, settings)
    actor = actor_of(user)
    # Hand the connection back to the pool before the endpoint runs (objects stay loaded). This
    # dependency and the endpoint run in different worker threads: a connection held across that
    # gap deadlocks a busy server once every worker thread waits on the pool for one.
    session.commit()
    ctx = Ctx(request, session, user, actor, info, settings)
    request.state.ctx = ctx
    return ctx


CtxDep = Annotated[Ctx, Depends(get_ctx)]
