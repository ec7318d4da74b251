"""Issue 11 in the TUI: elsa, the privacy officer, finds a person by personnummer, reads what is held
and who accessed it, saves the register extract and the FHIR export to files, and erases a person
after the preview and a confirmation; what she mistypes changes nothing."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from textual.widgets import DataTable, Input, OptionList, Static, TabbedContent

from clinic_server.db.models import AuditEvent, Person
from clinic_tui.domain import personnummer
from clinic_tui.views.subjects import SubjectScreen
from clinic_tui.widgets.modals import ConfirmPrompt
from clinic_tui.widgets.rights_prompts import ChoicePrompt, ErasurePrompt, SavePrompt
from tests.factories import PASSWORD
from tests.rights_util import full_person, organizations
from tests.tui.conftest import log_in, settle


@pytest.fixture
def orgs(world, session):
    return organizations(world, session)


def _text(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def _lookups(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "lookup"))


async def _find(pilot, pnr: str) -> None:
    field = pilot.app.screen.query_one("#pnr", Input)
    field.value = pnr
    field.focus()
    await pilot.press("enter")
    await settle(pilot)


async def _pick(pilot, key: str) -> None:
    """Choose the option ``key`` of the open ChoicePrompt."""
    options = pilot.app.screen.query_one(OptionList)
    options.highlighted = options.get_option_index(key)
    await pilot.press("enter")
    await settle(pilot)


async def test_elsa_finds_a_person_reads_the_extract_and_saves_it(tui, orgs, session, http, tmp_path):
    marks = full_person(session, orgs)
    # a nurse of the person's care provider reads the record: the extract lists that access
    anna = (await http.post("/auth/login", json={"username": "anna", "password": PASSWORD})).json()
    r = await http.get(
        f"/patients/{marks.person_id}", headers={"Authorization": f"Bearer {anna['access_token']}"}
    )
    assert r.status_code == 200, r.text
    app = tui()
    async with app.run_test(size=(140, 45)) as pilot:
        await log_in(pilot, "elsa", PASSWORD)
        screen = app.screen
        assert isinstance(screen, SubjectScreen)
        assert not screen.query_one("#held", DataTable).row_count

        # a mistyped personnummer: a clear message, nothing sent, what was typed stays
        before = _lookups(session)
        bad = marks.personnummer[:-1] + str((int(marks.personnummer[-1]) + 1) % 10)
        await _find(pilot, bad)
        assert "Personnummer:" in _text(screen, "#lookup-error")
        assert screen.query_one("#pnr", Input).value == bad
        assert screen.subject is None and _lookups(session) == before

        await _find(pilot, f"{marks.personnummer[:8]}-{marks.personnummer[8:]}")
        assert _text(screen, "#lookup-error") == ""
        status = _text(screen, "#subject-status")
        assert marks.person_id in status and "Account active: yes" in status
        assert "ImagineCare AB" in status and "IMR" in status and "Legal hold: no" in status
        assert _lookups(session) == before + 1

        held = screen.query_one("#held", DataTable)
        rows = {str(held.get_row_at(i)[0]): held.get_row_at(i) for i in range(held.row_count)}
        vitals = next(c for c in screen.extract.categories if c.category == "vitals")
        assert str(rows["measurements"][1]) == str(vitals.count) == str(sum(s.count for s in vitals.sources))
        screen.query_one(DataTable).move_cursor(row=list(rows).index("measurements"))
        await settle(pilot)
        detail = _text(screen, "#held-detail")
        assert "measurements 5 (" in detail and "on consent" in detail  # the five blood pressure readings

        consents = screen.query_one("#consents", DataTable)
        assert consents.row_count == 3
        accesses = screen.query_one("#accesses", DataTable)
        who = [str(accesses.get_row_at(i)[1]) for i in range(accesses.row_count)]
        assert any(w.startswith("anna (nurse)") for w in who)
        assert any(w.startswith("elsa (privacy officer)") for w in who)
        rights = _text(screen, "#rights")
        assert "information mailings" in rights and "claim settled" in rights and "moved" in rights

        # the register extract, in Swedish; an existing file is replaced only on a second Enter
        doc = tmp_path / "extract.md"
        doc.write_text("old")
        await pilot.press("d")
        await settle(pilot)
        app.screen.query_one("#save-path", Input).value = str(doc)
        app.screen.query_one("#save-path", Input).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, SavePrompt) and "exists" in _text(app.screen, "#save-error")
        assert doc.read_text() == "old"
        app.screen.query_one("#save-language").query("RadioButton").first().value = True  # Swedish
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen
        assert doc.read_text().startswith("# Registerutdrag")


async def test_an_unknown_personnummer_is_said_plainly(tui, orgs, session):
    app = tui()
    unknown = personnummer.generate(random.Random(5), date(1980, 2, 3), "male")
    async with app.run_test(size=(120, 40)) as pilot:
        await log_in(pilot, "elsa", PASSWORD)
        await _find(pilot, unknown)
        assert "No such person." in _text(app.screen, "#lookup-error")
        assert app.screen.subject is None
        assert app.screen.query_one("#pnr", Input).value == unknown


async def test_elsa_previews_then_erases_with_the_confirmation(tui, orgs, session):
    keep = full_person(session, orgs)
    bookkeeping = date(date.today().year + 3, 12, 31)
    gone = full_person(
        session,
        orgs,
        given="Greta",
        family="Glömd",
        birth=date(1965, 1, 2),
        seed=12,
        billing_until=bookkeeping,
    )
    app = tui()
    async with app.run_test(size=(120, 40)) as pilot:
        await log_in(pilot, "elsa", PASSWORD)
        screen = app.screen
        await _find(pilot, gone.personnummer)
        assert screen.subject.person_id == gone.person_id

        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, ChoicePrompt)  # IMR holds data too: anonymize or delete
        await _pick(pilot, "delete")
        assert isinstance(app.screen, ErasurePrompt)
        preview = _text(app.screen, "#erasure-preview")
        assert "profile: 1" in preview and "measurements: 5" in preview
        assert f"billing records: 1, until {bookkeeping.isoformat()}" in preview and "audit log" in preview
        # Esc: nothing happens
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen
        session.expire_all()
        assert session.get(Person, gone.person_id) is not None

        await pilot.press("e")
        await settle(pilot)
        await _pick(pilot, "delete")
        await pilot.press("ctrl+e")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmPrompt)
        await pilot.press("y")
        await settle(pilot)
        assert app.screen is screen
        assert screen.subject is None
        assert "erased" in _text(screen, "#subject-status")
    session.expire_all()
    assert session.get(Person, gone.person_id) is None
    assert session.get(Person, keep.person_id) is not None


async def test_a_legal_hold_offers_no_erasure_and_says_why(tui, orgs, session):
    marks = full_person(session, orgs)
    app = tui()
    async with app.run_test(size=(120, 40)) as pilot:
        await log_in(pilot, "elsa", PASSWORD)
        screen = app.screen
        await _find(pilot, marks.personnummer)
        await pilot.press("h")
        await settle(pilot)
        app.screen.query_one("#hold-reason", Input).value = "Claim from 2025"
        app.screen.query_one("#hold-until", Input).value = "2020-01-01"
        app.screen.query_one("#hold-until", Input).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert "passed" in str(app.screen.query_one(".modal-error", Static).render())  # kept open
        app.screen.query_one("#hold-until", Input).value = ""
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen and "LEGAL HOLD" in _text(screen, "#subject-status")

        await pilot.press("e")
        await settle(pilot)
        await _pick(pilot, "delete")
        assert isinstance(app.screen, ErasurePrompt)
        assert "legal hold" in _text(app.screen, "#erasure-hold")
        await pilot.press("ctrl+e")  # not offered
        await settle(pilot)
        assert isinstance(app.screen, ErasurePrompt)
        await pilot.press("escape")
    session.expire_all()
    assert session.get(Person, marks.person_id) is not None


async def test_restriction_objection_request_correction_and_hold_release(tui, orgs, session):
    marks = full_person(session, orgs)
    app = tui()
    async with app.run_test(size=(120, 40)) as pilot:
        await log_in(pilot, "elsa", PASSWORD)
        screen = app.screen
        await _find(pilot, marks.personnummer)

        # restriction: asked first; "no" changes nothing
        await pilot.press("t")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmPrompt)
        await pilot.press("escape")
        await settle(pilot)
        session.expire_all()
        assert not session.get(Person, marks.person_id).restricted
        await pilot.press("t")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert "PROCESSING RESTRICTED" in _text(screen, "#subject-status")
        session.expire_all()
        assert session.get(Person, marks.person_id).restricted

        # objection to profiling (the person already objects to mailings: that one offers withdrawal)
        await pilot.press("o")
        await settle(pilot)
        options = app.screen.query_one(OptionList)
        labels_ = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert labels_ == ["Object to profiling", "Withdraw the objection to information mailings"]
        await _pick(pilot, "profiling")
        assert "profiling" in _text(screen, "#rights")
        assert {str(o.kind) for o in screen.extract.objections if o.active} == {"profiling", "mailings"}

        # a request received today
        await pilot.press("n")
        await settle(pilot)
        await _pick(pilot, "portability")
        assert any(q.kind == "portability" and q.received_on == date.today() for q in screen.extract.requests)

        # a correction: a reason is required; the server's refusal keeps what was typed
        await pilot.press("c")
        await settle(pilot)
        prompt = app.screen
        prompt.query_one("#rectify-field").value = "email"
        prompt.query_one("#rectify-value", Input).value = "not an address"
        prompt.query_one("#rectify-reason", Input).value = "x"
        prompt.query_one("#rectify-reason", Input).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert "at least 3 characters" in str(prompt.query_one(".modal-error", Static).render())
        prompt.query_one("#rectify-reason", Input).value = "the person wrote to us"
        await pilot.press("enter")
        await settle(pilot)
        refused = app.screen
        assert refused is not screen, "an invalid e-mail is refused and the dialog comes back"
        assert refused.query_one("#rectify-value", Input).value == "not an address"
        assert "not valid" in str(refused.query_one(".modal-error", Static).render())
        refused.query_one("#rectify-value", Input).value = "ny.adress@example.se"
        refused.query_one("#rectify-reason", Input).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen
        corrections = screen.extract.corrections
        assert any(c.field == "email" and c.reason == "the person wrote to us" for c in corrections)
        session.expire_all()
        assert session.get(Person, marks.person_id).email == "ny.adress@example.se"

        # a legal hold, then its release (confirmed)
        await pilot.press("h")
        await settle(pilot)
        app.screen.query_one("#hold-reason", Input).value = "Claim about the device"
        await pilot.press("enter", "enter")
        await settle(pilot)
        assert "LEGAL HOLD" in _text(screen, "#subject-status")
        hold = next(h for h in screen.extract.legal_holds if h.active)
        await pilot.press("u")
        await settle(pilot)
        assert isinstance(app.screen, ChoicePrompt)
        await _pick(pilot, str(hold.id))
        assert isinstance(app.screen, ConfirmPrompt)
        await pilot.press("y")
        await settle(pilot)
        assert "Legal hold: no" in _text(screen, "#subject-status")
        assert not any(h.active for h in screen.extract.legal_holds)


async def test_an_erasure_whose_data_changed_since_the_preview_is_refused_and_says_so(tui, orgs, session):
    from datetime import UTC, datetime

    from clinic_server.db.models import Observation

    marks = full_person(session, orgs)
    app = tui()
    async with app.run_test(size=(120, 40)) as pilot:
        await log_in(pilot, "elsa", PASSWORD)
        screen = app.screen
        await _find(pilot, marks.personnummer)
        await pilot.press("e")
        await settle(pilot)
        await _pick(pilot, "delete")
        assert isinstance(app.screen, ErasurePrompt)
        # a reading arrives while the officer looks at the preview
        session.add(
            Observation(
                person_id=marks.person_id,
                loinc="8867-4",
                value=61,
                unit="/min",
                effective_at=datetime.now(UTC),
                received_at=datetime.now(UTC),
                source_id="late",
            )
        )
        session.commit()
        await pilot.press("ctrl+e")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert app.screen is screen and screen.subject is not None
        assert "changed since the preview" in _text(screen, "#list-status")
    session.expire_all()
    assert session.get(Person, marks.person_id) is not None


async def test_the_retention_preview_lists_who_would_go_and_removes_nothing(tui, orgs, session):
    from clinic_tui.widgets.rights_prompts import RetentionView

    # the employer's contract with IMR ended over 6 months ago: the IMR rule applies
    marks = full_person(session, orgs)
    orgs.employer.contract_end = date.today().replace(day=1) - timedelta(days=215)
    session.commit()
    app = tui()
    async with app.run_test(size=(120, 40)) as pilot:
        await log_in(pilot, "elsa", PASSWORD)
        await pilot.press("escape", "g")  # out of the personnummer field, then the retention preview
        await settle(pilot)
        view = app.screen
        assert isinstance(view, RetentionView)
        assert marks.person_id in [i.person_id for i in view.preview.items]
        table = view.query_one(DataTable)
        rows = [" ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]
        assert any(marks.person_id in r and "6 months after the employer's contract ended" in r for r in rows)
        assert "people due" in _text(view, "#retention-summary")
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, SubjectScreen)
    session.expire_all()
    assert session.get(Person, marks.person_id) is not None


async def test_withdrawing_a_consent_ends_access_or_the_account_after_a_preview(tui, orgs, session):
    from clinic_server.db.models import Consent

    marks = full_person(session, orgs)
    care = session.scalar(
        select(Consent).where(Consent.person_id == marks.person_id, Consent.organization_id == orgs.norra.id)
    )
    account = session.scalar(
        select(Consent).where(Consent.person_id == marks.person_id, Consent.purpose == "self_care")
    )
    app = tui()
    async with app.run_test(size=(120, 40)) as pilot:
        await log_in(pilot, "elsa", PASSWORD)
        screen = app.screen
        await _find(pilot, marks.personnummer)
        await pilot.press("w")  # not on the Consents tab: it goes there and says what to do
        await settle(pilot)
        assert screen.query_one(TabbedContent).active == "tab-consents"
        consents = screen.query_one("#consents", DataTable)

        # the care provider's consent: only that organization's access ends, after a question
        consents.move_cursor(row=consents.get_row_index(care.id))
        await pilot.press("w")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmPrompt)
        await pilot.press("y")
        await settle(pilot)
        assert app.screen is screen and screen.subject is not None
        session.expire_all()
        assert session.get(Consent, care.id).status == "withdrawn"

        # the account's own consent: the erasure preview first, then the question, then it is gone
        consents = screen.query_one("#consents", DataTable)
        consents.move_cursor(row=consents.get_row_index(account.id))
        await pilot.press("w")
        await settle(pilot)
        assert isinstance(app.screen, ErasurePrompt)
        assert "ends the person's ImagineCare account" in _text(app.screen, "#erasure-intro")
        await pilot.press("ctrl+e")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert app.screen is screen and screen.subject is None
        assert "erased" in _text(screen, "#subject-status")
    session.expire_all()
    assert session.get(Person, marks.person_id) is None


async def test_closing_the_account_deletes_the_data_after_the_preview(tui, orgs, session):
    marks = full_person(session, orgs)
    app = tui()
    async with app.run_test(size=(120, 40)) as pilot:
        await log_in(pilot, "elsa", PASSWORD)
        screen = app.screen
        await _find(pilot, marks.personnummer)
        await pilot.press("k")
        await settle(pilot)
        assert isinstance(app.screen, ErasurePrompt)
        assert "Closing the ImagineCare account" in _text(app.screen, "#erasure-intro")
        await pilot.press("ctrl+e")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmPrompt)
        await pilot.press("escape")  # no: nothing happens
        await settle(pilot)
        session.expire_all()
        assert session.get(Person, marks.person_id) is not None
        await pilot.press("k")
        await settle(pilot)
        await pilot.press("ctrl+e")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert app.screen is screen and screen.subject is None
    session.expire_all()
    assert session.get(Person, marks.person_id) is None
