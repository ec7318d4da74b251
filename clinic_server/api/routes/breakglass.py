"""Break-the-glass emergency access (``services/breakglass.py``)."""

from __future__ import annotations

from clinic_server.api.deps import GuardDep
from clinic_server.api.routing import AuditedRouter
from clinic_server.services import breakglass
from clinic_tui.api.schemas import BreakGlassGrantOut, BreakGlassLookup, BreakGlassRequest
from clinic_tui.api.schemas.bounds import Id

router = AuditedRouter(tags=["break-the-glass"])


@router.post(
    "/patients/{person_id}/break-glass",
    response_model=BreakGlassGrantOut,
    status_code=201,
    responses={403: {}, 409: {}, 422: {}},
)
def break_glass(person_id: Id, body: BreakGlassRequest, guard: GuardDep) -> BreakGlassGrantOut:
    """Nurses only: time-boxed emergency access; refused if restricted or under 18."""
    return breakglass.by_id(guard, person_id, body.reason)


@router.post(
    "/break-glass",
    response_model=BreakGlassGrantOut,
    status_code=201,
    responses={403: {}, 404: {}, 409: {}, 422: {}},
)
def break_glass_by_personnummer(body: BreakGlassLookup, guard: GuardDep) -> BreakGlassGrantOut:
    """Nurses only: the same emergency access for someone not in the nurse's list, by personnummer."""
    return breakglass.by_personnummer(guard, body.personnummer, body.reason)
