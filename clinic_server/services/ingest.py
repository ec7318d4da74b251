"""Measurement ingestion: device keys, per-item validation, idempotent storage, alert evaluation.

A device authenticates with its own key (only the SHA-256 is stored). A post holds one
observation or a batch of up to ``MAX_BATCH``; the batch is one transaction in which invalid items
are reported and skipped, valid ones stored, and retried items (same device, same ``source_id``)
reported as duplicates and never stored twice. Stored readings go through the alert rules in the
same transaction, and the request leaves exactly one audit record (a device write: no user).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from clinic_server.audit.scope import AuditScope
from clinic_server.audit.tally import Kind
from clinic_server.db import utcnow
from clinic_server.db.models import Device, Observation, Person
from clinic_server.errors import ApiError
from clinic_server.services import alert_engine as alerting
from clinic_tui.api.schemas import ErrorCode, IngestItemResult, IngestObservation, IngestResult
from clinic_tui.domain.alerts import Reading
from clinic_tui.domain.codes import MeasurementError, validate
from clinic_tui.domain.roles import Outcome

log = logging.getLogger("clinic_server.services.ingest")

MAX_BATCH = 1000
MAX_FUTURE = timedelta(minutes=5)
KEY_PREFIX = "cdk_"


class BatchError(ValueError):
    """The request body as a whole is unusable: nothing was stored."""


# --------------------------------------------------------------------------- device keys


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_device_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def create_device(session: Session, person_id: str, label: str, key: str | None = None) -> tuple[Device, str]:
    """Register a device for ``person_id``; return it with its key (shown once, never stored)."""
    if session.get(Person, person_id) is None:
        raise LookupError(f"no person with id {person_id!r}")
    key = key or new_device_key()
    device = Device(person_id=person_id, label=label, key_hash=hash_key(key), active=True)
    session.add(device)
    session.flush()
    return device, key


def device_for_key(session: Session, key: str | None) -> Device | None:
    """The active device holding ``key``, or None."""
    if not key or len(key) > 200:
        return None
    device = session.scalar(select(Device).where(Device.key_hash == hash_key(key)))
    if device is None or not device.active:
        return None
    return device


# --------------------------------------------------------------------------- validation


def items_of(payload: Any) -> list[Any]:
    """The observations a body holds: ``{"observations": [...]}`` or one observation object."""
    if isinstance(payload, dict) and "observations" in payload:
        extra = sorted(set(payload) - {"observations"})
        if extra:
            raise BatchError(f"unknown field(s) next to 'observations': {', '.join(extra)}")
        items = payload["observations"]
        if not isinstance(items, list):
            raise BatchError("'observations' must be a list of observation objects")
        if not items:
            raise BatchError("'observations' is empty: send 1 to 1000 observations")
        if len(items) > MAX_BATCH:
            raise BatchError(
                f"a batch holds at most {MAX_BATCH} observations ({len(items)} sent); "
                "split it — nothing was stored"
            )
        return items
    if isinstance(payload, dict):
        return [payload]
    raise BatchError('send one observation object or {"observations": [...]}')


def _pydantic_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ())) or "observation"
        msg = err.get("msg", "invalid")
        if err.get("type") == "extra_forbidden":
            msg = "unknown field"
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def check_item(raw: Any, now: datetime) -> IngestObservation:
    """Validate one observation; raise ValueError with a message fit for the device's log."""
    if not isinstance(raw, dict):
        raise ValueError("each observation must be a JSON object")
    try:
        obs = IngestObservation.model_validate(raw)
    except ValidationError as exc:
        raise ValueError(_pydantic_message(exc)) from None
    try:
        validate(obs.loinc, obs.unit, obs.value)
    except MeasurementError as exc:
        raise ValueError(str(exc)) from None
    at = obs.effective_at
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(
            "effective_at has no UTC offset: send e.g. 2026-11-22T07:15:00Z or +01:00 "
            "(a time without a zone is ambiguous)"
        )
    if at > now + MAX_FUTURE:
        ahead = (at - now).total_seconds() / 60
        raise ValueError(
            f"effective_at is {ahead:.0f} minutes in the future (at most 5 minutes ahead of the server "
            "clock is accepted): check the device clock"
        )
    return obs


# --------------------------------------------------------------------------- ingestion


@dataclass(frozen=True)
class _Prepared:
    index: int
    source_id: str | None
    obs: IngestObservation | None
    error: str | None


def _summary(stored: int, duplicates: int, rejected: int) -> str:
    text = f"{stored} stored, {duplicates} duplicate{'s' if duplicates != 1 else ''}, {rejected} rejected"
    if rejected:
        text += "; rejected items were skipped and not stored (see each item's message)"
        if stored:
            text += ", the valid ones were stored"
    if duplicates:
        text += "; duplicates were already stored from this device and were not stored again"
    return text


