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
        # each shard's chain is walked in seq order (migration 0021)
        Index("ix_audit_event_shard_seq", "shard", "seq"),
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
    #: the chain this record is linked into (``prev_hash`` is the previous record of this shard);
    #: not part of the hash: moving a record breaks the links of both shards (docs/audit.md)
    shard: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class AuditHead(Base):
    """One row. Since migration 0021 only ``seq`` is used, and only on SQLite: the global sequence
    counter (PostgreSQL uses the sequence ``audit_event_seq``); the chains' heads are
    ``audit_shard_head``."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    last_hash: Mapped[str] = mapped_column(String(64))


class AuditShardHead(Base):
    """One row per shard: its chain's last sequence number and hash. An append locks one row
    (the first one no other transaction holds, on PostgreSQL), so shards append in parallel."""

    __tablename__ = "audit_shard_head"
    shard: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    last_hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """A periodic record binding every shard's head into one hash, chained to the previous
    checkpoint and signed when a signing key is configured (``audit/checkpoint.py``)."""

    __tablename__ = "audit_checkpoint"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    #: [[shard, seq, hash], ...] by shard: each shard's head when the checkpoint was made
    heads: Mapped[list] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    #: Ed25519 over ``hash`` (hex), and the id of the key (its public key's SHA-256, 16 hex digits)
    signature: Mapped[str | None] = mapped_column(String(128), nullable=True)
    key_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
