"""The settings file reaches the app: a key remapped in it is the key, on every screen that has
that binding, and the footer shows it; the language and the theme apply from the first screen."""

from __future__ import annotations

from datetime import timedelta

import pytest
from textual.widgets import Button, Static

from clinic_tui.app import ClinicApp
from clinic_tui.settings import config_file, load_settings
from clinic_tui.views.alerts import AlertQueueScreen
from clinic_tui.views.patient import PatientScreen
from clinic_tui.widgets.key_footer import KeyFooter
from tests.factories import PASSWORD
from tests.tui.conftest import log_in, settle, toasts
from tests.vitals_util import clinic, now, obs, post


@pytest.fixture
def c(world, session):
    return clinic(world, session)


def settings_file(text: str) -> None:
    path = config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def footer(app) -> dict[str, str]:
    return {k.key: k.description for k in app.screen.query_one(KeyFooter).query("FooterKey")}


async def test_a_key_remapped_in_the_settings_file_is_the_key_and_the_footer_shows_it(tui, c, http, session):
    await post(http, c.keys["nora"], obs("8480-6", 186, now() - timedelta(minutes=5)))
    settings_file('[keymap]\n"alert.acknowledge" = "k"\n')
    app = tui()  # (the settings are read from the file as the app starts)
    async with app.run_test(size=(140, 45)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        queue = app.screen
        assert isinstance(queue, AlertQueueScreen)
        assert footer(app).get("k") == "Ack" and "a" not in footer(app)
        await pilot.press("a")  # no longer bound
        await settle(pilot)
        assert queue.current_alert().state == "open"
        await pilot.press("k")
        await settle(pilot)
        assert queue.current_alert().state == "acknowledged"

        # one keymap entry remaps the same key on the patient screen (the same binding id there)
        await pilot.press("o")
        await settle(pilot)
        assert isinstance(app.screen, PatientScreen)
        assert footer(app).get("k") == "Ack" and "a" not in footer(app)
        assert "k Ack" in str(app.screen.query_one("#alerts-title", Static).render())


async def test_the_language_and_theme_of_the_settings_apply_from_the_first_screen(app, c):
    import httpx

    settings_file('language = "sv"\ntheme = "nord"\n')
    tui = ClinicApp(load_settings(), server_url="http://127.0.0.1:1", transport=httpx.ASGITransport(app=app))
    async with tui.run_test(size=(140, 45)) as pilot:
        await settle(pilot)
        assert tui.theme == "nord"
        assert str(tui.screen.query_one("#brand", Static).render()) == "clinic-tui · logga in"
        assert str(tui.screen.query_one("#login", Button).label) == "Logga in"
        assert footer(tui)["ctrl+q"] == "Avsluta"
        await log_in(pilot, "anna", PASSWORD)
        assert isinstance(tui.screen, AlertQueueScreen)
        assert {"Filtrera", "Patienter", "Uppdatera"} <= set(footer(tui).values())


async def test_a_language_given_before_the_settings_are_read_shows_from_the_first_screen(app, c):
    """``clinic-tui`` with only the language configured (``__main__._only_a_language``) passes just
    that and reads the settings after the first paint: the login is Swedish from the start, and the
    settings read later keep it."""
    import httpx

    settings_file('language = "sv"\n')
    tui = ClinicApp(
        None, language="sv", server_url="http://127.0.0.1:1", transport=httpx.ASGITransport(app=app)
    )
    async with tui.run_test(size=(140, 45)) as pilot:
        assert str(tui.screen.query_one("#brand", Static).render()) == "clinic-tui · logga in"
        await settle(pilot)
        assert tui.settings is not None and tui.settings.language == "sv"
        await log_in(pilot, "anna", PASSWORD)
        assert isinstance(tui.screen, AlertQueueScreen)
        assert {"Filtrera", "Patienter", "Uppdatera"} <= set(footer(tui).values())


async def test_the_garbage_collector_is_back_on_once_the_login_screen_is_drawn(app):
    """``clinic-tui`` starts with the collector off (``__main__``, for the first paint) and the app
    turns it on again right after; an app not told so leaves it as it found it."""
    import gc

    import httpx

    gc.disable()
    try:
        tui = ClinicApp(
            server_url="http://127.0.0.1:1",
            transport=httpx.ASGITransport(app=app),
            collect_after_first_paint=True,
        )
        async with tui.run_test(size=(140, 45)) as pilot:
            await settle(pilot)
            assert gc.isenabled()
        gc.disable()
        tui = ClinicApp(server_url="http://127.0.0.1:1", transport=httpx.ASGITransport(app=app))
        async with tui.run_test(size=(140, 45)) as pilot:
            await settle(pilot)
            assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize(
    ("size", "classes"), [((80, 24), {"-narrow", "-short"}), ((140, 45), {"-wide", "-tall"})]
)
async def test_a_screen_is_born_with_its_size_classes_so_its_first_resize_restyles_nothing(
    tui, size, classes
):
    """(The login screen's first paint: docs/performance.md, issue 13 start-up.)"""
    from clinic_tui.views.login import LoginScreen

    app = tui()
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        assert classes <= set(app.screen.classes)  # as Textual set them on the first Resize
        screen = LoginScreen()
        assert set(screen.classes) == classes
    assert set(LoginScreen().classes) == set()  # (built outside a running app: nothing to go by)


async def test_an_unknown_theme_is_reported_and_the_default_kept(tui, c):
    settings_file('theme = "no-such-theme"\n')
    app = tui()
    async with app.run_test(size=(140, 45), notifications=True) as pilot:
        await settle(pilot)
        assert app.theme == "textual-dark"
        assert "no-such-theme" in toasts(app)