def ingest(
    scope: AuditScope,
    device: Device,
    raw_items: Sequence[Any],
    *,
    now: datetime | None = None,
    attempts: int = 3,
) -> IngestResult:
    """Store what is valid and new and evaluate alerts, in the scope's transaction; the caller
    closes the scope (the one audit record) and commits."""
    session = scope.session
    scope.about(resource_id=device.id, person_id=device.person_id)
    scope.note(device_id=device.id)
    now = now or utcnow()
    prepared: list[_Prepared] = []
    for i, raw in enumerate(raw_items):
        sid = raw.get("source_id") if isinstance(raw, dict) else None
        sid = sid if isinstance(sid, str) else None
        try:
            prepared.append(_Prepared(i, sid, check_item(raw, now), None))
        except ValueError as exc:
            prepared.append(_Prepared(i, sid, None, str(exc)))
    for attempt in range(attempts):
        try:
            return _store(scope, device, prepared, now=now)
        except IntegrityError:
            # a concurrent post of the same readings (or a concurrent alert for the same rule)
            # won the race: start over, and this time they are duplicates or updates
            session.rollback()
            if attempt == attempts - 1:
                raise
            log.info("ingest retry after a concurrent write (device %s)", device.id)
    raise AssertionError("unreachable")


def _store(scope: AuditScope, device: Device, prepared: list[_Prepared], *, now: datetime) -> IngestResult:
    session = scope.session
    device_id, person_id = device.id, device.person_id
    valid = [p for p in prepared if p.obs is not None]
    wanted = list(dict.fromkeys(p.obs.source_id for p in valid))
    existing: dict[str, tuple[str, float, datetime]] = {}
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        rows = session.execute(
            select(
                Observation.source_id, Observation.loinc, Observation.value, Observation.effective_at
            ).where(Observation.device_id == device_id, Observation.source_id.in_(chunk))
        )
        for sid, loinc, value, at in rows:
            existing[sid] = (loinc, value, at)

    results: list[IngestItemResult] = []
    rows: list[dict] = []
    seen: set[str] = set()
    readings: list[Reading] = []
    for p in prepared:
        if p.obs is None:
            results.append(
                IngestItemResult(index=p.index, source_id=p.source_id, status="rejected", message=p.error)
            )
            continue
        o = p.obs
        if o.source_id in existing or o.source_id in seen:
            message = "already stored from this device (same source_id); not stored again"
            prior = existing.get(o.source_id)
            if prior is not None and (prior[0], prior[1]) != (o.loinc, o.value):
                message = (
                    "source_id was already used by this device for a different measurement; "
                    "the first one is kept and this one was not stored"
                )
            elif o.source_id in seen:
                message = "source_id repeated within this batch; only the first one was stored"
            results.append(
                IngestItemResult(index=p.index, source_id=o.source_id, status="duplicate", message=message)
            )
            continue
        seen.add(o.source_id)
        at = o.effective_at
        rows.append(
            {
                "person_id": person_id,
                "loinc": o.loinc,
                "value": float(o.value),
                "unit": o.unit,
                "effective_at": at,
                "received_at": now,
                "device_id": device_id,
                "source_id": o.source_id,
            }
        )
        readings.append(Reading(o.loinc, float(o.value), at))
        results.append(
            IngestItemResult(index=p.index, source_id=o.source_id, status="stored", message="stored")
        )

    if rows:
        session.execute(insert(Observation), rows)
        alerting.evaluate_new_readings(session, {person_id: readings}, now)

    stored = len(rows)
    rejected = sum(1 for r in results if r.status == "rejected")
    duplicates = len(results) - stored - rejected
    scope.returned(["vitals"] if stored else [])
    scope.note(stored=stored, duplicates=duplicates, rejected=rejected)
    scope.reason = f"device write: {stored} stored, {duplicates} duplicates, {rejected} rejected"
    return IngestResult(
        device_id=device_id,
        stored=stored,
        duplicates=duplicates,
        rejected=rejected,
        message=_summary(stored, duplicates, rejected),
        items=results,
    )


def post(scope: AuditScope, key: str | None, payload: Any) -> IngestResult:
    """A device's post: authenticate its key, take the body apart, store (``ingest``)."""
    scope.note(device_id=None, stored=0, duplicates=0, rejected=0)
    device = device_for_key(scope.session, key)
    if device is None:
        # nobody to name: counted in the tally, not recorded alone (it could flood the chain)
        scope.aggregate(Kind.DEVICE_KEY)
        raise ApiError(
            401,
            ErrorCode.INVALID_DEVICE_KEY,
            "Unknown or inactive device key: send the device's key in the X-Device-Key header.",
            audit_reason="unknown or inactive device key",
        )
    scope.about(resource_id=device.id, person_id=device.person_id)
    scope.note(device_id=device.id)
    try:
        items = items_of(payload)
    except BatchError as exc:
        raise ApiError(
            422,
            ErrorCode.INVALID_BATCH,
            f"{exc}",
            outcome=Outcome.ERROR,
            audit_reason=f"unusable body: {exc}",
        ) from None
    return ingest(scope, device, items)
