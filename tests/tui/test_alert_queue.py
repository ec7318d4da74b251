"""The nurse's day in the TUI: alerts arrive, she acknowledges, opens the patient, resolves with a note."""

from datetime import timedelta

import pytest
from sqlalchemy import select
from textual.widgets import DataTable, Input, Static, TextArea

from clinic_server.db.models import Alert, AuditEvent
from clinic_tui.views.alerts import AlertQueueScreen
from clinic_tui.views.patient import PatientScreen
from clinic_tui.widgets.modals import TextPrompt
from clinic_tui.widgets.row_table import RowTable
from clinic_tui.widgets.trend_chart import TrendChart
from tests.factories import PASSWORD
from tests.tui.conftest import log_in, settle
from tests.vitals_util import clinic, now, obs, post


@pytest.fixture
def c(world, session):
    return clinic(world, session)


def _alert_ids(screen: AlertQueueScreen) -> list[int]:
    return [int(key) for key in screen.query_one(RowTable).keys]


def _cursor_id(screen: AlertQueueScreen) -> int:
    return screen.current_alert().id


async def test_work_an_alert_from_queue_to_resolved(tui, c, http, session):
    r = await post(http, c.keys["nora"], obs("8480-6", 186, now() - timedelta(minutes=5)))
    assert r.status_code == 200, r.text
    app = tui()
    async with app.run_test(size=(140, 45)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        queue = app.screen
        assert isinstance(queue, AlertQueueScreen)
        assert len(_alert_ids(queue)) == 1
        assert "HIGH 1" in str(queue.query_one("#alert-counts", Static).render())
        row = queue.query_one(RowTable).row_text(0)
        assert "Nora Norrman" in row and "186" in row

        await pilot.press("a")
        await settle(pilot)
        assert queue.current_alert().state == "acknowledged"
        counts = str(queue.query_one("#alert-counts", Static).render())
        assert "HIGH 0" in counts and "not yet acknowledged" in counts  # the header counts what waits

        # open the patient: the excursion is on the chart, with the threshold line
        await pilot.press("o")
        await settle(pilot)
        assert isinstance(app.screen, PatientScreen)
        chart = app.screen.query_one(TrendChart)
        assert chart.data is not None and any(v == 186 for _, v in chart.data.points)
        assert any(v == 180 for _, v in chart.data.thresholds)
        assert chart.data.alerts
        await pilot.press("4")  # one year
        await settle(pilot)
        assert app.screen.query_one(TrendChart).data.days == 365

        # resolve from the patient screen: a note is required
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, TextPrompt)
        await pilot.press("ctrl+s")
        assert "cannot be empty" in str(app.screen.query_one("#prompt-error", Static).render())
        app.screen.query_one(TextArea).insert("Called patient; re-measured 152/88, medication taken late.")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, PatientScreen)
        notes = str(app.screen.query_one("#alert-notes", Static).render())
        assert "re-measured 152/88" in notes

        await pilot.press("escape")  # back on the queue, it is gone at once (no wait for the next tick)
        await settle(pilot)
        assert app.screen is queue and _alert_ids(queue) == []

    session.expire_all()
    alert = session.scalar(select(Alert))
    assert alert.state == "resolved"
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.username == "anna").order_by(AuditEvent.seq)
    ).all()
    assert [a for a in actions if a in ("acknowledge", "resolve", "transition")] == ["acknowledge", "resolve"]


