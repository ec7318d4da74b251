"""A working day without friction (issue 13): the language chosen and switched at run time,
help for the current screen with the user's keys, the palette's commands, the idle lock, and no
toast that outlives its session."""

from __future__ import annotations

import io
import tomllib
from datetime import date, timedelta

import httpx
import pytest
from rich.console import Console
from sqlalchemy import select
from textual import events
from textual.command import CommandPalette
from textual.keys import _character_to_key
from textual.widgets import Input, Static, TextArea

from clinic_server.db.models import AlertEvent
from clinic_tui import i18n
from clinic_tui.app import ClinicApp
from clinic_tui.i18n import set_language
from clinic_tui.settings import config_file, load_settings
from clinic_tui.views.alerts import AlertQueueScreen
from clinic_tui.views.lock import LockScreen
from clinic_tui.views.login import LoginScreen
from clinic_tui.views.patient import PatientScreen
from clinic_tui.widgets.help import HelpScreen, key_rows
from clinic_tui.widgets.key_footer import KeyFooter
from clinic_tui.widgets.modals import BreakGlassPrompt, EscalatePrompt, TextPrompt
from clinic_tui.widgets.patient.alerts import AlertsPanel
from clinic_tui.widgets.row_table import RowTable
from tests.factories import PASSWORD
from tests.tui.conftest import log_in, settle, toasts
from tests.vitals_util import clinic, device, now, obs, post


@pytest.fixture
def c(world, session):
    return clinic(world, session)


@pytest.fixture(autouse=True)
def _english_again():
    yield
    set_language("en")  # (the language is process-wide; the next test starts in English)


def settings_file(text: str) -> None:
    path = config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def configured(app):
    """The app as `clinic-tui` starts it: with the settings file read first."""

    def make() -> ClinicApp:
        return ClinicApp(
            load_settings(), server_url="http://127.0.0.1:1", transport=httpx.ASGITransport(app=app)
        )

    return make


def footer(app) -> dict[str, str]:
    return {k.key: k.description for k in app.screen.query_one(KeyFooter).query("FooterKey")}


