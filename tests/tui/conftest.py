from __future__ import annotations

import asyncio

import httpx
import pytest
from textual.worker import WorkerCancelled

from clinic_tui.app import ClinicApp
from tests.factories import World


@pytest.fixture
def clinic(world: World, session):
    """A small world: two care organizations, their nurses, people with and without consent."""
    north = world.org("Vårdcentralen Norra")
    south = world.org("Hjärtmottagningen Söder")
    world.user("anna", "nurse", north)
    world.user("bertil", "nurse", south)
    people = {
        "nora": world.person("Nora", "Norrman"),
        "sune": world.person("Sune", "Södergren"),
        "vera": world.person("Vera", "Vitalsonly"),
        "ulla": world.person("Ulla", "Utan"),
    }
    world.consent(people["nora"], north)
    world.consent(people["sune"], south)
    world.consent(people["vera"], north, categories=["vitals", "conditions"])
    session.commit()
    return people


@pytest.fixture
def tui(app):
    """The real app, talking to the real in-process backend over httpx."""

    def make() -> ClinicApp:
        return ClinicApp(server_url="http://127.0.0.1:1", transport=httpx.ASGITransport(app=app))

    return make


async def _workers_done(app) -> None:
    """Wait until no worker runs. A worker cancelled meanwhile (an exclusive worker replaced by a
    newer one: the queue's poll, a filter keystroke) is not an error; a failed one still is.

    (``workers.wait_for_complete`` raises ``WorkerCancelled`` for the first cancelled worker and
    stops waiting for the others: on a busy machine the queue's poll made that a flaky failure.)
    """
    for _ in range(50):
        pending = [w for w in app.workers if not w.is_finished]
        if not pending:
            return
        results = await asyncio.gather(*(w.wait() for w in pending), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, WorkerCancelled):
                raise result


async def settle(pilot) -> None:
    await _workers_done(pilot.app)
    await pilot.pause()
    await _workers_done(pilot.app)
    await pilot.pause()


async def log_in(pilot, username: str, password: str) -> None:
    await settle(pilot)
    await pilot.click("#username")
    await pilot.press(*username)
    await pilot.press("enter")
    await pilot.press(*password)
    await pilot.press("enter")
    await settle(pilot)


async def to_patients(pilot) -> None:
    """From a nurse's alert queue to her patient list."""
    await pilot.press("p")
    await settle(pilot)


async def open_patient(pilot, person_id: str) -> None:
    """Open ``person_id`` on the app's patient screen and wait until it has loaded."""
    pilot.app.open_patient(person_id)
    await settle(pilot)


def toasts(app) -> str:
    """The text of every notification on screen (run the app with ``notifications=True``)."""
    return " ".join(str(t.render()) for t in app.screen.query("Toast"))
