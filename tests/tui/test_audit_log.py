"""The supervisor's audit log in the TUI: routine polling hidden by default (and said so), folded or
shown with ``h``; alert actions by name; the ``person:`` filter takes the id the log shows; Enter
opens a record in full; ``x`` exports the filtered log to CSV or JSON."""

from __future__ import annotations

import csv
import io
import json

import pytest
from textual.widgets import DataTable, Input, Static, TextArea

from clinic_tui.api.schemas.monitoring import CSV_COLUMNS
from clinic_tui.views.audit import AuditScreen
from clinic_tui.widgets.modals import TextPrompt
from clinic_tui.widgets.verdict import AuditRecordScreen
from tests.conftest import bearer, login
from tests.factories import PASSWORD
from tests.monitoring_util import watch_world
from tests.tui.conftest import log_in, settle, toasts


@pytest.fixture
def w(world, session):
    return watch_world(world, session)


@pytest.fixture
async def traffic(http, w):
    anna = await login(http, "anna")
    for _ in range(3):
        await http.get("/patients", headers=bearer(anna))
        await http.get("/alerts", headers=bearer(anna))
    for p in ("nora", "olle"):
        assert (await http.get(f"/patients/{w.people[p].id}", headers=bearer(anna))).status_code == 200


def _rows(table: DataTable) -> list[str]:
    return [" ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]


def _status(screen) -> str:
    return str(screen.query_one("#list-status", Static).render())


async def _filter(pilot, text: str) -> None:
    await pilot.press("slash")
    pilot.app.screen.query_one("#filter", Input).value = text
    await pilot.press("enter")
    await settle(pilot)


async def test_routine_records_are_hidden_folded_or_shown(tui, w, traffic):
    app = tui()
    async with app.run_test(size=(140, 45)) as pilot:
        await log_in(pilot, "david", PASSWORD)
        audit = app.screen
        assert isinstance(audit, AuditScreen)
        log = audit.query_one("#audit-log", DataTable)
        await _filter(pilot, "user:anna")
        action = log.get_column_index("action")
        assert [str(log.get_row_at(i)[action]) for i in range(log.row_count)] == ["read", "read", "log in"]
        assert "6 routine records hidden" in _status(audit) and "h: fold them in" in _status(audit)

        await pilot.press("h")
        await settle(pilot)
        rows = _rows(log)
        folded = [r for r in rows if "routine records folded" in r]
        assert len(folded) == 2 and any("anna 3× list" in r and "(alert, records" in r for r in folded)
        assert "3 records" in _status(audit)

        await pilot.press("h")
        await settle(pilot)
        assert log.row_count == 9 and "routine records hidden" not in _status(audit)

        await pilot.press("h")  # and back to hidden
        await settle(pilot)
        assert log.row_count == 3

        # the person filter takes the id as the log shows it
        nora = w.people["nora"].id
        await _filter(pilot, f"person:{nora[:6]}")
        rows = _rows(log)
        assert len(rows) == 1 and nora[:6] in rows[0]

        # Enter opens the record in full
        log.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, AuditRecordScreen)
        record = str(app.screen.query_one("#record-text", Static).render())
        assert nora in record and "Previous hash" in record
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is audit


async def test_export_the_filtered_log(tui, w, traffic, tmp_path):
    app = tui()
    async with app.run_test(size=(140, 45), notifications=True) as pilot:
        await log_in(pilot, "david", PASSWORD)
        audit = app.screen
        await _filter(pilot, "user:anna")
        audit.query_one("#audit-log", DataTable).focus()

        target = tmp_path / "anna.csv"
        await pilot.press("x")
        await settle(pilot)
        prompt = app.screen
        assert isinstance(prompt, TextPrompt)
        prompt.query_one(TextArea).text = str(target)
        await pilot.press("ctrl+s")
        await settle(pilot)
        rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
        assert tuple(rows[0]) == CSV_COLUMNS
        assert [r["action"] for r in rows] == ["read", "read", "login"]  # routine hidden, so not exported
        assert {r["username"] for r in rows} == {"anna"}
        assert "Exported 3 records" in toasts(app)

        await pilot.press("h")  # folded: the export takes the routine records too
        await settle(pilot)
        target = tmp_path / "anna.json"
        await pilot.press("x")
        await settle(pilot)
        app.screen.query_one(TextArea).text = str(target)
        await pilot.press("ctrl+s")
        await settle(pilot)
        data = json.loads(target.read_text(encoding="utf-8"))
        assert data["count"] == 9 and len(data["items"]) == 9 and data["filters"]

        # a file that cannot be written: said so, and the dialog comes back with the name kept
        bad = tmp_path / "no-such-dir" / "x.csv"
        await pilot.press("x")
        await settle(pilot)
        app.screen.query_one(TextArea).text = str(bad)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "Could not write" in toasts(app)
        assert isinstance(app.screen, TextPrompt) and app.screen.query_one(TextArea).text == str(bad)
        assert not bad.exists()
