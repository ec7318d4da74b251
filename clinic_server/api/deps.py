"""Per-request plumbing: the database session, request facts, the caller, and the request's scope.

Every audited route takes exactly one of four scope-carrying dependencies:

- ``GuardDep``: an authenticated user; the ``Guard`` (``access/guard.py``) decides, and its audit
  scope records the request;
- ``IntegrationGuardDep``: an organization's system with its integration key (``X-Client-Key``): a
  ``Guard`` whose actor is the organization's integration (no user); a wrong key is refused and
  recorded;
- ``DeviceScopeDep``: a device posting measurements (it authenticates with its own key);
- ``AuthScopeDep``: logging in, refreshing or ending a session (who it is becomes known on the way).

The scope is kept on ``request.state.scope`` so that a request that fails anywhere, even before
its route runs (an invalid body), still closes it with one record (``api/app.py``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Annotated

import jwt
from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from clinic_server.access.guard import Guard
from clinic_server.access.policy import INTEGRATION_ROLE, Actor, purpose_for
from clinic_server.audit.chain import RequestInfo, Who
from clinic_server.audit.scope import AuditScope, who_of
from clinic_server.db import utcnow
from clinic_server.db.models import Organization, User
from clinic_server.errors import ApiError
from clinic_server.services.integrations import client_for_key
from clinic_server.services.security import decode_access_token
from clinic_server.settings import Settings
from clinic_tui.api.schemas import ErrorCode
from clinic_tui.domain.roles import Purpose


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    session = request.app.state.sessionmaker()
    try:
        yield session
    finally:
        session.close()


def request_info(request: Request) -> RequestInfo:
    rid = request.headers.get("x-request-id") or uuid.uuid4().hex
    request.state.request_id = rid[:64]
    return RequestInfo(
        request_id=rid[:64],
        client_name=(request.headers.get("x-client-name") or request.headers.get("user-agent") or "")[:80]
        or None,
        client_version=(request.headers.get("x-client-version") or "")[:40] or None,
    )


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(settings_of)]
RequestInfoDep = Annotated[RequestInfo, Depends(request_info)]

NOBODY = Who(None, None, None, None)


def actor_of(user: User) -> Actor:
    return Actor(user.id, user.username, user.role, user.organization_id, user.organization.kind)


def authenticate(request: Request, session: Session, settings: Settings) -> User:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, ErrorCode.NOT_AUTHENTICATED, "Log in first: no access token was sent.")
    try:
        claims = decode_access_token(token, settings.secret_key)
    except jwt.ExpiredSignatureError:
        raise ApiError(401, ErrorCode.TOKEN_EXPIRED, "The session token expired; refresh it.") from None
    except jwt.InvalidTokenError:
        raise ApiError(401, ErrorCode.INVALID_TOKEN, "The access token is not valid.") from None
    user = session.get(User, claims["sub"])
    if user is None or not user.is_active:
        raise ApiError(401, ErrorCode.INVALID_TOKEN, "The account behind this token is no longer active.")
    return user


def _open(request: Request, scope: AuditScope) -> AuditScope:
    request.state.scope = scope
    return scope


def get_guard(request: Request, session: SessionDep, settings: SettingsDep, info: RequestInfoDep) -> Guard:
    user = authenticate(request, session, settings)
    actor = actor_of(user)
    scope = _open(request, AuditScope(session, who_of(user), info, purpose=purpose_for(actor)))
    # Hand the connection back to the pool before the endpoint runs (objects stay loaded). This
    # dependency and the endpoint run in different worker threads: a connection held across that
    # gap deadlocks a busy server once every worker thread waits on the pool for one.
    session.commit()
    return Guard(session, scope, user, actor, settings, utcnow())


def device_scope(request: Request, session: SessionDep, info: RequestInfoDep) -> AuditScope:
    return _open(
        request,
        AuditScope(session, NOBODY, info, action="ingest", resource_type="observation", purpose=Purpose.CARE),
    )


def auth_scope(request: Request, session: SessionDep, info: RequestInfoDep) -> AuditScope:
    return _open(
        request,
        AuditScope(session, NOBODY, info, resource_type="session", purpose=Purpose.AUTHENTICATION),
    )


def get_integration_guard(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    info: RequestInfoDep,
    x_client_key: Annotated[str | None, Header()] = None,
) -> Guard:
    # the scope opens before the key is checked: a wrong key leaves a record too
    scope = _open(request, AuditScope(session, NOBODY, info, resource_type="integration"))
    client = client_for_key(session, x_client_key)
    organization = session.get(Organization, client.organization_id) if client is not None else None
    if client is None or organization is None:
        raise ApiError(
            401, ErrorCode.INVALID_CLIENT_KEY, "Send a valid integration key in the X-Client-Key header."
        )
    actor = Actor(client.id, client.label, INTEGRATION_ROLE, organization.id, organization.kind)
    scope.who = Who(None, client.label, INTEGRATION_ROLE, organization.id)
    scope.note(integration_client=client.id)
    session.commit()  # as get_guard: no connection held across the threadpool gap
    return Guard(session, scope, None, actor, settings, utcnow())


GuardDep = Annotated[Guard, Depends(get_guard)]
IntegrationGuardDep = Annotated[Guard, Depends(get_integration_guard)]
DeviceScopeDep = Annotated[AuditScope, Depends(device_scope)]
AuthScopeDep = Annotated[AuditScope, Depends(auth_scope)]
