"""The retention job, to the day: IMR's 12-month and 6-month edges, a meeting on the last day, an
anonymization request, the seventh-year bookkeeping rule, ImagineCare's account closure; legal
holds, dry runs, one audit record per run with what it removed by rule, once per interval."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from clinic_server.api.app import create_app
from clinic_server.db import make_sessionmaker
from clinic_server.db.models import (
    AuditEvent,
    BillingRecord,
    CoachAssignment,
    CoachingMeeting,
    Consent,
    Employer,
    JobRun,
    LegalHold,
    Person,
    SubjectRequest,
)
from clinic_server.jobs.retention import RetentionJob, run_retention
from clinic_server.services import retention
from tests.rights_util import organizations

pytestmark = pytest.mark.api


def at(d: date, hour: int = 9) -> datetime:
    return datetime(d.year, d.month, d.day, hour, tzinfo=UTC)


@pytest.fixture
def orgs(world, session):
    return organizations(world, session)


@pytest.fixture
def sessions(app):
    return make_sessionmaker(app.state.engine)


def _participant(session, world, orgs, *, contact: date, employer=None, name="Ada") -> str:
    """A participant whose last contact with IMR (coach assignment) was on ``contact``."""
    p = world.person(name, employer=employer or orgs.employer)
    p.created_at = at(contact) - timedelta(days=30)
    session.add(
        CoachAssignment(coach_id=orgs.users["cecilia"].id, person_id=p.id, created_at=at(contact, 15))
    )
    session.commit()
    return p.id


def _exists(session, pid: str) -> bool:
    session.rollback()
    return session.get(Person, pid) is not None


def _due(sessions, day: date) -> dict[str, str]:
    outcome = run_retention(sessions, now=at(day), dry_run=True)
    return {d.person_id: d.due.rule.id for d in outcome.due}


def test_the_twelve_month_edge(session, world, orgs, sessions):
    pid = _participant(session, world, orgs, contact=date(2025, 3, 10))
    assert pid not in _due(sessions, date(2026, 3, 9))  # the last day it is kept
    assert _due(sessions, date(2026, 3, 10))[pid] == "imr.last_meeting"
    run_retention(sessions, now=at(date(2026, 3, 9)))
    assert _exists(session, pid)
    outcome = run_retention(sessions, now=at(date(2026, 3, 10)))
    assert [d.person_id for d in outcome.due] == [pid] and not _exists(session, pid)


def test_the_six_month_edge_after_the_employer_ends_its_contract(session, world, orgs, sessions):
    ending = Employer(name="Slutar AB", contract_start=date(2020, 1, 1), contract_end=date(2026, 6, 30))
    session.add(ending)
    session.commit()
    pid = _participant(session, world, orgs, contact=date(2026, 6, 1), employer=ending)
    assert pid not in _due(sessions, date(2026, 12, 29))
    assert _due(sessions, date(2026, 12, 30))[pid] == "imr.employer_contract_ended"
    run_retention(sessions, now=at(date(2026, 12, 29)))
    assert _exists(session, pid)
    run_retention(sessions, now=at(date(2026, 12, 30)))
    assert not _exists(session, pid)


@pytest.fixture
def meet(session, orgs):
    """Record a health-profile meeting (the coach's table, the registered source of "last meeting")."""
    coach = orgs.users["cecilia"].id

    def add(pid: str, held_on: date) -> None:
        session.add(CoachingMeeting(person_id=pid, coach_id=coach, held_on=held_on, kind="follow_up"))
        session.commit()

    return add


def test_the_coachs_meetings_are_the_source_of_the_last_meeting():
    assert len(retention.LAST_MEETING_SOURCES) == 1
    assert "coaching_meeting" in str(retention.LAST_MEETING_SOURCES[0]())


def test_a_meeting_on_the_last_day_keeps_the_data_twelve_more_months(session, world, orgs, sessions, meet):
    # onboarding and the assignment are recent: only the meetings decide (not the last contact)
    pid = _participant(session, world, orgs, contact=date(2026, 4, 1))
    meet(pid, date(2025, 5, 1))
    assert _due(sessions, date(2026, 5, 1))[pid] == "imr.last_meeting"
    meet(pid, date(2026, 4, 30))
    assert pid not in _due(sessions, date(2026, 5, 1))
    run_retention(sessions, now=at(date(2026, 5, 1)))
    assert _exists(session, pid)
    assert pid not in _due(sessions, date(2027, 4, 29))
    assert _due(sessions, date(2027, 4, 30))[pid] == "imr.last_meeting"


def test_until_meetings_are_recorded_the_last_contact_counts(session, world, orgs, sessions):
    pid = _participant(session, world, orgs, contact=date(2025, 1, 10))
    # a consent to IMR given later is contact too
    session.add(
        Consent(
            person_id=pid,
            organization_id=orgs.imr.id,
            categories=["vitals"],
            purpose="coaching",
            valid_from=at(date(2025, 8, 1)),
            status="active",
            created_at=at(date(2025, 8, 1)),
        )
    )
    session.commit()
    assert pid not in _due(sessions, date(2026, 7, 31))
    assert _due(sessions, date(2026, 8, 1))[pid] == "imr.last_meeting"


def test_an_anonymization_request_is_carried_out_by_the_next_run(session, world, orgs, sessions):
    pid = _participant(session, world, orgs, contact=date(2026, 1, 1))
    session.add(
        SubjectRequest(person_id=pid, kind="anonymization", received_on=date(2026, 2, 3), recorded_by="elsa")
    )
    session.commit()
    assert pid not in _due(sessions, date(2026, 2, 2))
    assert _due(sessions, date(2026, 2, 3))[pid] == "imr.anonymization_request"


def test_the_seventh_year_bookkeeping_rule(session, world, orgs, sessions):
    session.add(
        BillingRecord(
            person_id=None,
            employer_id=orgs.employer.id,
            service="health_profile_meeting",
            service_date=date(2025, 6, 1),
            name="Someone Erased",
            fiscal_year_end=date(2025, 12, 31),
            keep_until=date(2032, 12, 31),
        )
    )
    session.commit()
    assert run_retention(sessions, now=at(date(2032, 12, 31))).billing == 0
    assert session.scalar(select(sa.func.count()).select_from(BillingRecord)) == 1
    assert run_retention(sessions, now=at(date(2033, 1, 1))).billing == 1
    session.rollback()
    assert session.scalar(select(sa.func.count()).select_from(BillingRecord)) == 0


def test_an_imagine_care_account_that_ended_is_deleted(session, world, orgs, sessions):
    def patient(name: str, status: str | None) -> str:
        p = world.person(name)
        if status is not None:
            session.add(
                Consent(
                    person_id=p.id,
                    organization_id=orgs.app.id,
                    categories=["vitals"],
                    purpose="self_care",
                    valid_from=at(date(2025, 1, 1)),
                    status=status,
                    withdrawn_at=at(date(2026, 2, 1)) if status == "withdrawn" else None,
                )
            )
        world.consent(p, orgs.norra)
        session.commit()
        return p.id

    closed, alive, legacy = (
        patient("Closed", "withdrawn"),
        patient("Alive", "active"),
        patient("Legacy", None),
    )
    due = _due(sessions, date(2026, 2, 1))
    assert due == {closed: "imaginecare.account_closed"}
    outcome = run_retention(sessions, now=at(date(2026, 2, 1)))
    assert outcome.due[0].mode == "delete"
    assert not _exists(session, closed) and _exists(session, alive) and _exists(session, legacy)


def test_a_legal_hold_keeps_and_each_run_is_one_audit_record_by_rule(session, world, orgs, sessions):
    held = _participant(session, world, orgs, contact=date(2025, 1, 1), name="Held")
    gone = _participant(session, world, orgs, contact=date(2025, 1, 1), name="Gone")
    session.add(LegalHold(person_id=held, reason="claim", set_by="elsa", held_until=date(2030, 1, 1)))
    session.commit()
    day = date(2026, 6, 1)
    dry = run_retention(sessions, now=at(day), dry_run=True)
    assert [d.person_id for d in dry.due] == [gone] and dry.held == 1
    assert _exists(session, gone)  # a dry run changes nothing
    rec = session.scalar(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))
    assert (rec.action, rec.purpose, rec.role) == ("retention_dry_run", "system", "system")
    assert rec.details["rules"]["imr.last_meeting"]["person_ids"] == [gone]

    outcome = run_retention(sessions, now=at(day))
    assert (
        [d.person_id for d in outcome.due] == [gone] and not _exists(session, gone) and _exists(session, held)
    )
    rec = session.scalar(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))
    rule = rec.details["rules"]["imr.last_meeting"]
    assert rec.action == "retention_run" and rule["version"] == 1 and rule["mode"] == "anonymize"
    assert rule["people"] == 1 and rule["rows"]["deleted"]["person"] == 1 and rec.details["held"] == 1
    assert "Gone" not in str(rec.details) + rec.reason
    # a second process within the interval does not run it again
    again = run_retention(sessions, now=at(day) + timedelta(minutes=5), min_gap=timedelta(hours=20))
    assert not again.ran and "within the interval" in again.reason


async def test_serve_runs_retention_on_its_schedule(settings, session, orgs):
    # an upgrade counts as a run (the first comes an interval later): within the interval serve waits
    assert session.get(JobRun, "retention").last_finished_at is not None
    RetentionJob(make_sessionmaker(session.get_bind()), 24).step()
    session.rollback()
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "retention_run")) is None
    # a day later (as if): it runs at start
    session.execute(sa.update(JobRun).where(JobRun.name == "retention").values(last_finished_at=None))
    session.commit()
    app = create_app(settings.with_changes(retention_hours=24, missing_sweep_minutes=0))
    try:
        async with app.router.lifespan_context(app):
            for _ in range(100):
                session.rollback()
                if session.get(JobRun, "retention").last_finished_at is not None:
                    break
                await asyncio.sleep(0.05)
        run = session.get(JobRun, "retention")
        assert (
            run.last_finished_at is not None and run.holder is None and run.last_result.startswith("removed")
        )
        assert session.scalar(select(AuditEvent).where(AuditEvent.action == "retention_run")) is not None
    finally:
        app.state.engine.dispose()
