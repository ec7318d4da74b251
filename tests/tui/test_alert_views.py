"""The queue's views (issue 13.12): active, snoozed, escalated, resolved; an escalated alert is
found again, with whom it went to."""

from datetime import timedelta

import pytest
from sqlalchemy import update
from textual.widgets import DataTable, Input, Static, TextArea

from clinic_server.db.models import Alert
from clinic_tui.views.alerts import AlertQueueScreen, local_midnight
from clinic_tui.views.patient import PatientScreen
from clinic_tui.widgets.modals import EscalatePrompt
from clinic_tui.widgets.row_table import RowTable
from tests.conftest import bearer, login
from tests.factories import PASSWORD
from tests.tui.conftest import log_in, settle, toasts
from tests.vitals_util import clinic, now, obs, post


@pytest.fixture
def c(world, session):
    return clinic(world, session)


def _ids(screen: AlertQueueScreen) -> list[int]:
    return [int(key) for key in screen.query_one(RowTable).keys]


def _status(screen: AlertQueueScreen) -> str:
    return str(screen.query_one("#list-status", Static).render())


async def test_an_escalated_alert_names_its_recipient_and_is_found_in_the_escalated_view(
    tui, c, http, session
):
    t = now() - timedelta(hours=1)
    await post(http, c.keys["nora"], obs("8480-6", 186, t))  # high: first
    await post(http, c.keys["bo"], obs("8867-4", 135, t + timedelta(minutes=1)))  # high: second
    app = tui()
    async with app.run_test(size=(140, 45), notifications=True) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        queue = app.screen
        assert isinstance(queue, AlertQueueScreen)
        assert queue.sub_title == "View: Active"
        first, second = _ids(queue)
        await pilot.press("a")
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        prompt = app.screen
        assert isinstance(prompt, EscalatePrompt)
        assert prompt.focused is prompt.query_one("#prompt-recipient", Input)  # to whom, first
        await pilot.press("tab")
        prompt.query_one(TextArea).insert("BP 186 twice; needs a doctor today.")
        await pilot.press("ctrl+s")  # no recipient: refused, said why, nothing sent
        await settle(pilot)
        assert app.screen is prompt
        assert "Name who takes it over" in str(prompt.query_one("#prompt-error", Static).render())
        assert prompt.focused is prompt.query_one("#prompt-recipient", Input)
        session.expire_all()
        assert session.get(Alert, first).state == "acknowledged"
        await pilot.press(*"Dr. Lind, cardiology")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is queue
        assert _ids(queue) == [second]  # it left the active queue...
        assert "Escalated view (v)" in toasts(app)  # ...and she is told where it went

        await pilot.press("v")
        await settle(pilot)
        assert queue.sub_title == "View: Mine"  # she escalated it: she took it on
        assert _ids(queue) == [first]
        await pilot.press("v")
        await settle(pilot)
        assert queue.sub_title == "View: Snoozed"
        assert _ids(queue) == [] and _status(queue) == "No snoozed alerts."
        await pilot.press("v")
        await settle(pilot)
        assert queue.sub_title == "View: Escalated"
        assert _ids(queue) == [first]
        assert "to Dr. Lind" in queue.query_one(RowTable).row_text(0)  # to whom
        # the patient screen's alert says to whom, and the note says it too
        await pilot.press("o")
        await settle(pilot)
        assert isinstance(app.screen, PatientScreen)
        table = app.screen.query_one("#patient-alerts", DataTable)
        row = table.get_row(str(first))
        assert "escalated to Dr. Lind, cardiology" in " ".join(str(cell) for cell in row)
        notes = str(app.screen.query_one("#alert-notes", Static).render())
        assert "escalated to Dr. Lind, cardiology: BP 186 twice" in notes
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is queue and queue.sub_title == "View: Escalated"
        await pilot.press("v")
        await settle(pilot)
        assert queue.sub_title == "View: Resolved today" and _ids(queue) == []
        await pilot.press("v")
        await settle(pilot)
        assert queue.sub_title == "View: Active" and _ids(queue) == [second]


async def test_the_views_follow_the_queue_as_it_changes(tui, c, http):
    """A snooze shows in the snoozed view; the poll drops an alert that leaves the view shown."""
    await post(http, c.keys["nora"], obs("8480-6", 186, now() - timedelta(minutes=30)))
    app = tui()
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        queue = app.screen
        [alert] = _ids(queue)
        queue.show_view("snoozed")
        await settle(pilot)
        assert _ids(queue) == []
        until = now() + timedelta(hours=2)
        await app.session.client.transition_alert(alert, "snooze", 1, snooze_until=until)
        await queue.poll().wait()
        await settle(pilot)
        assert _ids(queue) == [alert]
        assert "snoozed until" in queue.query_one(RowTable).row_text(0)
        await app.session.client.transition_alert(alert, "unsnooze", 2)
        await queue.poll().wait()
        await settle(pilot)
        assert _ids(queue) == []
        # the palette offers the view switch
        commands = [str(cmd.title) for cmd in app.get_system_commands(queue)]
        assert "Alerts: View" in commands


