"""The base of the app's screens."""

from __future__ import annotations

from textual.screen import Screen

from clinic_tui.messages import ReportsWorkerFailures


class AppScreen(ReportsWorkerFailures, Screen):
    """A screen whose workers' failures reach the app's one error handler (``ClinicApp.report``)."""
