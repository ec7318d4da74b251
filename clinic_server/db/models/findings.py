"""Privacy monitoring: findings over the audit log, the supervisors' verdicts (kept as history), the
scan's cursor and per-user activity, links from users to their own identity, and which employers a
coach serves."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from clinic_server.db.models.base import Base
from clinic_server.db.session import UTCDateTime, utcnow


class Finding(Base):
    """One rule's claim that some accesses deserve a supervisor's look, with its evidence.

    Like the audit log it names the person by opaque id only (no foreign key: it outlives an
    erasure) and its params are counts, windows and kinds, never a personal value. The same fact
    found again by a later scan extends this row (evidence, span) instead of making a new one.
    """

    __tablename__ = "finding"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule_id: Mapped[str] = mapped_column(String(40))
    rule_version: Mapped[int] = mapped_column(Integer)
    #: the organization of the user whose accesses these are (whose supervisors review it)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organization.id"))
    user_id: Mapped[str] = mapped_column(ForeignKey("app_user.id"))
    username: Mapped[str] = mapped_column(String(80))
    person_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    #: what else tells two findings of one rule, user and person apart (e.g. the grant's id)
    key: Mapped[str] = mapped_column(String(64), default="")
    first_ts: Mapped[datetime] = mapped_column(UTCDateTime)
    last_ts: Mapped[datetime] = mapped_column(UTCDateTime)
    reason_key: Mapped[str] = mapped_column(String(60))
    params: Mapped[dict] = mapped_column(JSON)
    #: audit sequence numbers, ascending (at most ``EVIDENCE_CAP``; ``evidence_count`` has them all)
    evidence: Mapped[list[int]] = mapped_column(JSON)
    evidence_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (
        Index("ix_finding_org_id", "organization_id", "id"),
        Index("ix_finding_match", "rule_id", "user_id", "last_ts"),
    )


class _VerdictColumns:
    """A verdict: one row per judgement, never updated (a trigger refuses UPDATE). ``ordinal`` counts
    the subject's verdicts from 1; it is unique per subject, so two supervisors judging the same
    thing at once cannot both become the n-th verdict."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    #: justified, not_justified, needs_follow_up (None: a note-only review of a grant)
    verdict: Mapped[str | None] = mapped_column(String(20), nullable=True)
    note: Mapped[str] = mapped_column(Text)
    user_id: Mapped[str] = mapped_column(ForeignKey("app_user.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FindingVerdict(_VerdictColumns, Base):
    __tablename__ = "finding_verdict"
    finding_id: Mapped[int] = mapped_column(ForeignKey("finding.id"))
    __table_args__ = (UniqueConstraint("finding_id", "ordinal", name="uq_finding_verdict_ordinal"),)


class BreakGlassVerdict(_VerdictColumns, Base):
    __tablename__ = "break_glass_verdict"
    grant_id: Mapped[str] = mapped_column(ForeignKey("break_glass_grant.id"))
    __table_args__ = (UniqueConstraint("grant_id", "ordinal", name="uq_break_glass_verdict_ordinal"),)


class FindingCursor(Base):
    """How far the findings scan has read the audit log (one row per scan name)."""

    __tablename__ = "finding_cursor"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UserActivity(Base):
    """The local hours a user was active on one day (bit h set: active between h:00 and h:59),
    kept by the scan so the out-of-hours rule knows a user's usual hours without re-reading weeks
    of the audit log."""

    __tablename__ = "user_activity"
    user_id: Mapped[str] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    hours: Mapped[int] = mapped_column(Integer)


class UserLink(Base):
    """What ties a user to a person, for the relation rule: keyed hashes (HMAC-SHA-256, see
    ``services/findings/identity.py``) of the user's own personnummer, surname parts and home
    address. The plain values are never stored; the key lives outside the database."""

    __tablename__ = "user_link"
    user_id: Mapped[str] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    #: which key made the hashes (a hash of the key, not the key)
    key_id: Mapped[str] = mapped_column(String(16))
    personnummer_hmac: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    surname_hmacs: Mapped[list[str]] = mapped_column(JSON)
    address_hmac: Mapped[str | None] = mapped_column(String(64), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CoachEmployer(Base):
    """An employer a coach serves, from a date (until a date, when it ended)."""

    __tablename__ = "coach_employer"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    coach_id: Mapped[str] = mapped_column(ForeignKey("app_user.id"), index=True)
    employer_id: Mapped[str] = mapped_column(ForeignKey("employer.id"))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    __table_args__ = (UniqueConstraint("coach_id", "employer_id", "valid_from"),)
