"""Privacy officer home: the people's requests for one person at a time (docs/privacy.md).

Find a person by personnummer (checked here with the domain's rules before anything is sent), then
what is held about them and why (categories with counts, dates, sources, purposes and legal bases;
consents; every access; retention; objections, requests, corrections, legal holds), never a value.
From here the officer saves the register extract document and the FHIR export to files, previews
and confirms an erasure, and records restriction, objection, requests, legal holds and corrections.
Every call goes through ``RightsClient``; the server audits each with purpose
``data_subject_request``.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Header, Input, Static, TabbedContent, TabPane

from clinic_tui import labels
from clinic_tui import rights_labels as words
from clinic_tui.api.schemas.rights import ErasurePreview, HeldCategory, RegisterExtract, SubjectRef
from clinic_tui.domain.rights import ErasureMode, ObjectionKind, RequestKind
from clinic_tui.i18n import N_, _
from clinic_tui.views.base import AppScreen
from clinic_tui.views.format import local_time, plain
from clinic_tui.widgets.key_footer import KeyFooter
from clinic_tui.widgets.modals import ConfirmPrompt
from clinic_tui.widgets.rights_prompts import (
    ChoicePrompt,
    ErasurePrompt,
    LegalHoldPrompt,
    RectifyPrompt,
    RetentionView,
    SavePrompt,
)
from clinic_tui.widgets.whoami import WhoAmI

OUTCOME_STYLE = {"allowed": "green", "denied": "bold red", "error": "bold yellow"}
#: actions that need a person on screen
SUBJECT_ACTIONS = {
    "tab",
    "withdraw",
    "close_account",
    "document",
    "export",
    "erase",
    "restrict",
    "objection",
    "request",
    "hold",
    "release",
    "rectify",
    "refresh",
}


def _day(value) -> str:
    return local_time(value)[:10] if value is not None else "—"


def _yes(value: bool) -> str:
    return _("yes") if value else _("no")


class SubjectScreen(AppScreen):
    BINDINGS = [
        Binding("f", "find", N_("Find"), id="subjects.find", tooltip=N_("Find a person by personnummer")),
        Binding(
            "escape",
            "leave_field",
            N_("Keys"),
            id="subjects.leave_field",
            tooltip=N_("Leave the personnummer field: the letter keys act again"),
            show=False,
        ),
        Binding(
            "d",
            "document",
            N_("Extract"),
            id="subjects.document",
            tooltip=N_("Save the register extract (Markdown, Swedish or English) to a file"),
        ),
        Binding(
            "x",
            "export",
            N_("FHIR export"),
            id="subjects.export",
            tooltip=N_("Save everything held about the person as a FHIR R4 bundle"),
        ),
        Binding(
            "e",
            "erase",
            N_("Erase…"),
            id="subjects.erase",
            tooltip=N_("Preview what an erasure removes, then confirm it"),
        ),
        Binding(
            "c",
            "rectify",
            N_("Correct"),
            id="subjects.rectify",
            tooltip=N_("Correct an identity or contact detail"),
        ),
        Binding(
            "t",
            "restrict",
            N_("Restrict"),
            id="subjects.restrict",
            tooltip=N_("Restrict processing, or lift the restriction"),
        ),
        Binding(
            "o",
            "objection",
            N_("Objection"),
            id="subjects.objection",
            tooltip=N_("Record or withdraw an objection (profiling, mailings)"),
        ),
        Binding(
            "n",
            "request",
            N_("Request"),
            id="subjects.request",
            tooltip=N_("Record a request the person made"),
        ),
        Binding("h", "hold", N_("Legal hold"), id="subjects.hold", tooltip=N_("Set a legal hold")),
        Binding(
            "w",
            "withdraw",
            N_("Withdraw consent"),
            id="subjects.withdraw",
            tooltip=N_("Withdraw the consent selected on the Consents tab, on the person's behalf"),
        ),
        Binding(
            "k",
            "close_account",
            N_("Close account"),
            id="subjects.close_account",
            tooltip=N_("Close the person's ImagineCare account: their data is deleted, after a preview"),
        ),
        Binding(
            "u",
            "release",
            N_("Release hold"),
            id="subjects.release",
            tooltip=N_("Release an active legal hold"),
        ),
        Binding("r", "refresh", N_("Refresh"), id="subjects.refresh", tooltip=N_("Reload from the server")),
        Binding(
            "g",
            "retention",
            N_("Retention"),
            id="subjects.retention",
            tooltip=N_("Who a retention run would remove today, and by which rule (nothing is removed)"),
        ),
        *[
            Binding(
                str(n),
                f"tab('{tab}')",
                label,
                id=f"subjects.tab_{tab}",
                tooltip=N_("Show this part of the extract"),
                show=False,
            )
            for n, (tab, label) in enumerate(
                (
                    ("held", N_("Held data")),
                    ("consents", N_("Consents")),
                    ("accesses", N_("Accesses")),
                    ("rights", N_("Retention and requests")),
                ),
                start=1,
            )
        ],
    ]

    def __init__(self):
        super().__init__()
        self.subject: SubjectRef | None = None
        self.extract: RegisterExtract | None = None
        self.categories: dict[str, HeldCategory] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield WhoAmI(id="whoami")
        yield Input(placeholder=_("Personnummer (YYYYMMDD-XXXX), Enter to find"), id="pnr", max_length=13)
        yield Static("", id="lookup-error")
        yield Static(_("Type a personnummer to find a person."), id="subject-status")
        with TabbedContent(id="subject-tabs"):
            with TabPane(_("1 Held data"), id="tab-held"):
                yield DataTable(id="held", cursor_type="row", zebra_stripes=True)
                yield Static("", id="held-detail")
            with TabPane(_("2 Consents"), id="tab-consents"):
                yield DataTable(id="consents", cursor_type="row", zebra_stripes=True)
            with TabPane(_("3 Accesses"), id="tab-accesses"):
                yield DataTable(id="accesses", cursor_type="row", zebra_stripes=True)
            with TabPane(_("4 Retention and requests"), id="tab-rights"):
                with VerticalScroll(id="rights-scroll"):
                    yield Static("", id="rights")
        yield Static("", id="list-status")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.title = _("People's requests — {organization}").format(
            organization=self.app.session.user.organization_name
        )
        for table_id, columns in (
            (
                "#held",
                ((_("Category"), 18), (_("Count"), 7), (_("First"), 11), (_("Last"), 11), (_("Held by"), 40)),
            ),
            (
                "#consents",
                (
                    (_("Organization"), 24),
                    (_("Purpose"), 16),
                    (_("Since"), 11),
                    (_("Until"), 11),
                    (_("Status"), 10),
                    (_("Categories"), 40),
                ),
            ),
            (
                "#accesses",
                (
                    (_("When"), 17),
                    (_("Who"), 22),
                    (_("Organization"), 22),
                    (_("Action"), 14),
                    (_("Purpose"), 20),
                    (_("Outcome"), 8),
                    (_("Emergency"), 20),
                ),
            ),
        ):
            table = self.query_one(table_id, DataTable)
            for label, width in columns:
                table.add_column(label, width=width)
        self.query_one("#pnr", Input).focus()
        self._lookup_error("")

    def action_leave_field(self) -> None:
        self.query_one("#held", DataTable).focus()

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = f"tab-{tab}"
        self.query_one("#rights-scroll" if tab == "rights" else f"#{tab}").focus()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "close_account":
            return self.subject is not None and self.subject.account_active
        if action in SUBJECT_ACTIONS:
            return self.subject is not None
        return True

    # ------------------------------------------------------------------ find

    def action_find(self) -> None:
        """To the personnummer field, its text selected: typing replaces it, arrows keep it."""
        field = self.query_one("#pnr", Input)
        field.focus()
        field.select_all()

    @on(Input.Submitted, "#pnr")
    def _find(self) -> None:
        from clinic_tui.domain.personnummer import PersonnummerError, normalize

        try:
            pnr = normalize(self.query_one("#pnr", Input).value.strip())
        except PersonnummerError as exc:
            # nothing is sent and what is on screen stays: the officer corrects what was typed
            self._lookup_error(_("Personnummer: {problem}").format(problem=_(str(exc))))
            return
        self._lookup_error("")
        self.lookup(pnr)

    def _lookup_error(self, text: str) -> None:
        error = self.query_one("#lookup-error", Static)
        error.update(Text(text))
        error.display = bool(text)

    @work(exclusive=True, group="subject", exit_on_error=False)
    async def lookup(self, pnr: str) -> None:
        from clinic_tui.api.client import ApiError, NotAuthenticated
        from clinic_tui.errors import describe

        self.query_one("#list-status", Static).update(_("Looking up…"))
        try:
            ref = await self.rights.lookup(pnr)
        except NotAuthenticated:
            raise
        except ApiError as exc:
            # not found, not a valid personnummer, unreachable: said beside what was typed, kept
            self._lookup_error(describe(exc).text)
            self.query_one("#list-status", Static).update("")
            if exc.code != "unreachable" and exc.code != "timeout":
                self.show_subject(None)
            return
        self.show_subject(ref)
        await self._load_extract()
        self.query_one(TabbedContent).active = "tab-held"
        self.query_one("#held", DataTable).focus()  # the keys act on the person now

    @property
    def rights(self):
        from clinic_tui.api.rights import RightsClient

        return RightsClient(self.app.session.client)

    def show_subject(self, ref: SubjectRef | None, note: str = "") -> None:
        self.subject = ref
        self.refresh_bindings()
        status = self.query_one("#subject-status", Static)
        if ref is None:
            self.extract = None
            self.categories = {}
            for table in self.query(DataTable):
                table.clear()
            self.query_one("#held-detail", Static).update("")
            self.query_one("#rights", Static).update("")
            self.query_one(TabbedContent).get_tab("tab-accesses").label = Text(_("3 Accesses"))
            status.update(Text(note or _("Type a personnummer to find a person.")))
            return
        flags = [
            _("Person {id}").format(id=ref.person_id),
            _("Held by: {controllers}").format(
                controllers=", ".join(words.controller(c) for c in ref.controllers) or "—"
            ),
            _("Account active: {yes}").format(yes=_yes(ref.account_active)),
        ]
        text = Text(" · ".join(flags))
        if ref.restricted:
            text.append(" · " + _("PROCESSING RESTRICTED"), style="bold yellow")
        else:
            text.append(" · " + _("Restricted: no"))
        if ref.legal_hold:
            text.append(" · " + _("LEGAL HOLD"), style="bold red")
        else:
            text.append(" · " + _("Legal hold: no"))
        status.update(text)

    # ------------------------------------------------------------------ the extract

    async def _load_extract(self) -> None:
        extract = await self.rights.extract(self.subject.person_id)
        self.show_extract(extract)

    def show_extract(self, extract: RegisterExtract) -> None:
        self.extract = extract
        self.categories = {str(c.category): c for c in extract.categories}
        with self.app.batch_update():
            held = self.query_one("#held", DataTable)
            held.clear()
            for c in extract.categories:
                controllers = sorted({words.controller(p.controller) for p in c.purposes})
                held.add_row(
                    plain(labels.category(c.category)),
                    plain(c.count),
                    plain(_day(c.first)),
                    plain(_day(c.last)),
                    plain(", ".join(controllers)),
                    key=str(c.category),
                )
            consents = self.query_one("#consents", DataTable)
            consents.clear()
            for k in extract.consents:
                consents.add_row(
                    plain(k.organization_name),
                    plain(words.purpose(k.purpose)),
                    plain(_day(k.valid_from)),
                    plain(_day(k.valid_until) if k.valid_until else "—"),
                    Text(_("active"), style="green") if k.active else plain(k.status),
                    plain(", ".join(labels.category(c) for c in k.categories)),
                    key=k.id,
                )
            accesses = self.query_one("#accesses", DataTable)
            accesses.clear()
            for a in extract.accesses:
                who = (
                    f"{a.username} ({labels.role(a.role)})" if a.username and a.role else (a.username or "—")
                )
                if a.emergency:
                    notice = (
                        _("notified {at}").format(at=local_time(a.notice_at))
                        if a.notice_at
                        else _("not notified")
                    )
                    emergency = Text(_("EMERGENCY") + " · " + notice, style="bold red")
                else:
                    emergency = Text("")
                accesses.add_row(
                    plain(local_time(a.at)),
                    plain(who),
                    plain(a.organization_name or "—"),
                    plain(a.action),
                    plain(words.purpose(a.purpose)),
                    Text(labels.outcome(a.outcome), style=OUTCOME_STYLE.get(a.outcome, "")),
                    emergency,
                    key=str(a.seq),
                )
        self.query_one("#rights", Static).update(self._rights_text(extract))
        self._show_category(next(iter(self.categories), None))
        tabs = self.query_one(TabbedContent)
        tabs.get_tab("tab-accesses").label = Text(_("3 Accesses ({n})").format(n=len(extract.accesses)))
        self.query_one("#list-status", Static).update(
            _("Extract as of {at}: {n} categories held, {a} accesses.").format(
                at=local_time(extract.generated_at), n=len(extract.categories), a=len(extract.accesses)
            )
        )

    @on(DataTable.RowHighlighted, "#held")
    def _held_row(self, event: DataTable.RowHighlighted) -> None:
        self._show_category(event.row_key.value if event.row_key else None)

    def _show_category(self, key: str | None) -> None:
        c = self.categories.get(key) if key else None
        detail = self.query_one("#held-detail", Static)
        if c is None:
            detail.update("")
            return
        out = Text()
        out.append(labels.category(c.category), style="bold")
        out.append("\n" + _("Sources:") + " ")
        out.append(
            "; ".join(
                _("{source} {n} ({first} – {last})").format(
                    source=words.source(s.source), n=s.count, first=_day(s.first), last=_day(s.last)
                )
                for s in c.sources
            )
            or "—"
        )
        for p in c.purposes:
            out.append(
                "\n  "
                + _("{controller}: {purpose}, on {basis} ({source})").format(
                    controller=words.controller(p.controller),
                    purpose=words.purpose(p.purpose),
                    basis=words.basis(p.basis),
                    source=p.source,
                )
            )
        detail.update(out)

    def _rights_text(self, x: RegisterExtract) -> Text:
        out = Text()

        def head(title: str) -> None:
            out.append(("\n" if out.plain else "") + title + "\n", style="bold")

        head(_("Retention"))
        for r in x.retention:
            template = (
                _("{controller}: {rule} (v{version}) — until {due}, {status}")
                if r.due_on
                else _("{controller}: {rule} (v{version}) — while the relationship lasts, {status}")
            )
            out.append(
                "  "
                + template.format(
                    controller=words.controller(r.controller),
                    rule=words.rule(r.rule_id),
                    version=r.rule_version,
                    due=r.due_on.isoformat() if r.due_on else "",
                    status=words.retention_status(r.status),
                )
                + "\n",
                style="bold red" if r.status == "due" else "",
            )
        if not x.retention:
            out.append("  —\n")
        if x.coaches:
            head(_("Coaching"))
            for k in x.coaches:
                state = _("active") if k.active else _("ended")
                out.append(f"  {k.organization_name}: {_day(k.since)}, {state}\n")
        if x.notices:
            head(_("Notices to the person"))
            for n in x.notices:
                out.append(f"  {local_time(n.at)} {n.kind}\n")
        head(_("Objections"))
        for o in x.objections:
            state = _("active") if o.active else _("withdrawn {at}").format(at=local_time(o.withdrawn_at))
            out.append(f"  {words.objection(o.kind)}: {local_time(o.objected_at)}, {state}\n")
        if not x.objections:
            out.append("  —\n")
        head(_("Requests"))
        for q in x.requests:
            out.append(f"  {q.received_on.isoformat()} {words.request(q.kind)}: {q.status}\n")
        if not x.requests:
            out.append("  —\n")
        head(_("Corrections"))
        for c in x.corrections:
            out.append(
                "  "
                + _("{at} {field} by {by}: {reason}").format(
                    at=local_time(c.corrected_at),
                    field=words.field(c.field),
                    by=c.corrected_by,
                    reason=c.reason,
                )
                + "\n"
            )
        if not x.corrections:
            out.append("  —\n")
        head(_("Legal holds"))
        for h in x.legal_holds:
            until = h.held_until.isoformat() if h.held_until else _("until released")
            state = _("active") if h.active else _("released {at}").format(at=local_time(h.released_at))
            out.append(f"  #{h.id} {local_time(h.set_at)} {h.reason} ({until}), {state}\n")
        if not x.legal_holds:
            out.append("  —\n")
        return out

    def action_refresh(self) -> None:
        if self.subject is not None:
            self.reload()

    @work(exclusive=True, group="subject", exit_on_error=False)
    async def reload(self, note: str = "") -> None:
        """The person's standing and extract again (after a change); ``note`` then on the status line."""
        ref = self.subject
        if ref is None:
            return
        # the lookup by personnummer would need it on screen again; the extract carries the standing
        extract = await self.rights.extract(ref.person_id)
        holds = any(h.active for h in extract.legal_holds)
        self.show_subject(ref.model_copy(update={"restricted": extract.restricted, "legal_hold": holds}))
        self.show_extract(extract)
        if note:
            self.query_one("#list-status", Static).update(Text(note))

    # ------------------------------------------------------------------ files

    def action_document(self) -> None:
        if self.subject is None:
            return
        from clinic_tui import i18n
        from clinic_tui.files import default_path

        language = "sv" if i18n.language() == "sv" else "en"
        path = default_path("register-extract", self.subject.person_id, f"-{language}.md")
        prompt = SavePrompt(_("Save the register extract"), path, languages=("sv", "en"), language=language)
        self.app.push_screen(prompt, lambda got: got and self.save_document(*got))

    @work(exclusive=True, group="subject-file", exit_on_error=False)
    async def save_document(self, path: Path, language: str) -> None:
        from clinic_tui.files import write_private

        doc = await self.rights.extract_document(self.subject.person_id, language)
        await asyncio.to_thread(write_private, path, doc.text)
        text = _("Register extract saved to {path}.").format(path=path)
        self.query_one("#list-status", Static).update(Text(text))
        self.app.notify(text, timeout=8, markup=False)

    def action_export(self) -> None:
        if self.subject is None:
            return
        from clinic_tui.files import default_path

        path = default_path("fhir-export", self.subject.person_id, ".json")
        self.app.push_screen(
            SavePrompt(_("Save the FHIR export"), path), lambda got: got and self.save_export(got[0])
        )

    @work(exclusive=True, group="subject-file", exit_on_error=False)
    async def save_export(self, path: Path) -> None:
        from clinic_tui.files import write_private

        self.query_one("#list-status", Static).update(_("Exporting…"))
        export = await self.rights.export(self.subject.person_id)
        text = json.dumps(export.bundle, ensure_ascii=False, indent=1)
        await asyncio.to_thread(write_private, path, text)
        counts = ", ".join(f"{kind} {n}" for kind, n in sorted(export.resource_counts.items()))
        message = _("FHIR bundle saved to {path}: {counts}.").format(path=path, counts=counts)
        self.query_one("#list-status", Static).update(Text(message))
        self.app.notify(message, timeout=10, markup=False)

    # ------------------------------------------------------------------ erasure

    def action_erase(self) -> None:
        if self.subject is None:
            return
        if "imr" in self.subject.controllers:
            options = [
                (ErasureMode.ANONYMIZE.value, _("Anonymize (IMR: health values kept without a link)")),
                (ErasureMode.DELETE.value, _("Delete everything")),
            ]
            self.app.push_screen(
                ChoicePrompt(_("Erase how?"), options),
                lambda mode: mode and self.preview_erasure(ErasureMode(mode)),
            )
        else:
            self.preview_erasure(ErasureMode.DELETE)

    @work(exclusive=True, group="subject-erase", exit_on_error=False)
    async def preview_erasure(self, mode: ErasureMode) -> None:
        preview = await self.rights.erasure_preview(self.subject.person_id, mode)
        self.app.push_screen(ErasurePrompt(preview), lambda go: go and self._confirm_erasure(preview))

    def _confirm_erasure(self, preview: ErasurePreview) -> None:
        rows = sum(preview.deleted.values()) + sum(preview.anonymized.values())
        question = _(
            "Erase person {id} for good? {rows} rows go as the preview showed; this cannot be undone."
        ).format(id=preview.person_id, rows=rows)
        self.app.push_screen(ConfirmPrompt(question), lambda yes: yes and self.erase(preview))

    @work(exclusive=True, group="subject-erase", exit_on_error=False)
    async def erase(self, preview: ErasurePreview) -> None:
        from clinic_tui.api.client import ApiError
        from clinic_tui.errors import describe

        try:
            done = await self.rights.erase(preview.person_id, preview.mode, preview.confirmation)
        except ApiError as exc:
            if exc.code not in ("confirmation_stale", "legal_hold"):
                raise
            problem = describe(exc)
            self.app.notify(problem.text, title=problem.title, severity="warning", timeout=12, markup=False)
            self.reload(problem.text)
            return
        deleted, anonymized = sum(done.deleted.values()), sum(done.anonymized.values())
        text = _("Person {id} erased at {at}: {deleted} rows deleted, {anonymized} anonymized.").format(
            id=done.person_id, at=local_time(done.done_at), deleted=deleted, anonymized=anonymized
        )
        self.query_one("#pnr", Input).value = ""
        self.show_subject(None, text)
        self.query_one("#pnr", Input).focus()
        self.query_one("#list-status", Static).update(Text(text))
        self.app.notify(text, timeout=10, markup=False)

    # ------------------------------------------------------------------ restriction, objection, requests

    def action_restrict(self) -> None:
        if self.subject is None:
            return
        restricted = not self.subject.restricted
        question = (
            _("Restrict processing of person {id}? Nobody may use their data until it is lifted.")
            if restricted
            else _("Lift the restriction of processing of person {id}?")
        ).format(id=self.subject.person_id)
        self.app.push_screen(ConfirmPrompt(question), lambda yes: yes and self.set_restriction(restricted))

    @work(exclusive=True, group="subject-change", exit_on_error=False)
    async def set_restriction(self, restricted: bool) -> None:
        await self.rights.restrict(self.subject.person_id, restricted)
        self.app.notify(_("Processing restricted.") if restricted else _("Restriction lifted."))
        self.reload()

    def _active_objections(self) -> set[str]:
        return {str(o.kind) for o in (self.extract.objections if self.extract else []) if o.active}

    def action_objection(self) -> None:
        if self.subject is None:
            return
        active = self._active_objections()
        options = [
            (
                kind.value,
                (
                    _("Withdraw the objection to {kind}") if kind.value in active else _("Object to {kind}")
                ).format(kind=words.objection(kind)),
            )
            for kind in ObjectionKind
        ]
        self.app.push_screen(
            ChoicePrompt(_("Objection"), options),
            lambda kind: kind and self.set_objection(kind, kind not in active),
        )

    @work(exclusive=True, group="subject-change", exit_on_error=False)
    async def set_objection(self, kind: str, objected: bool) -> None:
        await self.rights.object(self.subject.person_id, ObjectionKind(kind), objected)
        self.app.notify(
            (_("Objection to {kind} recorded.") if objected else _("Objection to {kind} withdrawn.")).format(
                kind=words.objection(kind)
            )
        )
        self.reload()

    def action_request(self) -> None:
        if self.subject is None:
            return
        options = [(kind.value, words.request(kind)) for kind in RequestKind]
        self.app.push_screen(
            ChoicePrompt(_("Record a request received today"), options),
            lambda kind: kind and self.record_request(kind),
        )

    @work(exclusive=True, group="subject-change", exit_on_error=False)
    async def record_request(self, kind: str) -> None:
        await self.rights.record_request(self.subject.person_id, RequestKind(kind), date.today())
        self.app.notify(_("Request recorded: {kind}.").format(kind=words.request(kind)))
        self.reload()

    # ------------------------------------------------------------------ legal holds

    def action_hold(self, reason: str = "", until: str = "", error: str = "") -> None:
        if self.subject is None:
            return
        self.app.push_screen(LegalHoldPrompt(reason, until, error), lambda got: got and self.set_hold(*got))

    @work(exclusive=True, group="subject-change", exit_on_error=False)
    async def set_hold(self, reason: str, until: date | None) -> None:
        from clinic_tui.api.client import ApiError, NotAuthenticated
        from clinic_tui.errors import describe

        try:
            await self.rights.set_legal_hold(self.subject.person_id, reason, until)
        except NotAuthenticated:
            raise
        except ApiError as exc:  # what was typed comes back in the dialog, with why
            self.action_hold(reason, until.isoformat() if until else "", describe(exc).text)
            return
        self.app.notify(_("Legal hold set."))
        self.reload()

    def action_release(self) -> None:
        if self.subject is None:
            return
        holds = [h for h in (self.extract.legal_holds if self.extract else []) if h.active]
        if not holds:
            self.app.notify(_("This person has no active legal hold."))
            return
        options = [(str(h.id), f"#{h.id} {local_time(h.set_at)} {h.reason}") for h in holds]
        self.app.push_screen(ChoicePrompt(_("Release which legal hold?"), options), self._confirm_release)

    def _confirm_release(self, hold_id: str | None) -> None:
        if not hold_id:
            return
        question = _(
            "Release legal hold #{id}? The data can then be erased and the retention job applies."
        ).format(id=hold_id)
        self.app.push_screen(ConfirmPrompt(question), lambda yes: yes and self.release_hold(int(hold_id)))

    @work(exclusive=True, group="subject-change", exit_on_error=False)
    async def release_hold(self, hold_id: int) -> None:
        await self.rights.release_legal_hold(self.subject.person_id, hold_id)
        self.app.notify(_("Legal hold released."))
        self.reload()

    # ------------------------------------------------------------------ consents, account

    def action_withdraw(self) -> None:
        if self.subject is None or self.extract is None:
            return
        table = self.query_one("#consents", DataTable)
        active = {k.id: k for k in self.extract.consents if k.active}
        if self.query_one(TabbedContent).active != "tab-consents" or not table.row_count:
            self.action_tab("consents")
            self.app.notify(_("Choose the consent to withdraw on the Consents tab, then press w."))
            return
        consent_id = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        if consent_id not in active:
            self.app.notify(
                _("This consent is not active: there is nothing to withdraw."), severity="warning"
            )
            return
        self.preview_withdrawal(consent_id)

    @work(exclusive=True, group="subject-erase", exit_on_error=False)
    async def preview_withdrawal(self, consent_id: str) -> None:
        preview = await self.rights.withdrawal_preview(self.subject.person_id, consent_id)
        k = preview.consent
        what = _("{organization} ({purpose})").format(
            organization=k.organization_name, purpose=words.purpose(k.purpose)
        )
        if preview.ends_account and preview.erasure is not None:
            intro = _(
                "Withdrawing the consent to {what} ends the person's ImagineCare account: their data "
                "is deleted as below."
            ).format(what=what)
            self.app.push_screen(
                ErasurePrompt(preview.erasure, intro, hold_blocks=False),
                lambda go: go and self._confirm_withdrawal(consent_id, what, preview.confirmation, True),
            )
        else:
            self._confirm_withdrawal(consent_id, what, preview.confirmation, False)

    def _confirm_withdrawal(self, consent_id: str, what: str, confirmation: str, ends: bool) -> None:
        question = (
            _("Withdraw the consent to {what} and delete the person's data? This cannot be undone.")
            if ends
            else _("Withdraw the consent to {what}? Only that organization's access ends.")
        ).format(what=what)
        self.app.push_screen(
            ConfirmPrompt(question), lambda yes: yes and self.withdraw(consent_id, confirmation)
        )

    @work(exclusive=True, group="subject-erase", exit_on_error=False)
    async def withdraw(self, consent_id: str, confirmation: str) -> None:
        from clinic_tui.api.client import ApiError
        from clinic_tui.errors import describe

        try:
            done = await self.rights.withdraw_consent(self.subject.person_id, consent_id, confirmation)
        except ApiError as exc:
            if exc.code not in ("confirmation_stale", "confirmation_required", "legal_hold"):
                raise
            problem = describe(exc)
            self.app.notify(problem.text, title=problem.title, severity="warning", timeout=12, markup=False)
            self.reload(problem.text)
            return
        self._after_account_change(done, _("Consent withdrawn."))

    def action_close_account(self) -> None:
        if self.subject is not None and self.subject.account_active:
            self.preview_closure()

    @work(exclusive=True, group="subject-erase", exit_on_error=False)
    async def preview_closure(self) -> None:
        preview = await self.rights.closure_preview(self.subject.person_id)
        intro = _("Closing the ImagineCare account deletes the person's data as below.")
        self.app.push_screen(
            ErasurePrompt(preview.erasure, intro, hold_blocks=False),
            lambda go: go and self._confirm_closure(preview.erasure),
        )

    def _confirm_closure(self, erasure: ErasurePreview) -> None:
        question = _("Close the account of person {id} and delete their data? This cannot be undone.").format(
            id=erasure.person_id
        )
        self.app.push_screen(
            ConfirmPrompt(question), lambda yes: yes and self.close_account(erasure.confirmation)
        )

    @work(exclusive=True, group="subject-erase", exit_on_error=False)
    async def close_account(self, confirmation: str) -> None:
        from clinic_tui.api.client import ApiError
        from clinic_tui.errors import describe

        try:
            done = await self.rights.close_account(self.subject.person_id, confirmation)
        except ApiError as exc:
            if exc.code not in ("confirmation_stale", "confirmation_required", "legal_hold"):
                raise
            problem = describe(exc)
            self.app.notify(problem.text, title=problem.title, severity="warning", timeout=12, markup=False)
            self.reload(problem.text)
            return
        self._after_account_change(done, _("Account closed."))

    def _after_account_change(self, done, text: str) -> None:
        """After a withdrawal or closure: erased (the person is gone), deferred by a hold, or only
        that organization's access ended."""
        if done.erasure is not None:
            erased = done.erasure
            text = _("Person {id} erased at {at}: {deleted} rows deleted, {anonymized} anonymized.").format(
                id=erased.person_id,
                at=local_time(erased.done_at),
                deleted=sum(erased.deleted.values()),
                anonymized=sum(erased.anonymized.values()),
            )
            self.query_one("#pnr", Input).value = ""
            self.show_subject(None, text)
            self.query_one("#pnr", Input).focus()
            self.query_one("#list-status", Static).update(Text(text))
            self.app.notify(text, timeout=10, markup=False)
            return
        if done.deferred_by_legal_hold:
            text += " " + _("A legal hold keeps the data until it is released or lapses.")
        self.app.notify(text, timeout=8, markup=False)
        self.reload(text)

    # ------------------------------------------------------------------ retention

    @work(exclusive=True, group="subject-retention", exit_on_error=False)
    async def action_retention(self) -> None:
        preview = await self.rights.retention_preview(date.today())
        self.app.push_screen(RetentionView(preview))

    # ------------------------------------------------------------------ rectification

    def action_rectify(
        self, field: str = "phone", value: str = "", reason: str = "", error: str = ""
    ) -> None:
        if self.subject is None:
            return
        self.app.push_screen(
            RectifyPrompt(field, value, reason, error), lambda got: got and self.rectify(*got)
        )

    @work(exclusive=True, group="subject-change", exit_on_error=False)
    async def rectify(self, field: str, value: str, reason: str) -> None:
        from clinic_tui.api.client import ApiError, NotAuthenticated
        from clinic_tui.errors import describe

        try:
            await self.rights.rectify(self.subject.person_id, {field: value or None}, reason)
        except NotAuthenticated:
            raise
        except ApiError as exc:  # invalid_correction, conflict, unreachable: typed values kept
            self.action_rectify(field, value, reason, describe(exc).text)
            return
        self.app.notify(_("{field} corrected.").format(field=words.field(field)))
        self.reload()
