"""The panels of the patient screen (see ``base`` for what a panel is)."""

from clinic_tui.widgets.patient.alerts import AlertsPanel
from clinic_tui.widgets.patient.base import PatientPanel, Visit, panel_keys
from clinic_tui.widgets.patient.identity import AccessBanner, IdentityPanel
from clinic_tui.widgets.patient.records import RecordsPanel
from clinic_tui.widgets.patient.vitals import VitalsPanel

__all__ = [
    "AccessBanner",
    "AlertsPanel",
    "IdentityPanel",
    "PatientPanel",
    "RecordsPanel",
    "Visit",
    "VitalsPanel",
    "panel_keys",
]
