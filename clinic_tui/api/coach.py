"""Typed client calls for the coach's work (``/coaching``), over a ``ClinicClient``.

``CoachApi(client)`` gives the coach's screens their participants, a participant's history, a
meeting, and the writes: save a meeting, correct it, record or withdraw an objection to
profiling. A meeting's save carries an ``Idempotency-Key`` that the caller provides and keeps
with the draft (``new_idempotency_key``), so a save retried after a timeout, a stopped server or a
restart of the app stores the meeting once: the server answers a repeated key with the meeting
the first attempt made.

Refusals the screens act on arrive as their own exceptions:

- ``ConsentMissing``: the participant's consent does not cover ``missing`` (category names), so
  the screen can say which consent is missing; nothing was stored;
- ``InvalidValues``: ``problems``, each with its field path, domain code and params, to show beside
  its field; nothing was stored;
- ``StaleMeeting``: a correction was made on an older revision (``current_revision``);
- ``KeyReused``: the draft's key was already used for a different meeting (a bug, or two drafts
  sharing a key): give the draft a new key only if it was certainly never saved.

Anything else is the client's ``ApiError`` family (``Unreachable`` for a server that did not
answer: keep the draft and its key, and send it again later).
"""

from __future__ import annotations

import uuid

from clinic_tui.api.client import ApiError, ClinicClient, Forbidden
from clinic_tui.api.schemas import ErrorCode, ProblemOut
from clinic_tui.api.schemas.coach import (
    IDEMPOTENCY_HEADER,
    CorrectionIn,
    MeetingIn,
    MeetingOut,
    ObjectionOut,
    ParticipantHistory,
    ParticipantList,
)

__all__ = [
    "CoachApi",
    "ConsentMissing",
    "InvalidValues",
    "KeyReused",
    "StaleMeeting",
    "new_idempotency_key",
]


class ConsentMissing(Forbidden):
    """The participant's consent does not cover these categories (what the action needs)."""

    @property
    def missing(self) -> list[str]:
        names = self.params.get("missing") or ""
        return [n for n in str(names).split(",") if n]


class InvalidValues(ApiError):
    """Values the rules refuse; ``problems`` says which field, with a code and params each."""

    def for_field(self, field_path: str) -> list[ProblemOut]:
        return [p for p in self.problems if p.field == field_path]


class StaleMeeting(ApiError):
    """The meeting was corrected meanwhile; reload it (``current_revision``) before correcting."""

    @property
    def current_revision(self) -> int | None:
        value = self.params.get("current_revision")
        return value if isinstance(value, int) else None


class KeyReused(ApiError):
    """This idempotency key was used for a different meeting."""


_TYPED: dict[str, type[ApiError]] = {
    ErrorCode.CONSENT_MISSING: ConsentMissing,
    ErrorCode.INVALID_VALUES: InvalidValues,
    ErrorCode.CONFLICT: StaleMeeting,
    ErrorCode.IDEMPOTENCY_KEY_REUSED: KeyReused,
}


def new_idempotency_key() -> str:
    """A fresh key for a new draft (keep it with the draft until the server has the meeting)."""
    return uuid.uuid4().hex


class CoachApi:
    def __init__(self, client: ClinicClient):
        self.client = client

    async def _call(self, method: str, path: str, model, **kw):
        try:
            return await self.client._call(method, path, model, **kw)
        except ApiError as err:
            kind = _TYPED.get(err.code)
            if kind is None:
                raise
            raise kind(
                err.message,
                status=err.status,
                code=err.code,
                retry_after=err.retry_after,
                params=err.params,
                problems=err.problems,
            ) from err

    async def participants(self) -> ParticipantList:
        """The coach's participants: employer, last meeting, whether a fitness test is due."""
        return await self._call("GET", "/coaching/participants", ParticipantList)

    async def history(self, person_id: str) -> ParticipantHistory:
        """Every meeting of one participant with all versions, and the VO2max and weight series."""
        return await self._call("GET", f"/coaching/participants/{person_id}/meetings", ParticipantHistory)

    async def meeting(self, meeting_id: str) -> MeetingOut:
        return await self._call("GET", f"/coaching/meetings/{meeting_id}", MeetingOut)

    async def save_meeting(self, person_id: str, meeting: MeetingIn, *, idempotency_key: str) -> MeetingOut:
        """Save a whole meeting. Send the draft's own key every time: a retry never saves twice."""
        return await self._call(
            "POST",
            f"/coaching/participants/{person_id}/meetings",
            MeetingOut,
            json=meeting.model_dump(mode="json", exclude_none=True),
            headers={IDEMPOTENCY_HEADER: idempotency_key},
        )

    async def correct(self, meeting_id: str, correction: CorrectionIn) -> MeetingOut:
        """Correct saved values (a new revision with the reason; derived values are recomputed)."""
        return await self._call(
            "POST",
            f"/coaching/meetings/{meeting_id}/corrections",
            MeetingOut,
            json=correction.model_dump(mode="json"),
        )

    async def object_to_profiling(self, person_id: str) -> ObjectionOut:
        """Record the participant's objection: no automated assessment from now on."""
        return await self._call("PUT", f"/coaching/participants/{person_id}/objection", ObjectionOut)

    async def withdraw_objection(self, person_id: str) -> ObjectionOut:
        return await self._call("DELETE", f"/coaching/participants/{person_id}/objection", ObjectionOut)
