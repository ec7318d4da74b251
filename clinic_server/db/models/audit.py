"""The append-only, hash-chained audit log and its head."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from clinic_server.db.models.base import Base
from clinic_server.db.session import UTCDateTime


class AuditEvent(Base):
    """Append-only, hash-chained access log. Database triggers reject UPDATE and DELETE."""

    __tablename__ = "audit_event"
    #: the supervisor's "user:NAME" filter walks this newest first; "outcome:denied" and rare
    #: actions ("action:break_glass") walk theirs (migration 0013)
    __table_args__ = (
        Index("ix_audit_event_username_seq", "username", "seq"),
        Index("ix_audit_event_outcome_seq", "outcome", "seq"),
        Index("ix_audit_event_action_seq", "action", "seq"),
    )
    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    ts: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    user_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    username: Mapped[str | None] = mapped_column(String(80), nullable=True)
    role: Mapped[str | None] = mapped_column(String(20), nullable=True)
    organization_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    action: Mapped[str] = mapped_column(String(40))
    resource_type: Mapped[str] = mapped_column(String(40))
    resource_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    person_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    #: JSON list of the categories returned
    categories: Mapped[list[str]] = mapped_column(JSON)
    purpose: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text)
    request_id: Mapped[str] = mapped_column(String(64))
    client_name: Mapped[str | None] = mapped_column(String(80), nullable=True)
    client_version: Mapped[str | None] = mapped_column(String(40), nullable=True)
    #: extra facts (e.g. the person ids a list returned), part of the hash
    details: Mapped[dict] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """One row: the chain's last sequence number and hash. Locking it serializes appends."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    last_hash: Mapped[str] = mapped_column(String(64))