async def test_the_escalate_dialog_fits_80x24_and_esc_keeps_the_recipient_and_the_note(tui, c, http, session):
    await post(http, c.keys["nora"], obs("8480-6", 186, now() - timedelta(minutes=30)))
    app = tui()
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        queue = app.screen
        [alert] = _ids(queue)
        await pilot.press("a")
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        prompt = app.screen
        assert isinstance(prompt, EscalatePrompt)
        await pilot.press("ctrl+s")
        await settle(pilot)
        # the error and the buttons are inside the dialog on a 24-row screen, not clipped off
        box = prompt.query_one(".modal-box").content_region
        for widget in (prompt.query_one("#prompt-error", Static), prompt.query_one("#ok")):
            assert widget.region.height and box.contains_region(widget.region), (widget, box)
        await pilot.press(*"Dr. Ek")
        await pilot.press("tab", *"Pulse 140 at rest")
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is queue
        await pilot.press("e")
        await settle(pilot)
        prompt = app.screen
        assert isinstance(prompt, EscalatePrompt)
        assert prompt.query_one("#prompt-recipient", Input).value == "Dr. Ek"
        assert prompt.query_one(TextArea).text == "Pulse 140 at rest"
        assert prompt.focused is prompt.query_one(TextArea)  # the name is there: on to the note
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is queue and _ids(queue) == []
    session.expire_all()
    assert session.get(Alert, alert).state == "escalated"


async def test_the_resolved_view_shows_the_alerts_resolved_today(tui, c, http, session):
    """Resolved today (issue 13, deliverable 4): since this computer's local midnight; an alert
    resolved yesterday is not listed."""
    t = now() - timedelta(hours=1)
    await post(http, c.keys["nora"], obs("8480-6", 186, t))
    await post(http, c.keys["bo"], obs("8867-4", 135, t + timedelta(minutes=1)))
    app = tui()
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        queue = app.screen
        today, yesterday = _ids(queue)
        queue.show_view("resolved")
        await settle(pilot)
        assert queue.sub_title == "View: Resolved today"
        assert _status(queue) == "No alerts resolved today."
        for alert in (today, yesterday):
            await app.session.client.transition_alert(alert, "acknowledge", 1)
            await app.session.client.transition_alert(alert, "resolve", 2, note="Re-measured: fine.")
        before_midnight = local_midnight() - timedelta(hours=2)
        session.execute(update(Alert).where(Alert.id == yesterday).values(updated_at=before_midnight))
        session.commit()
        queue.show_view("resolved")
        await settle(pilot)
        assert _ids(queue) == [today]
        # a poll that brings both (changed since the day before) keeps the one of yesterday out
        queue.alerts.clear()
        queue.since = local_midnight() - timedelta(days=1)
        await queue.poll().wait()
        await settle(pilot)
        assert _ids(queue) == [today]


async def test_mine_shows_the_alerts_she_has_taken_on_and_not_her_colleagues(tui, c, http):
    """Mine (issue 13, deliverable 4), right after Active: anna's acknowledged alert is there,
    the one agnes (same organization) acknowledged is not; when agnes acts on anna's, it leaves."""
    t = now() - timedelta(hours=1)
    await post(http, c.keys["nora"], obs("8480-6", 186, t))
    await post(http, c.keys["bo"], obs("8867-4", 135, t + timedelta(minutes=1)))
    agnes = bearer(await login(http, "agnes"))
    app = tui()
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        queue = app.screen
        hers, colleagues = _ids(queue)
        await pilot.press("a")  # the cursor is on the first
        await settle(pilot)
        r = await http.post(
            f"/alerts/{colleagues}/transition",
            headers=agnes,
            json={"action": "acknowledge", "expected_version": 1},
        )
        assert r.status_code == 200, r.text
        await pilot.press("v")
        await settle(pilot)
        assert queue.sub_title == "View: Mine"
        assert _ids(queue) == [hers]
        until = (now() + timedelta(hours=1)).isoformat()
        r = await http.post(
            f"/alerts/{hers}/transition",
            headers=agnes,
            json={"action": "snooze", "expected_version": 2, "snooze_until": until},
        )
        assert r.status_code == 200, r.text
        await queue.poll().wait()
        await settle(pilot)
        assert _ids(queue) == [] and _status(queue) == "No alerts taken on by you."
        await pilot.press("v")
        await settle(pilot)
        assert queue.sub_title == "View: Snoozed" and _ids(queue) == [hers]
