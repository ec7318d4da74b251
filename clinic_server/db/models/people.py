"""People and their relationships: organizations, employers, persons, conditions, record entries,
consents, coach assignments and notices to the person."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic_server.db.models.base import Base, new_id
from clinic_server.db.session import UTCDateTime, utcnow


class Organization(Base):
    __tablename__ = "organization"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    #: "care_provider" or "imr"
    kind: Mapped[str] = mapped_column(String(20))


class Employer(Base):
    __tablename__ = "employer"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    contract_start: Mapped[date] = mapped_column(Date)
    #: while the contract runs IMR may process contact and occupation data (legitimate interest)
    contract_end: Mapped[date | None] = mapped_column(Date, nullable=True)


class Person(Base):
    """A patient (care provider) or participant (IMR). Columns are grouped by data category."""

    __tablename__ = "person"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    # identity
    personnummer: Mapped[str] = mapped_column(String(12), unique=True)
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    birth_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(10))
    # contact
    phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    email: Mapped[str | None] = mapped_column(String(200), nullable=True)
    address: Mapped[str | None] = mapped_column(String(300), nullable=True)
    # occupation
    employer_id: Mapped[str | None] = mapped_column(ForeignKey("employer.id"), nullable=True)
    job_title: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # GDPR art. 18: while set, nobody may process this person's data (deny overrides)
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    #: the organization whose supervisor restricted processing: only it (or a privacy officer) lifts it
    restricted_by_org_id: Mapped[str | None] = mapped_column(ForeignKey("organization.id"), nullable=True)
    #: the person normally sends measurements every day (drives the missing-data rule)
    sends_daily: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    employer: Mapped[Employer | None] = relationship(lazy="joined")
    conditions: Mapped[list[Condition]] = relationship(lazy="selectin", order_by="Condition.code")


class Condition(Base):
    __tablename__ = "condition"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"), index=True)
    #: short key from clinic_tui.domain.codes.CONDITIONS
    code: Mapped[str] = mapped_column(String(40))
    onset: Mapped[date | None] = mapped_column(Date, nullable=True)


class RecordEntry(Base):
    """Free entries of the other categories: history, medications, goals, social, questionnaires."""

    __tablename__ = "record_entry"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"), index=True)
    category: Mapped[str] = mapped_column(String(30))
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[str | None] = mapped_column(ForeignKey("app_user.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Consent(Base):
    __tablename__ = "consent"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"), index=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organization.id"), index=True)
    #: list of category names (clinic_tui.domain.categories.Category)
    categories: Mapped[list[str]] = mapped_column(JSON)
    #: "care" or "coaching"
    purpose: Mapped[str] = mapped_column(String(20))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: "active" or "withdrawn"
    status: Mapped[str] = mapped_column(String(20), default="active")
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CoachAssignment(Base):
    __tablename__ = "coach_assignment"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    coach_id: Mapped[str] = mapped_column(ForeignKey("app_user.id"), index=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("coach_id", "person_id"),)


class PersonNotice(Base):
    """A notice to the person (e.g. their data was opened under break-the-glass)."""

    __tablename__ = "person_notice"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
