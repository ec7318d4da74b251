"""The findings scan over a real audit log: what real requests leave behind is found once, the scan
reads incrementally, waits for records to settle, and is audited per unit of work."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from clinic_server.audit.chain import verify
from clinic_server.db import utcnow
from clinic_server.db.models import AuditEvent, FindingCursor, UserActivity
from clinic_server.jobs.findings import FINDINGS_SCAN, scan_findings
from clinic_server.jobs.runner import claim, release
from clinic_server.services.findings.rules import local_day_hour
from tests.conftest import bearer, login
from tests.monitoring_util import KEY, findings, link, past, scan, watch_world

pytestmark = pytest.mark.api

REASON = "Found unconscious in the waiting room, no consent on file"


@pytest.fixture
def w(world, session):
    return watch_world(world, session)


async def _open(http, tokens, person) -> None:
    r = await http.get(f"/patients/{person.id}", headers=bearer(tokens))
    assert r.status_code == 200, r.text


async def test_a_visit_nothing_explains_is_found_once(http, app, session, w):
    anna = await login(http, "anna")
    await _open(http, anna, w.people["nora"])
    await _open(http, anna, w.people["nora"])
    run = scan(app)
    [f] = findings(session)
    assert (f.rule_id, f.rule_version, f.username, f.person_id) == (
        "browsing",
        1,
        "anna",
        w.people["nora"].id,
    )
    assert f.organization_id == w.north.id and f.reason_key == "finding.browsing"
    reads = session.scalars(
        select(AuditEvent.seq).where(AuditEvent.action == "read", AuditEvent.username == "anna")
    ).all()
    assert f.evidence == sorted(reads) and f.evidence_count == 2 and f.params["accesses"] == 2
    assert run.outcome.new == 1 and run.outcome.by_rule == {"browsing": 1}

    # nothing new: nothing found again; the whole log again: still one finding, unchanged
    assert scan(app).outcome.new == 0
    again = scan(app, from_start=True)
    assert (again.outcome.new, again.outcome.updated) == (0, 0)
    assert len(findings(session)) == 1
    # another visit the same day extends it
    await _open(http, anna, w.people["nora"])
    run = scan(app)
    [f] = findings(session)
    assert (run.outcome.new, run.outcome.updated) == (0, 1) and f.evidence_count == 3


async def test_a_visit_care_explains_is_not_a_finding(http, app, session, w):
    """Opening the patient and then acting on her alert minutes later, across a batch boundary."""
    anna, nora = w.users["anna"], w.people["nora"]
    t = utcnow() - timedelta(hours=3)
    past(session, anna, t, "read", "person", person_id=nora.id, categories=["identity", "vitals"])
    past(
        session,
        anna,
        t + timedelta(minutes=3),
        "acknowledge",
        "alert",
        person_id=nora.id,
        categories=["vitals"],
    )
    # an old visit: acted on 40 days ago is not recent care, 20 days ago is
    olle = w.people["olle"]
    past(
        session,
        anna,
        t - timedelta(days=40),
        "transition",
        "alert",
        person_id=olle.id,
        details={"action": "resolve"},
    )
    past(session, anna, t, "read", "person", person_id=olle.id, categories=["identity"])
    scan(app, batch=1)
    [f] = findings(session)
    assert f.person_id == olle.id
    past(session, anna, t - timedelta(days=20), "update", "thresholds", person_id=w.people["agnes"].id)
    past(
        session,
        anna,
        t + timedelta(minutes=1),
        "read",
        "person",
        person_id=w.people["agnes"].id,
        categories=["identity"],
    )
    scan(app)
    assert [f.person_id for f in findings(session)] == [olle.id]


async def test_an_incremental_run_knows_the_care_before_it(http, app, session, w):
    """The run starts after the care action (on a routine poll): what came before is history."""
    anna, nora = w.users["anna"], w.people["nora"]
    t = utcnow() - timedelta(hours=5)
    past(session, anna, t, "resolve", "alert", person_id=nora.id, categories=["vitals"])
    scan(app)
    past(session, anna, t + timedelta(hours=1), "list", "alert", categories=["vitals"])  # routine
    past(
        session,
        anna,
        t + timedelta(hours=1, minutes=1),
        "read",
        "person",
        person_id=nora.id,
        categories=["identity"],
    )
    run = scan(app)
    assert run.outcome.considered == 1  # the read (the poll and the last run's own records are routine)
    assert findings(session) == []


async def test_records_wait_to_settle_and_the_cursor_moves(http, app, session, w):
    anna = await login(http, "anna")
    await _open(http, anna, w.people["nora"])
    run = scan_findings(app.state.sessionmaker, KEY)  # now: the visit is seconds old
    assert run.ran and run.outcome.records == 0 and findings(session) == []
    run = scan(app)
    head = session.scalar(select(func.max(AuditEvent.seq)).where(AuditEvent.ts < utcnow()))
    assert run.outcome.records > 0 and len(findings(session)) == 1
    session.expire_all()
    assert session.get(FindingCursor, "findings").last_seq >= head - 2  # the scan's own records follow


async def test_every_unit_of_work_is_audited_and_the_chain_holds(http, app, session, w):
    anna = await login(http, "anna")
    for p in ("nora", "olle", "agnes"):
        await _open(http, anna, w.people[p])
    before = session.scalar(select(func.count()).select_from(AuditEvent))
    run = scan(app, batch=4)
    session.expire_all()
    records = session.scalars(select(AuditEvent).where(AuditEvent.action == "findings_scan")).all()
    batches = -(-run.outcome.records // 4)
    assert len(records) == batches + 1  # one per batch, one for the break-the-glass check
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == before + batches + 1
    assert {(r.username, r.purpose, r.outcome, r.resource_type) for r in records} == {
        ("findings-scan", "system", "allowed", "audit_event")
    }
    assert sum(r.details["records"] for r in records) == run.outcome.records
    assert sum(r.details["new"] for r in records) == len(findings(session)) == 3
    with app.state.engine.connect() as conn:
        assert verify(conn).ok


async def test_one_scan_at_a_time(app, session, w):
    held = claim(app.state.sessionmaker, FINDINGS_SCAN, utcnow(), timedelta(0))
    assert held is not None
    run = scan_findings(app.state.sessionmaker, KEY, now=utcnow() + timedelta(minutes=5))
    assert not run.ran and "holds it" in run.summary()
    release(app.state.sessionmaker, FINDINGS_SCAN, held, "test", finished=False)
    assert scan(app).ran


async def test_emergency_access_unreviewed_after_a_day(http, app, session, w):
    anna = await login(http, "anna")
    r = await http.post(
        f"/patients/{w.people['stina'].id}/break-glass", json={"reason": REASON}, headers=bearer(anna)
    )
    assert r.status_code == 201
    grant = r.json()["id"]
    await _open(http, anna, w.people["stina"])
    bertil = await login(http, "bertil")
    r = await http.post(
        f"/patients/{w.people['nora'].id}/break-glass", json={"reason": REASON}, headers=bearer(bertil)
    )
    reviewed = r.json()["id"]
    sigrid = await login(http, "sigrid")
    r = await http.post(
        f"/audit/reviews/{reviewed}", json={"note": "ER case", "verdict": "justified"}, headers=bearer(sigrid)
    )
    assert r.status_code == 200, r.text

    scan(app, now=utcnow() + timedelta(hours=23))
    assert findings(session, "emergency_unreviewed") == []
    scan(app, now=utcnow() + timedelta(hours=25))
    [f] = findings(session, "emergency_unreviewed")
    assert (f.key, f.username, f.person_id, f.organization_id) == (
        grant,
        "anna",
        w.people["stina"].id,
        w.north.id,
    )
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.seq.in_(f.evidence))).all()
    assert sorted(actions) == ["break_glass", "read"]
    assert f.params == {"hours": 24, "reviewed_after_hours": None}
    scan(app, now=utcnow() + timedelta(hours=30))
    assert len(findings(session, "emergency_unreviewed")) == 1


async def test_a_colleague_is_found_through_the_identity_link(http, app, session, w):
    link(session, w.users["agnes"], person=w.people["agnes"])
    link(session, w.users["anna"], surname="Lind", address="Ringvägen 1, 752 20 Uppsala")
    anna = await login(http, "anna")
    await _open(http, anna, w.people["agnes"])
    await _open(http, anna, w.people["olle"])  # Olle Lind, nothing explains the visit
    scan(app)
    relations = {f.person_id: f.params["relations"] for f in findings(session, "relation")}
    assert relations == {w.people["agnes"].id: ["colleague"], w.people["olle"].id: ["same_surname"]}
    # without the key (or with another), the links are left out and said so
    run = scan(app, key=None, from_start=True)
    assert run.links_skipped == 2 and "another identity key" in run.summary()


async def test_active_hours_are_kept_per_user_and_day(http, app, session, w):
    anna = await login(http, "anna")
    await _open(http, anna, w.people["nora"])
    scan(app)
    rows = session.scalars(select(UserActivity).where(UserActivity.user_id == w.users["anna"].id)).all()
    assert len(rows) == 1 and rows[0].hours != 0
    # polling alone is not activity: agnes logs in and loads her list, and only the login counts
    r = await http.get("/patients", headers=bearer(await login(http, "agnes")))
    assert r.status_code == 200
    scan(app)
    session.expire_all()
    [agnes] = session.scalars(select(UserActivity).where(UserActivity.user_id == w.users["agnes"].id)).all()
    login_at = session.scalar(
        select(AuditEvent.ts).where(AuditEvent.username == "agnes", AuditEvent.action == "login")
    )
    day, hour = local_day_hour(login_at.timestamp())
    assert (agnes.day, agnes.hours) == (day, 1 << hour)
