"""Devices post measurements here (``X-Device-Key``), one at a time or in batches of up to 1000."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Request
from sqlalchemy.orm import Session

from clinic_server import audit
from clinic_server.api.deps import ApiError, RequestInfoDep, SessionDep
from clinic_server.services import ingest
from clinic_tui.api.schemas import IngestResult

router = APIRouter(prefix="/ingest", tags=["ingest"])


@dataclass
class _DeviceCtx:
    """Quacks like ``context.Ctx`` for the app's error handling: a request from a device, not a user,
    that still owes exactly one audit record if it fails before recording."""

    session: Session
    info: audit.RequestInfo
    user: None = None
    actor: None = None
    recorded: bool = False
    pending: dict = field(
        default_factory=lambda: {"action": "ingest", "resource_type": "observation", "purpose": "care"}
    )

    def record(self, **kwargs) -> None:
        audit.append(self.session, who=ingest.NOBODY, request=self.info, **kwargs)
        self.session.commit()
        self.recorded = True


@router.post(
    "/observations",
    response_model=IngestResult,
    responses={401: {"description": "unknown or inactive device key"}, 422: {}},
    summary="Post measurements from a device (idempotent on the device's source_id)",
    description="The body is one observation (schema IngestObservation) or "
    '{"observations": [...]} with 1 to 1000 of them (IngestBatch). Each item is validated on its own: '
    "invalid items are reported as rejected and skipped, the valid ones stored.",
)
def post_observations(
    request: Request,
    session: SessionDep,
    info: RequestInfoDep,
    payload: Annotated[Any, Body()],
    x_device_key: Annotated[str | None, Header()] = None,
) -> IngestResult:
    dctx = _DeviceCtx(session, info)
    request.state.ctx = dctx
    device = ingest.device_for_key(session, x_device_key)
    if device is None:
        dctx.record(
            action="ingest",
            resource_type="observation",
            outcome="denied",
            reason="unknown or inactive device key",
            purpose="care",
            details={"device_id": None, "stored": 0, "duplicates": 0, "rejected": 0},
        )
        raise ApiError(
            401,
            "invalid_device_key",
            "Unknown or inactive device key: send the device's key in the X-Device-Key header.",
        )
    dctx.pending = {
        "action": "ingest",
        "resource_type": "observation",
        "resource_id": device.id,
        "person_id": device.person_id,
        "purpose": "care",
        "details": {"device_id": device.id},
    }
    try:
        items = ingest.items_of(payload)
    except ingest.BatchError as exc:
        dctx.record(
            outcome="error",
            reason=f"unusable body: {exc}",
            **(
                dctx.pending
                | {"details": {"device_id": device.id, "stored": 0, "duplicates": 0, "rejected": 0}}
            ),
        )
        raise ApiError(422, "invalid_batch", f"{exc}") from None
    result = ingest.ingest(session, device, items, request=info)
    dctx.recorded = True
    return result