def screen_text(app) -> str:
    """Everything drawn on the terminal now, as text (what a passer-by could read): the way
    ``App.export_screenshot`` renders it, exported as plain text instead of SVG."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True, legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


# ---------------------------------------------------------------------- language


async def test_f2_at_login_switches_to_swedish_at_once_and_remembers_it(configured, c, http):
    await post(http, c.keys["nora"], obs("14743-9", 2.6, now() - timedelta(minutes=5)))
    settings_file('theme = "nord"\n\n[keymap]\n"alert.acknowledge" = "k"\n')
    app = configured()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert str(app.screen.query_one("#brand", Static).render()) == "clinic-tui · sign in"
        await pilot.press("f2")
        await settle(pilot)
        assert isinstance(app.screen, LoginScreen)
        assert str(app.screen.query_one("#brand", Static).render()) == "clinic-tui · logga in"
        assert footer(app)["ctrl+q"] == "Avsluta"
        await log_in(pilot, "anna", PASSWORD)
        queue = app.screen
        assert isinstance(queue, AlertQueueScreen)
        assert queue.title.startswith("Larm — ")
        row = queue.query_one(RowTable).row_text(0)
        assert "2,6 mmol/L" in row and "HÖG" in row  # decimal comma, Swedish severity
        assert [c.label for c in queue.query_one(RowTable).columns][:2] == ["Prio", "Patient"]
    saved = tomllib.loads(config_file().read_text())
    assert saved["language"] == "sv"
    assert saved["theme"] == "nord" and saved["keymap"] == {"alert.acknowledge": "k"}  # the rest kept


async def test_switching_language_in_the_app_redraws_the_screen_and_keeps_the_session(configured, c, http):
    await post(http, c.keys["nora"], obs("8480-6", 186, now() - timedelta(minutes=5)))
    settings_file('language = "sv"\n')
    app = configured()
    async with app.run_test(size=(120, 40)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        assert isinstance(app.screen, AlertQueueScreen) and app.screen.title.startswith("Larm")
        app.session.drafts[(1, "resolve")] = "half a note"
        await pilot.press("o")  # the patient's record
        await settle(pilot)
        person = app.screen.person_id
        await pilot.press("f2")
        await settle(pilot)
        assert app.screen.person_id == person  # the same record, opened again in English
        assert "Latest measurements" in screen_text(app)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, AlertQueueScreen) and app.screen.title.startswith("Alerts")
        assert app.session.logged_in and app.session.drafts == {(1, "resolve"): "half a note"}
    assert tomllib.loads(config_file().read_text())["language"] == "en"


async def test_in_swedish_the_server_written_texts_are_swedish_too(configured, c, http):
    """The alert's finding, the conditions and the chart's threshold lines are worded by the client
    from the rule, its inputs and the codes (the server's English stays its log and audit wording)."""
    await post(http, c.keys["nora"], obs("8480-6", 186, now() - timedelta(minutes=5)))
    await post(http, c.keys["nora"], obs("14743-9", 2.6, now() - timedelta(minutes=4)))
    settings_file('language = "sv"\n')
    app = configured()
    async with app.run_test(size=(140, 45)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        shown = screen_text(app)
        assert "Systoliskt blodtryck 186 mmHg ≥ 180 (grad 3)" in shown
        assert "Glukos (kapillärt) 2,6 mmol/L < 3 (hypoglykemi nivå 2)" in shown
        assert "Systolic" not in shown and "Glucose" not in shown
        assert app.screen.current_alert().rule_id == "bp.grade3"
        await pilot.press("o")  # her record, charting the measurement of the alert
        await settle(pilot)
        shown = screen_text(app)
        assert "Hjärtsvikt, Hypertoni" in shown and "Heart failure" not in shown
        assert "Glukos (kapillärt) 2,6 mmol/L" in shown and "Systoliskt blodtryck 186 mmHg ≥" in shown
        assert "rader: Grad 2 160, Grad 3 180" in shown and "Grade" not in shown
        panel = app.screen.query_one(AlertsPanel)
        assert panel.selected_alert().rule_id == "bp.grade3"  # (opened from it)
        await pilot.press("a")
        await settle(pilot)
        await pilot.press("x")  # the note dialog names the alert as the rows do
        await settle(pilot)
        assert isinstance(app.screen, TextPrompt)
        shown = screen_text(app)
        assert "Systoliskt blodtryck 186 mmHg ≥ 180 (grad 3)" in shown and "Systolic" not in shown


async def test_the_language_from_the_environment_short_name(monkeypatch):
    monkeypatch.setenv("CLINIC_LANG", "sv")
    assert load_settings().language == "sv"
    assert load_settings(language="en").language == "en"  # --lang wins


# ---------------------------------------------------------------------- help


async def test_question_mark_opens_help_with_the_remapped_keys_and_esc_only_closes_it(configured, c, http):
    await post(http, c.keys["nora"], obs("8480-6", 186, now() - timedelta(minutes=5)))
    settings_file('[keymap]\n"alert.acknowledge" = "k"\n"app.help" = "h,f1"\n')
    app = configured()
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        queue = app.screen
        await pilot.press("question_mark")  # remapped away: nothing opens
        await settle(pilot)
        assert app.screen is queue
        assert footer(app).get("h") == "Help"  # first in the footer, under the remapped key
        assert list(footer(app).values())[:3] == ["Help", "Ack", "Resolve"]  # a remapped key keeps its place
        await pilot.press("h")
        await settle(pilot)
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        keys = {description: key for key, description, _more, _on in help_screen.rows}
        assert keys["Ack"] == "k"
        assert "a" not in keys.values()
        assert keys["Filter"] == "/" and keys["Log out"] == "^o"
        assert "Age is how long" in str(help_screen.query_one("#help-about", Static).render())  # columns
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is queue  # Esc closed the help and did nothing else
        await pilot.press("f1")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("f1")
        await settle(pilot)
        assert app.screen is queue


async def test_help_in_swedish_on_the_login_screen(configured):
    settings_file('language = "sv"\n')
    app = configured()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        rows = {description for _key, description, _more, _on in app.screen.rows}
        assert {"Rensa", "Avsluta", "Hjälp"} <= rows
        assert "Hjälp" in screen_text(app) and "Help —" not in screen_text(app)


async def test_typing_a_question_mark_in_a_field_types_it(configured, c):
    app = configured()
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        await pilot.press("slash", "n", "question_mark")
        await settle(pilot)
        assert not isinstance(app.screen, HelpScreen)
        assert app.screen.query_one("#filter", Input).value == "n?"


# ---------------------------------------------------------------------- palette


async def test_the_palette_offers_the_screens_actions_as_area_action_with_their_keys(configured, c, http):
    await post(http, c.keys["nora"], obs("8480-6", 186, now() - timedelta(minutes=5)))
    settings_file('[keymap]\n"alert.acknowledge" = "k"\n')
    app = configured()
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        queue = app.screen
        commands = {cmd.title: cmd.help for cmd in app.get_system_commands(queue)}
        assert commands["Alert: Ack"].startswith("k · Acknowledge")
        assert commands["Alerts: Patients"].startswith("p · ")
        assert "App: Help" in commands and "Go: Home" in commands and "Language: Svenska" in commands
        assert "Keys" not in commands  # Textual's keys panel, which outlived screens: our help instead
        # chosen from the palette, the action runs on the screen
        await pilot.press("ctrl+p")
        await settle(pilot)
        assert CommandPalette.is_open(app)
        await pilot.press(*"Alert: Ack")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is queue and queue.current_alert().state == "acknowledged"


# ---------------------------------------------------------------------- lock


async def test_idle_lock_hides_everything_and_the_password_resumes_with_the_typing_kept(configured, c, http):
    await post(http, c.keys["nora"], obs("8480-6", 186, now() - timedelta(minutes=5)))
    settings_file("lock_minutes = 0.04\n")  # 2.4 s
    app = configured()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        queue = app.screen
        await pilot.press("slash", *"Nora")
        await settle(pilot)
        app.notify("Alert acknowledged: Nora Norrman")
        await pilot.pause(3.5)
        assert isinstance(app.screen, LockScreen)
        shown = screen_text(app)
        assert "Nora" not in shown and "Norrman" not in shown and "186" not in shown
        assert "Nora" not in toasts(app)
        # the palette and help offer nothing while locked
        await pilot.press("ctrl+p")
        await pilot.press("f1")
        await settle(pilot)
        assert isinstance(app.screen, LockScreen)
        await pilot.press(*"wrong-password", "enter")
        await settle(pilot)
        assert isinstance(app.screen, LockScreen)
        assert "Wrong" in str(app.screen.query_one("#lock-error", Static).render())
        await pilot.press(*PASSWORD, "enter")
        await settle(pilot)
        assert app.screen is queue and app.session.logged_in
        assert queue.query_one("#filter", Input).value == "Nora"  # what was typed is kept


async def test_an_account_with_an_authenticator_unlocks_with_password_and_code(
    configured, c, http, world, session
):
    """Unlocking asks for the code as logging in did: a wrong code keeps the screen locked and
    says so (the code field emptied, the password field ready again); password and the right code
    open the screen that was locked, with what was typed on it."""
    import pyotp

    secret = pyotp.random_base32()
    world.user("tove", "nurse", c.north, totp_secret=secret)
    session.commit()
    await post(http, c.keys["nora"], obs("8480-6", 186, now() - timedelta(minutes=5)))
    totp = pyotp.TOTP(secret)
    t0 = now()
    # a code is taken once: the login spends this step's, the unlock gives the next step's
    first, second = totp.at(t0), totp.at(t0 + timedelta(seconds=30))
    valid = {totp.at(t0 + timedelta(seconds=30 * k)) for k in range(-3, 5)}
    wrong = next(code for code in (f"{n:06d}" for n in range(123456, 999999, 7919)) if code not in valid)
    settings_file("lock_minutes = 0\n")  # (locked by hand: F12)
    app = configured()
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, "tove", PASSWORD)
        assert isinstance(app.screen, LoginScreen)  # asked for the code
        await pilot.press(*first, "enter")
        await settle(pilot)
        queue = app.screen
        assert isinstance(queue, AlertQueueScreen)
        await pilot.press("slash", *"Nora")
        await settle(pilot)
        await pilot.press("f12")
        await settle(pilot)
        lock = app.screen
        assert isinstance(lock, LockScreen)
        error = lambda: str(lock.query_one("#lock-error", Static).render())  # noqa: E731
        await pilot.press(*PASSWORD, "enter")
        await settle(pilot)
        assert app.screen is lock and "code" in error()
        assert lock.query_one("#lock-otp", Input).display and app.focused is lock.query_one("#lock-otp")
        await pilot.press(*wrong, "enter")
        await settle(pilot)
        assert app.screen is lock, "a wrong code unlocked the screen"
        assert "Wrong" in error() and "code" in error()
        assert lock.query_one("#lock-otp", Input).value == ""
        assert app.focused is lock.query_one("#lock-password")
        await pilot.press(*PASSWORD, "enter")  # Enter in the password field: on to the code
        await settle(pilot)
        assert app.screen is lock and app.focused is lock.query_one("#lock-otp")
        await pilot.press(*second, "enter")
        await settle(pilot)
        assert app.screen is queue and app.session.logged_in and app.session.user.username == "tove"
        assert queue.query_one("#filter", Input).value == "Nora"  # what was typed is kept


async def test_no_lock_before_anyone_logs_in_and_none_when_switched_off(configured, c):
    settings_file("lock_minutes = 0\n")
    app = configured()
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        app._last_input -= 3600
        app.check_idle_lock()
        await settle(pilot)
        assert isinstance(app.screen, AlertQueueScreen)


async def test_a_negative_lock_time_is_refused(monkeypatch):
    from clinic_tui.settings import SettingsError

    monkeypatch.setenv("CLINIC_LOCK_MINUTES", "-1")
    with pytest.raises(SettingsError, match="lock_minutes"):
        load_settings()


# ---------------------------------------------------------------------- issue 13.1


async def test_no_toast_outlives_the_session_that_made_it(tui, c, http):
    await post(http, c.keys["nora"], obs("8480-6", 186, now() - timedelta(minutes=5)))
    app = tui()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        await pilot.press("a")
        await settle(pilot)
        assert "Nora Norrman" in toasts(app)
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert isinstance(app.screen, LoginScreen)
        assert "Nora" not in toasts(app)
        await log_in(pilot, "agnes", PASSWORD)
        assert "Nora" not in toasts(app)


# ---------------------------------------------------------------------- issue 13.2


async def test_the_patient_list_opened_from_the_queue_has_a_way_back(tui, c):
    app = tui()
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        queue = app.screen
        for back in ("escape", "q", "backspace"):
            await pilot.press("p")
            await settle(pilot)
            assert app.screen is not queue
            if back == "escape":  # a filter first: Esc clears it, the next Esc goes back
                await pilot.press("slash", "n", "enter")
                await settle(pilot)
                await pilot.press("escape")
                await settle(pilot)
                assert app.screen is not queue
            await pilot.press(back)
            await settle(pilot)
            assert app.screen is queue, back


# ---------------------------------------------------------------------- issue 13.4 and 13.8


async def test_esc_in_the_note_dialog_keeps_the_note_for_next_time(tui, c, http):
    await post(http, c.keys["nora"], obs("8480-6", 186, now() - timedelta(minutes=5)))
    app = tui()
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        queue = app.screen
        await pilot.press("a")
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, TextPrompt)
        await pilot.press(*"Called her")
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is queue and queue.current_alert().state == "acknowledged"
        await pilot.press("x")
        await settle(pilot)
        assert app.screen.query_one(TextArea).text == "Called her"


