"""Unauthenticated facts about this server (no personal data)."""

from __future__ import annotations

from fastapi import APIRouter

from clinic_server import __version__
from clinic_server.context import SettingsDep
from clinic_tui.api.schemas import DemoAccount, ServerInfo

router = APIRouter(tags=["info"])

#: the demo accounts seed-demo creates; listed only by a server running in demo mode
DEMO_PASSWORD = "demo-password"  # noqa: S105 - documented demo credential, demo mode only
DEMO_ACCOUNTS = [
    DemoAccount(username="anna", role="nurse", organization="Vårdcentralen Norra", password=DEMO_PASSWORD),
    DemoAccount(
        username="bertil", role="nurse", organization="Hjärtmottagningen Söder", password=DEMO_PASSWORD
    ),
    DemoAccount(username="cecilia", role="coach", organization="IMR", password=DEMO_PASSWORD),
    DemoAccount(
        username="david", role="supervisor", organization="Vårdcentralen Norra", password=DEMO_PASSWORD
    ),
]


@router.get("/health")
def health() -> dict:
    return {"status": "ok"}


@router.get("/info", response_model=ServerInfo)
def server_info(settings: SettingsDep) -> ServerInfo:
    return ServerInfo(
        name="clinic-server",
        version=__version__,
        demo=settings.demo,
        demo_accounts=DEMO_ACCOUNTS if settings.demo else [],
    )
