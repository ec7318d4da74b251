"""Remote monitoring: devices, observations, per-patient thresholds, alerts and their events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from clinic_server.db.models.base import Base, new_id
from clinic_server.db.session import UTCDateTime, utcnow


class Device(Base):
    __tablename__ = "device"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"), index=True)
    label: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Observation(Base):
    __tablename__ = "observation"
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"))
    loinc: Mapped[str] = mapped_column(String(16))
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(16))
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    device_id: Mapped[str | None] = mapped_column(ForeignKey("device.id"), nullable=True)
    #: the device's own measurement id: a retried post never stores twice
    source_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    __table_args__ = (
        Index("ix_observation_person_code_time", "person_id", "loinc", "effective_at"),
        UniqueConstraint("device_id", "source_id", name="uq_observation_device_source"),
    )


class ThresholdOverride(Base):
    __tablename__ = "threshold_override"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"), index=True)
    key: Mapped[str] = mapped_column(String(40))
    value: Mapped[float] = mapped_column(Float)
    set_by_id: Mapped[str] = mapped_column(ForeignKey("app_user.id"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("person_id", "key"),)


class Alert(Base):
    __tablename__ = "alert"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"), index=True)
    rule_id: Mapped[str] = mapped_column(String(40))
    rule_version: Mapped[int] = mapped_column(Integer)
    severity: Mapped[str] = mapped_column(String(10))
    severity_rank: Mapped[int] = mapped_column(Integer)
    loinc: Mapped[str | None] = mapped_column(String(16), nullable=True)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    message: Mapped[str] = mapped_column(Text)
    #: the message without what the person's conditions chose (shown where conditions are withheld)
    neutral_message: Mapped[str] = mapped_column(Text, server_default="")
    inputs: Mapped[dict] = mapped_column(JSON)
    #: open, acknowledged, snoozed, resolved, escalated
    state: Mapped[str] = mapped_column(String(20), default="open")
    snoozed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: the state a snoozed alert returns to when its time is up (open or acknowledged)
    snoozed_from: Mapped[str | None] = mapped_column(String(20), nullable=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: optimistic concurrency: a transition names the version it saw
    version: Mapped[int] = mapped_column(Integer, default=1)
    __table_args__ = (
        Index("ix_alert_queue", "state", "severity_rank", "opened_at", "id"),
        # one active alert per person and rule: an ongoing excursion updates it (migration 0003)
        Index(
            "uq_alert_active_rule",
            "person_id",
            "rule_id",
            unique=True,
            sqlite_where=text("state IN ('open', 'acknowledged', 'snoozed')"),
            postgresql_where=text("state IN ('open', 'acknowledged', 'snoozed')"),
        ),
        Index("ix_alert_updated_at", "updated_at"),
    )


class AlertEvent(Base):
    __tablename__ = "alert_event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alert.id"), index=True)
    from_state: Mapped[str] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[str] = mapped_column(ForeignKey("app_user.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: escalate: who it was handed to, as the nurse named them ("Dr. Lind, cardiology")
    recipient: Mapped[str | None] = mapped_column(String(200), nullable=True)
