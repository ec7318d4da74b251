"""Login, token refresh and logout. Every outcome is audited."""

from __future__ import annotations

import time
from datetime import timedelta

import pyotp
from fastapi import APIRouter, Request
from sqlalchemy import func, select

from clinic_server import audit
from clinic_server.api.deps import (
    ApiError,
    CtxDep,
    RequestInfoDep,
    SessionDep,
    SettingsDep,
    authenticate,
    who_of,
)
from clinic_server.db import utcnow
from clinic_server.db.models import LoginThrottle, User
from clinic_server.services.security import (
    RefreshRejected,
    family_of,
    issue_refresh_token,
    make_access_token,
    revoke_family,
    rotate_refresh_token,
    verify_password,
)
from clinic_tui.api.schemas import LoginRequest, RefreshRequest, TokenPair, UserInfo

router = APIRouter(prefix="/auth", tags=["auth"])


def user_info(user: User) -> UserInfo:
    return UserInfo(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        organization_id=user.organization_id,
        organization_name=user.organization.name,
    )


def _tokens(session, settings, user: User, now, family_id: str | None = None) -> TokenPair:
    refresh = issue_refresh_token(session, user.id, now, settings.refresh_token_days, family_id)
    return TokenPair(
        access_token=make_access_token(user, settings.secret_key, now, settings.access_token_minutes),
        refresh_token=refresh,
        expires_in=settings.access_token_minutes * 60,
        user=user_info(user),
    )


def _audit_auth(session, info, user, username, action, outcome, reason) -> None:
    audit.append(
        session,
        who=who_of(user, username),
        request=info,
        action=action,
        resource_type="session",
        outcome=outcome,
        reason=reason,
        purpose="authentication",
    )
    session.commit()


@router.post("/login", response_model=TokenPair, responses={401: {}, 429: {}})
def login(body: LoginRequest, session: SessionDep, settings: SettingsDep, info: RequestInfoDep) -> TokenPair:
    now = utcnow()
    name = body.username.strip().lower()
    throttle = session.get(LoginThrottle, name) or LoginThrottle(username=name, failures=0, lockouts=0)
    session.add(throttle)
    if throttle.locked_until and throttle.locked_until > now:
        wait = int((throttle.locked_until - now).total_seconds()) + 1
        session.rollback()
        _audit_auth(session, info, None, name, "login_failed", "denied", "account temporarily locked")
        raise ApiError(
            429, "locked_out", f"Too many failed attempts. Try again in {wait} seconds.", retry_after=wait
        )
    if throttle.failures >= settings.slow_after:
        # slow down guessing; the cap keeps one attacker from tying up a worker for long
        time.sleep(min(settings.slow_seconds * (throttle.failures - settings.slow_after + 1), 5.0))

    user = session.scalar(select(User).where(func.lower(User.username) == name))
    ok = verify_password(user.password_hash if user else None, body.password)
    if ok and user is not None and not user.is_active:
        ok = False
    if ok and user is not None and user.totp_secret:
        if not body.otp:
            session.rollback()
            _audit_auth(session, info, user, name, "login_failed", "denied", "second factor required")
            raise ApiError(401, "otp_required", "Enter the 6-digit code from your authenticator app.")
        if not pyotp.TOTP(user.totp_secret).verify(body.otp, valid_window=1):
            ok = False
    if not ok:
        throttle.failures += 1
        throttle.last_failure_at = now
        reason = "wrong credentials"
        if throttle.failures >= settings.lockout_after:
            throttle.lockouts += 1
            seconds = min(
                settings.lockout_base_seconds * 2 ** (throttle.lockouts - 1), settings.lockout_max_seconds
            )
            throttle.locked_until = now + timedelta(seconds=seconds)
            throttle.failures = 0
            reason = f"wrong credentials; locked for {seconds} s"
        _audit_auth(session, info, user, name, "login_failed", "denied", reason)
        raise ApiError(401, "invalid_credentials", "Wrong username, password or code.")

    throttle.failures = 0
    throttle.lockouts = 0
    throttle.locked_until = None
    pair = _tokens(session, settings, user, now)
    _audit_auth(
        session, info, user, name, "login", "allowed", "password" + (" + TOTP" if user.totp_secret else "")
    )
    return pair


@router.post("/refresh", response_model=TokenPair, responses={401: {}})
def refresh(
    body: RefreshRequest, session: SessionDep, settings: SettingsDep, info: RequestInfoDep
) -> TokenPair:
    now = utcnow()
    try:
        user, new_refresh = rotate_refresh_token(
            session, body.refresh_token, now, settings.refresh_token_days
        )
    except RefreshRejected as exc:
        session.commit()  # keep a family revocation
        who = who_of(session.get(User, exc.user_id)) if exc.user_id else who_of(None)
        audit.append(
            session,
            who=who,
            request=info,
            action="token_refresh",
            resource_type="session",
            outcome="denied",
            reason=exc.reason,
            purpose="authentication",
        )
        session.commit()
        raise ApiError(401, "session_expired", "Your session has ended; log in again.") from None
    pair = TokenPair(
        access_token=make_access_token(user, settings.secret_key, now, settings.access_token_minutes),
        refresh_token=new_refresh,
        expires_in=settings.access_token_minutes * 60,
        user=user_info(user),
    )
    _audit_auth(session, info, user, user.username, "token_refresh", "allowed", "refresh token rotated")
    return pair


@router.post("/logout", status_code=204, responses={401: {}})
def logout(
    body: RefreshRequest, request: Request, session: SessionDep, settings: SettingsDep, info: RequestInfoDep
) -> None:
    user = authenticate(request, session, settings)
    row = family_of(session, body.refresh_token)
    if row is not None and row.user_id == user.id:
        revoke_family(session, row.family_id, utcnow())
    _audit_auth(session, info, user, user.username, "logout", "allowed", "session revoked")


@router.get("/me", response_model=UserInfo)
def me(ctx: CtxDep) -> UserInfo:
    return user_info(ctx.user)
