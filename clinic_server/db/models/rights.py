"""The people's rights: integration credentials, corrections, objections, requests, legal holds,
billing records kept for bookkeeping, and anonymized records.

- ``IntegrationClient``: an organization's system (the patient app's backend, IMR's onboarding)
  calling the API with its own key; only the key's SHA-256 is stored, like a device key.
- ``PersonCorrection``: one rectification of an identity or contact field (who, when, why; the old
  value kept here, never shown as current).
- ``Objection``: to profiling or to information mailings (GDPR art. 21).
- ``SubjectRequest``: a request the privacy officer recorded (an IMR anonymization request starts
  retention rule (i)).
- ``LegalHold``: data needed for a legal claim is kept until the claim lapses (IMR policy row 7);
  retention and erasure leave a held person alone.
- ``BillingRecord``: that a participant used a service, with their name, kept for bookkeeping
  through the seventh year after the fiscal year (unlinked from the person on erasure).
- ``AnonymizedRecord``: health values kept after an IMR anonymization, with no link to anyone.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from clinic_server.db.models.base import Base, new_id
from clinic_server.db.session import UTCDateTime, utcnow


class IntegrationClient(Base):
    __tablename__ = "integration_client"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organization.id"), index=True)
    label: Mapped[str] = mapped_column(String(80))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PersonCorrection(Base):
    """A rectified field of the person row: the old value is history, the person row holds the new."""

    __tablename__ = "person_correction"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"), index=True)
    field: Mapped[str] = mapped_column(String(40))
    #: the category of the field (identity or contact): the values below are of that category
    category: Mapped[str] = mapped_column(String(30))
    old_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    new_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    corrected_by: Mapped[str] = mapped_column(String(120))
    corrected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Objection(Base):
    __tablename__ = "objection"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"), index=True)
    #: clinic_tui.domain.rights.ObjectionKind
    kind: Mapped[str] = mapped_column(String(20))
    objected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(120))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class SubjectRequest(Base):
    __tablename__ = "subject_request"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"), index=True)
    #: clinic_tui.domain.rights.RequestKind
    kind: Mapped[str] = mapped_column(String(20))
    received_on: Mapped[date] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(String(120))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: "open" or "done"
    status: Mapped[str] = mapped_column(String(10), default="open")
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class LegalHold(Base):
    __tablename__ = "legal_hold"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    #: the day the claim lapses (typically ten years after it arose); None: until released
    held_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    set_by: Mapped[str] = mapped_column(String(120))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class BillingRecord(Base):
    """That a participant used an IMR service, billed to their employer (IMR §4 row 1: "uppgifter om
    ditt namn och att du har använt våra tjänster"), kept for bookkeeping until ``keep_until``."""

    __tablename__ = "billing_record"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: None once the person is erased: the record then stands alone until ``keep_until``
    person_id: Mapped[str | None] = mapped_column(ForeignKey("person.id"), nullable=True, index=True)
    employer_id: Mapped[str | None] = mapped_column(ForeignKey("employer.id"), nullable=True)
    service: Mapped[str] = mapped_column(String(60))
    service_date: Mapped[date] = mapped_column(Date)
    #: the participant's name as billed
    name: Mapped[str] = mapped_column(String(200))
    fiscal_year_end: Mapped[date] = mapped_column(Date)
    keep_until: Mapped[date] = mapped_column(Date, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AnonymizedRecord(Base):
    """A health value kept after anonymization: no person, no exact date, no grouping key, so
    neither a person nor a series can be put back together from these rows."""

    __tablename__ = "anonymized_record"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    #: the table the value came from and its category
    source: Mapped[str] = mapped_column(String(40))
    category: Mapped[str] = mapped_column(String(30))
    values: Mapped[dict] = mapped_column(JSON)
    sex: Mapped[str | None] = mapped_column(String(10), nullable=True)
    #: ten-year age band at the time of the value, e.g. "40-49"
    age_band: Mapped[str | None] = mapped_column(String(10), nullable=True)
    #: the month of the value, "YYYY-MM"
    period: Mapped[str | None] = mapped_column(String(7), nullable=True)