async def test_queue_update_keeps_the_cursor_on_the_same_alert(tui, c, http, session):
    t = now() - timedelta(hours=2)
    await post(http, c.keys["nora"], obs("8480-6", 165, t))  # medium, grade 2
    await post(http, c.keys["bo"], obs("8867-4", 135, t + timedelta(minutes=1)))  # high
    await post(http, c.keys["vera"], obs("14743-9", 3.5, t + timedelta(minutes=2)))  # medium
    app = tui()
    async with app.run_test(size=(140, 45)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        queue = app.screen
        ids = _alert_ids(queue)
        assert len(ids) == 3
        table = queue.query_one(RowTable)
        table.move_cursor(row=2)
        watched = _cursor_id(queue)
        assert ids.index(watched) == 2
        # two new high alerts arrive and sort above the one the nurse is on
        await post(http, c.keys["nora"], obs("14743-9", 2.6, now() - timedelta(minutes=1)), obs("8867-4", 38))
        await queue.poll().wait()
        await settle(pilot)
        new_ids = _alert_ids(queue)
        assert len(new_ids) == 5
        assert _cursor_id(queue) == watched
        assert new_ids.index(watched) == 4


async def test_resolving_the_alert_under_the_cursor_leaves_it_on_the_next_one(tui, c, http, session):
    t = now() - timedelta(hours=2)
    await post(http, c.keys["nora"], obs("8480-6", 186, t))  # high
    await post(http, c.keys["bo"], obs("8867-4", 135, t + timedelta(minutes=1)))  # high
    await post(http, c.keys["vera"], obs("14743-9", 3.5, t + timedelta(minutes=2)))  # medium
    app = tui()
    async with app.run_test(size=(140, 45)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        queue = app.screen
        ids = _alert_ids(queue)
        assert len(ids) == 3
        await pilot.press("down", "a")
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)
        app.screen.query_one(TextArea).insert("Re-measured at home visit: 128 /min, resting.")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is queue
        assert _alert_ids(queue) == [ids[0], ids[2]]
        assert _cursor_id(queue) == ids[2]


async def test_a_filter_that_drops_the_cursor_alert_leaves_the_cursor_at_its_place(tui, c, http, session):
    t = now() - timedelta(hours=2)
    await post(http, c.keys["nora"], obs("8480-6", 186, t))  # high: A
    await post(http, c.keys["bo"], obs("8867-4", 135, t + timedelta(minutes=1)))  # high: B
    await post(http, c.keys["nora"], obs("14743-9", 3.5, t + timedelta(minutes=2)))  # medium: C
    await post(http, c.keys["nora"], obs("8867-4", 135, t + timedelta(minutes=3)))  # high: D
    await post(http, c.keys["bo"], obs("14743-9", 2.6, t + timedelta(minutes=4)))  # high: E
    app = tui()
    async with app.run_test(size=(140, 45)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        queue = app.screen
        a, b, d, e, c_ = ids = _alert_ids(queue)
        assert len(ids) == 5
        await pilot.press("down", "down")
        assert _cursor_id(queue) == d
        await pilot.press("slash")
        queue.query_one("#filter", Input).value = "glucose"  # one change, as a paste would be
        await settle(pilot)
        assert _alert_ids(queue) == [e, c_]
        # D is gone; the cursor is on the alert that followed it in the queue order, not at its old index
        assert _cursor_id(queue) == e
        await pilot.press("escape")
        await settle(pilot)
        assert _alert_ids(queue) == ids and _cursor_id(queue) == e


async def test_opened_from_an_alert_the_patient_screen_acts_on_that_alert(tui, c, http, session):
    t = now() - timedelta(hours=1)
    await post(http, c.keys["nora"], obs("8480-6", 186, t))  # high: first in the queue
    await post(http, c.keys["nora"], obs("14743-9", 2.6, t + timedelta(minutes=5)))  # high: second
    app = tui()
    async with app.run_test(size=(140, 45)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        queue = app.screen
        first, second = _alert_ids(queue)  # the patient screen lists them newest first: second, first
        await pilot.press("o")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, PatientScreen)
        table = screen.query_one("#patient-alerts", DataTable)
        assert table.row_count == 2
        assert table.size.height >= table.row_count + 1  # every alert is on screen, not just the header
        assert table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value == str(first)
        await pilot.press("a")
        await settle(pilot)
    session.expire_all()
    assert session.get(Alert, first).state == "acknowledged"
    assert session.get(Alert, second).state == "open"
