"""One patient's measurement trend and alerts (``services/vitals.py``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from clinic_server.api.deps import GuardDep
from clinic_server.api.routing import AuditedRouter
from clinic_server.services import vitals
from clinic_tui.api.schemas import ObservationSeries, PatientAlerts, SeriesRange
from clinic_tui.api.schemas.bounds import Id, line

router = AuditedRouter(prefix="/patients", tags=["vitals"])


@router.get("/{person_id}/observations", response_model=ObservationSeries, responses={403: {}, 422: {}})
def observation_series(
    person_id: Id,
    guard: GuardDep,
    loinc: Annotated[line(16), Query(description="LOINC code, e.g. 8480-6")],
    range_: Annotated[SeriesRange, Query(alias="range")] = "30d",
    points: Annotated[int, Query(ge=3, le=2000, description="chart width: at most this many points")] = 120,
) -> ObservationSeries:
    """A trend series downsampled (LTTB) to ``points``, with the thresholds and alerts in range."""
    return vitals.series(guard, person_id, loinc=loinc, range_=range_, points=points)


@router.get("/{person_id}/alerts", response_model=PatientAlerts, responses={403: {}})
def patient_alerts(
    person_id: Id, guard: GuardDep, limit: Annotated[int, Query(ge=1, le=500)] = 200
) -> PatientAlerts:
    """The patient's alerts in every state, newest first, each with its events and notes."""
    return vitals.patient_alerts(guard, person_id, limit=limit)
