"""Devices post measurements here (``X-Device-Key``), one at a time or in batches of up to 1000."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Header

from clinic_server.api.deps import DeviceScopeDep
from clinic_server.api.routing import AuditedRouter
from clinic_server.services import ingest
from clinic_tui.api.schemas import IngestResult
from clinic_tui.api.schemas.bounds import line

router = AuditedRouter(prefix="/ingest", tags=["ingest"])


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
    scope: DeviceScopeDep,
    payload: Annotated[Any, Body()],
    x_device_key: Annotated[line(200) | None, Header()] = None,
) -> IngestResult:
    return ingest.post(scope, x_device_key, payload)
