"""A patient's alert thresholds (``services/thresholds.py``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Body

from clinic_server.api.deps import GuardDep
from clinic_server.api.routing import AuditedRouter
from clinic_server.services import thresholds
from clinic_tui.api.schemas import ThresholdSettings
from clinic_tui.api.schemas.bounds import Id, Number, line

router = AuditedRouter(prefix="/patients", tags=["vitals"])


@router.get("/{person_id}/thresholds", response_model=ThresholdSettings, responses={403: {}})
def get_thresholds(person_id: Id, guard: GuardDep) -> ThresholdSettings:
    """The effective alert thresholds: defaults, and overrides with who set them when."""
    return thresholds.get(guard, person_id)


@router.put("/{person_id}/thresholds", response_model=ThresholdSettings, responses={403: {}, 422: {}})
def put_thresholds(
    person_id: Id,
    guard: GuardDep,
    values: Annotated[
        dict[line(40, min_length=1), Number | None],
        Body(description="threshold key -> number; null restores the default"),
    ],
) -> ThresholdSettings:
    """Override some thresholds for this patient (validated together with the ones already set)."""
    return thresholds.put(guard, person_id, values)