async def test_esc_in_the_emergency_dialog_keeps_what_was_typed(tui, c):
    app = tui()
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        await pilot.press("p")
        await settle(pilot)
        await pilot.press("b")
        await settle(pilot)
        assert isinstance(app.screen, BreakGlassPrompt)
        await pilot.press(*"19121212-1212", "tab", *"Unconscious in the ER")
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, BreakGlassPrompt)
        await pilot.press("b")
        await settle(pilot)
        assert app.screen.query_one("#glass-pnr", Input).value == "19121212-1212"
        assert app.screen.query_one("#glass-reason", TextArea).text == "Unconscious in the ER"


async def test_personnummer_tab_and_reason_in_one_burst_land_in_their_fields(tui, c):
    app = tui()
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        await pilot.press("p")
        await settle(pilot)
        await pilot.press("b")
        await settle(pilot)
        # one burst, as a scanner or a paste sends it: no pause between the keys
        for key in [*"191212121212", "tab", *"Found", "space", *"unconscious"]:
            app.post_message(events.Key(key, {"tab": None, "space": " "}.get(key, key)))
        await settle(pilot)
        assert app.screen.query_one("#glass-pnr", Input).value == "191212121212"
        assert app.screen.query_one("#glass-reason", TextArea).text == "Found unconscious"


