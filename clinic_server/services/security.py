"""Passwords (Argon2id), access tokens (JWT, short-lived), refresh tokens (opaque, rotating)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
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


def make_access_token(user: User, secret: str, now: datetime, minutes: int) -> str:
    claims = {
        "sub": user.id,
        "role": user.role,
        "org": user.organization_id,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=minutes)).timestamp()),
        "typ": "access",
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_access_token(token: str, secret: str) -> dict:
    claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]})
    if claims.get("typ") != "access":
        raise jwt.InvalidTokenError("not an access token")
    return claims


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


def rotate_refresh_token(session: Session, token: str, now: datetime, days: int) -> tuple[User, str]:
    """Spend ``token`` and return a fresh one of the same family.

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
    row.used_at = now
    new = issue_refresh_token(session, user.id, now, days, family_id=row.family_id)
    return user, new


def revoke_family(session: Session, family_id: str, now: datetime) -> None:
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def family_of(session: Session, token: str) -> RefreshToken | None:
    return session.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_digest(token)))
