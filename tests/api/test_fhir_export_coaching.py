"""The FHIR export of an IMR participant: every row of the coach's tables becomes its resource (a
meeting an Encounter, measurements, fitness results, notes and automated assessments Observations
with the equation or rule as method, questionnaire answers a QuestionnaireResponse, revisions and
derived values Provenance, an objection to profiling a Consent), and the bundle validates."""

from __future__ import annotations

from collections import Counter

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import func, select

from clinic_server.db.models.coaching import (
    CoachingAssessment,
    CoachingFitnessTest,
    CoachingMeasurement,
    CoachingMeeting,
    CoachingNote,
    CoachingQuestionnaire,
    CoachingRevision,
)
from clinic_server.demo.accounts import DEMO_PASSWORD
from clinic_server.demo.seed import seed_demo
from tests.conftest import bearer, login

pytestmark = pytest.mark.api


def _rows(session, model, meetings: list[str]) -> int:
    return session.scalar(select(func.count()).select_from(model).where(model.meeting_id.in_(meetings)))


async def test_a_participants_meetings_are_in_the_export_and_validate(http, session):
    seed_demo(session, patients=4, participants=12, days=3)
    # the participant with the most meetings
    person_id, _n = session.execute(
        select(CoachingMeeting.person_id, func.count())
        .group_by(CoachingMeeting.person_id)
        .order_by(func.count().desc(), CoachingMeeting.person_id)
    ).first()
    meetings = list(session.scalars(select(CoachingMeeting.id).where(CoachingMeeting.person_id == person_id)))
    fitness = _rows(session, CoachingFitnessTest, meetings)
    notes = _rows(session, CoachingNote, meetings)
    assessments = _rows(session, CoachingAssessment, meetings)
    assert fitness and assessments, "the demo participant has fitness tests and assessments"

    elsa = bearer(await login(http, "elsa", DEMO_PASSWORD))
    r = await http.post(f"/subjects/{person_id}/export", headers=elsa)
    assert r.status_code == 200, r.text
    out = r.json()
    bundle = out["bundle"]
    Bundle.model_validate(bundle)
    for e in bundle["entry"]:
        get_fhir_model_class(e["resource"]["resourceType"]).model_validate(e["resource"])
    counted = Counter(e["resource"]["resourceType"] for e in bundle["entry"])
    assert dict(counted) == out["resource_counts"]
    assert counted["Encounter"] == len(meetings)
    assert counted["QuestionnaireResponse"] >= _rows(session, CoachingQuestionnaire, meetings)

    def coach_part(code: str) -> list[dict]:
        return [
            e["resource"]
            for e in bundle["entry"]
            if e["resource"]["resourceType"] == "Observation"
            and any(c.get("code") == code for c in e["resource"]["code"].get("coding", []))
        ]

    vo2 = coach_part("submaximal-cycle-test")
    assert len(vo2) == fitness
    equations = set(
        session.scalars(
            select(CoachingFitnessTest.equation_id).where(CoachingFitnessTest.meeting_id.in_(meetings))
        )
    )
    assert {o["method"]["coding"][0]["code"] for o in vo2} == equations
    assert len(coach_part("measurements")) == _rows(session, CoachingMeasurement, meetings)
    assert len(coach_part("notes")) == notes
    assert len(coach_part("automated-assessment")) == assessments
    # a Provenance for each revision, fitness result, note and assessment (and the other holdings')
    assert counted["Provenance"] >= _rows(session, CoachingRevision, meetings) + fitness + notes + assessments
    # every reference inside the bundle resolves
    urls = {e["fullUrl"] for e in bundle["entry"]}
    for e in bundle["entry"]:
        enc = e["resource"].get("encounter")
        if enc:
            assert enc["reference"] in urls
