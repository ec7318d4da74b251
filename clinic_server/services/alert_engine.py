"""Alert rules applied to stored readings: raise, merge into the ongoing alert, sweep for silence.

The rules themselves are pure (``clinic_tui.domain.alerts``); this module feeds them each person's
conditions and effective thresholds (defaults overridden by ``ThresholdOverride`` rows) and keeps
one active alert per person and rule: a new reading of an ongoing excursion moves the alert's
``last_seen_at`` (and its value, when more extreme) instead of raising another. A partial unique
index (migration 0003) makes that hold under concurrent writers too.

Nobody's data raises an alert unless ``facts.monitoring_permitted`` says so: an active care
consent to some organization covering vitals, no restriction, 18 or older.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from clinic_server.access import facts
from clinic_server.db import utcnow
from clinic_server.db.models import Alert, Condition, Consent, Observation, Person, ThresholdOverride
from clinic_server.db.queries import chunks
from clinic_tui.domain import alert_lifecycle as lifecycle
from clinic_tui.domain import alerts as rules
from clinic_tui.domain.codes import (
    LOINC_DIASTOLIC,
    LOINC_GLUCOSE,
    LOINC_HEART_RATE,
    LOINC_SPO2,
    LOINC_SYSTOLIC,
    LOINC_WEIGHT,
)

log = logging.getLogger("clinic_server.services.alert_engine")

ACTIVE_STATES = tuple(sorted(lifecycle.ACTIVE_STATES))
ALL_STATES = tuple(sorted(lifecycle.AlertState))
#: the codes any reading rule looks at
RULE_CODES = (LOINC_SYSTOLIC, LOINC_DIASTOLIC, LOINC_GLUCOSE, LOINC_SPO2, LOINC_HEART_RATE, LOINC_WEIGHT)


def effective_state(alert: Alert, now: datetime) -> lifecycle.AlertState:
    """A snooze that has run out reads as the state it was snoozed from (nothing is rewritten)."""
    return lifecycle.effective_state(alert.state, alert.snoozed_until, alert.snoozed_from, now)


# --------------------------------------------------------------------------- facts


def monitored(session: Session, person_ids: Iterable[str], now: datetime) -> set[str]:
    """Of ``person_ids``, those whose data may raise alerts at ``now``."""
    loaded = facts.load_facts(session, facts.SYSTEM_ACTOR, person_ids, now)
    return {pid for pid, f in loaded.items() if facts.monitoring_permitted(f, now)}


def care_consenting(session: Session, now: datetime, *, daily_senders_only: bool = False) -> list[str]:
    """Everyone with an active care consent at ``now`` (a superset of the monitored)."""
    stmt = (
        select(Consent.person_id)
        .where(
            Consent.purpose == "care",
            Consent.status == "active",
            Consent.valid_from <= now,
            or_(Consent.valid_until.is_(None), Consent.valid_until > now),
        )
        .distinct()
    )
    if daily_senders_only:
        stmt = stmt.join(Person, Person.id == Consent.person_id).where(Person.sends_daily.is_(True))
    return list(session.scalars(stmt))


def conditions_for(session: Session, person_ids: Iterable[str]) -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for chunk in chunks(person_ids):
        for pid, code in session.execute(
            select(Condition.person_id, Condition.code).where(Condition.person_id.in_(chunk))
        ):
            out[pid].add(code)
    return defaultdict(frozenset, {k: frozenset(v) for k, v in out.items()})


def overrides_for(session: Session, person_ids: Iterable[str]) -> dict[str, list[ThresholdOverride]]:
    out: dict[str, list[ThresholdOverride]] = defaultdict(list)
    for chunk in chunks(person_ids):
        for row in session.scalars(select(ThresholdOverride).where(ThresholdOverride.person_id.in_(chunk))):
            out[row.person_id].append(row)
    return out


def thresholds_for(session: Session, person_ids: Iterable[str]) -> dict[str, rules.Thresholds]:
    """Each person's effective thresholds (defaults where nothing is overridden)."""
    default = rules.Thresholds()
    out: dict[str, rules.Thresholds] = defaultdict(lambda: default)
    for pid, rows in overrides_for(session, person_ids).items():
        try:
            out[pid] = default.with_overrides({r.key: r.value for r in rows})
        except ValueError:  # stored overrides are validated on write; never let one stop alerting
            log.exception("invalid threshold overrides for %s; using defaults", pid)
    return out


