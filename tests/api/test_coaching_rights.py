"""The coach's meetings inside the people's rights: an objection to profiling told to the privacy
office stops the coach's automated assessment as one told to the coach does (one objection, two
doors), and a meeting held is billed to the employer (the bookkeeping record retention keeps)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from clinic_server.db.models import BillingRecord, CoachingAssessment, Objection
from clinic_server.services import retention
from tests.api.test_coaching import save
from tests.coaching_util import build_coaching, meeting_body
from tests.conftest import bearer, login

pytestmark = pytest.mark.api


@pytest.fixture
def coaching(world):
    return build_coaching(world)


@pytest.fixture
async def cecilia(http, coaching):
    return bearer(await login(http, "cecilia"))


async def test_an_objection_told_to_the_privacy_office_stops_the_automated_assessment(
    http, coaching, cecilia, session
):
    pid = coaching.full.id
    assert (await save(http, cecilia, pid)).json()["current"]["assessment"]["status"] == "assessed"
    session.add(Objection(person_id=pid, kind="profiling", recorded_by="elsa"))
    session.commit()

    listed = (await http.get("/coaching/participants", headers=cecilia)).json()
    (row,) = [p for p in listed["items"] if p["id"] == pid]
    assert row["objected_to_profiling"] is True
    after = (await save(http, cecilia, pid, meeting_body(held_on="2025-05-05"))).json()
    assert after["current"]["assessment"] is None
    session.rollback()
    stored = session.scalar(select(CoachingAssessment).where(CoachingAssessment.meeting_id == after["id"]))
    assert (stored.status, stored.conclusions) == ("objected", [])

    # the coach cannot withdraw what the participant told the privacy office
    r = await http.delete(f"/coaching/participants/{pid}/objection", headers=cecilia)
    assert r.status_code == 409 and r.json()["code"] == "conflict"
    assert "privacy office" in r.json()["message"]
    session.rollback()
    assert session.scalar(select(Objection.withdrawn_at).where(Objection.person_id == pid)) is None

    # withdrawn there, the next save is assessed again
    session.execute(Objection.__table__.update().values(withdrawn_at=Objection.objected_at))
    session.commit()
    again = (await save(http, cecilia, pid, meeting_body(held_on="2025-06-05"))).json()
    assert again["current"]["assessment"]["status"] == "assessed"


async def test_a_meeting_held_is_billed_to_the_employer_and_a_retry_bills_once(
    http, coaching, cecilia, session
):
    pid = coaching.full.id
    idem = {"Idempotency-Key": "bill-once"}
    for _ in range(2):
        r = await save(http, cecilia, pid, meeting_body(held_on="2025-03-14"), idem=idem)
        assert r.status_code in (200, 201), r.text
    session.rollback()
    (bill,) = session.scalars(select(BillingRecord).where(BillingRecord.person_id == pid)).all()
    assert (bill.service, bill.service_date) == ("health_profile_meeting", date(2025, 3, 14))
    assert bill.employer_id == coaching.full.employer_id
    # the bookkeeping law: seven years after the end of the fiscal year
    assert bill.keep_until == date(2032, 12, 31)


def test_the_meetings_held_count_for_imrs_twelve_month_rule():
    (source,) = retention.LAST_MEETING_SOURCES
    assert "coaching_meeting.held_on" in str(source())
