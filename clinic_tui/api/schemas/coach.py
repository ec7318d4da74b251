"""Wire schemas of the coach's work: participants, meetings, corrections, objections to profiling.

Values travel as codes and numbers, never as sentences: conclusions and problems carry a key or
code and their params, which the client renders through its own catalogue. Every response about a
participant says which categories are withheld from the caller (``withheld``), so a part the
participant's consent does not cover reads "not shared" rather than blank.

Field paths (``measurements.weight_kg``, ``fitness_test.hr_high``, ``questionnaire.sleep.duration``,
``notes``, ``held_on``) name a value across a meeting's parts: problems carry them and corrections
name the values they change by them (``clinic_tui.domain.meeting``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, StrictFloat, StrictInt, StrictStr

from clinic_tui.api.schemas import ErrorParam, Wire
from clinic_tui.domain.fitness import ASTRAND_RYHMING, EKBLOM_BAK_2016
from clinic_tui.domain.meeting import MeetingKind

#: the header a meeting's save carries; the same key on a retry returns the first result
IDEMPOTENCY_HEADER = "Idempotency-Key"
#: set (to "true") on a response that is the replay of an earlier request with the same key
REPLAYED_HEADER = "Idempotent-Replayed"
#: what an idempotency key may look like (a UUID, hex or with dashes, fits)
IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9_.:-]{8,100}$"

Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Param = ErrorParam
AssessmentStatus = Literal["assessed", "objected", "not_consented"]


# --------------------------------------------------------------------------- a meeting, as sent


class MeasurementsIn(Wire):
    """What was measured (None: not measured). Units: cm, kg, mm[Hg], /min."""

    height_cm: Number | None = None
    weight_kg: Number | None = None
    waist_cm: Number | None = None
    systolic: Number | None = None
    diastolic: Number | None = None
    heart_rate: Number | None = None


class EkblomBakIn(Wire):
    """The revised Ekblom-Bak test: standard stage (about 30 W), then a higher individual one; each
    HR the mean of the readings at 3:15-4:00. Sex and age are the participant's."""

    protocol: Literal["ekblom-bak-2016"] = EKBLOM_BAK_2016.id  # type: ignore[assignment]
    watts_low: Number
    hr_low: Number
    watts_high: Number
    hr_high: Number
    #: the weight the relative value uses; None: the meeting's measured weight (if any)
    weight_kg: Number | None = None


class AstrandRyhmingIn(Wire):
    """Åstrand-Ryhming: one 6-minute stage, HR the mean of minutes 5 and 6."""

    protocol: Literal["astrand-ryhming"] = ASTRAND_RYHMING.id  # type: ignore[assignment]
    watts: Number
    hr: Number
    weight_kg: Number | None = None


FitnessTestIn = Annotated[EkblomBakIn | AstrandRyhmingIn, Field(discriminator="protocol")]


class QuestionnaireIn(Wire):
    questionnaire_id: str = Field(min_length=1, max_length=60)
    version: int = Field(ge=1, le=10_000)
    #: question id -> answer code; unanswered questions are left out
    answers: dict[Annotated[str, Field(max_length=80)], Annotated[str, Field(max_length=80)]] = Field(
        default_factory=dict, max_length=200
    )


class MeetingIn(Wire):
    """A whole meeting in one save: at least one part. Each part needs the participant's consent
    to its category (measurements: vitals; questionnaire: questionnaires; fitness_test:
    fitness_tests; notes: profiling); the automated assessment is made by the server."""

    held_on: date
    kind: MeetingKind
    measurements: MeasurementsIn | None = None
    questionnaire: QuestionnaireIn | None = None
    fitness_test: FitnessTestIn | None = None
    notes: str | None = Field(default=None, max_length=4000)


# --------------------------------------------------------------------------- corrections


class Change(Wire):
    """One value to correct, by field path; ``value`` None clears it (a measurement, an answer,
    the notes; a fitness test's stages cannot be cleared)."""

    field: str = Field(min_length=1, max_length=120)
    value: StrictFloat | StrictInt | StrictStr | None = None


class CorrectionIn(Wire):
    """Correct saved values: a new revision, with the reason; earlier ones stay readable."""

    #: the revision the coach saw: if the meeting was corrected since, 409 and nothing changes
    expected_revision: int = Field(ge=1)
    reason: str = Field(min_length=3, max_length=500)
    changes: list[Change] = Field(min_length=1, max_length=60)


# --------------------------------------------------------------------------- a meeting, as read


class NoticeOut(Wire):
    code: str
    params: dict[str, Param] = {}


class MeasurementOut(Wire):
    """One value of the meeting with its LOINC code and UCUM unit; derived ones name their rule."""

    key: str
    loinc: str
    unit: str
    value: float
    rule_id: str | None = None
    rule_version: int | None = None


