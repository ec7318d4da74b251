"""The base of the app's screens."""

from __future__ import annotations

from textual.screen import Screen

from clinic_tui.messages import ReportsWorkerFailures


class AppScreen(ReportsWorkerFailures, Screen):
    """A screen whose workers' failures reach the app's one error handler (``ClinicApp.report``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Born with the size classes (-narrow/-wide, -short/-tall) the app's terminal gives it:
        # Textual sets them on the screen's first Resize, which otherwise restyles every widget of a
        # screen styled a moment before (the login screen's first paint, docs/performance.md).
        self.add_class(*self._size_classes())

    def _size_classes(self) -> set[str]:
        """What ``Screen._on_resize`` would set for the app's size now (the same rules)."""
        try:
            app = self.app
            width, height = app.size
        except RuntimeError:  # (NoActiveAppError: a screen built outside a running app)
            return set()
        horizontal = (
            app.HORIZONTAL_BREAKPOINTS if self.HORIZONTAL_BREAKPOINTS is None else self.HORIZONTAL_BREAKPOINTS
        )
        vertical = (
            app.VERTICAL_BREAKPOINTS if self.VERTICAL_BREAKPOINTS is None else self.VERTICAL_BREAKPOINTS
        )
        return self._get_breakpoint_classes(width, horizontal or []) | self._get_breakpoint_classes(
            height, vertical or []
        )
