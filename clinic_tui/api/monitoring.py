"""Typed client calls for the supervisor's screens: the audit log, findings, verdicts, identity
look-ups, break-the-glass reviews and the export. Views call these in workers; they never build
URLs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from clinic_tui.api.schemas import AuditPage, BreakGlassReview, BreakGlassReviewList, ReviewRequest
from clinic_tui.api.schemas.monitoring import (
    AuditExport,
    AuditRecordOut,
    FindingDetail,
    FindingPage,
    GrantDetail,
    PersonIdentityOut,
    RuleList,
    VerdictRequest,
    csv_text,
)
from clinic_tui.domain.findings import RuleId, Verdict

if TYPE_CHECKING:
    from clinic_tui.api.client import ClinicClient

Routine = Literal["hide", "fold", "show"]


def _filters(**kw) -> dict:
    return {k: v for k, v in kw.items() if v not in (None, "")}


class MonitoringApi:
    """The supervisor's calls, on an authenticated ``ClinicClient``."""

    def __init__(self, client: ClinicClient):
        self._client = client

    # ------------------------------------------------------------------ the audit log

    async def events(
        self,
        *,
        before_seq: int | None = None,
        limit: int = 100,
        username: str | None = None,
        person: str | None = None,
        outcome: str | None = None,
        action: str | None = None,
        routine: Routine = "hide",
    ) -> AuditPage:
        """The log, newest first; ``person`` takes the id as the log shows it (6+ characters)."""
        params = _filters(
            before_seq=before_seq,
            limit=limit,
            username=username,
            person_id=person,
            outcome=outcome,
            action=action,
            routine=routine,
        )
        return await self._client._call("GET", "/audit/events", AuditPage, params=params)

    async def event(self, seq: int) -> AuditRecordOut:
        """One record in full, with its hash-chain links."""
        return await self._client._call("GET", f"/audit/events/{int(seq)}", AuditRecordOut)

    async def export(
        self,
        *,
        before_seq: int | None = None,
        limit: int = 10_000,
        username: str | None = None,
        person: str | None = None,
        outcome: str | None = None,
        action: str | None = None,
        routine: bool = False,
    ) -> AuditExport:
        """The filtered log as records (write it with ``export_csv`` or as JSON)."""
        params = _filters(
            format="json",
            before_seq=before_seq,
            limit=limit,
            username=username,
            person_id=person,
            outcome=outcome,
            action=action,
            routine=str(routine).lower(),
        )
        return await self._client._call("GET", "/audit/export", AuditExport, params=params)

    @staticmethod
    def export_csv(export: AuditExport) -> str:
        """An export as the same CSV the server writes for ``format=csv``."""
        return csv_text(export.items)

    async def identity(self, person_id: str) -> PersonIdentityOut:
        """A person's name and personnummer, to judge a relation (the look-up is audited)."""
        return await self._client._call("GET", f"/audit/people/{person_id}", PersonIdentityOut)

    # ------------------------------------------------------------------ findings

    async def findings(
        self,
        *,
        state: str = "waiting",
        rule: RuleId | None = None,
        before_id: int | None = None,
        limit: int = 50,
    ) -> FindingPage:
        params = _filters(state=state, rule=rule, before_id=before_id, limit=limit)
        return await self._client._call("GET", "/audit/findings", FindingPage, params=params)

    async def finding(self, finding_id: int) -> FindingDetail:
        return await self._client._call("GET", f"/audit/findings/{int(finding_id)}", FindingDetail)

    async def judge(
        self, finding_id: int, verdict: Verdict, note: str, *, expected_version: int | None = None
    ) -> FindingDetail:
        """A verdict with a note; ``expected_version``: the verdicts you saw (409 if someone judged
        it meanwhile)."""
        body = VerdictRequest(verdict=verdict, note=note, expected_version=expected_version)
        return await self._client._call(
            "POST",
            f"/audit/findings/{int(finding_id)}/verdicts",
            FindingDetail,
            json=body.model_dump(mode="json", exclude_none=True),
        )

    async def rules(self) -> RuleList:
        return await self._client._call("GET", "/audit/findings/rules", RuleList)

    # ------------------------------------------------------------------ break-the-glass reviews

    async def reviews(self, state: str = "pending") -> BreakGlassReviewList:
        params = {"state": state}
        return await self._client._call("GET", "/audit/reviews", BreakGlassReviewList, params=params)

    async def review(self, grant_id: str) -> GrantDetail:
        return await self._client._call("GET", f"/audit/reviews/{grant_id}", GrantDetail)

    async def judge_review(
        self, grant_id: str, verdict: Verdict, note: str, *, expected_version: int | None = None
    ) -> BreakGlassReview:
        body = ReviewRequest(note=note, verdict=verdict, expected_version=expected_version)
        return await self._client._call(
            "POST",
            f"/audit/reviews/{grant_id}",
            BreakGlassReview,
            json=body.model_dump(mode="json", exclude_none=True),
        )