class QuestionnaireOut(Wire):
    questionnaire_id: str
    version: int
    answers: dict[str, str]


class FitnessTestOut(Wire):
    #: the protocol, which is the equation id
    equation_id: str
    equation_version: int
    #: every input: sex, age, the stages, and the weight used (if any)
    inputs: dict[str, Param]
    #: "measurements" (the meeting's weight, follows its corrections), "test" (typed with the test)
    weight_source: Literal["measurements", "test"] | None = None
    vo2max_l_min: float
    vo2max_ml_kg_min: float | None = None
    relative_rule_id: str | None = None
    relative_rule_version: int | None = None
    warnings: list[NoticeOut] = []


class ExplanationOut(Wire):
    """One translatable line: a key of ``profiling.EXPLANATION_KEYS`` and the inputs it names."""

    key: str
    params: dict[str, Param] = {}


class ConclusionOut(Wire):
    code: str
    #: a category code, "flagged" / "not_flagged", or None: not assessed (the explanation says why)
    value: str | None = None
    rule_id: str
    rule_version: int
    explanation: ExplanationOut
    qualifiers: list[str] = []


class AssessmentOut(Wire):
    """The automated assessment as of one revision (GDPR art. 22: each conclusion explained)."""

    status: AssessmentStatus
    ruleset_id: str
    ruleset_version: int
    conclusions: list[ConclusionOut] = []
    #: conclusions left out because they rest on a category withheld from the caller
    withheld: list[str] = []


class MeetingVersion(Wire):
    """The meeting's values as of one revision. A part that is None was not recorded, or is of a
    category in the meeting's ``withheld``."""

    revision: int
    #: True only for the meeting's current revision: an earlier version is never current
    current: bool
    measurements: list[MeasurementOut] | None = None
    questionnaire: QuestionnaireOut | None = None
    fitness_test: FitnessTestOut | None = None
    notes: str | None = None
    assessment: AssessmentOut | None = None


class RevisionOut(Wire):
    """One save: number 1 is the first, each correction the next, with who, when and why."""

    number: int
    created_at: datetime
    author_id: str
    author: str
    #: the categories it wrote
    categories: list[str]
    #: the reason and the changed field paths, where the caller may see every category written
    reason: str | None = None
    changes: list[str] | None = None
    redacted: bool = False


class MeetingOut(Wire):
    id: str
    person_id: str
    held_on: date
    kind: MeetingKind
    coach_id: str
    coach: str
    created_at: datetime
    current_revision: int
    current: MeetingVersion
    #: earlier versions, newest first (each with ``current`` False)
    earlier: list[MeetingVersion] = []
    revisions: list[RevisionOut] = []
    #: categories not shared with the caller: their parts read "not shared", not "not recorded"
    withheld: list[str] = []


# --------------------------------------------------------------------------- participants


class ObjectionOut(Wire):
    """The participant's objection to profiling (active while not withdrawn)."""

    person_id: str
    active: bool
    recorded_at: datetime | None = None
    recorded_by: str | None = None
    withdrawn_at: datetime | None = None
    withdrawn_by: str | None = None


class SeriesPoint(Wire):
    meeting_id: str
    held_on: date
    value: float


class ParticipantHistory(Wire):
    """Every meeting of one participant, oldest first, and the series a chart shows."""

    person_id: str
    label: str
    shared: list[str]
    withheld: list[str]
    #: the meeting categories the participant's consent does not cover now
    missing: list[str]
    objected_to_profiling: bool
    #: where fitness tests are shared: the sex and age (today) a cycle test's equations use, for
    #: the meeting screen's live estimate (the server uses the age on the meeting's date)
    test_sex: str | None = None
    test_age: int | None = None
    meetings: list[MeetingOut]
    #: relative VO2max (current revision of each meeting's test), where fitness tests are shared
    vo2max_ml_kg_min: list[SeriesPoint] = []
    #: measured weight, where vitals are shared
    weight_kg: list[SeriesPoint] = []


class ParticipantRow(Wire):
    """One line of the coach's participant list (no conditions: that is the nurse's list)."""

    id: str
    #: the name where identity is shared with the coach, else a pseudonym
    label: str
    given_name: str | None = None
    family_name: str | None = None
    employer: str | None = None
    job_title: str | None = None
    last_meeting_on: date | None = None
    meetings: int = 0
    #: where fitness tests are shared: the last test, and whether one is due (due with none yet)
    last_test_on: date | None = None
    test_due_on: date | None = None
    test_due: bool | None = None
    objected_to_profiling: bool = False
    #: which meeting categories the participant's consent covers, and which it does not
    consented: list[str] = []
    missing: list[str] = []
    shared: list[str]
    withheld: list[str]
    access_basis: str


class ParticipantList(Wire):
    items: list[ParticipantRow]
