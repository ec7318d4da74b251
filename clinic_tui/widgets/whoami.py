"""The bar under the header that says who is logged in, in which role and organization."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from clinic_tui import labels


class WhoAmI(Static):
    def on_mount(self) -> None:
        user = self.app.session.user
        self.update(Text(f"{user.display_name} · {labels.role(user.role)} · {user.organization_name}"))
