"""What every panel of the patient screen is: one part of a person's record that fetches, shows,
offers keys for and forgets its own data.

The screen (``views/patient.py``) mounts the panels a role gets and only routes: it tells each
panel who is opened (``open``), passes the record on when it arrives (``show_record``), wipes
them, and closes itself when a panel says the access ended. A new kind of section (the coach's
fitness tests, say) is a new panel, not a branch in the screen.

Keys: a panel lists in ``KEYS`` the keys it answers anywhere on the screen, with actions on
itself. The screen lists them as its own bindings (``panel_keys``), so they work wherever the
focus is, the user's keymap applies by binding id, and the footer asks the panel
(``check_action``) whether to offer each. A panel keeps offering what it offered for the previous
person until its data for the next one is in (``offer``): the footer is then rebuilt once per open
at most, not emptied and refilled.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from textual.binding import Binding
from textual.message import Message
from textual.widget import Widget

from clinic_tui.api.schemas import PatientDetail
from clinic_tui.messages import ReportsWorkerFailures


@dataclass(frozen=True)
class Visit:
    """Who is opened, and what for: opened from an alert, its measurement and the alert itself."""

    person_id: str
    focus_loinc: str | None = None
    focus_alert: int | None = None

    @property
    def from_alert(self) -> bool:
        return self.focus_loinc is not None


class PatientPanel(ReportsWorkerFailures, Widget):
    #: how the screen names the panel when it routes a key to it
    NAME: ClassVar[str]
    #: keys the panel answers anywhere on the patient screen (actions on the panel)
    KEYS: ClassVar[tuple[Binding, ...]] = ()
    #: the worker groups that fetch (cancelled when the person changes; an alert transition is not)
    LOADS: ClassVar[tuple[str, ...]] = ()

    class RecordLoaded(Message):
        """The person's record arrived (the first for this opening, or a refresh)."""

        def __init__(self, person_id: str, detail: PatientDetail):
            super().__init__()
            self.person_id = person_id
            self.detail = detail

    class RecordFailed(Message):
        """The person's record could not be fetched (the error itself goes to the app's handler)."""

        def __init__(self, person_id: str):
            super().__init__()
            self.person_id = person_id

    class AccessEnded(Message):
        """The server refused the person (consent withdrawn or expired, emergency access over)."""

        def __init__(self, person_id: str, text: str):
            super().__init__()
            self.person_id = person_id
            self.text = text

    class Changed(Message):
        """A panel changed the person's data (an alert acted on): the others may fetch theirs again."""

        def __init__(self, person_id: str, source: PatientPanel):
            super().__init__()
            self.person_id = person_id
            self.source = source

    class Stale(Message):
        """The record should be fetched again now (emergency access ran out)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None):
        super().__init__(id=id, classes=classes)
        self.visit: Visit | None = None
        self._offers: dict[str, bool | None] = {}

    @property
    def person_id(self) -> str | None:
        return self.visit.person_id if self.visit is not None else None

    # ------------------------------------------------------------------ what the screen calls

    def open(self, visit: Visit) -> None:
        """A person is opened (the panel has been wiped). Fetch what need not wait for the record."""
        self.visit = visit

    def show_record(self, detail: PatientDetail, first: bool) -> None:
        """The record arrived (``first``: for this opening; else a refresh). Show your part of it."""

    def record_failed(self) -> None:
        """The record could not be fetched: offer only what your own data for this person allows."""
        self.offer(self.answers())

    def data_changed(self) -> None:
        """Another panel changed the person's data: fetch yours again if it depends on it."""

    def wipe(self) -> None:
        """Forget the person: nothing of them may stay on screen."""
        self.visit = None

    def stop_loading(self) -> None:
        for group in self.LOADS:
            self.workers.cancel_group(self, group)

    # ------------------------------------------------------------------ keys

    def answers(self) -> dict[str, bool | None]:
        """What the panel's keys offer now, from the data it has: action name -> True (offered),
        None (shown dimmed), False (hidden); a missing action is hidden."""
        return {}

    def offer(self, answers: dict[str, bool | None]) -> None:
        """From now on the footer offers ``answers`` (refreshed only if they changed)."""
        if answers != self._offers:
            self._offers = answers
            self.screen.refresh_bindings()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        key = f"{action}:{parameters[0]}" if parameters else action
        return self._offers.get(key, False)


def panel_keys(panels: Iterable[type[PatientPanel]]) -> list[Binding]:
    """The panels' keys as a screen's bindings: each runs ``panel(NAME, action)`` on the screen,
    which hands the action to the panel. Binding ids stay as the panels declare them."""
    return [
        dataclasses.replace(binding, action=f"panel({panel.NAME!r}, {binding.action!r})")
        for panel in panels
        for binding in panel.KEYS
    ]
