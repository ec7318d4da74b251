"""A patient's alert thresholds: the defaults, and the overrides a nurse set (who, when)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from sqlalchemy import select

from clinic_server.access.guard import Guard
from clinic_server.access.policy import Action
from clinic_server.db.models import ThresholdOverride, User
from clinic_server.errors import refused
from clinic_server.services import alert_engine
from clinic_tui.api.schemas import ErrorCode, ThresholdSettings, ThresholdValue
from clinic_tui.domain.alerts import Thresholds
from clinic_tui.domain.categories import Category

KEYS = frozenset(f.name for f in fields(Thresholds))
#: no threshold of any rule is anywhere near this (it also keeps huge numbers out of the database)
MAX_VALUE = 10_000


def _settings(guard: Guard, person_id: str) -> ThresholdSettings:
    session = guard.session
    rows = alert_engine.overrides_for(session, [person_id])[person_id]
    by_key = {r.key: r for r in rows}
    names = (
        dict(
            session.execute(
                select(User.id, User.display_name).where(User.id.in_({r.set_by_id for r in rows}))
            ).all()
        )
        if rows
        else {}
    )
    default = Thresholds()
    effective = alert_engine.thresholds_for(session, [person_id])[person_id]
    items = []
    for f in fields(Thresholds):
        o = by_key.get(f.name)
        items.append(
            ThresholdValue(
                key=f.name,
                value=getattr(effective, f.name),
                default=getattr(default, f.name),
                overridden=o is not None,
                set_by=names.get(o.set_by_id) if o else None,
                set_at=o.set_at if o else None,
            )
        )
    guard.scope.returned({Category.VITALS})
    return ThresholdSettings(person_id=person_id, items=items)


def get(guard: Guard, person_id: str) -> ThresholdSettings:
    access = guard.person(person_id, Action.READ_THRESHOLDS, verb="read", resource_type="thresholds")
    return _settings(guard, access.person.id)


def put(guard: Guard, person_id: str, values: dict[str, Any]) -> ThresholdSettings:
    """Override some thresholds (validated together with the ones already set); None restores a default."""
    access = guard.person(person_id, Action.SET_THRESHOLDS, verb="update", resource_type="thresholds")
    pid = access.person.id
    if not values:
        raise refused(422, ErrorCode.INVALID_THRESHOLD, 'Send at least one threshold, e.g. {"hr_high": 140}.')
    for key in values:
        if key not in KEYS:
            raise refused(
                422,
                ErrorCode.INVALID_THRESHOLD,
                f"unknown threshold {key[:40]!r}; nothing was changed",
                key=key[:40],
            )
    session = guard.session
    existing = {r.key: r for r in alert_engine.overrides_for(session, [pid])[pid]}
    merged = {k: r.value for k, r in existing.items()}
    for key, value in values.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    try:
        Thresholds().with_overrides(merged)
    except ValueError as exc:
        raise refused(422, ErrorCode.INVALID_THRESHOLD, f"{exc}; nothing was changed") from None
    too_big = sorted(k for k, v in values.items() if v is not None and v > MAX_VALUE)
    if too_big:
        raise refused(
            422,
            ErrorCode.INVALID_THRESHOLD,
            f"threshold {too_big[0]!r} is implausibly large (at most {MAX_VALUE}); nothing was changed",
            key=too_big[0],
        )
    for key, value in values.items():
        row = existing.get(key)
        if value is None:
            if row is not None:
                session.delete(row)
        elif row is None:
            session.add(
                ThresholdOverride(
                    person_id=pid, key=key, value=float(value), set_by_id=guard.user.id, set_at=guard.now
                )
            )
        else:
            row.value, row.set_by_id, row.set_at = float(value), guard.user.id, guard.now
    session.flush()
    guard.scope.note(
        set=sorted(k for k, v in values.items() if v is not None),
        cleared=sorted(k for k, v in values.items() if v is None),
    )
    return _settings(guard, pid)
