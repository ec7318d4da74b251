"""People a user may see, and one person's record, projected to what consent allows."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from clinic_server.api.deps import GuardDep
from clinic_server.api.routing import AuditedRouter
from clinic_server.services import patients
from clinic_tui.api.schemas import PatientDetail, PatientPage
from clinic_tui.api.schemas.bounds import Id, line

router = AuditedRouter(prefix="/patients", tags=["patients"])


@router.get("", response_model=PatientPage, responses={403: {}, 422: {}})
def list_patients(
    guard: GuardDep,
    q: Annotated[
        line(100) | None, Query(description="filter on shared name, personnummer, condition")
    ] = None,
    cursor: Annotated[line(20) | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> PatientPage:
    return patients.list_people(guard, q=q, cursor=cursor, limit=limit)


@router.get("/{person_id}", response_model=PatientDetail, responses={403: {}})
def get_patient(person_id: Id, guard: GuardDep) -> PatientDetail:
    return patients.detail(guard, person_id)
