"""The supervisor's findings in the TUI: david sees what the scan found about his nurses, opens a
finding, looks at its evidence, asks who the person is (audited), and records verdicts; an empty note
is refused and changes nothing; a verdict on a finding someone judged meanwhile reloads it."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from textual.widgets import DataTable, Static, TextArea

from clinic_server.db.models import AuditEvent, BreakGlassVerdict, FindingVerdict
from clinic_tui.domain.findings import REASON_KEYS
from clinic_tui.findings_text import REASON, reason_text
from clinic_tui.views.audit import AuditScreen
from clinic_tui.views.findings import FindingScreen, FindingsScreen
from clinic_tui.views.reviews import GrantScreen
from clinic_tui.widgets.verdict import AuditRecordScreen, VerdictPrompt
from tests.conftest import bearer, login
from tests.factories import PASSWORD
from tests.monitoring_util import scan, watch_world
from tests.tui.conftest import log_in, settle, toasts


@pytest.fixture
def w(world, session):
    return watch_world(world, session)


@pytest.fixture
async def found(http, app, w):
    """anna browses nora and olle (no alert, no care, no consent change): two browsing findings."""
    anna = await login(http, "anna")
    for p in ("nora", "olle"):
        assert (await http.get(f"/patients/{w.people[p].id}", headers=bearer(anna))).status_code == 200
    scan(app)


def _text(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def _verdicts(session) -> list[tuple[str, str]]:
    session.expire_all()
    return [(v.verdict, v.note) for v in session.scalars(select(FindingVerdict).order_by(FindingVerdict.id))]


def test_every_reason_key_has_a_sentence_with_its_params():
    for key, params in REASON_KEYS.items():
        assert key in REASON
        sentence = reason_text(key, {p: 7 for p in params})
        assert "?" not in sentence and "{" not in sentence, (key, sentence)
    assert "their own record, a colleague's record" in reason_text(
        "finding.relation", {"relations": ["self", "colleague"], "accesses": 2}
    )
    assert "after 30 hours" in reason_text(
        "finding.emergency_unreviewed", {"hours": 24, "reviewed_after_hours": 30}
    )
    assert reason_text("finding.new_rule", {"n": 1}) == "finding.new_rule (n=1)"  # a newer server's


async def _to_finding(pilot, w) -> FindingScreen:
    app = pilot.app
    await log_in(pilot, "david", PASSWORD)
    assert isinstance(app.screen, AuditScreen)
    await pilot.press("f")
    await settle(pilot)
    queue = app.screen
    assert isinstance(queue, FindingsScreen)
    table = queue.query_one("#findings", DataTable)
    assert table.row_count == 2
    rows = [" ".join(str(c) for c in table.get_row_at(i)) for i in range(2)]
    assert all("browsing" in r and "anna" in r and "new" in r for r in rows)
    assert {r.split("Patient ")[1][:6] for r in rows} == {w.people["nora"].id[:6], w.people["olle"].id[:6]}
    assert "new 2" in _text(queue, "#findings-counts") and "justified 0" in _text(queue, "#findings-counts")
    assert "no open alert in the last 7 days" in _text(queue, "#finding-reason")
    # open the one about nora
    nora_row = next(i for i, r in enumerate(rows) if w.people["nora"].id[:6] in r)
    table.move_cursor(row=nora_row)
    await pilot.press("enter")
    await settle(pilot)
    detail = app.screen
    assert isinstance(detail, FindingScreen) and detail.finding.person_id == w.people["nora"].id
    return detail


async def test_david_judges_a_finding(tui, http, session, w, found):
    app = tui()
    async with app.run_test(size=(140, 45), notifications=True) as pilot:
        detail = await _to_finding(pilot, w)
        assert "no care action by the organization in the last 30 days" in _text(detail, "#finding-reason")
        assert "No verdict yet" in _text(detail, "#verdicts")
        evidence = detail.query_one("#evidence", DataTable)
        assert evidence.row_count == 1 and "anna" in " ".join(str(c) for c in evidence.get_row_at(0))

        # Enter on an evidence row: the full record, hash and all
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, AuditRecordScreen)
        record = _text(app.screen, "#record-text")
        assert w.people["nora"].id in record and "Hash" in record
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is detail

        # who is this? the name, said to be audited, and the look-up is in the log
        assert "recorded in the audit log" in _text(detail, "#identity")
        await pilot.press("w")
        await settle(pilot)
        shown = _text(detail, "#identity")
        assert "Nora Norrman" in shown and "recorded in the audit log" in shown
        session.expire_all()
        lookup = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
        assert (lookup.action, lookup.person_id, lookup.purpose) == (
            "identity_lookup",
            w.people["nora"].id,
            "audit",
        )

        # a verdict without a note is refused in the dialog and nothing is sent
        await pilot.press("j")
        await settle(pilot)
        prompt = app.screen
        assert isinstance(prompt, VerdictPrompt)
        await pilot.press("ctrl+s")
        assert "Choose a verdict" in _text(prompt, "#verdict-error")
        await pilot.click("#v-needs_follow_up")
        await pilot.press("ctrl+s")
        assert "Write a note" in _text(prompt, "#verdict-error")
        prompt.query_one(TextArea).insert("   ")
        await pilot.press("ctrl+s")
        assert "Write a note" in _text(prompt, "#verdict-error") and app.screen is prompt
        assert _verdicts(session) == []

        prompt.query_one(TextArea).insert("Ask anna why she opened it.")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is detail
        assert _verdicts(session) == [("needs_follow_up", "Ask anna why she opened it.")]
        assert detail.finding.state == "needs_follow_up" and detail.version == 1
        assert "needs follow-up" in _text(detail, "#finding-head")
        assert "david: needs follow-up — Ask anna why she opened it." in _text(detail, "#verdicts")
        assert "Verdict recorded" in toasts(app)

        # back in the queue: the counts and the row say so
        await pilot.press("escape")
        await settle(pilot)
        queue = app.screen
        assert isinstance(queue, FindingsScreen)
        assert "new 1" in _text(queue, "#findings-counts")
        assert "needs follow-up 1" in _text(queue, "#findings-counts")
        # the state filter: s steps to "new", which holds olle's only
        await pilot.press("s")
        await settle(pilot)
        assert queue.state == "new" and queue.query_one("#findings", DataTable).row_count == 1


async def test_a_stale_verdict_reloads_and_says_who(tui, http, session, w, found):
    app = tui()
    async with app.run_test(size=(140, 45), notifications=True) as pilot:
        detail = await _to_finding(pilot, w)
        assert detail.version == 0
        # meanwhile, david at another computer judges it
        other = await login(http, "david")
        r = await http.post(
            f"/audit/findings/{detail.finding_id}/verdicts",
            json={"verdict": "justified", "note": "Her own patient after all", "expected_version": 0},
            headers=bearer(other),
        )
        assert r.status_code == 200, r.text

        await pilot.press("j")
        await settle(pilot)
        await pilot.click("#v-not_justified")
        app.screen.query_one(TextArea).insert("No reason to open it.")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is detail
        assert _verdicts(session) == [("justified", "Her own patient after all")]  # nothing more
        assert "david recorded a verdict (justified)" in _text(detail, "#detail-status")
        assert "Judged meanwhile" in toasts(app) or "meanwhile" in toasts(app)
        # reloaded: the other verdict is shown and the version moved on
        assert detail.version == 1 and "Her own patient after all" in _text(detail, "#verdicts")
        # the note is kept for the next try, which goes through
        await pilot.press("j")
        await settle(pilot)
        prompt = app.screen
        assert prompt.query_one(TextArea).text == "No reason to open it." and prompt.chosen == "not_justified"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert _verdicts(session)[-1] == ("not_justified", "No reason to open it.")
        assert detail.finding.state == "not_justified" and detail.version == 2


GLASS = "Found unconscious in the waiting room, no consent on file"


async def test_david_judges_an_emergency_access(tui, http, session, w):
    anna = await login(http, "anna")
    r = await http.post(
        f"/patients/{w.people['stina'].id}/break-glass", json={"reason": GLASS}, headers=bearer(anna)
    )
    assert r.status_code in (200, 201), r.text
    app = tui()
    async with app.run_test(size=(140, 45), notifications=True) as pilot:
        await log_in(pilot, "david", PASSWORD)
        audit = app.screen
        assert isinstance(audit, AuditScreen)
        reviews = audit.query_one("#reviews", DataTable)
        assert reviews.row_count == 1 and "pending" in " ".join(str(c) for c in reviews.get_row_at(0))
        await pilot.press("n")
        await settle(pilot)
        grant = app.screen
        assert isinstance(grant, GrantScreen)
        assert GLASS in _text(grant, "#grant-reason") and "pending" in _text(grant, "#grant-head")
        records = grant.query_one("#evidence", DataTable)
        assert [str(records.get_row_at(i)[3]) for i in range(records.row_count)][:1] == ["break_glass"]

        await pilot.press("j")
        await settle(pilot)
        prompt = app.screen
        assert isinstance(prompt, VerdictPrompt)
        await pilot.click("#v-justified")
        await pilot.press("ctrl+s")  # no note: refused, nothing sent
        assert "Write a note" in _text(prompt, "#verdict-error")
        session.expire_all()
        assert session.scalars(select(BreakGlassVerdict)).all() == []
        prompt.query_one(TextArea).insert("Unconscious patient, ER case.")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is grant and grant.version == 1
        assert "justified" in _text(grant, "#grant-head")
        assert "david: justified — Unconscious patient, ER case." in _text(grant, "#verdicts")
        session.expire_all()
        assert [(v.verdict, v.note) for v in session.scalars(select(BreakGlassVerdict))] == [
            ("justified", "Unconscious patient, ER case.")
        ]

        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is audit and reviews.row_count == 0  # no longer pending
        await pilot.press("s")  # all states
        await settle(pilot)
        assert audit.review_state == "all" and reviews.row_count == 1
        assert "justified" in " ".join(str(c) for c in reviews.get_row_at(0))


async def test_a_verdict_typed_when_the_server_stops_comes_back(app, http, session, w, found):
    from clinic_tui.app import ClinicApp
    from tests.tui.test_server_stops import RealServer

    with RealServer(app) as server:
        tui = ClinicApp(server_url=f"http://127.0.0.1:{server.port}")
        async with tui.run_test(size=(140, 45), notifications=True) as pilot:
            detail = await _to_finding(pilot, w)
            await pilot.press("j")
            await settle(pilot)
            await pilot.click("#v-not_justified")
            tui.screen.query_one(TextArea).insert("Opened a neighbour's record; talk to anna.")
            server.stop()
            await pilot.press("ctrl+s")
            await settle(pilot)
            prompt = tui.screen
            assert isinstance(prompt, VerdictPrompt)  # back, with what was chosen and typed
            assert prompt.query_one(TextArea).text == "Opened a neighbour's record; talk to anna."
            assert prompt.chosen == "not_justified"
            assert "Your note is kept" in toasts(tui)
            assert _verdicts(session) == [] and detail.version == 0


async def test_the_queue_pages_by_next_before_id(tui, w, found, monkeypatch):
    import clinic_tui.views.findings as view

    monkeypatch.setattr(view, "PAGE", 1)
    app = tui()
    async with app.run_test(size=(140, 45), notifications=True) as pilot:
        await log_in(pilot, "david", PASSWORD)
        await pilot.press("f")
        await settle(pilot)
        queue = app.screen
        table = queue.query_one("#findings", DataTable)
        assert table.row_count == 1 and queue.next_before is not None
        assert "m: older findings" in _text(queue, "#list-status")
        await pilot.press("m")
        await settle(pilot)
        assert table.row_count == 2 and queue.next_before is None
        assert list(map(int, (k.value for k in table.rows))) == sorted(map(int, queue.items), reverse=True)
        await pilot.press("m")
        await settle(pilot)
        assert table.row_count == 2 and "No older findings" in toasts(app)