# --------------------------------------------------------------------------- the alert book


def _extremity(rule_id: str, value: float | None, inputs: dict) -> float | None:
    """Bigger means further past the threshold."""
    if rule_id == "hf.weight_gain":
        return inputs.get("gain_kg")
    if rule_id == "data.missing":
        return inputs.get("gap_days")
    if value is None:
        return None
    return -value if inputs.get("comparison") == "<" else value


#: called for an active alert whose excursion ended long before a new one (demo history only);
#: returns True if it closed the alert
StaleHandler = Callable[[Alert, datetime], bool]


@dataclass
class AlertBook:
    """The active alerts of some people, keyed by (person, rule): raise new ones or merge."""

    session: Session
    active: dict[tuple[str, str], Alert]
    stale_after: timedelta | None = None
    on_stale: StaleHandler | None = None
    raised: list[Alert] = field(default_factory=list)
    merged: int = 0

    @classmethod
    def load(cls, session: Session, person_ids: Iterable[str], **kw) -> AlertBook:
        active: dict[tuple[str, str], Alert] = {}
        for chunk in chunks(person_ids):
            for a in session.scalars(
                select(Alert).where(Alert.person_id.in_(chunk), Alert.state.in_(ACTIVE_STATES))
            ):
                active[(a.person_id, a.rule_id)] = a
        return cls(session, active, **kw)

    def apply(
        self, person_id: str, f: rules.Finding, seen_at: datetime, opened_at: datetime | None = None
    ) -> Alert:
        key = (person_id, f.rule_id)
        alert = self.active.get(key)
        if (
            alert is not None
            and self.on_stale is not None
            and self.stale_after is not None
            and alert.last_seen_at < seen_at - self.stale_after
            and self.on_stale(alert, seen_at)
        ):
            del self.active[key]
            alert = None
        now = utcnow()
        if alert is None:
            alert = Alert(
                person_id=person_id,
                rule_id=f.rule_id,
                rule_version=f.rule_version,
                severity=str(f.severity),
                severity_rank=rules.severity_rank(f.severity),
                loinc=f.loinc,
                value=f.value,
                message=f.message,
                neutral_message=rules.neutral_message(f.rule_id, f.inputs, f.message),
                inputs=dict(f.inputs),
                state="open",
                snoozed_until=None,
                opened_at=opened_at or seen_at,
                last_seen_at=seen_at,
                updated_at=now,
                version=1,
            )
            self.session.add(alert)
            self.active[key] = alert
            self.raised.append(alert)
            return alert
        if seen_at > alert.last_seen_at:
            alert.last_seen_at = seen_at
        new, old = (
            _extremity(f.rule_id, f.value, f.inputs),
            _extremity(alert.rule_id, alert.value, alert.inputs),
        )
        if new is not None and (old is None or new > old or f.rule_id == "data.missing"):
            alert.value = f.value
            alert.message = f.message
            alert.neutral_message = rules.neutral_message(f.rule_id, f.inputs, f.message)
            alert.inputs = dict(f.inputs)
            alert.rule_version = f.rule_version
        alert.updated_at = now
        self.merged += 1
        return alert


# --------------------------------------------------------------------------- evaluation


def _evaluate_person(
    book: AlertBook,
    person_id: str,
    readings: list[rules.Reading],
    conditions: frozenset[str],
    thresholds: rules.Thresholds,
    recent_weights: list[rules.Reading],
    since: datetime | None = None,
) -> None:
    for r in sorted(readings, key=lambda r: r.at):
        if since is not None and r.at < since:
            continue
        recent = recent_weights if r.loinc == LOINC_WEIGHT else ()
        for finding in rules.evaluate_reading(r, conditions=conditions, thresholds=thresholds, recent=recent):
            book.apply(person_id, finding, r.at)