# ---------------------------------------------------------------------- issue 13.11


async def test_two_patients_with_the_same_name_are_told_apart_in_the_queue(tui, c, http, world, session):
    twins = [
        world.person("Johanna", "Hansson", birth=date(1957, 1, 3)),
        world.person("Johanna", "Hansson", birth=date(1984, 7, 13)),
    ]
    for person in twins:
        world.consent(person, c.north)
    session.commit()
    for person in twins:
        await post(http, device(session, person), obs("8480-6", 186, now() - timedelta(minutes=5)))
    app = tui()
    async with app.run_test(size=(120, 40)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        labels = sorted(a.label for a in app.screen.alerts.values())
        assert labels == ["Johanna Hansson (1957-01-03)", "Johanna Hansson (1984-07-13)"]
        table = app.screen.query_one(RowTable)
        rows = sorted(table.row_text(i) for i in range(table.row_count))
        assert "Johanna Hansson (1957-01-03)" in rows[0] and "Johanna Hansson (1984-07-13)" in rows[1]
        await pilot.press("slash", *"1984")  # and the birth date finds her
        await settle(pilot)
        assert [a.label for a in app.screen.alerts.values()] == ["Johanna Hansson (1984-07-13)"]


async def test_at_80x24_namesakes_are_still_told_apart_by_what_is_drawn(tui, c, http, world, session):
    """The Patient column is 13 cells at 80 columns: the birth date (or the personnummer) that
    tells two Johanna Hansson apart is what survives the cut, not the name they share."""
    twins = [
        world.person("Johanna", "Hansson", birth=date(1957, 1, 3)),
        world.person("Johanna", "Hansson", birth=date(1984, 7, 13)),
        # the same name and birth date: told apart by the personnummer
        world.person("Karl", "Ek", birth=date(1950, 2, 2)),
        world.person("Karl", "Ek", birth=date(1950, 2, 2)),
    ]
    for person in twins:
        world.consent(person, c.north)
    session.commit()
    for person in twins:
        await post(http, device(session, person), obs("8480-6", 186, now() - timedelta(minutes=5)))
    app = tui()
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        table = app.screen.query_one(RowTable)
        drawn = [table.render_line(y).text for y in range(1, table.row_count + 1)]
        for person in twins:
            pnr = f"{person.personnummer[:8]}-{person.personnummer[8:]}"
            detail = person.birth_date.isoformat() if person.given_name == "Johanna" else pnr
            assert sum(detail in line for line in drawn) == 1, (detail, drawn)
        for line in drawn:  # and the rest of the row is where it was
            assert "186 mmHg" in line and "open" in line, line


# ---------------------------------------------------------------------- issue 13.10


async def test_under_emergency_access_the_footer_offers_no_alert_keys(tui, c, http):
    sune = c.people["sune"]  # his consent names the south, not anna's north: only the glass opens it
    await post(http, c.keys["sune"], obs("8480-6", 186, now() - timedelta(minutes=5)))
    app = tui()
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        await pilot.press("p")
        await settle(pilot)
        await pilot.press("b")
        await settle(pilot)
        app.screen.query_one("#glass-pnr", Input).value = sune.personnummer
        app.screen.query_one("#glass-reason", TextArea).insert("Found unconscious at home by home care")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, PatientScreen)
        panel = app.screen.query_one(AlertsPanel)
        assert panel.alerts, "his alert is shown (reading it is allowed under the glass)"
        shown = footer(app)
        assert not {"a", "x", "e", "s", "u"} & set(shown), shown
        assert "Ack" not in {d for _k, d, _m, _on in key_rows(app.screen)}


