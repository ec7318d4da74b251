"""A meeting's values as the server checks, derives, stores and reloads them; no access decisions.

``services/coaching.py`` (the guarded endpoints) and the demo seed build meetings through here, so
a stored meeting always went through the same checks and carries the same derived values:

- ``MeetingState``: what was recorded (measurements, questionnaire answers, cycle-test inputs,
  notes), from a request body (``state_from_body``) or from the stored rows (``state_at``);
- ``build``: every problem with it (domain codes, field paths) and the columns of each part with
  the values derived from it: BMI (``bmi`` v1), the VO2max estimate (its equation id and version,
  relative value, warnings);
- ``assessment_columns``: the automated assessment (``profiling.assess_meeting``) from the parts
  whose categories the participant's consent covers, or none (objection, no consent to profiling);
- ``MeetingRows``: a stored meeting with its revisions and every version of each part; ``at(part,
  k)`` is the part as of revision k.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic_server.db.models import (
    CoachingAssessment,
    CoachingFitnessTest,
    CoachingMeasurement,
    CoachingMeeting,
    CoachingNote,
    CoachingQuestionnaire,
    CoachingRevision,
)
from clinic_tui.api.schemas.coach import MeetingIn
from clinic_tui.domain import fitness
from clinic_tui.domain.categories import Category
from clinic_tui.domain.meeting import (
    BMI,
    MEASUREMENTS,
    PART_CATEGORY,
    PROTOCOL_FIELDS,
    Part,
    check_measurements,
)
from clinic_tui.domain.profiling import PROFILING, MeetingFacts, assess_meeting
from clinic_tui.domain.provenance import DomainError, Problem
from clinic_tui.domain.questionnaire import get_questionnaire, validate_answers

#: the table of each stored part
PART_MODEL = {
    Part.MEASUREMENTS: CoachingMeasurement,
    Part.QUESTIONNAIRE: CoachingQuestionnaire,
    Part.FITNESS_TEST: CoachingFitnessTest,
    Part.NOTES: CoachingNote,
    Part.ASSESSMENT: CoachingAssessment,
}
#: the columns of each part's row that hold its values (not ids, not the revision)
PART_COLUMNS: dict[Part, tuple[str, ...]] = {
    Part.MEASUREMENTS: (*MEASUREMENTS, "bmi", "bmi_rule_id", "bmi_rule_version"),
    Part.QUESTIONNAIRE: ("questionnaire_id", "questionnaire_version", "answers"),
    Part.FITNESS_TEST: (
        "equation_id",
        "equation_version",
        "inputs",
        "weight_source",
        "vo2max_l_min",
        "vo2max_ml_kg_min",
        "relative_rule_id",
        "relative_rule_version",
        "warnings",
    ),
    Part.NOTES: ("text",),
    Part.ASSESSMENT: ("ruleset_id", "ruleset_version", "status", "conclusions"),
}
RECORDED_PARTS = (Part.MEASUREMENTS, Part.QUESTIONNAIRE, Part.FITNESS_TEST, Part.NOTES)

WEIGHT_FROM_MEASUREMENTS = "measurements"
WEIGHT_FROM_TEST = "test"


# --------------------------------------------------------------------------- what was recorded


@dataclass(frozen=True)
class FitnessState:
    """A cycle test as typed: the protocol (= equation id), its stages, and a weight typed with it
    (None: the meeting's measured weight is used)."""

    protocol: str
    stages: dict[str, float]
    weight_kg: float | None = None


@dataclass(frozen=True)
class MeetingState:
    """What a meeting recorded; a part that is None was not recorded."""

    measurements: dict[str, float] | None = None
    #: (questionnaire id, version, answers)
    questionnaire: tuple[str, int, dict[str, str]] | None = None
    fitness: FitnessState | None = None
    notes: str | None = None

    def parts(self) -> set[Part]:
        present = {
            Part.MEASUREMENTS: self.measurements is not None,
            Part.QUESTIONNAIRE: self.questionnaire is not None,
            Part.FITNESS_TEST: self.fitness is not None,
            Part.NOTES: self.notes is not None,
        }
        return {part for part, there in present.items() if there}

    def categories(self) -> frozenset[Category]:
        return frozenset(PART_CATEGORY[p] for p in self.parts())


def clean_notes(text: str | None) -> str | None:
    text = (text or "").strip()
    return text or None


def state_from_body(body: MeetingIn) -> MeetingState:
    """The state a request body records; a part with nothing in it counts as not recorded."""
    measurements = None
    if body.measurements is not None:
        given = {k: v for k, v in body.measurements.model_dump().items() if v is not None}
        measurements = given or None
    questionnaire = None
    if body.questionnaire is not None and body.questionnaire.answers:
        q = body.questionnaire
        questionnaire = (q.questionnaire_id, q.version, dict(q.answers))
    test = None
    if body.fitness_test is not None:
        f = body.fitness_test.model_dump()
        protocol = f.pop("protocol")
        weight = f.pop("weight_kg")
        test = FitnessState(protocol, f, weight)
    return MeetingState(measurements, questionnaire, test, clean_notes(body.notes))


# --------------------------------------------------------------------------- checks and derived values


@dataclass
class Built:
    """A state checked, with the columns of each recorded part and the values derived from it."""

    problems: list[Problem] = field(default_factory=list)
    columns: dict[Part, dict | None] = field(default_factory=dict)
    estimate: fitness.VO2maxEstimate | None = None


def _prefixed(part: str, problems: Iterable[Problem]) -> list[Problem]:
    return [Problem(f"{part}.{p.field}" if p.field else part, p.code, p.params) for p in problems]


def _json(value):
    """As the database gives it back (JSON columns): lists, not tuples; so comparisons hold."""
    return json.loads(json.dumps(value))


def build(state: MeetingState, *, sex: str, age: int) -> Built:
    """Check every part and derive its values; problems carry field paths and domain codes.

    ``sex`` and ``age`` (at the meeting) are the participant's: the equations are sex-specific."""
    out = Built()
    measured_weight: float | None = None
    if state.measurements is not None:
        problems = check_measurements(state.measurements)
        out.problems += problems
        bad = {p.field for p in problems}
        m = state.measurements
        cols: dict = {key: m.get(key) for key in MEASUREMENTS}
        cols.update(bmi=None, bmi_rule_id=None, bmi_rule_version=None)
        ok = {k: v for k, v in m.items() if f"measurements.{k}" not in bad}
        measured_weight = ok.get("weight_kg")
        if "weight_kg" in ok and "height_cm" in ok:
            cols.update(
                bmi=fitness.bmi(ok["weight_kg"], ok["height_cm"]),
                bmi_rule_id=BMI.id,
                bmi_rule_version=BMI.version,
            )
        out.columns[Part.MEASUREMENTS] = cols

    if state.questionnaire is not None:
        qid, version, answers = state.questionnaire
        try:
            questionnaire = get_questionnaire(qid, version)
        except DomainError as err:
            out.problems += _prefixed("questionnaire", err.problems)
        else:
            out.problems += _prefixed("questionnaire", validate_answers(answers, questionnaire))
        out.columns[Part.QUESTIONNAIRE] = {
            "questionnaire_id": qid,
            "questionnaire_version": version,
            "answers": dict(answers),
        }

    if state.fitness is not None:
        test = state.fitness
        # one person, one weight per meeting: a weight typed with the test is the measured one or
        # none is measured (so the test's inputs never hold a weight the measurements do not)
        if test.weight_kg is not None and measured_weight is not None and test.weight_kg != measured_weight:
            out.problems.append(
                Problem(
                    "fitness_test.weight_kg",
                    "meeting.weight_differs",
                    {"weight_kg": test.weight_kg, "measured": measured_weight},
                )
            )
        if test.weight_kg is not None:
            weight, source = test.weight_kg, WEIGHT_FROM_TEST
        elif measured_weight is not None:
            weight, source = measured_weight, WEIGHT_FROM_MEASUREMENTS
        else:
            weight, source = None, None
        estimate_fn = {
            fitness.EKBLOM_BAK_2016.id: fitness.estimate_ekblom_bak_2016,
            fitness.ASTRAND_RYHMING.id: fitness.estimate_astrand_ryhming,
        }.get(test.protocol)
        if estimate_fn is None:
            out.problems.append(
                Problem("fitness_test.protocol", "value.unknown_code", {"value": test.protocol})
            )
        else:
            stages = {k: test.stages.get(k) for k in PROTOCOL_FIELDS[test.protocol] if k != "weight_kg"}
            try:
                estimate = estimate_fn(sex=sex, age=age, weight_kg=weight, **stages)
            except DomainError as err:
                out.problems += _prefixed("fitness_test", err.problems)
            else:
                out.estimate = estimate
                out.columns[Part.FITNESS_TEST] = _json(
                    {
                        "equation_id": estimate.equation_id,
                        "equation_version": estimate.equation_version,
                        "inputs": {**estimate.inputs, "weight_kg": weight},
                        "weight_source": source,
                        "vo2max_l_min": estimate.vo2max_l_min,
                        "vo2max_ml_kg_min": estimate.vo2max_ml_kg_min,
                        "relative_rule_id": estimate.relative_rule_id,
                        "relative_rule_version": estimate.relative_rule_version,
                        "warnings": [w.as_dict() for w in estimate.warnings],
                    }
                )

    if state.notes is not None:
        out.columns[Part.NOTES] = {"text": state.notes}
    return out


def assessment_columns(
    state: MeetingState,
    built: Built,
    *,
    sex: str,
    age: int,
    allowed: frozenset[Category],
    objected: bool,
) -> dict:
    """The automated assessment as of this state, made only from what the participant's consent
    covers now: a part of a category not allowed is left out (its conclusions read "not
    assessed"), and without consent to profiling, or with an objection, there is none at all."""
    if objected or Category.PROFILING not in allowed:
        return {
            "ruleset_id": PROFILING.id,
            "ruleset_version": PROFILING.version,
            "status": "objected" if objected else "not_consented",
            "conclusions": [],
        }
    m = (state.measurements or {}) if Category.VITALS in allowed else {}
    estimate = built.estimate if Category.FITNESS_TESTS in allowed else None
    weight = m.get("weight_kg")
    if weight is None and estimate is not None:
        weight = estimate.weight_kg
    q = state.questionnaire if Category.QUESTIONNAIRES in allowed else None
    facts = MeetingFacts(
        sex=sex,
        age=age,
        height_cm=m.get("height_cm"),
        weight_kg=weight,
        waist_cm=m.get("waist_cm"),
        systolic=m.get("systolic"),
        diastolic=m.get("diastolic"),
        fitness=estimate,
        questionnaire_id=q[0] if q else None,
        questionnaire_version=q[1] if q else None,
        answers=q[2] if q else {},
    )
    assessment = assess_meeting(facts, objected_to_profiling=False)
    return _json(
        {
            "ruleset_id": assessment.ruleset_id,
            "ruleset_version": assessment.ruleset_version,
            "status": assessment.status,
            "conclusions": [c.as_dict() for c in assessment.conclusions],
        }
    )


# --------------------------------------------------------------------------- stored meetings


@dataclass
class MeetingRows:
    """A stored meeting: its revisions, and every version of each part, oldest first."""

    meeting: CoachingMeeting
    revisions: list[CoachingRevision] = field(default_factory=list)
    parts: dict[Part, list] = field(default_factory=lambda: defaultdict(list))

    def at(self, part: Part, revision: int):
        """The part as of ``revision`` (its row with the highest revision <= it), or None."""
        found = None
        for row in self.parts[part]:
            if row.revision <= revision:
                found = row
        return found

    def columns_at(self, part: Part, revision: int) -> dict | None:
        """The part's values as of ``revision``; a part emptied by a correction counts as absent."""
        return _empty_is_none(part, columns_of(part, self.at(part, revision)))


def columns_of(part: Part, row) -> dict | None:
    if row is None:
        return None
    return {c: getattr(row, c) for c in PART_COLUMNS[part]}


def _empty_is_none(part: Part, cols: dict | None) -> dict | None:
    if cols is None:
        return None
    if part is Part.MEASUREMENTS and all(cols[k] is None for k in MEASUREMENTS):
        return None
    if part is Part.NOTES and cols["text"] is None:
        return None
    return cols


def empty_columns(part: Part) -> dict:
    """The row that records that a part was emptied by a correction (measurements, notes)."""
    if part is Part.MEASUREMENTS:
        return dict.fromkeys(PART_COLUMNS[part])
    if part is Part.NOTES:
        return {"text": None}
    raise ValueError(f"{part} cannot be emptied")


def changed(part: Part, old: dict | None, new: dict | None) -> bool:
    return _empty_is_none(part, old) != _empty_is_none(part, new)


def load(session: Session, meeting_ids: list[str]) -> dict[str, MeetingRows]:
    """The meetings with these ids, with their revisions and every version of every part."""
    if not meeting_ids:
        return {}
    out = {
        m.id: MeetingRows(m)
        for m in session.scalars(select(CoachingMeeting).where(CoachingMeeting.id.in_(meeting_ids)))
    }
    for rev in session.scalars(
        select(CoachingRevision)
        .where(CoachingRevision.meeting_id.in_(meeting_ids))
        .order_by(CoachingRevision.meeting_id, CoachingRevision.number)
    ):
        out[rev.meeting_id].revisions.append(rev)
    for part, model in PART_MODEL.items():
        for row in session.scalars(
            select(model).where(model.meeting_id.in_(meeting_ids)).order_by(model.meeting_id, model.revision)
        ):
            out[row.meeting_id].parts[part].append(row)
    return out


def load_for_person(session: Session, person_id: str) -> list[MeetingRows]:
    """Every meeting of a person, oldest first."""
    ids = list(
        session.scalars(
            select(CoachingMeeting.id)
            .where(CoachingMeeting.person_id == person_id)
            .order_by(CoachingMeeting.held_on, CoachingMeeting.created_at, CoachingMeeting.id)
        )
    )
    loaded = load(session, ids)
    return [loaded[i] for i in ids]


def state_at(rows: MeetingRows, revision: int) -> MeetingState:
    """What the meeting recorded as of ``revision`` (the inputs, not the derived values)."""
    m = rows.columns_at(Part.MEASUREMENTS, revision)
    measurements = {k: m[k] for k in MEASUREMENTS if m[k] is not None} if m else None
    q = rows.columns_at(Part.QUESTIONNAIRE, revision)
    questionnaire = (q["questionnaire_id"], q["questionnaire_version"], dict(q["answers"])) if q else None
    f = rows.columns_at(Part.FITNESS_TEST, revision)
    test = None
    if f is not None:
        protocol = f["equation_id"]
        stages = {k: f["inputs"][k] for k in PROTOCOL_FIELDS[protocol] if k != "weight_kg"}
        typed = f["inputs"].get("weight_kg") if f["weight_source"] == WEIGHT_FROM_TEST else None
        test = FitnessState(protocol, stages, typed)
    n = rows.columns_at(Part.NOTES, revision)
    return MeetingState(measurements, questionnaire, test, n["text"] if n else None)


def add_part(
    session: Session, meeting_id: str, part: Part, revision: int, columns: dict, recorded_at=None
) -> None:
    row = PART_MODEL[part](meeting_id=meeting_id, revision=revision, **columns)
    if recorded_at is not None:
        row.recorded_at = recorded_at
    session.add(row)


def add_meeting(
    session: Session,
    *,
    meeting_id: str,
    person_id: str,
    coach_id: str,
    held_on: date,
    kind: str,
    built: Built,
    assessment: dict,
    created_at,
) -> CoachingMeeting:
    """Store a new meeting as revision 1 (the caller checked it: ``built.problems`` is empty)."""
    if built.problems:
        raise ValueError("a meeting with problems is never stored")
    meeting = CoachingMeeting(
        id=meeting_id,
        person_id=person_id,
        coach_id=coach_id,
        held_on=held_on,
        kind=kind,
        created_at=created_at,
        current_revision=1,
    )
    session.add(meeting)
    # no relationships are mapped, so the unit of work does not order these by their foreign keys
    session.flush()
    parts = [p for p in RECORDED_PARTS if built.columns.get(p) is not None]
    session.add(
        CoachingRevision(
            meeting_id=meeting_id,
            number=1,
            author_id=coach_id,
            created_at=created_at,
            reason=None,
            changes=None,
            categories=sorted({str(PART_CATEGORY[p]) for p in parts}),
        )
    )
    for part in parts:
        add_part(session, meeting_id, part, 1, built.columns[part], created_at)
    add_part(session, meeting_id, Part.ASSESSMENT, 1, assessment, created_at)
    return meeting
