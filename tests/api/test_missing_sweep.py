"""The missing-data sweep as a deployment runs it: on a schedule inside ``serve``, or once from
``clinic-server sweep-missing``; processes sharing a database take turns; every run is audited."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from clinic_server import cli
from clinic_server.api.app import create_app
from clinic_server.audit import verify
from clinic_server.db.models import Alert, AuditEvent, JobRun
from clinic_server.jobs import missing_data as jobs
from clinic_server.jobs import runner
from tests.vitals_util import clinic, now, silent_daily_sender

pytestmark = pytest.mark.api


@pytest.fixture
def c(world, session):
    return clinic(world, session)


def _missing(session, person) -> list[Alert]:
    session.rollback()
    return list(
        session.scalars(select(Alert).where(Alert.person_id == person.id, Alert.rule_id == "data.missing"))
    )


def _sweeps(session) -> list[AuditEvent]:
    session.rollback()
    return list(
        session.scalars(select(AuditEvent).where(AuditEvent.action == "sweep").order_by(AuditEvent.seq))
    )


async def test_serve_sweeps_on_its_own_schedule(settings, c, session):
    silent_daily_sender(session, c.people["nora"], now())
    app = create_app(settings.with_changes(missing_sweep_minutes=0.005))  # every 0.3 s
    try:
        async with app.router.lifespan_context(app):
            for _ in range(100):
                if len(_sweeps(session)) >= 2:
                    break
                await asyncio.sleep(0.05)
    finally:
        app.state.engine.dispose()
    [alert] = _missing(session, c.people["nora"])  # raised once, renewed after
    assert alert.severity == "low"
    sweeps = _sweeps(session)
    assert len(sweeps) >= 2
    assert sweeps[0].username == jobs.MISSING_SWEEP and sweeps[0].role == "system"
    assert sweeps[0].purpose == "care" and sweeps[0].details["raised_or_renewed"] >= 1
    assert verify(session.connection()).ok
    run = session.get(JobRun, jobs.MISSING_SWEEP)
    assert run.running_until is None and run.last_finished_at is not None and "raised" in run.last_result


async def test_a_server_told_not_to_sweep_does_not(settings, c, session):
    silent_daily_sender(session, c.people["nora"], now())
    app = create_app(settings.with_changes(missing_sweep_minutes=0))
    try:
        async with app.router.lifespan_context(app):
            await asyncio.sleep(0.3)
    finally:
        app.state.engine.dispose()
    assert _sweeps(session) == [] and _missing(session, c.people["nora"]) == []


def test_processes_take_turns(app, c, session):
    sessions = app.state.sessionmaker
    silent_daily_sender(session, c.people["nora"], now())
    # another process holds the job: this run stands aside and changes nothing
    session.execute(update(JobRun).values(running_until=now() + timedelta(minutes=5)))
    session.commit()
    outcome = jobs.sweep_missing(sessions)
    assert not outcome.ran and "another run" in outcome.summary()
    assert _missing(session, c.people["nora"]) == [] and _sweeps(session) == []
    # that process died: its hold runs out, and the job is taken over
    session.execute(update(JobRun).values(running_until=now() - timedelta(seconds=1)))
    session.commit()
    assert jobs.sweep_missing(sessions).ran
    assert len(_missing(session, c.people["nora"])) == 1
    # the scheduler of a second process, moments later, counts that run as its own
    assert not jobs.sweep_missing(sessions, min_gap=timedelta(minutes=13)).ran
    assert jobs.sweep_missing(sessions).ran  # asked for by hand, it runs
    assert len(_sweeps(session)) == 2


def test_sweeps_started_together_never_run_at_once(app, c, session):
    silent_daily_sender(session, c.people["nora"], now())
    start = threading.Barrier(4)
    outcomes = []

    def one():
        start.wait()
        outcomes.append(jobs.sweep_missing(app.state.sessionmaker, min_gap=timedelta(minutes=10)))

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(o.ran for o in outcomes) == 1
    assert len(_missing(session, c.people["nora"])) == 1 and len(_sweeps(session)) == 1


def test_the_command_line_runs_it_once(db_url, c, session, capsys):
    silent_daily_sender(session, c.people["nora"], now())
    assert cli.main(["--database-url", db_url, "sweep-missing"]) == 0
    assert "1 missing-data alert(s) raised or renewed" in capsys.readouterr().out
    assert len(_missing(session, c.people["nora"])) == 1


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["serve", "--missing-sweep-minutes", "-5"], None, "must be 0 (off) or more"),
        (["sweep-missing"], "soon", "must be a number of minutes"),
        (["sweep-missing"], "-1", "must be 0 (off) or more"),
    ],
)
def test_a_bad_interval_is_refused_with_a_clear_message(db_url, monkeypatch, capsys, argv, env, message):
    if env is not None:
        monkeypatch.setenv("CLINIC_MISSING_SWEEP_MINUTES", env)
    assert cli.main(["--database-url", db_url, *argv]) == 2
    assert message in capsys.readouterr().err


def test_a_failing_step_does_not_stop_the_schedule():
    calls = []

    class Flaky(runner.Periodic):
        at_start = True

        def step(self):
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("database went away for a moment")

    job = Flaky(0.01)
    job.start()
    try:
        for _ in range(200):
            if len(calls) >= 3:
                break
            threading.Event().wait(0.01)
        assert len(calls) >= 3 and job.running
    finally:
        job.stop()
    assert not job.running


def test_a_run_that_outlived_its_hold_does_not_free_the_next_runs_claim(app, c, session):
    sessions = app.state.sessionmaker
    t0 = now()
    a = runner.claim(sessions, jobs.MISSING_SWEEP, t0, timedelta(0))
    later = t0 + runner.HOLD + timedelta(seconds=1)  # A's hold ran out: B takes the job over
    b = runner.claim(sessions, jobs.MISSING_SWEEP, later, timedelta(0))
    assert a and b and a != b
    runner.release(sessions, jobs.MISSING_SWEEP, a, "A finished late", finished=True)
    # B still holds it: a third run stands aside
    assert runner.claim(sessions, jobs.MISSING_SWEEP, later + timedelta(seconds=1), timedelta(0)) is None
    runner.release(sessions, jobs.MISSING_SWEEP, b, "B done", finished=True)
    session.rollback()
    assert session.get(JobRun, jobs.MISSING_SWEEP).last_result == "B done"


def _fail_alert_inserts(app) -> None:
    """A real database fault: inserting an alert is refused."""
    dialect = app.state.engine.dialect.name
    with app.state.engine.begin() as conn:
        if dialect == "postgresql":
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse_alert() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN RAISE EXCEPTION 'disk full (test)'; END $$"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_alert BEFORE INSERT ON alert "
                "FOR EACH ROW EXECUTE FUNCTION refuse_alert()"
            )
        else:
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_alert BEFORE INSERT ON alert "
                "BEGIN SELECT RAISE(ABORT, 'disk full (test)'); END"
            )


def test_a_failed_run_is_audited_and_leaves_the_job_free(app, c, session):
    silent_daily_sender(session, c.people["nora"], now())
    _fail_alert_inserts(app)
    with pytest.raises(Exception, match="disk full"):
        jobs.sweep_missing(app.state.sessionmaker)
    [record] = _sweeps(session)
    assert record.outcome == "error" and "failed" in record.reason
    run = session.get(JobRun, jobs.MISSING_SWEEP)
    assert run.holder is None and run.running_until is None
    assert run.last_finished_at is None and run.last_result.startswith("failed")
    assert _missing(session, c.people["nora"]) == []
    # a scheduler in another process may try again at once
    assert runner.claim(app.state.sessionmaker, jobs.MISSING_SWEEP, now(), timedelta(minutes=13))
