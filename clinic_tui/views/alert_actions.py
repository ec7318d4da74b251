"""Acting on an alert, the same way from every screen: prompts, retries, conflicts.

A note typed for resolve/escalate is never lost: if the server is slow or stopped, the prompt
comes back with the text still in it.
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
HINT = {"resolve": " Acknowledge it first (a).", "escalate": " Acknowledge it first (a)."}


class AlertActions:
    """Mixin for screens that act on alerts.

    The screen implements ``alert_changed(alert | None)``: called with the updated alert after a
    transition, or with None when the screen should reload (someone else acted first).
    """

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
                initial=note,
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
            self.app.notify(f"{exc.message} Your note is kept.", severity="error", timeout=8)
            if note is not None:
                self.act(alert, action, note=note)  # the prompt returns, with the text in it
            return
        except ApiError as exc:
            if exc.status == 409:
                self.app.notify(exc.message, title="Someone else acted first", severity="warning", timeout=10)
                self.alert_changed(None)
                return
            if exc.status == 422 and note is not None:
                self.app.notify(exc.message, severity="error")
                self.act(alert, action, note=note)
                return
            raise
        verb = {
            "acknowledge": "acknowledged",
            "resolve": "resolved",
            "escalate": "escalated",
            "snooze": "snoozed",
        }
        self.app.notify(f"Alert {verb[action]}: {updated.label}", timeout=3)
        self.alert_changed(updated)
