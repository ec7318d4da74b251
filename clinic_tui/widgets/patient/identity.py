"""Who the person is, and on what basis they are shown: the identity line with contact, occupation
and conditions (this panel fetches the record the other panels show their parts of), and the
emergency-access banner.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.widgets import Static

from clinic_tui import labels
from clinic_tui.api.schemas import PatientDetail
from clinic_tui.domain.roles import Basis
from clinic_tui.i18n import _
from clinic_tui.views.format import NOT_SHARED, local_time, personnummer_display, plain, withheld
from clinic_tui.widgets.patient.base import PatientPanel, Visit

#: how often the emergency-access banner counts down
BANNER_SECONDS = 15


class IdentityPanel(PatientPanel):
    NAME = "identity"
    LOADS = ("patient-record",)

    def compose(self) -> ComposeResult:
        yield Static(_("Loading…"), id="identity")
        yield Static(_("Contact"), classes="section-title")
        yield Static("", id="contact")
        yield Static(_("Occupation"), classes="section-title")
        yield Static("", id="occupation")
        yield Static(_("Conditions"), classes="section-title")
        yield Static("", id="conditions")

    def open(self, visit: Visit) -> None:
        super().open(visit)
        self.load()

    @work(exclusive=True, group="patient-record", exit_on_error=False)
    async def load(self) -> None:
        """The record: shown here, and passed on to the other panels (``RecordLoaded``)."""
        from clinic_tui.api.client import Forbidden
        from clinic_tui.errors import describe

        person_id = self.person_id
        if person_id is None:
            return
        try:
            detail = await self.app.session.client.patient(person_id)
        except Forbidden as exc:
            if person_id == self.person_id:
                self.post_message(self.AccessEnded(person_id, describe(exc).text))
            return
        except Exception:
            if person_id == self.person_id:
                self.post_message(self.RecordFailed(person_id))
            raise  # the app's one error handler says what went wrong
        if person_id == self.person_id:  # (else the screen moved on to someone else meanwhile)
            self.post_message(self.RecordLoaded(person_id, detail))

    def show_record(self, d: PatientDetail, first: bool) -> None:
        if "identity" in d.shared:
            ident = Text()
            ident.append(d.label, style="bold")
            born = _("born {date}").format(date=d.birth_date)
            ident.append(f"   {personnummer_display(d.personnummer)}   {born}   {labels.sex(d.sex)}")
        else:
            ident = Text(d.label, style="bold")
            ident.append("   " + _("identity") + " ", style="dim")
            ident.append(_(NOT_SHARED), style="italic dim")
        self.query_one("#identity", Static).update(ident)

        contact = self.query_one("#contact", Static)
        if d.contact is not None:
            c = d.contact
            contact.update(plain(" · ".join(x for x in (c.phone, c.email, c.address) if x)))
        else:
            contact.update(withheld())

        occupation = self.query_one("#occupation", Static)
        if d.occupation is not None:
            o = d.occupation
            occupation.update(plain(" · ".join(x for x in (o.job_title, o.employer) if x)))
        else:
            occupation.update(withheld())

        conditions = self.query_one("#conditions", Static)
        if d.conditions is not None:
            names = labels.conditions(d.condition_codes, d.conditions)
            conditions.update(plain(", ".join(names) or _("none recorded")))
        else:
            conditions.update(withheld())

    def wipe(self) -> None:
        super().wipe()
        if not self.is_mounted:
            return
        self.query_one("#identity", Static).update(_("Loading…"))
        for widget_id in ("#contact", "#occupation", "#conditions"):
            self.query_one(widget_id, Static).update("")


class AccessBanner(PatientPanel):
    """Emergency access shows how long it has left; when it runs out the record is fetched again
    (and the screen closes, as the server then refuses it)."""

    NAME = "banner"

    def __init__(self, *, id: str | None = None, classes: str | None = None):
        super().__init__(id=id, classes=classes)
        self.detail: PatientDetail | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="access-banner")

    def on_mount(self) -> None:
        self.display = False
        self.set_interval(BANNER_SECONDS, self.update_banner)

    def show_record(self, detail: PatientDetail, first: bool) -> None:
        self.detail = detail
        self.update_banner()

    def update_banner(self) -> None:
        d = self.detail
        if d is None or d.access_basis != Basis.BREAK_GLASS or d.break_glass_until is None:
            self.display = False
            return
        left = d.break_glass_until - datetime.now(UTC)
        minutes = max(0, int(left.total_seconds() // 60))
        self.query_one("#access-banner", Static).update(
            Text(
                _(
                    "EMERGENCY ACCESS (break-the-glass) · {minutes} min left · ends {time} · "
                    "logged and reviewed"
                ).format(minutes=minutes, time=local_time(d.break_glass_until, False)),
                style="bold",
            )
        )
        self.display = True
        if left.total_seconds() <= 0:
            self.post_message(self.Stale())

    def wipe(self) -> None:
        super().wipe()
        self.detail = None
        if self.is_mounted:
            self.display = False
            self.query_one("#access-banner", Static).update("")
