"""Issue 3 in the TUI: break-the-glass with a reason, and consent withdrawal clearing an open screen."""

from sqlalchemy import select
from textual.widgets import DataTable, Input, Static, TextArea

from clinic_server.db.models import Consent
from clinic_tui.views.audit import AuditScreen
from clinic_tui.views.patient import PatientScreen
from clinic_tui.views.patients import PatientListScreen
from clinic_tui.widgets.modals import BreakGlassPrompt
from clinic_tui.widgets.patient import AlertsPanel
from tests.factories import PASSWORD
from tests.tui.conftest import log_in, settle, to_patients

REASON = "Found unconscious at home by home care staff"


async def test_break_the_glass_opens_the_record_and_reaches_the_supervisor(tui, clinic, world, session):
    world.user("david", "supervisor", _north(session))
    session.commit()
    ulla = clinic["ulla"]
    app = tui()
    async with app.run_test(size=(140, 45)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        await to_patients(pilot)
        assert isinstance(app.screen, PatientListScreen)
        await pilot.press("b")
        await settle(pilot)
        assert isinstance(app.screen, BreakGlassPrompt)
        app.screen.query_one("#glass-pnr", Input).value = ulla.personnummer
        # no reason: refused in the dialog, nothing sent
        await pilot.press("ctrl+s")
        assert "at least 10 characters" in str(app.screen.query_one("#glass-error", Static).render())
        app.screen.query_one("#glass-reason", TextArea).insert(REASON)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, PatientScreen)
        banner = str(app.screen.query_one("#access-banner", Static).render())
        assert "EMERGENCY ACCESS" in banner and "min left" in banner
        assert "Ulla Utan" in str(app.screen.query_one("#identity", Static).render())
        await pilot.press("ctrl+o")  # log out: the next start must not resume anna's session
        await settle(pilot)

    app = tui()
    async with app.run_test(size=(140, 45)) as pilot:
        await log_in(pilot, "david", PASSWORD)
        assert isinstance(app.screen, AuditScreen)
        reviews = app.screen.query_one("#reviews", DataTable)
        assert reviews.row_count == 1
        assert REASON in " ".join(str(c) for c in reviews.get_row_at(0))
        log = app.screen.query_one("#audit-log", DataTable)
        actions = [str(log.get_row_at(i)[3]) for i in range(log.row_count)]
        assert "emergency access" in actions  # (the action "break_glass", worded)
        # the supervisor sees who and why, never the patient's name
        text = " ".join(str(c) for i in range(log.row_count) for c in log.get_row_at(i))
        assert "Ulla" not in text and ulla.personnummer not in text
        await pilot.press("v")
        await settle(pilot)
        assert "intact" in str(app.screen.query_one("#list-status", Static).render())


def _north(session):
    from clinic_server.db.models import Organization

    return session.scalar(select(Organization).where(Organization.name == "Vårdcentralen Norra"))


async def test_withdrawn_consent_clears_an_open_patient_screen(tui, clinic, session):
    nora = clinic["nora"]
    app = tui()
    async with app.run_test(size=(140, 45)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        await to_patients(pilot)
        table = app.screen.query_one(DataTable)
        row = next(i for i in range(table.row_count) if "Nora" in str(table.get_row_at(i)[0]))
        table.move_cursor(row=row)
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, PatientScreen)
        assert "Nora Norrman" in str(screen.query_one("#identity", Static).render())
        # the patient withdraws consent (recorded elsewhere); the open screen's next refresh clears it
        consent = session.scalar(select(Consent).where(Consent.person_id == nora.id))
        consent.status = "withdrawn"
        session.commit()
        await screen.load().wait()
        await settle(pilot)
        assert not isinstance(app.screen, PatientScreen)
        assert screen.detail is None and screen.query_one(AlertsPanel).alerts == {}
        # and the list drops her on its next refresh
        await app.screen.load().wait()
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        names = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        assert not any("Nora" in n for n in names)
