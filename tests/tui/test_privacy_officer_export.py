"""Issue 11 in the TUI: the privacy officer saves a person's FHIR export to a file and sees the counts."""

from __future__ import annotations

import json

import pytest
from textual.widgets import Input

from clinic_tui.widgets.rights_prompts import SavePrompt
from tests.factories import PASSWORD
from tests.rights_util import full_person, organizations
from tests.tui.conftest import log_in, settle
from tests.tui.test_privacy_officer import _find, _text


@pytest.fixture
def orgs(world, session):
    return organizations(world, session)


async def test_elsa_saves_the_fhir_export_to_a_file_and_sees_the_counts(tui, orgs, session, tmp_path):
    marks = full_person(session, orgs)
    app = tui()
    async with app.run_test(size=(140, 45)) as pilot:
        await log_in(pilot, "elsa", PASSWORD)
        screen = app.screen
        await _find(pilot, marks.personnummer)
        # the FHIR export, to a file: the counts are shown
        out = tmp_path / "exports" / "bundle.json"
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, SavePrompt)
        app.screen.query_one("#save-path", Input).value = str(out)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen
        bundle = json.loads(out.read_text())
        assert bundle["resourceType"] == "Bundle"
        observations = sum(1 for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation")
        status = _text(screen, "#list-status")
        assert str(out) in status and "Patient 1" in status and f"Observation {observations}" in status
        assert out.stat().st_mode & 0o777 == 0o600
