"""Acting on an alert, the same way from every screen: one set of keys, prompts, retries, conflicts.

``ALERT_KEYS`` are declared once, with one binding id each, and used by the alert queue and by
the patient screen's alerts panel alike: one keymap entry remaps both. Which of them the footer
offers follows the selected alert's state (``allowed_actions`` of the domain's lifecycle): the
lifecycle's keys are shown while an alert is selected, dimmed where they do not apply to it;
``u`` (unsnooze) shows only on a snoozed alert.

A note typed for resolve/escalate is never lost: if the server is slow or stopped, the prompt
comes back with the text still in it. If the nurse has meanwhile moved on (another screen, another
patient), the prompt does not jump in front of what she is looking at: the note is kept as a draft
for that alert (``ClinicSession.drafts``, in memory for the session) and fills the prompt the next
time she resolves or escalates it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rich.text import Text
from textual.binding import Binding
from textual.dom import DOMNode

from clinic_tui import labels
from clinic_tui.api.schemas import AlertItem
from clinic_tui.domain.alert_lifecycle import (
    NEEDS_NOTE,
    AlertAction,
    AlertState,
    allowed_actions,
    effective_state,
)
from clinic_tui.i18n import N_, _
from clinic_tui.i18n.formats import day_month, timestamp
from clinic_tui.widgets.modals import EscalatePrompt, SnoozePrompt, TextPrompt

#: (action, key, footer description, tooltip): the alert keys, each with the binding id alert.<action>
_KEYS = (
    (AlertAction.ACKNOWLEDGE, "a", N_("Ack"), N_("Acknowledge the selected alert")),
    (
        AlertAction.RESOLVE,
        "x",
        N_("Resolve"),
        N_("Resolve the selected alert (once acknowledged; a note is required)"),
    ),
    (
        AlertAction.ESCALATE,
        "e",
        N_("Escalate"),
        N_("Escalate the selected alert (once acknowledged; a note is required)"),
    ),
    (
        AlertAction.SNOOZE,
        "s",
        N_("Snooze"),
        N_("Snooze the selected alert until a time: it stays in the queue, marked snoozed"),
    ),
    (AlertAction.UNSNOOZE, "u", N_("Unsnooze"), N_("Bring the snoozed alert back now, as it was before")),
)
#: the actions the keys offer, in the footer's order
KEYED_ACTIONS = tuple(action for action, _key, _description, _tooltip in _KEYS)
ALERT_KEYS = tuple(
    Binding(key, f"alert('{action}')", description, id=f"alert.{action}", tooltip=tooltip)
    for action, key, description, tooltip in _KEYS
)
#: the keys shown (dimmed where they do not apply) whenever an alert is selected
LIFECYCLE_KEYS = frozenset(
    {AlertAction.ACKNOWLEDGE, AlertAction.RESOLVE, AlertAction.ESCALATE, AlertAction.SNOOZE}
)
#: where a draft of who an escalation goes to waits, beside its note: (alert id, RECIPIENT)
RECIPIENT = "recipient"
#: "… when you resolve that alert again"
VERB = {AlertAction.RESOLVE: N_("resolve"), AlertAction.ESCALATE: N_("escalate")}
#: the title of the note prompt
NOTE_TITLE = {
    AlertAction.RESOLVE: N_("Resolve alert: {label}"),
    AlertAction.ESCALATE: N_("Escalate alert: {label}"),
}


def state_now(alert: AlertItem, now: datetime | None = None) -> AlertState:
    """The alert's state as of now: a snooze whose time is up reads as the state it came from."""
    return effective_state(alert.state, alert.snoozed_until, alert.snoozed_from, now or datetime.now(UTC))


