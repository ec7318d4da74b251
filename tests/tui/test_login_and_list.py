import pytest
from textual.widgets import DataTable, Input, Static

from clinic_tui import session_store
from clinic_tui.views.alerts import AlertQueueScreen
from clinic_tui.views.login import LoginScreen
from clinic_tui.views.patient import PatientScreen
from clinic_tui.views.patients import PatientListScreen
from tests.factories import PASSWORD
from tests.tui.conftest import log_in, settle, to_patients


def _cells(table: DataTable) -> list[str]:
    return [" | ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]


async def test_wrong_password_shows_inline_error_and_keeps_username(tui, clinic):
    app = tui()
    async with app.run_test(size=(120, 40)) as pilot:
        await log_in(pilot, "anna", "wrong password")
        assert isinstance(app.screen, LoginScreen)
        error = str(app.screen.query_one("#login-error", Static).render())
        assert "Wrong username, password or code" in error
        assert app.screen.query_one("#username", Input).value == "anna"
        assert app.screen.query_one("#password", Input).value == ""


async def test_empty_form_is_refused_without_a_request(tui, clinic, session):
    from tests.conftest import audit_count

    before = audit_count(session)
    app = tui()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.click("#login")
        await settle(pilot)
        assert "Enter both username and password" in str(
            app.screen.query_one("#login-error", Static).render()
        )
    assert audit_count(session) == before


async def test_nurse_logs_in_and_sees_only_her_patients(tui, clinic, memory_keyring):
    app = tui()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        password_box = app.screen.query_one("#password", Input)
        await log_in(pilot, "anna", PASSWORD)
        assert password_box.value == ""  # the used password does not stay in the old form
        assert isinstance(app.screen, AlertQueueScreen)  # a nurse's home
        await to_patients(pilot)
        rows = _cells(app.screen.query_one(DataTable))
        assert len(rows) == 2
        assert any("Nora Norrman" in r for r in rows)
        assert not any("Sune" in r or "Ulla" in r for r in rows)
        # Vera shares vitals and conditions only: her row says identity is not shared
        vera_row = next(r for r in rows if "Patient " in r)
        assert "Vera" not in vera_row and "not shared" in vera_row
        # the refresh token went to the keyring, nowhere else
        stored = session_store.load(app.session.server_id)
        assert stored is not None and stored[0] == "anna"


async def test_bertil_sees_a_different_set(tui, clinic):
    app = tui()
    async with app.run_test(size=(120, 40)) as pilot:
        await log_in(pilot, "bertil", PASSWORD)
        await to_patients(pilot)
        rows = _cells(app.screen.query_one(DataTable))
        assert len(rows) == 1 and "Sune Södergren" in rows[0]


async def test_filter_with_slash(tui, clinic):
    app = tui()
    async with app.run_test(size=(120, 40)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        await to_patients(pilot)
        await pilot.press("slash")
        await pilot.press(*"norr")
        await settle(pilot)
        rows = _cells(app.screen.query_one(DataTable))
        assert len(rows) == 1 and "Nora" in rows[0]
        await pilot.press("escape")
        await settle(pilot)
        assert len(_cells(app.screen.query_one(DataTable))) == 2


async def test_open_patient_shows_withheld_sections(tui, clinic):
    app = tui()
    async with app.run_test(size=(120, 40)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        await to_patients(pilot)
        table = app.screen.query_one(DataTable)
        vera_index = next(i for i, r in enumerate(_cells(table)) if "Patient " in r)
        table.move_cursor(row=vera_index)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, PatientScreen)
        contact = str(app.screen.query_one("#contact", Static).render())
        assert "not shared by the patient" in contact
        assert app.screen.query_one("#latest", DataTable).row_count == 2
        await pilot.press("escape")
        assert isinstance(app.screen, PatientListScreen)


async def test_remembered_session_resumes_and_logout_forgets_it(tui, clinic, memory_keyring):
    app = tui()
    async with app.run_test(size=(120, 40)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        assert isinstance(app.screen, AlertQueueScreen)
    # a new start of the app resumes from the keyring
    app2 = tui()
    async with app2.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert isinstance(app2.screen, AlertQueueScreen)
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert isinstance(app2.screen, LoginScreen)
        assert session_store.load(app2.session.server_id) is None


async def test_without_a_keyring_the_user_is_told(tui, clinic, monkeypatch):
    import keyring
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())
    app = tui()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        note = str(app.screen.query_one("#keyring-note", Static).render())
        assert "not be remembered" in note
        await log_in(pilot, "anna", PASSWORD)
        assert isinstance(app.screen, AlertQueueScreen)


def _burst(app, keys: list[str]) -> None:
    """Keys as a terminal delivers a password manager's auto-type: all in one read, queued at once
    (``pilot.press`` waits between keys, which hides ordering races)."""
    from textual import events

    for key in keys:
        char = {"enter": "\r", "tab": "\t"}.get(key, key)
        app.post_message(events.Key(key, char))


@pytest.mark.parametrize("between", ["enter", "tab"])
async def test_auto_typed_login_puts_the_password_in_the_password_field(tui, clinic, between):
    """``anna{TAB}password{ENTER}`` in one burst: the password never lands, readable, in the
    username field; the nurse is logged in."""
    app = tui()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, LoginScreen)
        _burst(app, [*"anna", between, *PASSWORD, "enter"])
        await settle(pilot)
        await settle(pilot)
        assert isinstance(app.screen, AlertQueueScreen), app.screen
