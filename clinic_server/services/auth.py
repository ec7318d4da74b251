"""Logging in, renewing and ending sessions. Every outcome is audited (purpose ``authentication``).

Logging in (``login``):

- the attempt is counted by the throttle before anything is checked (``services/login_throttle.py``);
  one refused by it is answered 429 with Retry-After and counted in the tally, not recorded alone;
- the answer tells an attacker nothing until both factors pass. Without a code, an account with
  TOTP is answered ``otp_required`` whether or not the password was right; a name that is no
  account is answered like an account with TOTP or like one without, chosen by a keyed hash of the
  name (so the same name always gets the same answer, and half of all unknown names look like
  accounts without TOTP, half like accounts with it). With a code, or for an account without TOTP,
  any failure is ``invalid_credentials``;
- a TOTP code is accepted once: the time step it belongs to is kept per user, and a code of that
  step or an earlier one is refused (``totp_last_step``, updated conditionally);
- a failure of a real account is recorded with the user (its supervisor sees it; an attack on the
  account is named in the record); a failure of an unknown name is counted in the tally.

A session is a refresh-token family: its id (``sid``) is in every access token and checked on each
request, so logout ends the access token at once too.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

import pyotp
from sqlalchemy import func, or_, select, update

from clinic_server.access.guard import Guard
from clinic_server.access.policy import Action
from clinic_server.audit.scope import AuditScope, who_of
from clinic_server.audit.tally import Kind
from clinic_server.db import utcnow
from clinic_server.db.models import User
from clinic_server.errors import ApiError
from clinic_server.services import login_throttle as throttle
from clinic_server.services.security import (
    RefreshRejected,
    family_of,
    make_access_token,
    open_session,
    revoke_family,
    rotate_refresh_token,
    verify_password,
)
from clinic_server.settings import Settings
from clinic_tui.api.schemas import ErrorCode, LoginRequest, TokenPair, UserInfo
from clinic_tui.domain.roles import Outcome

WRONG = "Wrong username, password or code."
OTP = "Enter the 6-digit code from your authenticator app."


def user_info(user: User) -> UserInfo:
    return UserInfo(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        organization_id=user.organization_id,
        organization_name=user.organization.name,
    )


def _pair(settings: Settings, user: User, now, session_id: str, refresh: str) -> TokenPair:
    return TokenPair(
        access_token=make_access_token(
            user, settings.secret_key, now, settings.access_token_minutes, session_id
        ),
        refresh_token=refresh,
        expires_in=settings.access_token_minutes * 60,
        user=user_info(user),
    )


def _refuse(scope: AuditScope, reason: str, error: ApiError) -> ApiError:
    """Record the failed attempt (with the bookkeeping already in the session) and hand back the error."""
    scope.close_and_commit(Outcome.DENIED, reason)
    return error


def _tallied(scope: AuditScope, kind: str, error: ApiError) -> ApiError:
    """Count the failed attempt in the tally (nobody to name; the bookkeeping is committed first)."""
    scope.session.commit()
    scope.aggregate(kind)
    return error


def _locked(seconds: int) -> ApiError:
    return ApiError(
        429,
        ErrorCode.LOCKED_OUT,
        f"Too many failed attempts. Try again in {seconds} seconds.",
        params={"seconds": seconds},
        retry_after=seconds,
    )


def pretends_totp(settings: Settings, name: str) -> bool:
    """Whether a name that is no account answers like an account with TOTP (stable per name)."""
    digest = hmac.new(settings.secret_key.encode(), b"totp-class:" + name.encode(), hashlib.sha256).digest()
    return bool(digest[0] & 1)


def _totp_ok(scope: AuditScope, user: User, code: str, now) -> bool:
    """Is ``code`` right now (one step of clock drift either way) and not used before?"""
    totp = pyotp.TOTP(user.totp_secret)
    code = code.strip()
    current = totp.timecode(now)
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            # conditional: of two logins with the same code, only one moves the step on
            won = scope.session.execute(
                update(User)
                .where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
                .values(totp_last_step=step)
                .execution_options(synchronize_session=False)
            ).rowcount
            if won != 1:
                scope.note(totp="code already used")
            return won == 1
    return False


def login(scope: AuditScope, settings: Settings, body: LoginRequest) -> TokenPair:
    session = scope.session
    now = utcnow()
    name = body.username.strip().lower()
    source = scope.source or "unknown"
    scope.about(action="login_failed")
    scope.who = who_of(None, name)
    gate = throttle.reserve(session, settings, name, source, now)
    if gate.retry_after is not None:
        raise _tallied(scope, Kind.LOGIN_THROTTLED, _locked(gate.retry_after))

    user = session.scalar(select(User).where(func.lower(User.username) == name))
    scope.who = who_of(user, name)
    with_totp = bool(user.totp_secret) if user is not None else pretends_totp(settings, name)
    otp = (body.otp or "").strip() or None

    def fail(reason: str, error: ApiError) -> ApiError:
        account = throttle.failed(session, settings, name, now)
        if user is None:
            return _tallied(scope, Kind.LOGIN_UNKNOWN_NAME, error)
        if account.under_attack:
            scope.note(
                finding="account_under_attack",
                failures_in_window=account.failures,
                window_minutes=settings.account_window_minutes,
            )
            reason += (
                f"; {account.failures} failed logins of this account within "
                f"{settings.account_window_minutes} min: under attack, new sources need password and TOTP"
            )
        return _refuse(scope, reason, error)

    if gate.account_blocked_for is not None and not gate.known_source and not (with_totp and otp):
        # an attack on the account: from a source it has not logged in from, only password and
        # code are checked (an account with TOTP is asked for its code, as usual)
        if with_totp:
            raise fail("account under attack: second factor asked of a new source", _otp_required())
        raise _tallied(scope, Kind.LOGIN_THROTTLED, _locked(gate.account_blocked_for))

    ok = verify_password(user.password_hash if user else None, body.password)
    if user is not None and not user.is_active:
        ok = False
    if with_totp and otp is None:
        # the same answer whether or not the password was right
        raise fail(
            "second factor required" + ("" if ok else " (the password was wrong)"),
            _otp_required(),
        )
    if ok and user is not None and user.totp_secret:
        ok = _totp_ok(scope, user, otp or "", now)
    if not ok or user is None:
        raise fail("wrong credentials", ApiError(401, ErrorCode.INVALID_CREDENTIALS, WRONG))

    throttle.succeeded(session, name, source, now)
    session_id, refresh = open_session(session, user.id, now, settings.refresh_token_days)
    scope.about(action="login", resource_id=session_id)
    scope.reason = "password" + (" + TOTP" if user.totp_secret else "")
    return _pair(settings, user, now, session_id, refresh)


def _otp_required() -> ApiError:
    return ApiError(401, ErrorCode.OTP_REQUIRED, OTP)


def refresh(scope: AuditScope, settings: Settings, token: str) -> TokenPair:
    session = scope.session
    now = utcnow()
    scope.about(action="token_refresh")
    try:
        user, new_refresh, session_id = rotate_refresh_token(
            session, token, now, settings.refresh_token_days, timedelta(hours=settings.session_max_hours)
        )
    except RefreshRejected as exc:
        session.commit()  # keep a family revocation
        error = ApiError(401, ErrorCode.SESSION_EXPIRED, "Your session has ended; log in again.")
        if exc.user_id is None:
            raise _tallied(scope, Kind.REFRESH_UNKNOWN, error) from None
        scope.who = who_of(session.get(User, exc.user_id), None)
        raise _refuse(scope, exc.reason, error) from None
    scope.who = who_of(user, user.username)
    scope.about(resource_id=session_id)
    scope.reason = "refresh token rotated"
    return _pair(settings, user, now, session_id, new_refresh)


def logout(guard: Guard, token: str) -> None:
    """End the session the access token belongs to (and the one of ``token``, if it is the caller's)."""
    guard.duty(Action.OWN_ACCOUNT, verb="logout", resource_type="session", resource_id=guard.session_id)
    now = utcnow()
    if guard.session_id:
        revoke_family(guard.session, guard.session_id, now)
    row = family_of(guard.session, token)
    if row is not None and row.user_id == guard.user.id and row.family_id != guard.session_id:
        revoke_family(guard.session, row.family_id, now)
    guard.scope.reason = "session revoked"


def me(guard: Guard) -> UserInfo:
    guard.duty(Action.OWN_ACCOUNT, verb="read", resource_type="account")
    return user_info(guard.user)
