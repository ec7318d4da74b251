"""Logging in, renewing and ending sessions. Every outcome is audited (purpose ``authentication``).

A failed login changes the failed-login bookkeeping and records why in the same commit, before the
refusal is raised (so the refusal's rollback cannot undo the count).
"""

from __future__ import annotations

import time
from datetime import timedelta

import pyotp
from sqlalchemy import func, select

from clinic_server.access.guard import Guard
from clinic_server.access.policy import Action
from clinic_server.audit.scope import AuditScope, who_of
from clinic_server.db import utcnow
from clinic_server.db.models import LoginThrottle, User
from clinic_server.errors import ApiError
from clinic_server.services.security import (
    RefreshRejected,
    family_of,
    issue_refresh_token,
    make_access_token,
    revoke_family,
    rotate_refresh_token,
    verify_password,
)
from clinic_server.settings import Settings
from clinic_tui.api.schemas import ErrorCode, LoginRequest, TokenPair, UserInfo
from clinic_tui.domain.roles import Outcome


def user_info(user: User) -> UserInfo:
    return UserInfo(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        organization_id=user.organization_id,
        organization_name=user.organization.name,
    )


def _pair(scope: AuditScope, settings: Settings, user: User, now, refresh: str) -> TokenPair:
    return TokenPair(
        access_token=make_access_token(user, settings.secret_key, now, settings.access_token_minutes),
        refresh_token=refresh,
        expires_in=settings.access_token_minutes * 60,
        user=user_info(user),
    )


def _refuse(scope: AuditScope, reason: str, error: ApiError) -> ApiError:
    """Record the failed attempt (with the bookkeeping already in the session) and hand back the error."""
    scope.close_and_commit(Outcome.DENIED, reason)
    return error


def login(scope: AuditScope, settings: Settings, body: LoginRequest) -> TokenPair:
    session = scope.session
    now = utcnow()
    name = body.username.strip().lower()
    scope.about(action="login_failed")
    scope.who = who_of(None, name)
    throttle = session.get(LoginThrottle, name) or LoginThrottle(username=name, failures=0, lockouts=0)
    session.add(throttle)
    if throttle.locked_until and throttle.locked_until > now:
        wait = int((throttle.locked_until - now).total_seconds()) + 1
        session.rollback()
        raise _refuse(
            scope,
            "account temporarily locked",
            ApiError(
                429,
                ErrorCode.LOCKED_OUT,
                f"Too many failed attempts. Try again in {wait} seconds.",
                params={"seconds": wait},
                retry_after=wait,
            ),
        )
    if throttle.failures >= settings.slow_after:
        # slow down guessing; the cap keeps one attacker from tying up a worker for long
        time.sleep(min(settings.slow_seconds * (throttle.failures - settings.slow_after + 1), 5.0))

    user = session.scalar(select(User).where(func.lower(User.username) == name))
    scope.who = who_of(user, name)
    ok = verify_password(user.password_hash if user else None, body.password)
    if ok and user is not None and not user.is_active:
        ok = False
    if ok and user is not None and user.totp_secret:
        if not body.otp:
            session.rollback()
            raise _refuse(
                scope,
                "second factor required",
                ApiError(401, ErrorCode.OTP_REQUIRED, "Enter the 6-digit code from your authenticator app."),
            )
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
        raise _refuse(
            scope, reason, ApiError(401, ErrorCode.INVALID_CREDENTIALS, "Wrong username, password or code.")
        )

    throttle.failures = 0
    throttle.lockouts = 0
    throttle.locked_until = None
    refresh = issue_refresh_token(session, user.id, now, settings.refresh_token_days)
    scope.about(action="login")
    scope.reason = "password" + (" + TOTP" if user.totp_secret else "")
    return _pair(scope, settings, user, now, refresh)


def refresh(scope: AuditScope, settings: Settings, token: str) -> TokenPair:
    session = scope.session
    now = utcnow()
    scope.about(action="token_refresh")
    try:
        user, new_refresh = rotate_refresh_token(session, token, now, settings.refresh_token_days)
    except RefreshRejected as exc:
        session.commit()  # keep a family revocation
        scope.who = who_of(session.get(User, exc.user_id), None) if exc.user_id else scope.who
        raise _refuse(
            scope,
            exc.reason,
            ApiError(401, ErrorCode.SESSION_EXPIRED, "Your session has ended; log in again."),
        ) from None
    scope.who = who_of(user, user.username)
    scope.reason = "refresh token rotated"
    return _pair(scope, settings, user, now, new_refresh)


def logout(guard: Guard, token: str) -> None:
    guard.duty(Action.OWN_ACCOUNT, verb="logout", resource_type="session")
    row = family_of(guard.session, token)
    if row is not None and row.user_id == guard.user.id:
        revoke_family(guard.session, row.family_id, utcnow())
    guard.scope.reason = "session revoked"


def me(guard: Guard) -> UserInfo:
    guard.duty(Action.OWN_ACCOUNT, verb="read", resource_type="account")
    return user_info(guard.user)
