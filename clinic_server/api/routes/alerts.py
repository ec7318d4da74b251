"""The nurse's alert queue, its change feed, and alert transitions (``services/alerts.py``)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query

from clinic_server.api.deps import GuardDep
from clinic_server.api.routing import AuditedRouter
from clinic_server.services import alerts
from clinic_tui.api.schemas import AlertChanges, AlertItem, AlertPage, AlertTransition
from clinic_tui.api.schemas.bounds import Instant, Int32Id, line

router = AuditedRouter(prefix="/alerts", tags=["alerts"])


@router.get("", response_model=AlertPage, responses={403: {}, 422: {}})
def alert_queue(
    guard: GuardDep,
    state: Annotated[
        Literal["open", "active", "mine", "snoozed", "escalated", "resolved", "all"],
        Query(
            description="open (default), active, mine (acknowledged, snoozed or escalated, last by "
            "the caller), snoozed (time still ahead), escalated, resolved, all"
        ),
    ] = "open",
    severity: Annotated[line(30) | None, Query(description="high, medium, low; comma-separated")] = None,
    q: Annotated[
        line(100) | None,
        Query(description="patient name (where shared), pseudonym, rule or message"),
    ] = None,
    after: Annotated[line(200) | None, Query(description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    resolved_since: Annotated[
        Instant | None,
        Query(
            description="state=resolved only: those resolved at or after this time, with offset "
            "(the client's local midnight: resolved today)"
        ),
    ] = None,
) -> AlertPage:
    """The caller's alert queue: most severe first, then oldest first; keyset-paged."""
    return alerts.queue(
        guard, state=state, severity=severity, q=q, after=after, limit=limit, resolved_since=resolved_since
    )


@router.get("/changes", response_model=AlertChanges, responses={403: {}, 422: {}})
def alert_changes(
    guard: GuardDep,
    since: Annotated[Instant, Query(description="ISO time with offset: next_since of the previous poll")],
) -> AlertChanges:
    """Alerts (any state) changed since ``since``, for polling; update the queue by id."""
    return alerts.changes(guard, since=since)


@router.post("/{alert_id}/transition", response_model=AlertItem, responses={403: {}, 409: {}, 422: {}})
def transition(alert_id: Int32Id, body: AlertTransition, guard: GuardDep) -> AlertItem:
    """acknowledge, resolve, escalate, snooze, unsnooze or reopen, naming the version you saw."""
    return alerts.transition(guard, alert_id, body)
