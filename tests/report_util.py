"""Employers with participants and stored meetings, for the report's query, API and CLI tests.

Meetings are stored through ``services/meetings.py`` (as the API and the demo do), so they carry the
same derived values (BMI with its rule, the cycle test's VO2max with its equation)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time

from clinic_server.db.models import Person, User
from clinic_server.services import meetings as store
from clinic_tui.domain.fitness import EKBLOM_BAK_2016, demo_cycle_test
from clinic_tui.domain.meeting import Part
from clinic_tui.domain.personnummer import age_years
from tests.coaching_util import ANSWERS


def last_year() -> int:
    return datetime.now(UTC).year - 1


def store_meeting(
    session,
    person: Person,
    coach: User,
    held_on: date,
    *,
    weight: float = 80.0,
    height: float = 178.0,
    waist: float = 90.0,
    systolic: float = 128.0,
    diastolic: float = 82.0,
    vo2_l_min: float | None = 3.0,
    answers: dict | None = None,
    saved_at: datetime | None = None,
) -> str:
    """A meeting of every part, stored as revision 1; its id."""
    age = age_years(person.birth_date, held_on)
    fitness = None
    if vo2_l_min is not None:
        test = demo_cycle_test(sex=person.sex, age=age, target_vo2max_l_min=vo2_l_min)
        fitness = store.FitnessState(
            EKBLOM_BAK_2016.id, {k: float(test[k]) for k in ("watts_low", "hr_low", "watts_high", "hr_high")}
        )
    state = store.MeetingState(
        measurements={
            "height_cm": height,
            "weight_kg": weight,
            "waist_cm": waist,
            "systolic": systolic,
            "diastolic": diastolic,
            "heart_rate": 64.0,
        },
        questionnaire=("imr-health-profile", 1, dict(answers or ANSWERS)),
        fitness=fitness,
        notes="Demo note.",
    )
    built = store.build(state, sex=person.sex, age=age)
    assert not built.problems, built.problems
    assessment = store.assessment_columns(
        state, built, sex=person.sex, age=age, allowed=frozenset(), objected=False
    )
    meeting_id = uuid.uuid4().hex
    store.add_meeting(
        session,
        meeting_id=meeting_id,
        person_id=person.id,
        coach_id=coach.id,
        held_on=held_on,
        kind="first",
        built=built,
        assessment=assessment,
        created_at=saved_at or datetime.combine(held_on, time(10), tzinfo=UTC),
    )
    session.flush()
    return meeting_id


def correct_measurements(session, meeting_id: str, person: Person, *, weight: float, height: float) -> None:
    """A correction (revision 2) of the weight and height: new measurements with BMI re-derived."""
    rows = store.load(session, [meeting_id])[meeting_id]
    state = store.state_at(rows, 1)
    measurements = {**(state.measurements or {}), "weight_kg": weight, "height_cm": height}
    age = age_years(person.birth_date, rows.meeting.held_on)
    corrected = store.MeetingState(measurements, state.questionnaire, state.fitness, state.notes)
    built = store.build(corrected, sex=person.sex, age=age)
    assert not built.problems, built.problems
    store.add_part(session, meeting_id, Part.MEASUREMENTS, 2, built.columns[Part.MEASUREMENTS])
    rows.meeting.current_revision = 2
    session.flush()
