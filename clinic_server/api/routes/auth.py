"""Login, token refresh and logout (``services/auth.py``). Every outcome is audited."""

from __future__ import annotations

from clinic_server.api.deps import AuthScopeDep, GuardDep, SettingsDep
from clinic_server.api.routing import AuditedRouter
from clinic_server.services import auth
from clinic_tui.api.schemas import LoginRequest, RefreshRequest, TokenPair, UserInfo

router = AuditedRouter(prefix="/auth", tags=["auth"])


@router.post("/login", response_model=TokenPair, responses={401: {}, 429: {}})
def login(body: LoginRequest, scope: AuthScopeDep, settings: SettingsDep) -> TokenPair:
    return auth.login(scope, settings, body)


@router.post("/refresh", response_model=TokenPair, responses={401: {}})
def refresh(body: RefreshRequest, scope: AuthScopeDep, settings: SettingsDep) -> TokenPair:
    return auth.refresh(scope, settings, body.refresh_token)


@router.post("/logout", status_code=204, responses={401: {}})
def logout(body: RefreshRequest, guard: GuardDep) -> None:
    auth.logout(guard, body.refresh_token)


@router.get("/me", response_model=UserInfo)
def me(guard: GuardDep) -> UserInfo:
    return auth.me(guard)