def evaluate_new_readings(session: Session, by_person: dict[str, list[rules.Reading]], now: datetime) -> int:
    """Run the reading rules over just-stored readings (already in the session). Returns new alerts."""
    people = monitored(session, by_person, now)
    if not people:
        return 0
    conditions = conditions_for(session, people)
    thresholds = thresholds_for(session, people)
    book = AlertBook.load(session, people)
    for pid in people:
        readings = by_person[pid]
        weights: list[rules.Reading] = []
        w_at = [r.at for r in readings if r.loinc == LOINC_WEIGHT]
        if w_at and "heart_failure" in conditions[pid]:
            window = timedelta(days=thresholds[pid].hf_window_days)
            weights = [
                rules.Reading(LOINC_WEIGHT, v, at)
                for v, at in session.execute(
                    select(Observation.value, Observation.effective_at).where(
                        Observation.person_id == pid,
                        Observation.loinc == LOINC_WEIGHT,
                        Observation.effective_at >= min(w_at) - window,
                        Observation.effective_at <= max(w_at),
                    )
                )
            ]
        _evaluate_person(book, pid, readings, conditions[pid], thresholds[pid], weights)
    session.flush()
    return len(book.raised)


def evaluate_missing(session: Session, now: datetime | None = None, *, commit: bool = True) -> int:
    """The missing-data sweep over every monitored daily sender. Returns alerts raised or renewed.

    Run periodically by ``jobs.sweep_missing`` (every ``serve``, or ``clinic-server sweep-missing``).
    """
    now = now or utcnow()
    people = monitored(session, care_consenting(session, now, daily_senders_only=True), now)
    if not people:
        return 0
    thresholds = thresholds_for(session, people)
    last: dict[str, datetime] = {}
    for chunk in chunks(people):
        for pid, at in session.execute(
            select(Observation.person_id, func.max(Observation.effective_at))
            .where(Observation.person_id.in_(chunk), Observation.effective_at <= now)
            .group_by(Observation.person_id)
        ):
            if at is not None:
                last[pid] = at
    silent = [pid for pid, at in last.items() if now - at >= timedelta(days=thresholds[pid].missing_days)]
    if not silent:
        return 0
    book = AlertBook.load(session, silent)
    count = 0
    for pid in sorted(silent):
        at = last[pid]
        times = session.scalars(
            select(Observation.effective_at).where(
                Observation.person_id == pid,
                Observation.effective_at >= at - timedelta(days=7),
                Observation.effective_at < at,
            )
        )
        days = rules.days_with_readings_in_prior_week(times, at)
        th = thresholds[pid]
        finding = rules.evaluate_missing(at, days, now, th)
        if finding is not None:
            book.apply(pid, finding, now, opened_at=min(now, at + timedelta(days=th.missing_days)))
            count += 1
    session.flush()
    if commit:
        session.commit()
    return count


def evaluate_history(
    session: Session,
    now: datetime | None = None,
    *,
    days: int = 14,
    stale_after: timedelta | None = None,
    on_stale: StaleHandler | None = None,
) -> dict[str, int]:
    """Run the rules over the last ``days`` of stored readings, chronologically per person.

    Used after seeding so the demo starts with a realistic queue. With ``on_stale``, an alert whose
    excursion ended more than ``stale_after`` before the next one is handed to it (the demo lets a
    nurse close it) so that separate episodes become separate alerts.
    """
    now = now or utcnow()
    start = now - timedelta(days=days)
    people = monitored(session, care_consenting(session, now), now)
    conditions = conditions_for(session, people)
    thresholds = thresholds_for(session, people)
    book = AlertBook.load(session, people, stale_after=stale_after, on_stale=on_stale)
    max_window = max([3.0] + [thresholds[p].hf_window_days for p in people])
    readings: dict[str, list[rules.Reading]] = defaultdict(list)
    for chunk in chunks(sorted(people)):
        for pid, loinc, value, at in session.execute(
            select(
                Observation.person_id, Observation.loinc, Observation.value, Observation.effective_at
            ).where(
                Observation.person_id.in_(chunk),
                Observation.loinc.in_(RULE_CODES),
                Observation.effective_at >= start - timedelta(days=max_window),
                Observation.effective_at <= now,
            )
        ):
            readings[pid].append(rules.Reading(loinc, value, at))
    for pid in sorted(readings):
        rs = readings[pid]
        weights = [r for r in rs if r.loinc == LOINC_WEIGHT]
        _evaluate_person(book, pid, rs, conditions[pid], thresholds[pid], weights, since=start)
    session.flush()
    if on_stale is not None and stale_after is not None:
        for key, alert in list(book.active.items()):
            if alert.last_seen_at < now - stale_after and on_stale(alert, now):
                del book.active[key]
        session.flush()
    missing = evaluate_missing(session, now, commit=False)
    session.commit()
    return {"alerts_raised": len(book.raised), "readings_merged": book.merged, "missing_data": missing}
