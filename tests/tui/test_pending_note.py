"""A note whose save times out after the nurse has moved on is kept, without jumping in front of her.

The real app sits behind a switch (``Gate``) that can hold an alert transition and then fail it the
way a client time-out does, so the moment of failure is the test's to choose: after the nurse has
left the screen she acted from.
"""

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from textual.widgets import TextArea

from clinic_server.db.models import Alert, AlertEvent
from clinic_tui.app import ClinicApp
from clinic_tui.views.alerts import AlertQueueScreen
from clinic_tui.views.login import LoginScreen
from clinic_tui.views.patient import PatientScreen
from clinic_tui.widgets.modals import ConfirmPrompt, TextPrompt
from tests.factories import PASSWORD
from tests.tui.conftest import log_in, settle, toasts
from tests.vitals_util import clinic, now, obs, post

NOTE = "Called the patient: 128 /min at rest after a re-measure, no chest pain; GP informed."


class Gate:
    """The real ASGI app behind a switch: while ``holding``, alert transitions wait for ``fail()``
    and then end as a read time-out would (the app never sees them)."""

    def __init__(self, app):
        self.app = app
        self.holding = False
        self.held = asyncio.Event()
        self._release = asyncio.Event()

    async def __call__(self, scope, receive, send):
        transition = scope["type"] == "http" and scope["method"] == "POST" and "/alerts/" in scope["path"]
        if self.holding and transition:
            self.held.set()
            await self._release.wait()
            raise httpx.ReadTimeout("the server did not answer")
        await self.app(scope, receive, send)

    def fail(self) -> None:
        self.holding = False
        self._release.set()


@pytest.fixture
def c(world, session):
    return clinic(world, session)


@pytest.fixture
async def gated(app, c, http) -> tuple[Gate, ClinicApp]:
    """Nora has a high heart-rate alert; the app talks to the real backend through a ``Gate``."""
    await post(http, c.keys["nora"], obs("8867-4", 136, now() - timedelta(minutes=4)))
    gate = Gate(app)
    return gate, ClinicApp(server_url="http://127.0.0.1:1", transport=httpx.ASGITransport(app=gate))


async def until(pilot, condition, what: str) -> None:
    """Wait for ``condition`` without waiting on the held worker (``settle`` would)."""
    for _ in range(200):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"never happened: {what}")


async def _acknowledged_alert(pilot, app) -> int:
    await log_in(pilot, "anna", PASSWORD)
    queue = app.screen
    assert isinstance(queue, AlertQueueScreen)
    await pilot.press("a")
    await settle(pilot)
    alert = queue.current_alert()
    assert alert.state == "acknowledged"
    return alert.id


async def _type_and_save(pilot, app, gate: Gate) -> None:
    await pilot.press("x")
    await settle(pilot)
    assert isinstance(app.screen, TextPrompt)
    app.screen.query_one(TextArea).insert(NOTE)
    gate.holding = True
    await pilot.press("ctrl+s")
    await asyncio.wait_for(gate.held.wait(), 5)


async def _open_the_patient_then_fail(pilot, app, gate: Gate) -> None:
    """While the save hangs she opens the alert's patient; then the save fails."""
    await pilot.press("o")
    await until(pilot, lambda: isinstance(app.screen, PatientScreen), "the patient screen")
    gate.fail()
    await until(pilot, lambda: app.session.drafts, "the note kept")
    await settle(pilot)


async def test_a_note_that_times_out_after_she_opened_another_patient_waits_for_that_alert(gated, c, session):
    gate, tui = gated
    async with tui.run_test(size=(140, 45), notifications=True) as pilot:
        alert_id = await _acknowledged_alert(pilot, tui)
        await pilot.press("o")
        await settle(pilot)
        patient = tui.screen
        assert isinstance(patient, PatientScreen) and patient.person_id == c.people["nora"].id
        await _type_and_save(pilot, tui, gate)

        # the save hangs; she goes back and opens another patient
        await pilot.press("escape")
        tui.open_patient(c.people["vera"].id)
        await until(pilot, lambda: patient.detail is not None, "vera's record shown")
        gate.fail()
        await until(pilot, lambda: tui.session.drafts, "the note kept")
        await settle(pilot)

        # no resolve prompt for nora over vera's record; she is told, and the note is kept
        assert tui.screen is patient and patient.person_id == c.people["vera"].id
        assert not isinstance(tui.screen, TextPrompt)
        assert tui.session.drafts == {(alert_id, "resolve"): NOTE}
        told = toasts(tui)
        assert "did not answer in time" in told and "Nora Norrman" in told and "is kept" in told

        # back on the queue, the same alert: the prompt opens with her note, and now it is saved
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(tui.screen, AlertQueueScreen) and tui.screen.current_alert().id == alert_id
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(tui.screen, TextPrompt)
        assert tui.screen.query_one(TextArea).text == NOTE
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert tui.session.drafts == {}

    session.rollback()
    assert session.get(Alert, alert_id).state == "resolved"
    notes = session.scalars(select(AlertEvent.note).where(AlertEvent.alert_id == alert_id)).all()
    assert NOTE in notes


async def test_a_note_that_times_out_after_she_left_the_queue_does_not_cover_the_patient(gated):
    gate, tui = gated
    async with tui.run_test(size=(140, 45), notifications=True) as pilot:
        alert_id = await _acknowledged_alert(pilot, tui)
        await _type_and_save(pilot, tui, gate)
        await _open_the_patient_then_fail(pilot, tui, gate)
        assert isinstance(tui.screen, PatientScreen)
        assert tui.session.drafts == {(alert_id, "resolve"): NOTE}

        # on the patient screen, the same alert: the note is there
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(tui.screen, TextPrompt)
        assert tui.screen.query_one(TextArea).text == NOTE


async def test_still_on_the_screen_the_prompt_comes_straight_back(gated):
    gate, tui = gated
    async with tui.run_test(size=(140, 45), notifications=True) as pilot:
        await _acknowledged_alert(pilot, tui)
        await _type_and_save(pilot, tui, gate)
        gate.fail()
        await settle(pilot)
        assert isinstance(tui.screen, TextPrompt)
        assert tui.screen.query_one(TextArea).text == NOTE


async def test_logging_out_with_an_unsaved_note_asks_first(gated):
    gate, tui = gated
    async with tui.run_test(size=(140, 45), notifications=True) as pilot:
        await _acknowledged_alert(pilot, tui)
        await _type_and_save(pilot, tui, gate)
        await _open_the_patient_then_fail(pilot, tui, gate)

        await pilot.press("ctrl+o")
        await settle(pilot)
        assert isinstance(tui.screen, ConfirmPrompt) and "1 alert note" in tui.screen.question
        await pilot.press("escape")  # no: she stays, the note too
        await settle(pilot)
        assert isinstance(tui.screen, PatientScreen) and tui.session.drafts

        await pilot.press("ctrl+o")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(tui.screen, LoginScreen)
        assert tui.session.drafts == {}
