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

What a client says about itself (``X-Request-Id``, ``X-Client-Name``, ``X-Client-Version``,
``User-Agent``) is checked against a strict shape and length and recorded as asserted: every
record's ``request_id`` is the server's own (so a reused or forged id cannot merge two requests in
the log), ``details.client_asserted.request_id`` keeps the id the client sent, the
``client_name``/``client_version`` columns hold the client's claim (never verified), and
``details.client_rejected`` names the headers that were malformed and dropped.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Annotated

import jwt
from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from clinic_server.access.guard import Guard
from clinic_server.access.policy import INTEGRATION_ROLE, Actor, purpose_for
from clinic_server.audit import tally
from clinic_server.audit.chain import RequestInfo, Who
from clinic_server.audit.scope import AuditScope, who_of
from clinic_server.db import utcnow
from clinic_server.db.models import Organization, User
from clinic_server.errors import ApiError
from clinic_server.services.integrations import client_for_key
from clinic_server.services.security import decode_access_token, session_is_open
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


#: what a client may assert about itself; anything else is dropped (and named in client_rejected)
CLIENT_HEADERS = {
    "x-request-id": ("request_id", re.compile(r"[A-Za-z0-9._:-]{1,64}")),
    "x-client-name": ("client_name", re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._/()+-]{0,79}")),
    "x-client-version": (
        "client_version",
        re.compile(r"[0-9]{1,6}(\.[0-9]{1,6}){0,3}([-+.][A-Za-z0-9.]{1,20})?"),
    ),
    "user-agent": ("user_agent", re.compile(r"[\x20-\x7e]{1,200}")),
}


def client_source(request: Request) -> str:
    """The address the request came from (behind a proxy: what uvicorn's --proxy-headers says)."""
    return (request.client.host if request.client else "unknown")[:64]


def request_info(request: Request) -> RequestInfo:
    """The record's request facts: the server's own request id, and what the client asserted."""
    cached = getattr(request.state, "request_info", None)
    if cached is not None:
        return cached
    asserted: dict[str, str] = {}
    rejected: list[str] = []
    for header, (name, shape) in CLIENT_HEADERS.items():
        value = request.headers.get(header)
        if value is None:
            continue
        if shape.fullmatch(value):
            asserted[name] = value
        else:
            rejected.append(header)
    info = RequestInfo(
        request_id=uuid.uuid4().hex,
        client_name=(asserted.get("client_name") or asserted.get("user_agent", "")[:80]) or None,
        client_version=asserted.get("client_version"),
    )
    request.state.request_id = info.request_id
    # client_name and client_version are the client's word by nature (the columns say so); the
    # request id it sent is kept beside the server's own, for matching the client's logs
    request.state.client_facts = {
        **({"client_asserted": {"request_id": asserted["request_id"]}} if "request_id" in asserted else {}),
        **({"client_rejected": rejected} if rejected else {}),
    }
    request.state.request_info = info
    return info


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(settings_of)]
RequestInfoDep = Annotated[RequestInfo, Depends(request_info)]

NOBODY = Who(None, None, None, None)


def actor_of(user: User) -> Actor:
    return Actor(user.id, user.username, user.role, user.organization_id, user.organization.kind)


def authenticate(request: Request, session: Session, settings: Settings) -> User:
    """The user behind the bearer token, whose session (``sid``) must still be open."""
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
    if not session_is_open(session, claims["sid"], user.id):
        raise ApiError(401, ErrorCode.SESSION_EXPIRED, "Your session has ended; log in again.")
    request.state.session_id = claims["sid"]
    return user


def open_scope(request: Request, scope: AuditScope) -> AuditScope:
    """Keep the request's scope where the error handlers find it, with where it came from."""
    request.state.scope = scope
    scope.source = client_source(request)
    facts = getattr(request.state, "client_facts", None)
    if facts:
        scope.note(**facts)
    return scope


def get_guard(request: Request, session: SessionDep, settings: SettingsDep, info: RequestInfoDep) -> Guard:
    user = authenticate(request, session, settings)
    actor = actor_of(user)
    scope = open_scope(request, AuditScope(session, who_of(user), info, purpose=purpose_for(actor)))
    # Hand the connection back to the pool before the endpoint runs (objects stay loaded). This
    # dependency and the endpoint run in different worker threads: a connection held across that
    # gap deadlocks a busy server once every worker thread waits on the pool for one.
    session.commit()
    return Guard(session, scope, user, actor, settings, utcnow(), request.state.session_id)


#: what a device's scope records (also for a device request that failed before its scope opened)
DeviceScopeKind = {"action": "ingest", "resource_type": "observation", "purpose": Purpose.CARE}


def device_scope(request: Request, session: SessionDep, info: RequestInfoDep) -> AuditScope:
    return open_scope(request, AuditScope(session, NOBODY, info, **DeviceScopeKind))


def auth_scope(request: Request, session: SessionDep, info: RequestInfoDep) -> AuditScope:
    return open_scope(
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
    # the scope opens before the key is checked: a wrong key is counted in the tally of
    # unauthenticated failures (one record a minute: it names nobody and must not flood the chain)
    scope = open_scope(request, AuditScope(session, NOBODY, info, resource_type="integration"))
    client = client_for_key(session, x_client_key)
    organization = session.get(Organization, client.organization_id) if client is not None else None
    if client is None or organization is None:
        scope.aggregate(tally.Kind.INTEGRATION_KEY)
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