async def test_a_note_being_typed_survives_the_lock(configured, c, http):
    await post(http, c.keys["nora"], obs("8480-6", 186, now() - timedelta(minutes=5)))
    settings_file("lock_minutes = 0\n")  # (locked by hand here: F12)
    app = configured()
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        await pilot.press("a")
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)
        prompt = app.screen
        await pilot.press(*"Called Nora")
        await pilot.press("f12")
        await settle(pilot)
        assert isinstance(app.screen, LockScreen)
        assert "Called Nora" not in screen_text(app)  # the dialog is hidden with the rest
        await pilot.press(*PASSWORD, "enter")
        await settle(pilot)
        assert app.screen is prompt and prompt.query_one(TextArea).text == "Called Nora"


# ---------------------------------------------------------------------- issue 13.3 and 13.13


async def test_the_patient_list_finds_by_pseudonym_and_without_swedish_letters(tui, c):
    app = tui()
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        await pilot.press("p")
        await settle(pilot)
        screen = app.screen
        await pilot.press("slash", *"bagge")  # Bo Bägge, typed without ä
        await settle(pilot)
        assert [p.label for p in screen.people.values()] == ["Bo Bägge"]
        vera = c.people["vera"]  # her identity is not shared: she is "Patient xxxxxx"
        await pilot.press("escape", "slash", *vera.id[:6])
        await settle(pilot)
        assert [p.label for p in screen.people.values()] == [f"Patient {vera.id[:6]}"]


