"""The findings scan as a deployment runs it: on a schedule inside ``serve``, once from
``clinic-server findings scan``; a failed run is audited and frees the job. And linking a user to
their own identity from the command line."""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from clinic_server import cli
from clinic_server.api.app import create_app
from clinic_server.db import utcnow
from clinic_server.db.models import AuditEvent, FindingCursor, JobRun, UserLink
from clinic_server.jobs import findings as jobs
from clinic_server.jobs import runner
from tests.monitoring_util import KEY, findings, past, watch_world

pytestmark = pytest.mark.api

IDENTITY_KEY = KEY.secret.decode()


@pytest.fixture
def w(world, session):
    return watch_world(world, session)


def _scans(session) -> list[AuditEvent]:
    session.rollback()
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == "findings_scan")))


def _browse(session, w) -> None:
    """anna opened olle an hour ago, for no reason the log knows."""
    at = utcnow() - timedelta(hours=1)
    past(
        session, w.users["anna"], at, "read", "person", person_id=w.people["olle"].id, categories=["identity"]
    )


async def test_serve_scans_on_its_own_schedule(settings, session, w):
    _browse(session, w)
    app = create_app(settings.with_changes(findings_scan_minutes=0.005, missing_sweep_minutes=0))
    try:
        async with app.router.lifespan_context(app):
            for _ in range(100):
                if len(_scans(session)) >= 2:
                    break
                await asyncio.sleep(0.05)
    finally:
        app.state.engine.dispose()
    assert [f.person_id for f in findings(session)] == [w.people["olle"].id]
    scans = _scans(session)
    assert len(scans) >= 2 and {(r.username, r.role, r.purpose) for r in scans} == {
        ("findings-scan", "system", "system")
    }
    run = session.get(JobRun, jobs.FINDINGS_SCAN)
    assert (
        run.running_until is None and run.last_finished_at is not None and "records read" in run.last_result
    )


async def test_a_server_told_not_to_scan_does_not(settings, session, w):
    _browse(session, w)
    app = create_app(settings.with_changes(findings_scan_minutes=0, missing_sweep_minutes=0))
    try:
        async with app.router.lifespan_context(app):
            await asyncio.sleep(0.3)
    finally:
        app.state.engine.dispose()
    assert _scans(session) == [] and findings(session) == []


def test_the_command_line_scans_once_and_from_the_start(db_url, session, w, capsys, monkeypatch):
    monkeypatch.setenv("CLINIC_IDENTITY_KEY", IDENTITY_KEY)
    _browse(session, w)
    assert cli.main(["--database-url", db_url, "findings", "scan"]) == 0
    out = capsys.readouterr().out
    assert "findings new 1" in out and "browsing 1" in out and "note: no identity key" not in out
    assert cli.main(["--database-url", db_url, "findings", "scan", "--from-start"]) == 0
    assert "findings new 0" in capsys.readouterr().out
    assert len(findings(session)) == 1


def test_the_command_line_links_a_user_to_their_identity(db_url, session, w, capsys, monkeypatch):
    monkeypatch.setenv("CLINIC_IDENTITY_KEY", IDENTITY_KEY)
    agnes = w.people["agnes"]
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{agnes.personnummer}\nAhl\n{agnes.address}\n"))
    assert cli.main(["--database-url", db_url, "link-user", "agnes", "--stdin"]) == 0
    session.rollback()
    link = session.get(UserLink, w.users["agnes"].id)
    assert link.key_id == KEY.key_id and link.personnummer_hmac == KEY.personnummer(agnes.personnummer)
    assert agnes.personnummer not in str(link.__dict__) and "Ahl" not in str(link.__dict__)
    # a bad number stores nothing and says why
    monkeypatch.setattr("sys.stdin", io.StringIO("19840602-0000\nLind\n\n"))
    assert cli.main(["--database-url", db_url, "link-user", "anna", "--stdin"]) == 2
    assert "personnummer" in capsys.readouterr().err
    session.rollback()
    assert session.get(UserLink, w.users["anna"].id) is None
    monkeypatch.setattr("sys.stdin", io.StringIO("\nLind\n\n"))
    assert cli.main(["--database-url", db_url, "link-user", "nobody", "--stdin"]) == 2
    assert "no user" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["serve", "--findings-scan-minutes", "-5"], None, "must be 0 (off) or more"),
        (["findings", "scan"], "soon", "must be a number of minutes"),
    ],
)
def test_a_bad_interval_is_refused_with_a_clear_message(db_url, monkeypatch, capsys, argv, env, message):
    if env is not None:
        monkeypatch.setenv("CLINIC_FINDINGS_SCAN_MINUTES", env)
    assert cli.main(["--database-url", db_url, *argv]) == 2
    assert message in capsys.readouterr().err


def _fail_finding_inserts(app) -> None:
    """A real database fault: storing a finding is refused."""
    with app.state.engine.begin() as conn:
        if app.state.engine.dialect.name == "postgresql":
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse_finding() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN RAISE EXCEPTION 'disk full (test)'; END $$"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_finding BEFORE INSERT ON finding "
                "FOR EACH ROW EXECUTE FUNCTION refuse_finding()"
            )
        else:
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_finding BEFORE INSERT ON finding "
                "BEGIN SELECT RAISE(ABORT, 'disk full (test)'); END"
            )


def test_a_failed_run_is_audited_and_leaves_the_job_free(app, session, w):
    _browse(session, w)
    _fail_finding_inserts(app)
    with pytest.raises(Exception, match="disk full"):
        jobs.scan_findings(app.state.sessionmaker, KEY, now=utcnow() + timedelta(minutes=20))
    [record] = _scans(session)
    assert record.outcome == "error" and "failed" in record.reason
    run = session.get(JobRun, jobs.FINDINGS_SCAN)
    assert run.holder is None and run.running_until is None
    assert run.last_finished_at is None and run.last_result.startswith("failed")
    # nothing of the failed batch was kept: the cursor did not move, the next run reads it again
    assert findings(session) == [] and session.get(FindingCursor, "findings") is None
    assert runner.claim(app.state.sessionmaker, jobs.FINDINGS_SCAN, utcnow(), timedelta(minutes=4))
