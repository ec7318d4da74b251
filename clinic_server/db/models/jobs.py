"""Scheduled jobs: who holds each job and its last run."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from clinic_server.db.models.base import Base
from clinic_server.db.session import UTCDateTime


class JobRun(Base):
    """One row per scheduled job (``clinic_server/jobs.py``): who holds it, and its last run."""

    __tablename__ = "job_run"
    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    #: the claim of the run holding the job: only that run may release it
    holder: Mapped[str | None] = mapped_column(String(32), nullable=True)
    #: a run holds the job until this instant (a crashed run's hold simply runs out)
    running_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_result: Mapped[str | None] = mapped_column(Text, nullable=True)