async def test_f2_in_a_dialog_does_not_rebuild_the_screens_under_it(tui, c, http):
    await post(http, c.keys["nora"], obs("8480-6", 186, now() - timedelta(minutes=5)))
    app = tui()
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        await pilot.press("a")
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)
        prompt = app.screen
        await pilot.press(*"Called", "f2")
        await settle(pilot)
        assert app.screen is prompt and prompt.query_one(TextArea).text == "Called"
        assert not any(cmd.title.startswith("Language") for cmd in app.get_system_commands(prompt))
        app.switch_language("sv")  # (as the palette would, had it been opened before the dialog)
        await settle(pilot)
        assert app.screen is prompt and prompt.query_one(TextArea).text == "Called"
        assert i18n.language() == "en"


# ---------------------------------------------------------------------- Ctrl+S in the burst


def burst(app, *keys: str) -> None:
    """Post ``keys`` to the app with no pause between them, as a terminal delivers a paste or a
    fast typist (``pilot.press`` waits until the app is idle after each key). A key of one
    character is typed text; longer ones are named keys ("tab", "ctrl+s")."""
    for key in keys:
        if len(key) == 1:
            app.post_message(events.Key(_character_to_key(key), key))
        else:
            app.post_message(events.Key(key, "\t" if key == "tab" else None))


async def test_ctrl_s_in_the_same_burst_as_the_note_saves_all_of_it(tui, c, http, session):
    """A note typed fast and Ctrl+S in one burst (a paste, a fast typist): the first Ctrl+S saves
    everything typed before it; the dialog never says the note is empty."""
    await post(http, c.keys["nora"], obs("8480-6", 186, now() - timedelta(minutes=30)))
    await post(http, c.keys["bo"], obs("8867-4", 135, now() - timedelta(minutes=20)))
    app = tui()
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        queue = app.screen
        first, second = (int(k) for k in queue.query_one(RowTable).keys)
        await pilot.press("a")
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, TextPrompt)
        burst(app, *"Re-measured: 138/85.", "ctrl+s")
        await settle(pilot)
        assert app.screen is queue, str(app.screen.query_one("#prompt-error", Static).render())
        # escalate: the recipient, Tab, the note and Ctrl+S, all in one burst
        await pilot.press("down")
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, EscalatePrompt)
        burst(app, *"Dr. Ek", "tab", *"Pulse 135 at rest.", "ctrl+s")
        await settle(pilot)
        assert app.screen is queue, str(app.screen.query_one("#prompt-error", Static).render())
    session.expire_all()
    done = {
        e.alert_id: (e.to_state, e.note, e.recipient)
        for e in session.scalars(select(AlertEvent).where(AlertEvent.to_state.in_(["resolved", "escalated"])))
    }
    assert done == {
        first: ("resolved", "Re-measured: 138/85.", None),
        second: ("escalated", "Pulse 135 at rest.", "Dr. Ek"),
    }


async def test_ctrl_s_in_the_same_burst_as_the_emergency_reason_opens_the_record(tui, c, http):
    sune = c.people["sune"]
    app = tui()
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        await pilot.press("p")
        await settle(pilot)
        await pilot.press("b")
        await settle(pilot)
        assert isinstance(app.screen, BreakGlassPrompt)
        burst(app, *sune.personnummer, "tab", *"Found unconscious at home", "ctrl+s")
        await settle(pilot)
        if isinstance(app.screen, BreakGlassPrompt):
            raise AssertionError(str(app.screen.query_one("#glass-error", Static).render()))
        assert isinstance(app.screen, PatientScreen)


async def test_ctrl_s_in_the_same_burst_as_the_verdict_note_records_all_of_it(tui, c):
    from clinic_tui.widgets.verdict import VerdictPrompt

    app = tui()
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        got = []
        app.push_screen(VerdictPrompt("Verdict", "A finding"), got.append)
        await settle(pilot)
        await pilot.click("#v-needs_follow_up")
        await pilot.click("#verdict-note")
        burst(app, *"Ask anna why she opened it.", "ctrl+s")
        await settle(pilot)
        assert [(str(v), note) for v, note in got] == [("needs_follow_up", "Ask anna why she opened it.")]
