"""A demo server lists its demo accounts on the login screen; picking one fills the form."""

import httpx
import pytest
from textual.widgets import Input, OptionList

from clinic_server.api.app import create_app
from clinic_server.settings import Settings
from clinic_tui.app import ClinicApp
from clinic_tui.views.login import LoginScreen
from tests.tui.conftest import settle


@pytest.fixture
def demo_app(db_url):
    app = create_app(Settings(database_url=db_url, secret_key="demo-test-" + "z" * 40, demo=True))
    yield app
    app.state.engine.dispose()


async def test_demo_accounts_are_listed_and_fill_the_form(demo_app):
    tui = ClinicApp(server_url="http://127.0.0.1:1", transport=httpx.ASGITransport(app=demo_app))
    async with tui.run_test(size=(130, 40)) as pilot:
        await settle(pilot)
        assert isinstance(tui.screen, LoginScreen)
        options = tui.screen.query_one("#demo-accounts", OptionList)
        labels = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        names = [label.split()[0] for label in labels]
        assert names == ["anna", "bertil", "cecilia", "david", "elsa", "eva", "frida", "gustav"]
        options.focus()
        options.highlighted = 1
        await pilot.press("enter")
        await settle(pilot)
        assert tui.screen.query_one("#username", Input).value == "bertil"
        assert tui.screen.query_one("#password", Input).value == "demo-password"


async def test_a_server_not_in_demo_mode_lists_no_accounts(app, tui):
    tui_app = tui()
    async with tui_app.run_test(size=(130, 40)) as pilot:
        await settle(pilot)
        assert not tui_app.screen.query("#demo-accounts")
