"""The demo accounts: one declaration read by the seed, the login screen's list and the CLI."""

from __future__ import annotations

from dataclasses import dataclass

from clinic_tui.domain.roles import Role

#: documented demo credential; a server lists the accounts only in demo mode
DEMO_PASSWORD = "demo-password"  # noqa: S105

NORRA = "Vårdcentralen Norra"
SODER = "Hjärtmottagningen Söder"
IMR = "IMR"
#: the controller of the patient app's accounts (a consent to it keeps an account alive)
IMAGINECARE = "ImagineCare AB"
#: the deployment's privacy office, handling the people's requests for both controllers
PRIVACY_OFFICE = "Dataskyddsombudet"


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    role: Role
    organization: str


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("anna", "Anna Lind", Role.NURSE, NORRA),
    DemoUser("bertil", "Bertil Ek", Role.NURSE, SODER),
    DemoUser("cecilia", "Cecilia Berg", Role.COACH, IMR),
    DemoUser("david", "David Holm", Role.SUPERVISOR, NORRA),
    DemoUser("elsa", "Elsa Nord", Role.PRIVACY_OFFICER, PRIVACY_OFFICE),
    # every organization has a supervisor, so every break-the-glass access and every finding about
    # one of its users reaches someone who reviews it
    DemoUser("eva", "Eva Dahl", Role.SUPERVISOR, SODER),
    DemoUser("frida", "Frida Nord", Role.SUPERVISOR, IMR),
    # issues IMR's employer reports: aggregates only, never a person's values (docs/reports.md)
    DemoUser("gustav", "Gustav Ek", Role.REPORT_ANALYST, IMR),
)


def describe() -> str:
    """One line for the CLI: who the demo accounts are and their password."""
    names = ", ".join(f"{u.username} ({u.role}, {u.organization})" for u in DEMO_USERS)
    return f"demo accounts: {names}; password {DEMO_PASSWORD}"
