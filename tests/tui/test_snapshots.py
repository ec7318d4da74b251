"""Snapshots (pytest-textual-snapshot) of the main screens in both languages at 80x24 and 120x40,
so a layout that breaks (a column pushed off screen, a footer cut short, a box overflowing) is
caught. Update after an intended change: ``pytest tests/tui/test_snapshots.py --snapshot-update``,
then look at the SVGs in ``__snapshots__`` before committing them."""

from __future__ import annotations

import httpx
import pytest

from clinic_tui.app import ClinicApp
from clinic_tui.i18n import set_language
from clinic_tui.settings import config_file, load_settings
from tests.factories import PASSWORD
from tests.tui.conftest import log_in, settle

SIZES = [(80, 24), (120, 40)]
LANGUAGES = ["en", "sv"]


@pytest.fixture(autouse=True)
def _english_again():
    yield
    set_language("en")


def make_app(asgi, language: str) -> ClinicApp:
    path = config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'language = "{language}"\nlock_minutes = 0\n')
    return ClinicApp(
        load_settings(), server_url="http://127.0.0.1:1", transport=httpx.ASGITransport(app=asgi)
    )


@pytest.fixture
def staff(world, session):
    north = world.org("Vårdcentralen Norra")
    world.user("anna", "nurse", north)
    session.commit()


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_login(snap_compare, app, staff, language, size):
    assert snap_compare(make_app(app, language), terminal_size=size, run_before=settle)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_alert_queue(snap_compare, app, staff, language, size):
    async def logged_in(pilot):
        await log_in(pilot, "anna", PASSWORD)

    assert snap_compare(make_app(app, language), terminal_size=size, run_before=logged_in)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_help_on_the_alert_queue(snap_compare, app, staff, language, size):
    async def help_open(pilot):
        await log_in(pilot, "anna", PASSWORD)
        await pilot.press("f1")
        await settle(pilot)

    assert snap_compare(make_app(app, language), terminal_size=size, run_before=help_open)
