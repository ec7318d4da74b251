"""The coach's screens against the real backend: her participants, a meeting typed with a live VO2max
estimate and saved with its assessment, and a save the server never answered kept (encrypted) and
sent again with the same key, stored exactly once."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select
from textual.widgets import DataTable, Input, Select, Static, TextArea

from clinic_server.db.models.coaching import CoachingMeeting as Meeting
from clinic_tui.app import ClinicApp
from clinic_tui.domain import fitness
from clinic_tui.views.meeting import MeetingScreen
from clinic_tui.views.participant import ParticipantScreen
from clinic_tui.views.participants import ParticipantListScreen
from tests.coaching_util import build_coaching
from tests.factories import PASSWORD
from tests.tui.conftest import log_in, settle, toasts

NOTE = "Cycles to work twice a week; talked about sleep."


@pytest.fixture
def coaching(world):
    return build_coaching(world)


class Gate:
    """The real ASGI app behind a switch: while ``losing``, a meeting's save reaches the server and
    is stored, but its answer is lost (the client sees a time-out, as with a slow server)."""

    def __init__(self, app):
        self.app = app
        self.losing = False
        #: the server is stopped: a save never reaches it
        self.stopped = False
        self.saves = 0

    async def __call__(self, scope, receive, send):
        save = scope["type"] == "http" and scope["method"] == "POST" and scope["path"].endswith("/meetings")
        if save and self.stopped:
            raise httpx.ConnectError("connection refused")
        if save:
            self.saves += 1
        if save and self.losing:

            async def drop(message):
                return None

            await self.app(scope, receive, drop)
            raise httpx.ReadTimeout("the server did not answer in time")
        await self.app(scope, receive, send)


def meetings_of(session, person) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Meeting).where(Meeting.person_id == person.id))


def text(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def open_frida(pilot, coaching, resumed: bool = False) -> ParticipantScreen:
    if resumed:  # the session was remembered in the keyring: no login form
        await settle(pilot)
    else:
        await log_in(pilot, "cecilia", PASSWORD)
    home = pilot.app.screen
    assert isinstance(home, ParticipantListScreen)
    table = home.query_one(DataTable)
    table.move_cursor(row=table.get_row_index(coaching.full.id))
    await pilot.press("enter")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ParticipantScreen) and screen.history is not None
    return screen


async def type_into(pilot, widget_id: str, value: str) -> None:
    widget = pilot.app.screen.query_one(f"#{widget_id}", Input)
    widget.focus()
    widget.value = ""
    await pilot.press(*value)


async def fill_meeting(pilot) -> MeetingScreen:
    await pilot.press("n")
    await settle(pilot)
    form = pilot.app.screen
    assert isinstance(form, MeetingScreen)
    await type_into(pilot, "m-height_cm", "178")
    await type_into(pilot, "m-weight_kg", "82")
    form.query_one("#protocol", Select).value = fitness.EKBLOM_BAK_2016.id
    await pilot.pause()
    for widget_id, value in (("f-watts_low", "30"), ("f-hr_low", "95"), ("f-watts_high", "150")):
        await type_into(pilot, widget_id, value)
    form.query_one("#notes", TextArea).insert(NOTE)
    await pilot.pause()
    return form


async def test_cecilia_sees_her_participants_and_what_each_lacks(tui, coaching):
    app = tui()
    async with app.run_test(size=(150, 45)) as pilot:
        await log_in(pilot, "cecilia", PASSWORD)
        home = app.screen
        assert isinstance(home, ParticipantListScreen)
        table = home.query_one(DataTable)
        ids = {str(k.value) for k in table.rows}
        assert ids == {coaching.full.id, coaching.fitness_only.id, coaching.legit.id, coaching.ended.id}
        assert coaching.olofs.id not in ids  # olof's participant is not hers
        full = [str(c) for c in table.get_row(coaching.full.id)]
        assert full[0] == "Frida Fullsson" and full[1] == "Nordbygg AB" and full[-1] == "—"
        legit = str(table.get_row(coaching.legit.id)[-1])
        for category in ("measurements", "questionnaires", "fitness tests", "profiling"):
            assert category in legit
        ended = [str(c) for c in table.get_row(coaching.ended.id)]
        assert ended[1] != "Solgruppen AB"  # the contract ended: no employer for her


async def test_a_meeting_with_a_cycle_test_shows_the_live_estimate_then_the_assessment(
    tui, coaching, session
):
    app = tui()
    async with app.run_test(size=(150, 50)) as pilot:
        await open_frida(pilot, coaching)
        form = await fill_meeting(pilot)
        assert "still needed" in text(form, "#estimate")  # hr_high not typed yet
        await type_into(pilot, "f-hr_high", "135")
        await pilot.pause()
        history = form.history
        expected = fitness.estimate_ekblom_bak_2016(
            sex=history.test_sex,
            age=history.test_age,
            watts_low=30,
            hr_low=95,
            watts_high=150,
            hr_high=135,
            weight_kg=82,
        )
        shown = text(form, "#estimate")
        assert f"{expected.vo2max_l_min:.2f} L/min" in shown
        assert f"{expected.vo2max_ml_kg_min:.1f} mL/kg/min" in shown
        assert "ekblom-bak-2016 v1" in shown

        await pilot.press("ctrl+s")
        await settle(pilot)
        assert form.saved is not None
        status = text(form, "#meeting-status")
        assert "Meeting saved" in status
        assert "Fitness (VO2max)" in status and "fitness-category" in status
        assert "BMI" in status and "from 82 kg and 178 cm" in status
        assert meetings_of(session, coaching.full) == 1
        assert app.session.meeting_drafts.all() == []

        await pilot.press("escape")
        await settle(pilot)
        participant = app.screen
        assert isinstance(participant, ParticipantScreen)
        assert len(participant.history.meetings) == 1
        assert "VO2max" in text(participant, "#meeting-detail")


async def test_a_value_the_server_refuses_is_shown_beside_its_field_and_nothing_is_stored(
    tui, coaching, session
):
    app = tui()
    async with app.run_test(size=(150, 50)) as pilot:
        await open_frida(pilot, coaching)
        await pilot.press("n")
        await settle(pilot)
        form = app.screen
        await type_into(pilot, "m-waist_cm", "900")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert form.saved is None
        assert "900" in text(form, "#err-measurements-waist_cm")
        assert meetings_of(session, coaching.full) == 0


async def test_parts_the_consent_does_not_cover_are_disabled(tui, coaching):
    app = tui()
    async with app.run_test(size=(150, 50)) as pilot:
        await log_in(pilot, "cecilia", PASSWORD)
        home = app.screen
        table = home.query_one(DataTable)
        table.move_cursor(row=table.get_row_index(coaching.fitness_only.id))
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, MeetingScreen)
        assert form.query_one("#part-measurements").disabled
        assert form.query_one("#part-notes").disabled
        assert not form.query_one("#part-fitness_test").disabled
        assert "measurements" in text(form, "#consent-measurements")


async def test_a_save_the_server_never_answered_is_kept_encrypted_and_stored_once(
    app, coaching, session, tmp_path
):
    gate = Gate(app)
    tui = ClinicApp(server_url="http://127.0.0.1:1", transport=httpx.ASGITransport(app=gate))
    async with tui.run_test(size=(150, 50), notifications=True) as pilot:
        participant = await open_frida(pilot, coaching)
        form = await fill_meeting(pilot)
        await type_into(pilot, "f-hr_high", "135")
        gate.losing = True
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert form.saved is None
        assert "NOT saved yet" in text(form, "#meeting-status")
        drafts = tui.session.meeting_drafts.all()
        assert len(drafts) == 1 and drafts[0].key == form.key and drafts[0].submitted
        # on disk only as ciphertext
        files = list((tmp_path / "data" / "meeting-drafts").rglob("*.draft"))
        assert len(files) == 1
        assert b"Cycles to work" not in files[0].read_bytes()
        assert coaching.full.id.encode() not in files[0].read_bytes()
        # the server did store it (only the answer was lost)
        assert meetings_of(session, coaching.full) == 1

        # she leaves; the list says what is kept; u sends it again with the same key
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(tui.screen, ParticipantScreen) and tui.screen is participant
        assert "kept on this computer" in text(participant, "#participant-drafts")
        await pilot.press("escape")
        await settle(pilot)
        home = tui.screen
        assert isinstance(home, ParticipantListScreen)
        assert "1 meeting the server has not stored yet" in text(home, "#drafts-status")
        gate.losing = False
        saves = gate.saves
        await pilot.press("u")
        await settle(pilot)
        assert gate.saves == saves + 1
        assert "1 kept meeting stored by the server" in toasts(tui)
        assert tui.session.meeting_drafts.all() == []
        assert list((tmp_path / "data" / "meeting-drafts").rglob("*.draft")) == []
        assert meetings_of(session, coaching.full) == 1  # the same key: stored once
        assert text(home, "#drafts-status") == ""


async def test_a_kept_draft_survives_a_restart_of_the_app(app, coaching, session):
    """The draft is in the encrypted store, not in the app: a new app (same keyring) sends it."""
    gate = Gate(app)
    first = ClinicApp(server_url="http://127.0.0.1:1", transport=httpx.ASGITransport(app=gate))
    async with first.run_test(size=(150, 50)) as pilot:
        await open_frida(pilot, coaching)
        await fill_meeting(pilot)
        await type_into(pilot, "f-hr_high", "135")
        gate.losing = True
        await pilot.press("ctrl+s")
        await settle(pilot)
    await asyncio.sleep(0)
    gate.losing = False
    second = ClinicApp(server_url="http://127.0.0.1:1", transport=httpx.ASGITransport(app=gate))
    async with second.run_test(size=(150, 50)) as pilot:
        await open_frida(pilot, coaching, resumed=True)
        await pilot.press("n")
        await settle(pilot)
        form = second.screen
        assert isinstance(form, MeetingScreen)
        assert form.query_one("#m-weight_kg", Input).value == "82"
        assert NOTE in form.query_one("#notes", TextArea).text
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert form.saved is not None
    assert meetings_of(session, coaching.full) == 1


async def test_a_participant_without_consent_says_so_and_offers_no_meeting(tui, coaching):
    app = tui()
    async with app.run_test(size=(150, 50)) as pilot:
        await log_in(pilot, "cecilia", PASSWORD)
        table = app.screen.query_one(DataTable)
        table.move_cursor(row=table.get_row_index(coaching.legit.id))
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ParticipantScreen) and screen.history is None
        assert "does not cover" in text(screen, "#participant-summary")
        assert screen.check_action("new_meeting", ()) is False
        await pilot.press("n")
        await settle(pilot)
        assert app.screen is screen  # no meeting form


async def test_the_objection_is_recorded_after_a_confirmation_and_withdrawn_again(tui, coaching, session):
    from clinic_server.db.models.coaching import ProfilingObjection
    from clinic_tui.widgets.modals import ConfirmPrompt

    app = tui()
    async with app.run_test(size=(150, 50)) as pilot:
        screen = await open_frida(pilot, coaching)
        await pilot.press("o")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmPrompt)
        await pilot.press("escape")  # no: nothing changes
        await settle(pilot)
        assert not screen.history.objected_to_profiling
        await pilot.press("o")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert screen.history.objected_to_profiling
        assert "Objects to profiling" in text(screen, "#participant-summary")
        session.expire_all()
        assert session.scalar(select(func.count()).select_from(ProfilingObjection)) == 1
        await pilot.press("o")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert not screen.history.objected_to_profiling


async def test_a_saved_meeting_is_corrected_with_a_reason_as_a_new_revision(tui, coaching):
    from clinic_tui.views.meeting import CorrectionPrompt

    app = tui()
    async with app.run_test(size=(150, 50)) as pilot:
        participant = await open_frida(pilot, coaching)
        await fill_meeting(pilot)
        await type_into(pilot, "f-hr_high", "135")
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is participant
        await pilot.press("c")
        await settle(pilot)
        prompt = app.screen
        assert isinstance(prompt, CorrectionPrompt)
        prompt.query_one("#correction-field", Select).value = "measurements.weight_kg"
        prompt.query_one("#correction-value", Input).value = "80"
        prompt.query_one("#correction-reason", Input).value = "no"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is prompt  # a reason is required
        assert "reason" in str(prompt.query_one("#correction-error", Static).render())
        prompt.query_one("#correction-reason", Input).value = "the scale showed 80, typed 82"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is participant
        meeting = participant.history.meetings[0]
        assert meeting.current_revision == 2
        weight = next(m for m in meeting.current.measurements if m.key == "weight_kg")
        assert weight.value == 80
        assert meeting.earlier[0].revision == 1
        detail = text(participant, "#meeting-detail")
        assert "the scale showed 80, typed 82" in detail and "as of revision 1" in detail


async def test_a_form_left_unsaved_is_kept_but_not_sent_until_she_saves_it(tui, coaching, session):
    app = tui()
    async with app.run_test(size=(150, 50)) as pilot:
        participant = await open_frida(pilot, coaching)
        first = await fill_meeting(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is participant
        drafts = app.session.meeting_drafts.all()
        assert len(drafts) == 1 and not drafts[0].submitted
        assert "kept on this computer" in text(participant, "#participant-drafts")
        await pilot.press("escape")
        await settle(pilot)
        home = app.screen
        assert text(home, "#drafts-status") == ""  # not a save she asked for
        await pilot.press("u")
        await settle(pilot)
        assert meetings_of(session, coaching.full) == 0
        table = home.query_one(DataTable)
        table.move_cursor(row=table.get_row_index(coaching.full.id))
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, MeetingScreen) and form.key == first.key
        assert form.query_one("#f-watts_high", Input).value == "150"
        await type_into(pilot, "f-hr_high", "135")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert form.saved is not None
        assert meetings_of(session, coaching.full) == 1
        assert app.session.meeting_drafts.all() == []


async def test_a_save_while_the_server_is_stopped_is_kept_and_ctrl_s_again_stores_it_once(
    app, coaching, session
):
    gate = Gate(app)
    tui = ClinicApp(server_url="http://127.0.0.1:1", transport=httpx.ASGITransport(app=gate))
    async with tui.run_test(size=(150, 50)) as pilot:
        await open_frida(pilot, coaching)
        form = await fill_meeting(pilot)
        await type_into(pilot, "f-hr_high", "135")
        gate.stopped = True
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert form.saved is None and "NOT saved yet" in text(form, "#meeting-status")
        assert meetings_of(session, coaching.full) == 0
        assert [d.key for d in tui.session.meeting_drafts.all()] == [form.key]
        assert form.query_one("#f-hr_high", Input).value == "135"  # the form is as she left it
        gate.stopped = False
        await pilot.press("ctrl+s")  # the same draft, the same key
        await settle(pilot)
        assert form.saved is not None
        assert meetings_of(session, coaching.full) == 1
        assert tui.session.meeting_drafts.all() == []


async def test_ctrl_s_again_after_a_lost_answer_shows_the_stored_meeting_not_a_second_one(
    app, coaching, session
):
    gate = Gate(app)
    tui = ClinicApp(server_url="http://127.0.0.1:1", transport=httpx.ASGITransport(app=gate))
    async with tui.run_test(size=(150, 50)) as pilot:
        await open_frida(pilot, coaching)
        form = await fill_meeting(pilot)
        await type_into(pilot, "f-hr_high", "135")
        gate.losing = True
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert form.saved is None and meetings_of(session, coaching.full) == 1
        gate.losing = False
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert form.saved is not None and "Meeting saved" in text(form, "#meeting-status")
        assert meetings_of(session, coaching.full) == 1


async def test_values_typed_fast_with_tab_between_land_each_in_its_own_field(tui, coaching):
    """``181<Tab>84<Tab>95`` in one burst (a fast typist, a pasted row): Tab moves focus before the
    next characters are read, so no two values run together into one field."""
    from textual import events

    app = tui()
    async with app.run_test(size=(150, 50)) as pilot:
        await open_frida(pilot, coaching)
        await pilot.press("n")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, MeetingScreen)
        form.query_one("#m-height_cm", Input).focus()
        await pilot.pause()
        for key in [*"181", "tab", *"84", "tab", *"95"]:
            app.post_message(events.Key(key, "\t" if key == "tab" else key))
        await settle(pilot)
        values = [form.query_one(f"#m-{k}", Input).value for k in ("height_cm", "weight_kg", "waist_cm")]
        assert values == ["181", "84", "95"]
