"""Users and their sessions: accounts, failed-login bookkeeping, refresh tokens, and the tally of
unauthenticated failures (recorded in the audit chain in aggregate, ``audit/tally.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic_server.db.models.base import Base, new_id

if TYPE_CHECKING:
    from clinic_server.db.models.people import Organization
from clinic_server.db.session import UTCDateTime, utcnow


class User(Base):
    __tablename__ = "app_user"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    #: "nurse", "coach" or "supervisor"
    role: Mapped[str] = mapped_column(String(20))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organization.id"))
    password_hash: Mapped[str] = mapped_column(String(200))
    totp_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: the last TOTP time step accepted: a code of it or an earlier step is never accepted again
    totp_last_step: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), nullable=True
    )
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organization: Mapped[Organization] = relationship(lazy="joined")


class LoginThrottle(Base):
    """Failed-login bookkeeping per username (also for names that do not exist) and source address.

    The row of source ``"*"`` counts one username's failures from every source in a window (an
    attack spread over many addresses); ``services/login_throttle.py`` explains the rules.
    """

    __tablename__ = "login_throttle"
    username: Mapped[str] = mapped_column(String(80), primary_key=True)
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: attempts since the last success (counted when an attempt starts, before it is checked)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    #: lockouts in a row; each one lasts twice the one before, capped
    lockouts: Mapped[int] = mapped_column(Integer, default=0)
    #: no attempt is checked before this instant (a slow-down or a lockout)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: a source this user logged in from is known: an attack on the account does not shut it out
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: source "*": when the current counting window started
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class FailureTally(Base):
    """Unauthenticated failures, counted per minute, kind and source until a flush turns each
    minute into one audit record (``audit/tally.py``): they cannot flood the chain."""

    __tablename__ = "failure_tally"
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RefreshToken(Base):
    __tablename__ = "refresh_token"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("app_user.id"), index=True)
    family_id: Mapped[str] = mapped_column(String(32), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
