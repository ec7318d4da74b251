"""Unauthenticated facts about this server (no personal data)."""

from __future__ import annotations

from fastapi import APIRouter

from clinic_server import __version__
from clinic_server.api.deps import SettingsDep
from clinic_server.demo.accounts import DEMO_PASSWORD, DEMO_USERS
from clinic_tui.api.schemas import DemoAccount, ServerInfo

router = APIRouter(tags=["info"])


@router.get("/health")
def health() -> dict:
    return {"status": "ok"}


@router.get("/info", response_model=ServerInfo)
def server_info(settings: SettingsDep) -> ServerInfo:
    return ServerInfo(
        name="clinic-server",
        version=__version__,
        demo=settings.demo,
        demo_accounts=[
            DemoAccount(username=u.username, role=u.role, organization=u.organization, password=DEMO_PASSWORD)
            for u in DEMO_USERS
        ]
        if settings.demo
        else [],
    )
