"""The coach's work: her participants, their meetings (save, read, correct), objections to profiling."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Response

from clinic_server.api.deps import GuardDep
from clinic_server.api.routing import AuditedRouter
from clinic_server.services import coaching
from clinic_tui.api.schemas.coach import (
    IDEMPOTENCY_KEY_PATTERN,
    REPLAYED_HEADER,
    CorrectionIn,
    MeetingIn,
    MeetingOut,
    ObjectionOut,
    ParticipantHistory,
    ParticipantList,
)

router = AuditedRouter(prefix="/coaching", tags=["coaching"])


@router.get("/participants", response_model=ParticipantList, responses={403: {}})
def list_participants(guard: GuardDep) -> ParticipantList:
    return coaching.participants(guard)


@router.get("/participants/{person_id}/meetings", response_model=ParticipantHistory, responses={403: {}})
def participant_history(person_id: str, guard: GuardDep) -> ParticipantHistory:
    return coaching.history(guard, person_id)


@router.post(
    "/participants/{person_id}/meetings",
    response_model=MeetingOut,
    status_code=201,
    responses={403: {}, 409: {}, 422: {}},
)
def create_meeting(
    person_id: str,
    body: MeetingIn,
    guard: GuardDep,
    response: Response,
    idempotency_key: Annotated[
        str,
        Header(
            pattern=IDEMPOTENCY_KEY_PATTERN,
            description="the draft's own key: a retry returns the first result, never a second meeting",
        ),
    ],
) -> MeetingOut:
    out, replayed = coaching.create_meeting(guard, person_id, idempotency_key, body)
    if replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return out


@router.get("/meetings/{meeting_id}", response_model=MeetingOut, responses={403: {}})
def get_meeting(meeting_id: str, guard: GuardDep) -> MeetingOut:
    return coaching.meeting(guard, meeting_id)


@router.post(
    "/meetings/{meeting_id}/corrections", response_model=MeetingOut, responses={403: {}, 409: {}, 422: {}}
)
def correct_meeting(meeting_id: str, body: CorrectionIn, guard: GuardDep) -> MeetingOut:
    return coaching.correct(guard, meeting_id, body)


@router.put("/participants/{person_id}/objection", response_model=ObjectionOut, responses={403: {}})
def record_objection(person_id: str, guard: GuardDep) -> ObjectionOut:
    return coaching.record_objection(guard, person_id)


@router.delete(
    "/participants/{person_id}/objection", response_model=ObjectionOut, responses={403: {}, 409: {}}
)
def withdraw_objection(person_id: str, guard: GuardDep) -> ObjectionOut:
    return coaching.withdraw_objection(guard, person_id)
