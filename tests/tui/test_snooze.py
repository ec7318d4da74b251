"""A snoozed alert stays in the queue, says until when, can be unsnoozed, and comes back as it was
when its time is up; the footer offers only the keys that apply to the selected alert."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import update
from textual.widgets import DataTable

from clinic_server.db.models import Alert
from clinic_tui.views.alerts import AlertQueueScreen
from clinic_tui.views.patient import PatientScreen
from clinic_tui.widgets.key_footer import KeyFooter
from clinic_tui.widgets.modals import SnoozePrompt
from clinic_tui.widgets.row_table import RowTable
from tests.factories import PASSWORD
from tests.tui.conftest import log_in, settle
from tests.vitals_util import clinic, now, obs, post


@pytest.fixture
def c(world, session):
    return clinic(world, session)


def footer(app) -> dict[str, bool]:
    """Key -> enabled, for every key the footer shows."""
    return {k.key: not k.has_class("-disabled") for k in app.screen.query_one(KeyFooter).query("FooterKey")}


def shown(until: datetime) -> str:
    """How a row says a snooze's end: the time today, the date (month-day) on a later day."""
    return f"{until:%H:%M}" if until.date() == datetime.now().astimezone().date() else f"{until:%m-%d}"


def row(queue: AlertQueueScreen) -> str:
    table = queue.query_one(RowTable)
    return table.row_text(table.cursor_row)


async def snooze_for_an_hour(pilot) -> datetime:
    await pilot.press("s")
    await settle(pilot)
    assert isinstance(pilot.app.screen, SnoozePrompt)
    until = datetime.now().astimezone() + timedelta(hours=1)
    await pilot.press("enter")  # the first choice: 1 hour
    await settle(pilot)
    return until


async def test_snooze_stays_in_the_queue_and_unsnooze_brings_it_back(tui, c, http, session):
    await post(http, c.keys["nora"], obs("8480-6", 186, now() - timedelta(minutes=5)))
    app = tui()
    async with app.run_test(size=(140, 45)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        queue = app.screen
        assert isinstance(queue, AlertQueueScreen) and len(queue.alerts) == 1
        # an open alert: acknowledge and snooze apply; resolve and escalate are shown, dimmed; no unsnooze
        keys = footer(app)
        assert (keys["a"], keys["s"], keys["x"], keys["e"]) == (True, True, False, False) and "u" not in keys
        alert_id = queue.current_alert().id

        until = await snooze_for_an_hour(pilot)
        assert app.screen is queue
        assert any(f"snoozed until {shown(t)}" in row(queue) for t in (until, until + timedelta(minutes=1)))
        assert footer(app)["u"] is True and footer(app)["a"] is False

        await pilot.press("r")  # reloaded from the server: still there, still snoozed
        await settle(pilot)
        assert len(queue.alerts) == 1 and "snoozed until" in row(queue)

        await pilot.press("u")
        await settle(pilot)
        assert queue.current_alert().state == "open" and "open" in row(queue)
        assert "u" not in footer(app) and footer(app)["a"] is True
    session.expire_all()
    assert session.get(Alert, alert_id).state == "open"


async def test_when_the_time_is_up_it_comes_back_as_it_was(tui, c, http, session):
    await post(http, c.keys["nora"], obs("8480-6", 186, now() - timedelta(minutes=5)))
    app = tui()
    async with app.run_test(size=(140, 45)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        queue = app.screen
        await pilot.press("a")
        await settle(pilot)
        await snooze_for_an_hour(pilot)
        alert_id = queue.current_alert().id
        assert "snoozed until" in row(queue)
        # an hour passes
        session.execute(update(Alert).where(Alert.id == alert_id).values(snoozed_until=now()))
        session.commit()
        await queue.poll().wait()
        await settle(pilot)
        assert queue.current_alert().state == "acknowledged" and "ack'd" in row(queue)
        assert "snoozed" not in row(queue)
        assert "u" not in footer(app) and footer(app)["x"] is True  # resolve applies again


async def test_the_patient_screen_shows_the_snooze_and_offers_unsnooze(tui, c, http, session):
    await post(http, c.keys["nora"], obs("8480-6", 186, now() - timedelta(minutes=5)))
    app = tui()
    async with app.run_test(size=(140, 45)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        await snooze_for_an_hour(pilot)
        await pilot.press("o")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, PatientScreen)
        table = screen.query_one("#patient-alerts", DataTable)
        assert "snoozed until" in str(table.get_row_at(0)[1])
        assert footer(app)["u"] is True
        await pilot.press("u")
        await settle(pilot)
        assert str(table.get_row_at(0)[1]) == "open" and "u" not in footer(app)
        await pilot.press("escape")
        await settle(pilot)
        assert "open" in row(app.screen)
