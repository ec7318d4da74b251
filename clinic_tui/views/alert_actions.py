"""Acting on an alert, the same way from every screen: prompts, retries, conflicts.

A note typed for resolve/escalate is never lost: if the server is slow or stopped, the prompt
comes back with the text still in it. If the nurse has meanwhile moved on (another screen, another
patient), the prompt does not jump in front of what she is looking at: the note is kept as a draft
for that alert (``ClinicApp.drafts``, in memory for the session) and fills the prompt the next time
she resolves or escalates it.
"""

from __future__ import annotations

from datetime import datetime

from textual.screen import Screen

from clinic_tui.api.schemas import AlertItem
from clinic_tui.widgets.modals import SnoozePrompt, TextPrompt

NEEDS_NOTE = {"resolve": "Resolve alert", "escalate": "Escalate alert"}

#: the lifecycle: open -> acknowledged -> resolved or escalated; snooze from any active state
ALLOWED = {
    "acknowledge": {"open"},
    "resolve": {"acknowledged"},
    "escalate": {"acknowledged"},
    "snooze": {"open", "acknowledged", "snoozed"},
}
DONE = {"acknowledge": "acknowledged", "resolve": "resolved", "escalate": "escalated", "snooze": "snoozed"}
HINT = {"resolve": " Acknowledge it first (a).", "escalate": " Acknowledge it first (a)."}


class AlertActions:
    """Mixin for screens that act on alerts.

    The screen implements ``alert_changed(alert | None)``: called with the updated alert after a
    transition, or with None when the screen should reload (someone else acted first).
    """

    def on_view(self: Screen, alert: AlertItem) -> bool:
        """Is the nurse still looking at where she acted on ``alert``?"""
        return self.app.screen is self

    def act(self: Screen, alert: AlertItem, action: str, note: str = "") -> None:
        if alert.state not in ALLOWED[action]:
            self.app.notify(
                f"This alert is {alert.state}; it cannot be {action}d now." + HINT.get(action, ""),
                severity="warning",
            )
            return
        if action in NEEDS_NOTE:
            prompt = TextPrompt(
                f"{NEEDS_NOTE[action]}: {alert.label}",
                f"{alert.message}\nA note is required: what was done, and why.",
                initial=note or self.app.drafts.get((alert.id, action), ""),
            )
            self.app.push_screen(prompt, lambda text: text and self._send(alert, action, note=text))
        elif action == "snooze":
            self.app.push_screen(
                SnoozePrompt(), lambda until: until and self._send(alert, action, until=until)
            )
        else:
            self._send(alert, action)

    def _send(
        self: Screen, alert: AlertItem, action: str, note: str | None = None, until: datetime | None = None
    ):
        self.run_worker(
            self._transition(alert, action, note, until), group="alert-action", exit_on_error=False
        )

    async def _transition(
        self, alert: AlertItem, action: str, note: str | None, until: datetime | None
    ) -> None:
        from clinic_tui.api.client import ApiError, Unreachable

        try:
            updated = await self.app.client.transition_alert(
                alert.id, action, alert.version, note=note, snooze_until=until
            )
        except Unreachable as exc:
            if note is None:
                self.app.notify(exc.message, severity="error", timeout=8)
            else:
                self._keep_note(alert, action, note, exc.message)
            return
        except ApiError as exc:
            if exc.status == 409:
                kept = ""
                if note is not None:
                    self.app.drafts[(alert.id, action)] = note
                    kept = " Your note is kept for this alert."
                self.app.notify(
                    exc.message + kept, title="The alert changed meanwhile", severity="warning", timeout=10
                )
                self.alert_changed(None)
                return
            if exc.status == 422 and note is not None:
                self._keep_note(alert, action, note, exc.message)
                return
            raise
        self.app.drafts.pop((alert.id, action), None)
        self.app.notify(f"Alert {DONE[action]}: {updated.label}", timeout=3)
        self.alert_changed(updated)

    def _keep_note(self, alert: AlertItem, action: str, note: str, message: str) -> None:
        """The note was not saved: give it back, in the prompt if she is still here, else as a draft."""
        if self.on_view(alert):
            self.app.notify(f"{message} Your note is kept.", severity="error", timeout=8)
            self.act(alert, action, note=note)  # the prompt returns, with the text in it
            return
        self.app.drafts[(alert.id, action)] = note
        self.app.notify(
            f"{message} Your note for {alert.label} ({alert.message}) is kept; "
            f"it comes back when you {action} that alert again.",
            title=f"Not {DONE[action]}",
            severity="error",
            timeout=15,
        )
