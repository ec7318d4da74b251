"""Employer reports as issued, and the populations they rest on (``services/reports/store.py``).

``issued_report`` is the published report (anonymous, as the employer received it) with what made
it: employer, year, k, rules, who issued it and when, the key that hashed its contributions.
``report_population`` says, per table of a report, who counted in which finest group (a sex, or a
sex and age band) and with what contribution, kept only as a keyed hash (HMAC-SHA-256 of the person,
the table and the value, with a server key that is not in the database): the check against
differencing compares two reports' contributions by equality, and no copy of a health value is
kept. Erasing a person deletes their population rows; the published report stays.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clinic_server.db.models.base import Base, new_id
from clinic_server.db.session import UTCDateTime, utcnow


class IssuedReport(Base):
    __tablename__ = "issued_report"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    employer_id: Mapped[str] = mapped_column(ForeignKey("employer.id"))
    period: Mapped[int] = mapped_column(Integer)
    min_cell: Mapped[int] = mapped_column(Integer)
    report_rule: Mapped[str] = mapped_column(String(60))
    disclosure_rule: Mapped[str] = mapped_column(String(60))
    #: which key hashed the populations' contributions (a hash of it): another key cannot compare
    key_id: Mapped[str] = mapped_column(String(16))
    issued_by_id: Mapped[str] = mapped_column(ForeignKey("app_user.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: the report as given out (the wire model ``EmployerReport``)
    report: Mapped[dict] = mapped_column(JSON)
    #: table id -> the sets of finest groups a reader can total from it (for differencing)
    groups: Mapped[dict] = mapped_column(JSON)
    __table_args__ = (UniqueConstraint("employer_id", "period", name="uq_issued_report_period"),)


class ReportPopulation(Base):
    __tablename__ = "report_population"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    report_id: Mapped[str] = mapped_column(ForeignKey("issued_report.id"))
    table_id: Mapped[str] = mapped_column(String(80))
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"))
    #: the finest group the table breaks down by: "female", "male", "female|30-39"
    atom: Mapped[str] = mapped_column(String(40))
    #: HMAC of (person, table, value) with the report key; None: no value (participation)
    contribution: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (
        Index("ix_report_population_report", "report_id"),
        Index("ix_report_population_person", "person_id"),
    )