def state_text(alert: AlertItem, now: datetime | None = None, *, short: bool = False) -> str:
    """What a row says of the alert's state: "snoozed until 14:30" while snoozed, "escalated to
    Dr. Lind, cardiology" (in a narrow column "to Dr. Lind, …") once handed on."""
    state = state_now(alert, now)
    if state is AlertState.SNOOZED and alert.snoozed_until is not None:
        until = alert.snoozed_until.astimezone()
        today = datetime.now().astimezone().date()
        when = timestamp(until, with_date=False) if until.date() == today else day_month(until)
        return _("snoozed until {time}").format(time=when)
    if state is AlertState.ESCALATED and alert.escalated_to:
        if short:
            return _("to {recipient}").format(recipient=alert.escalated_to)
        return _("escalated to {recipient}").format(recipient=alert.escalated_to)
    if short and state is AlertState.ACKNOWLEDGED:
        return _("ack'd")
    return labels.state(state)


def _view_key(app) -> str:
    """The key that switches the queue's view, as the nurse has it mapped."""
    from clinic_tui.views.alerts import AlertQueueScreen
    from clinic_tui.widgets.key_footer import shown_key

    binding = next(b for b in AlertQueueScreen.BINDINGS if b.id == "alerts.view")
    return shown_key(app, binding)


