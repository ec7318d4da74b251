"""KeyFooter shows every screen's keys from the start, like the stock Footer, and follows changes."""

from __future__ import annotations

from sqlalchemy import select

from clinic_server.db.models import Organization
from clinic_tui.views.login import LoginScreen
from clinic_tui.widgets.key_footer import KeyFooter
from tests.factories import PASSWORD
from tests.tui.conftest import log_in, open_patient, settle


def footer_keys(app) -> list[str]:
    return [k.key for k in app.screen.query_one(KeyFooter).query("FooterKey")]


async def test_the_login_screen_footer_shows_its_keys(tui, clinic):
    app = tui()
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, LoginScreen)
        assert "ctrl+q" in footer_keys(app)


async def test_a_supervisors_home_footer_shows_its_keys(tui, clinic, world, session):
    north = session.scalar(select(Organization).where(Organization.name == "Vårdcentralen Norra"))
    world.user("david", "supervisor", north)
    session.commit()
    app = tui()
    async with app.run_test(size=(140, 40)) as pilot:
        await log_in(pilot, "david", PASSWORD)
        assert {"slash", "v", "r", "ctrl+q"} <= set(footer_keys(app))


async def test_a_first_patient_without_vitals_still_gets_a_footer(tui, clinic, world, session):
    north = session.scalar(select(Organization).where(Organization.name == "Vårdcentralen Norra"))
    ivar = world.person("Ivar", "Identitet")
    world.consent(ivar, north, categories=["identity", "contact"])
    session.commit()
    app = tui()
    async with app.run_test(size=(140, 40)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        await open_patient(pilot, ivar.id)
        keys = footer_keys(app)
        assert {"escape", "r"} <= set(keys)
        assert "4" not in keys and "a" not in keys  # no vitals shared: no chart, no alert keys
