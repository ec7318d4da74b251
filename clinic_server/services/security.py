"""Passwords (Argon2id), access tokens (JWT, short-lived), refresh tokens (opaque, rotating), sessions.

A session is a refresh-token family: logging in opens one, each refresh rotates its token, and
logout (or a reused refresh token) revokes it. Every access token names its session (``sid``), and
each request checks that the session is still open (one indexed lookup), so an access token stops
working the moment its session ends, not when it expires.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session

from clinic_server.db.models import RefreshToken, User

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
#: verified against when the username is unknown, so timing does not reveal which names exist
_DUMMY_HASH = _hasher.hash("not-a-real-password")

ALGORITHM = "HS256"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def make_access_token(user: User, secret: str, now: datetime, minutes: int, session_id: str) -> str:
    claims = {
        "sub": user.id,
        "sid": session_id,
        "role": user.role,
        "org": user.organization_id,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=minutes)).timestamp()),
        "typ": "access",
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_access_token(token: str, secret: str) -> dict:
    claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub", "sid"]})
    if (
        claims.get("typ") != "access"
        or not isinstance(claims["sid"], str)
        or not isinstance(claims["sub"], str)
    ):
        raise jwt.InvalidTokenError("not an access token")
    return claims


def session_is_open(session: Session, session_id: str, user_id: str) -> bool:
    """Is the session (refresh-token family) ``session_id`` of ``user_id`` still open?"""
    return bool(
        session.scalar(
            select(
                exists().where(
                    RefreshToken.family_id == session_id,
                    RefreshToken.user_id == user_id,
                    RefreshToken.revoked_at.is_(None),
                )
            )
        )
    )


def open_session(session: Session, user_id: str, now: datetime, days: int) -> tuple[str, str]:
    """Start a session: its id (the refresh-token family) and its first refresh token."""
    family_id = secrets.token_hex(16)
    return family_id, issue_refresh_token(session, user_id, now, days, family_id=family_id)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_refresh_token(
    session: Session, user_id: str, now: datetime, days: int, family_id: str | None = None
) -> str:
    token = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            user_id=user_id,
            family_id=family_id or secrets.token_hex(16),
            token_hash=token_digest(token),
            created_at=now,
            expires_at=now + timedelta(days=days),
        )
    )
    return token


class RefreshRejected(Exception):
    def __init__(self, reason: str, user_id: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.user_id = user_id


def rotate_refresh_token(
    session: Session, token: str, now: datetime, days: int, max_age: timedelta | None = None
) -> tuple[User, str, str]:
    """Spend ``token`` and return the user, a fresh token of the same family, and the family (session).

    Presenting a token that was already spent means it leaked: the whole family is revoked.
    """
    row = session.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_digest(token)))
    if row is None:
        raise RefreshRejected("unknown refresh token")
    if row.revoked_at is not None:
        raise RefreshRejected("refresh token revoked", row.user_id)
    if row.used_at is not None:
        revoke_family(session, row.family_id, now)
        raise RefreshRejected("refresh token reused: session revoked", row.user_id)
    if row.expires_at <= now:
        raise RefreshRejected("refresh token expired", row.user_id)
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise RefreshRejected("account disabled", row.user_id)
    if max_age is not None:
        started = session.scalar(
            select(func.min(RefreshToken.created_at)).where(RefreshToken.family_id == row.family_id)
        )
        if started is not None and started <= now - max_age:
            revoke_family(session, row.family_id, now)
            raise RefreshRejected("session reached its maximum lifetime", row.user_id)
    # spend it conditionally: of two requests presenting it at once, only one rotates it
    spent = session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if spent != 1:
        revoke_family(session, row.family_id, now)
        raise RefreshRejected("refresh token reused: session revoked", row.user_id)
    new = issue_refresh_token(session, user.id, now, days, family_id=row.family_id)
    return user, new, row.family_id


def revoke_family(session: Session, family_id: str, now: datetime) -> None:
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def family_of(session: Session, token: str) -> RefreshToken | None:
    return session.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_digest(token)))