class AlertActions:
    """Mixin for the screen or widget that acts on the selected alert.

    The host implements ``selected_alert()`` and ``alert_changed(alert | None)`` (called with the
    updated alert after a transition, or with None when it should reload: someone else acted
    first), lists ``ALERT_KEYS`` among its bindings and answers ``check_action`` for ``alert`` with
    ``alert_key_state``.
    """

    def selected_alert(self) -> AlertItem | None:
        raise NotImplementedError

    def alert_changed(self, alert: AlertItem | None) -> None:
        raise NotImplementedError

    def on_view(self: DOMNode, alert: AlertItem) -> bool:
        """Is the nurse still looking at where she acted on ``alert``?"""
        return self.app.screen is self.screen

    def alert_key_state(self, action: str) -> bool | None:
        """For ``check_action``: True offers the key, None shows it dimmed, False hides it."""
        alert = self.selected_alert()
        if alert is None:
            return False
        if AlertAction(action) in allowed_actions(state_now(alert)):
            return True
        return None if action in LIFECYCLE_KEYS else False

    def action_alert(self, action: str) -> None:
        alert = self.selected_alert()
        if alert is not None:
            self.act(alert, action)

    def act(self: DOMNode, alert: AlertItem, action: str, note: str = "", recipient: str = "") -> None:
        action = AlertAction(action)
        if action not in allowed_actions(state_now(alert)):
            return  # (the footer does not offer it; a key pressed as the state changed does nothing)
        drafts = self.app.session.drafts
        if action is AlertAction.ESCALATE:  # to whom, and the note (issue 13.12)
            prompt = EscalatePrompt(
                _(NOTE_TITLE[action]).format(label=alert.label),
                Text(
                    labels.alert(alert) + "\n" + _("Name who takes it over, and note what was done, and why.")
                ),
                initial=note or drafts.get((alert.id, action), ""),
                recipient=recipient or drafts.get((alert.id, RECIPIENT), ""),
                keep=lambda to, text: self._keep_draft(alert, action, text, to),
            )
            self.app.push_screen(
                prompt, lambda got: got and self._send(alert, action, note=got[1], recipient=got[0])
            )
        elif action in NEEDS_NOTE:
            prompt = TextPrompt(
                _(NOTE_TITLE[action]).format(label=alert.label),
                Text(labels.alert(alert) + "\n" + _("A note is required: what was done, and why.")),
                initial=note or drafts.get((alert.id, action), ""),
                keep=lambda text: self._keep_draft(alert, action, text),
            )
            self.app.push_screen(prompt, lambda text: text and self._send(alert, action, note=text))
        elif action is AlertAction.SNOOZE:
            self.app.push_screen(
                SnoozePrompt(), lambda until: until and self._send(alert, action, until=until)
            )
        else:
            self._send(alert, action)

    def _keep_draft(
        self: DOMNode, alert: AlertItem, action: AlertAction, text: str, recipient: str | None = None
    ) -> None:
        """Esc in the note dialog: what was typed waits for the next time (issue 13.4)."""
        drafts = self.app.session.drafts
        if recipient is not None:
            if recipient.strip():
                drafts[(alert.id, RECIPIENT)] = recipient
            else:
                drafts.pop((alert.id, RECIPIENT), None)
        if text.strip():
            drafts[(alert.id, action)] = text
            self.app.notify(_("Your note is kept for this alert."), timeout=4)
        else:
            drafts.pop((alert.id, action), None)

    def _send(
        self: DOMNode,
        alert: AlertItem,
        action: str,
        note: str | None = None,
        until: datetime | None = None,
        recipient: str | None = None,
    ):
        self.run_worker(
            self._transition(alert, action, note, until, recipient), group="alert-action", exit_on_error=False
        )

    async def _transition(
        self,
        alert: AlertItem,
        action: AlertAction,
        note: str | None,
        until: datetime | None,
        recipient: str | None = None,
    ) -> None:
        """Recovers where a note would be lost (kept, the prompt back) or the alert changed under
        her (reloaded); anything else goes to the app's one error handler."""
        from clinic_tui.api.client import ApiError, Unreachable
        from clinic_tui.errors import describe

        drafts = self.app.session.drafts
        try:
            updated = await self.app.session.client.transition_alert(
                alert.id, action, alert.version, note=note, snooze_until=until, recipient=recipient
            )
        except Unreachable as exc:
            if note is None:
                raise
            self._keep_note(alert, action, note, describe(exc).text, recipient)
            return
        except ApiError as exc:
            if exc.status == 409:
                problem = describe(exc)
                text = problem.text
                if note is not None:
                    drafts[(alert.id, action)] = note
                    if recipient:
                        drafts[(alert.id, RECIPIENT)] = recipient
                    text += " " + _("Your note is kept for this alert.")
                self.app.notify(
                    text, title=_("The alert changed meanwhile"), severity="warning", timeout=10, markup=False
                )
                self.alert_changed(None)
                return
            if note is None:
                raise
            if exc.status in (401, 403):
                # the app's handler asks her to log in again (or says why not): the note waits as a
                # draft of this session for the next time she acts on the alert
                drafts[(alert.id, action)] = note
                if recipient:
                    drafts[(alert.id, RECIPIENT)] = recipient
                raise
            # refused as invalid, or nothing could be changed (the database away, a server error):
            # the note comes back to be sent again
            self._keep_note(alert, action, note, describe(exc).text, recipient)
            return
        drafts.pop((alert.id, action), None)
        drafts.pop((alert.id, RECIPIENT), None)
        text = _("Alert {done}: {label}").format(done=labels.done(action), label=updated.label)
        if action is AlertAction.ESCALATE:  # it leaves the active queue: say where it went (13.12)
            where = _("It has left the active queue: the queue's Escalated view ({key}) shows it.")
            text += ". " + where.format(key=_view_key(self.app))
        self.app.notify(text, timeout=8 if action is AlertAction.ESCALATE else 3, markup=False)
        self.alert_changed(updated)

    def _keep_note(
        self: DOMNode,
        alert: AlertItem,
        action: AlertAction,
        note: str,
        text: str,
        recipient: str | None = None,
    ) -> None:
        """The note was not saved: give it back, in the prompt if she is still here, else as a draft."""
        if self.on_view(alert):
            self.app.notify(text + " " + _("Your note is kept."), severity="error", timeout=8, markup=False)
            self.act(alert, action, note=note, recipient=recipient or "")  # the prompt returns, filled in
            return
        self.app.session.drafts[(alert.id, action)] = note
        if recipient:
            self.app.session.drafts[(alert.id, RECIPIENT)] = recipient
        self.app.notify(
            text
            + " "
            + _(
                "Your note for {label} ({message}) is kept; it comes back when you {action} that alert again."
            ).format(label=alert.label, message=labels.alert(alert), action=_(VERB[action])),
            title=_("Not {done}").format(done=labels.done(action)),
            severity="error",
            timeout=15,
            markup=False,
        )
