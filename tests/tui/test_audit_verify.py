"""The supervisor's audit verify (key v) names what the sharded chain's check found: a record (by
shard and seq) or, for a break in the checkpoints, the checkpoint."""

from sqlalchemy import delete, select, text
from textual.widgets import Static

from clinic_server.db.models import AuditCheckpoint, Organization
from clinic_server.jobs.audit_checkpoint import make_checkpoint
from clinic_tui.views.audit import AuditScreen
from tests.factories import PASSWORD
from tests.tui.conftest import log_in, settle


async def _verify(app, pilot) -> str:
    await pilot.press("v")
    await settle(pilot)
    return str(app.screen.query_one("#list-status", Static).render())


async def test_verify_names_a_broken_checkpoint_and_a_broken_record(tui, clinic, world, session, app):
    north = session.scalar(select(Organization).where(Organization.name == "Vårdcentralen Norra"))
    world.user("david", "supervisor", north)
    session.commit()
    maker = app.state.sessionmaker
    client = tui()
    async with client.run_test(size=(140, 45)) as pilot:
        await log_in(pilot, "david", PASSWORD)
        assert isinstance(client.screen, AuditScreen)
        assert "intact" in await _verify(client, pilot)
        assert make_checkpoint(maker).startswith("checkpoint #1 ")
        assert "intact" in await _verify(client, pilot)  # the verify itself left a record
        assert make_checkpoint(maker).startswith("checkpoint #2 ")
        with maker() as s:
            s.execute(delete(AuditCheckpoint).where(AuditCheckpoint.id == 1))
            s.commit()
        shown = await _verify(client, pilot)
        assert shown == "AUDIT CHAIN BROKEN: checkpoint #1 is missing (the next is #2)"
        # a record's content changed behind the triggers: named by its seq and shard
        with maker() as s:
            s.execute(delete(AuditCheckpoint))
            if s.bind.dialect.name == "postgresql":
                s.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
            else:
                s.execute(text("DROP TRIGGER IF EXISTS audit_event_no_update"))
            s.execute(text("UPDATE audit_event SET reason = 'nothing to see' WHERE seq = 2"))
            s.commit()
        shown = await _verify(client, pilot)
        assert shown.startswith("AUDIT CHAIN BROKEN at record 2: shard 0: record content does not match")
