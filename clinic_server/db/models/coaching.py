"""The coach's work: health-profile meetings, their versioned parts, objections to profiling, and
the idempotency keys that make a retried save store once.

A meeting (``coaching_meeting``: participant, coach, date, kind) is never overwritten. Each save or
correction is a revision (``coaching_revision``: number, who, when, why, which fields). Its parts
live in one table each, and a part gets a new row only at the revisions that changed it (a
correction of the weight writes measurements, the fitness test that used that weight, and the
assessment; it leaves the questionnaire and the notes alone):

- ``coaching_measurement``: height, weight, waist, resting blood pressure and heart rate as
  measured, and the BMI derived from them with the rule that did it (vitals);
- ``coaching_questionnaire``: questionnaire id, version and the answers (questionnaires);
- ``coaching_fitness_test``: every input, the equation id and version, the estimate in L/min and
  mL/kg/min, the warnings (fitness_tests);
- ``coaching_note``: the coach's free text (profiling), apart from
- ``coaching_assessment``: the automated assessment (profiling), one row per revision.

The meeting as of revision k is, per part, the row with the highest revision <= k; the current
meeting is the one as of ``current_revision``. Earlier rows stay readable and are never current.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from clinic_server.db.models.base import Base, new_id
from clinic_server.db.session import UTCDateTime, utcnow


class CoachingMeeting(Base):
    __tablename__ = "coaching_meeting"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"), index=True)
    #: the coach who held (and first saved) the meeting
    coach_id: Mapped[str] = mapped_column(ForeignKey("app_user.id"))
    held_on: Mapped[date] = mapped_column(Date)
    #: clinic_tui.domain.meeting.MeetingKind: first, follow_up
    kind: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: the revision shown as current; a correction names the one it saw (optimistic concurrency)
    current_revision: Mapped[int] = mapped_column(Integer, default=1)


class CoachingRevision(Base):
    """One save of a meeting: the first (number 1) or a correction, with who, when and why."""

    __tablename__ = "coaching_revision"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    meeting_id: Mapped[str] = mapped_column(ForeignKey("coaching_meeting.id"))
    number: Mapped[int] = mapped_column(Integer)
    author_id: Mapped[str] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: why the values were corrected (None for the first save)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: the field paths the correction changed, derived values included (None for the first save)
    changes: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    #: the data categories the revision wrote (the reason and changes are of these categories)
    categories: Mapped[list[str]] = mapped_column(JSON)
    __table_args__ = (UniqueConstraint("meeting_id", "number", name="uq_coaching_revision_number"),)


class CoachingMeasurement(Base):
    """What was measured at the meeting (LOINC and UCUM per value: clinic_tui.domain.meeting)."""

    __tablename__ = "coaching_measurement"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    meeting_id: Mapped[str] = mapped_column(ForeignKey("coaching_meeting.id"))
    revision: Mapped[int] = mapped_column(Integer)
    height_cm: Mapped[float | None] = mapped_column(Float, nullable=True)
    weight_kg: Mapped[float | None] = mapped_column(Float, nullable=True)
    waist_cm: Mapped[float | None] = mapped_column(Float, nullable=True)
    systolic: Mapped[float | None] = mapped_column(Float, nullable=True)
    diastolic: Mapped[float | None] = mapped_column(Float, nullable=True)
    heart_rate: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: derived from weight and height, with the rule that did it
    bmi: Mapped[float | None] = mapped_column(Float, nullable=True)
    bmi_rule_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    bmi_rule_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: when this row was stored (the register extract's dates; an anonymized copy keeps its month)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("meeting_id", "revision", name="uq_coaching_measurement_revision"),)


class CoachingQuestionnaire(Base):
    __tablename__ = "coaching_questionnaire"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    meeting_id: Mapped[str] = mapped_column(ForeignKey("coaching_meeting.id"))
    revision: Mapped[int] = mapped_column(Integer)
    questionnaire_id: Mapped[str] = mapped_column(String(60))
    questionnaire_version: Mapped[int] = mapped_column(Integer)
    #: question id -> answer code
    answers: Mapped[dict] = mapped_column(JSON)
    #: when this row was stored (the register extract's dates; an anonymized copy keeps its month)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("meeting_id", "revision", name="uq_coaching_questionnaire_revision"),)


class CoachingFitnessTest(Base):
    __tablename__ = "coaching_fitness_test"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    meeting_id: Mapped[str] = mapped_column(ForeignKey("coaching_meeting.id"))
    revision: Mapped[int] = mapped_column(Integer)
    #: the protocol, which is the equation's id (ekblom-bak-2016, astrand-ryhming)
    equation_id: Mapped[str] = mapped_column(String(40))
    equation_version: Mapped[int] = mapped_column(Integer)
    #: every input: sex and age (from the participant), the stages typed, the weight used
    inputs: Mapped[dict] = mapped_column(JSON)
    #: where the weight came from: "measurements" (follows a correction of the measured weight),
    #: "test" (typed with the test), or None (no weight: no relative value)
    weight_source: Mapped[str | None] = mapped_column(String(20), nullable=True)
    vo2max_l_min: Mapped[float] = mapped_column(Float)
    vo2max_ml_kg_min: Mapped[float | None] = mapped_column(Float, nullable=True)
    relative_rule_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    relative_rule_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: notices the estimate carries ([{code, params}])
    warnings: Mapped[list] = mapped_column(JSON)
    #: when this row was stored (the register extract's dates; an anonymized copy keeps its month)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("meeting_id", "revision", name="uq_coaching_fitness_test_revision"),)


class CoachingNote(Base):
    """The coach's free-text profiling notes: hers, never an input of the automated assessment."""

    __tablename__ = "coaching_note"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    meeting_id: Mapped[str] = mapped_column(ForeignKey("coaching_meeting.id"))
    revision: Mapped[int] = mapped_column(Integer)
    #: None: the notes were cleared at this revision
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: when this row was stored (the register extract's dates; an anonymized copy keeps its month)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("meeting_id", "revision", name="uq_coaching_note_revision"),)


class CoachingAssessment(Base):
    """The automated assessment (clinic_tui.domain.profiling) as of one revision."""

    __tablename__ = "coaching_assessment"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    meeting_id: Mapped[str] = mapped_column(ForeignKey("coaching_meeting.id"))
    revision: Mapped[int] = mapped_column(Integer)
    ruleset_id: Mapped[str] = mapped_column(String(40))
    ruleset_version: Mapped[int] = mapped_column(Integer)
    #: "assessed"; "objected" (the participant objected to profiling); "not_consented" (no consent
    #: to profiling when the revision was saved): the last two carry no conclusions
    status: Mapped[str] = mapped_column(String(20))
    #: [Conclusion.as_dict()]: code, value, rule id and version, explanation key and params
    conclusions: Mapped[list] = mapped_column(JSON)
    #: when this row was stored (the register extract's dates; an anonymized copy keeps its month)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("meeting_id", "revision", name="uq_coaching_assessment_revision"),)


class ProfilingObjection(Base):
    """The participant objects to profiling (GDPR art. 21/22): while active, no automated assessment."""

    __tablename__ = "profiling_objection"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by_id: Mapped[str] = mapped_column(ForeignKey("app_user.id"))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    withdrawn_by_id: Mapped[str | None] = mapped_column(ForeignKey("app_user.id"), nullable=True)
    __table_args__ = (
        Index("ix_profiling_objection_person", "person_id"),
        # at most one objection in force per person
        Index(
            "uq_profiling_objection_active",
            "person_id",
            unique=True,
            sqlite_where=text("withdrawn_at IS NULL"),
            postgresql_where=text("withdrawn_at IS NULL"),
        ),
    )


class IdempotencyKey(Base):
    """A key a client sent with a write, kept for a time: a retry with it returns the first result.

    Scoped to the user and the endpoint; it names the resource the first request made by opaque id
    only (no personal data: the comparison of a retry with the first request reads the resource)."""

    __tablename__ = "idempotency_key"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("app_user.id"))
    endpoint: Mapped[str] = mapped_column(String(60))
    key: Mapped[str] = mapped_column(String(100))
    resource_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (UniqueConstraint("user_id", "endpoint", "key", name="uq_idempotency_key_scope"),)
