"""Demo mode: home devices for the demo patients, a realistic starting queue, and a live feed.

``prepare_demo`` runs once after ``seed_demo``: one device per patient (keys derived from the seed,
only their hashes stored), the alert rules over the last two weeks of seeded readings (older
episodes closed by the patient's nurse with a note, as a real team would have), and the
missing-data sweep. ``DemoFeed`` is the background thread the app runs in demo mode: every few
seconds (``Settings.feed_seconds``, ``CLINIC_FEED_SECONDS``, default 5) a few monitored patients
send new plausible readings
through the same ingestion function devices use, now and then with an excursion, so new alerts
appear while the app is open.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import uuid
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session, sessionmaker

from clinic_server.audit.chain import Who, system_request
from clinic_server.audit.scope import AuditScope
from clinic_server.db import utcnow
from clinic_server.db.models import Alert, AlertEvent, Condition, Consent, Device, Observation, User
from clinic_server.demo.seed import DEFAULT_SEED
from clinic_server.jobs.runner import Periodic
from clinic_server.services import alert_engine as alerting
from clinic_server.services import ingest
from clinic_tui.api.schemas import IngestResult
from clinic_tui.domain.codes import (
    LOINC_DIASTOLIC,
    LOINC_GLUCOSE,
    LOINC_HEART_RATE,
    LOINC_SPO2,
    LOINC_SYSTOLIC,
    LOINC_WEIGHT,
    MEASUREMENTS,
)
from clinic_tui.domain.roles import Purpose

DEVICE_LABEL = "Home monitor (demo)"
DEFAULT_INTERVAL = 5.0
#: a device write names no user
DEVICE = Who(None, None, None, None)
#: an episode that ended this long before the next one was handled by the nurse (history only)
HANDLED_AFTER = timedelta(days=3)
#: of the episodes still open at the end, those this recent may be left acknowledged (in progress)
IN_PROGRESS = timedelta(days=5)

RESOLVE_NOTES = [
    "Called the patient: repeat measurement within limits. No action needed.",
    "Patient had missed the morning dose; advised to take medication as prescribed. Follow up tomorrow.",
    "Spoke with the patient: measured right after exercise. Re-measured at rest, normal.",
    "Cuff placement was wrong; showed the patient again by phone. New reading normal.",
    "Reviewed the trend with the patient; feels well, no symptoms. Continue monitoring.",
]
ESCALATE_NOTES = [
    "Escalated to the physician on duty; patient booked for a visit tomorrow.",
    "Patient reports dizziness; escalated to the doctor, medication review requested.",
]
#: who the demo's nurses escalate to (chosen by alert id: the random sequence stays as it was)
ESCALATE_TO = ["Dr. Lind, physician on duty", "Dr. Ek, cardiology"]


# --------------------------------------------------------------------------- devices


def demo_device_key(person_id: str, seed: int = DEFAULT_SEED) -> str:
    """The demo device key of a patient: derived from the seed, so nothing secret is stored."""
    digest = hmac.new(f"clinic-demo-device:{seed}".encode(), person_id.encode(), hashlib.sha256).digest()
    return ingest.KEY_PREFIX + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def ensure_demo_devices(session: Session, seed: int = DEFAULT_SEED) -> int:
    """One demo device per patient (a person with a condition) that has none. Returns how many were made."""
    patients = session.scalars(select(Condition.person_id).distinct())
    have = set(session.scalars(select(Device.person_id)))
    rows = []
    for pid in sorted(set(patients) - have):
        key = demo_device_key(pid, seed)
        rows.append(
            {
                "id": hashlib.sha256(f"device:{seed}:{pid}".encode()).hexdigest()[:32],
                "person_id": pid,
                "label": DEVICE_LABEL,
                "key_hash": ingest.hash_key(key),
                "active": True,
                "created_at": utcnow(),
            }
        )
    if rows:
        session.execute(insert(Device), rows)
        session.flush()
    return len(rows)


# --------------------------------------------------------------------------- starting queue


class _DemoNurses:
    """Closes an old episode the way the patient's nurse would have: acknowledged, then resolved."""

    def __init__(self, session: Session, now: datetime, rng: random.Random):
        self.session = session
        self.now = now
        self.rng = rng
        nurses: dict[str, list[str]] = defaultdict(list)
        for uid, org in session.execute(
            select(User.id, User.organization_id)
            .where(User.role == "nurse", User.is_active.is_(True))
            .order_by(User.id)
        ):
            nurses[org].append(uid)
        self.by_person: dict[str, list[str]] = defaultdict(list)
        for pid, org, cats in session.execute(
            select(Consent.person_id, Consent.organization_id, Consent.categories)
            .where(
                Consent.purpose == "care",
                Consent.status == "active",
                Consent.valid_from <= now,
                or_(Consent.valid_until.is_(None), Consent.valid_until > now),
            )
            .order_by(Consent.person_id, Consent.organization_id)
        ):
            if "vitals" in cats:
                self.by_person[pid].extend(nurses.get(org, []))

    def __call__(self, alert: Alert, before: datetime) -> bool:
        nurses = self.by_person.get(alert.person_id)
        if not nurses:
            return False
        rng = self.rng
        nurse = rng.choice(nurses)
        if alert.id is None:
            self.session.flush()
        ack_at = alert.last_seen_at + timedelta(minutes=rng.randint(12, 180))
        done_at = ack_at + timedelta(minutes=rng.randint(10, 150))
        done_at = min(done_at, before - timedelta(minutes=1))
        ack_at = min(ack_at, done_at)
        if before >= self.now and alert.last_seen_at > self.now - IN_PROGRESS and rng.random() < 0.5:
            # the last pass: some recent episodes are still being worked on (acknowledged only)
            self.session.add(
                AlertEvent(
                    alert_id=alert.id, from_state="open", to_state="acknowledged", user_id=nurse, at=ack_at
                )
            )
            alert.state, alert.version, alert.updated_at = "acknowledged", (alert.version or 1) + 1, ack_at
            self.session.flush()
            return True
        escalate = alert.severity == "high" and rng.random() < 0.2
        final = "escalated" if escalate else "resolved"
        note = rng.choice(ESCALATE_NOTES if escalate else RESOLVE_NOTES)
        self.session.add_all(
            [
                AlertEvent(
                    alert_id=alert.id, from_state="open", to_state="acknowledged", user_id=nurse, at=ack_at
                ),
                AlertEvent(
                    alert_id=alert.id,
                    from_state="acknowledged",
                    to_state=final,
                    user_id=nurse,
                    at=done_at,
                    note=note,
                    recipient=ESCALATE_TO[alert.id % len(ESCALATE_TO)] if escalate else None,
                ),
            ]
        )
        alert.state = final
        alert.version = (alert.version or 1) + 2
        alert.updated_at = done_at
        self.session.flush()
        return True


def prepare_demo(
    session: Session, *, seed: int = DEFAULT_SEED, now: datetime | None = None
) -> dict[str, int]:
    """After ``seed_demo``: devices, the starting alert queue, the missing-data sweep. Commits."""
    now = now or utcnow()
    devices = ensure_demo_devices(session, seed)
    handler = _DemoNurses(session, now, random.Random(seed))
    counts = alerting.evaluate_history(session, now, days=14, stale_after=HANDLED_AFTER, on_stale=handler)
    return {"devices": devices, **counts}


# --------------------------------------------------------------------------- live feed


def _round(loinc: str, value: float) -> float:
    mt = MEASUREMENTS[loinc]
    return float(round(min(max(value, mt.plausible_min), mt.plausible_max), mt.decimals))


class DemoFeed(Periodic):
    """Background thread: every ``interval`` seconds a few monitored patients send readings."""

    name = "demo-feed"

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        interval: float | None = None,
        rng: random.Random | None = None,
        excursion_chance: float = 0.15,
    ):
        super().__init__(interval if interval is not None else DEFAULT_INTERVAL)
        self.sessions = sessions
        self.rng = rng or random.Random()
        self.excursion_chance = excursion_chance

    def step(self) -> None:
        self.tick()

    # one round ------------------------------------------------------------------------------

    def tick(
        self, now: datetime | None = None, *, excursion: bool | None = None, patients: int | None = None
    ) -> list[IngestResult]:
        """Post one round of readings; ``excursion`` forces (True) or forbids (False) an excursion."""
        now = now or utcnow()
        results = []
        with self.sessions() as s:
            devices = s.execute(
                select(Device.id, Device.person_id).where(
                    Device.active.is_(True), Device.label == DEVICE_LABEL
                )
            ).all()
            watched = alerting.monitored(s, [pid for _, pid in devices], now)
            pool = sorted((d, p) for d, p in devices if p in watched)
            if not pool:
                return []
            k = patients or self.rng.randint(1, 3)
            for device_id, pid in self.rng.sample(pool, min(k, len(pool))):
                exc = self.rng.random() < self.excursion_chance if excursion is None else excursion
                items = self._readings(s, pid, now, exc)
                if not items:
                    continue
                device = s.get(Device, device_id)
                scope = AuditScope(
                    s, DEVICE, system_request("demo-feed"), action="ingest", resource_type="observation",
                    purpose=Purpose.CARE,
                )  # fmt: skip
                results.append(ingest.ingest(scope, device, items, now=now))
                scope.close_and_commit()
        return results

    def _readings(self, s: Session, person_id: str, now: datetime, excursion: bool) -> list[dict]:
        rng = self.rng
        history: dict[str, list[float]] = defaultdict(list)
        for loinc, value in s.execute(
            select(Observation.loinc, Observation.value)
            .where(
                Observation.person_id == person_id,
                Observation.loinc.in_(alerting.RULE_CODES),
                Observation.effective_at >= now - timedelta(days=30),
            )
            .order_by(Observation.effective_at.desc())
            .limit(200)
        ):
            if len(history[loinc]) < 14:
                history[loinc].append(value)
        if not history:
            return []
        conditions = {c for (c,) in s.execute(select(Condition.code).where(Condition.person_id == person_id))}
        at = now - timedelta(seconds=rng.randint(1, 50))
        values: dict[str, float] = {}
        for loinc, vs in history.items():
            mean = sum(vs) / len(vs)
            spread = {
                LOINC_WEIGHT: 0.3,
                LOINC_SYSTOLIC: 5,
                LOINC_DIASTOLIC: 3,
                LOINC_HEART_RATE: 4,
                LOINC_GLUCOSE: 0.6,
                LOINC_SPO2: 0.8,
            }[loinc]
            values[loinc] = mean + rng.gauss(0, spread)
        # stay inside the limits unless this round is an excursion
        if LOINC_SYSTOLIC in values:
            values[LOINC_SYSTOLIC] = min(values[LOINC_SYSTOLIC], 156)
        if LOINC_DIASTOLIC in values:
            values[LOINC_DIASTOLIC] = min(values[LOINC_DIASTOLIC], 95, values.get(LOINC_SYSTOLIC, 999) - 25)
        if LOINC_HEART_RATE in values:
            values[LOINC_HEART_RATE] = min(max(values[LOINC_HEART_RATE], 48), 118)
        if LOINC_GLUCOSE in values:
            values[LOINC_GLUCOSE] = min(max(values[LOINC_GLUCOSE], 4.2), 12.5)
        if LOINC_SPO2 in values:
            values[LOINC_SPO2] = min(max(values[LOINC_SPO2], 89.5 if "copd" in conditions else 93), 99)
        if excursion:
            kinds = [c for c in (LOINC_SYSTOLIC, LOINC_GLUCOSE, LOINC_SPO2, LOINC_HEART_RATE) if c in values]
            if LOINC_WEIGHT in values and "heart_failure" in conditions:
                kinds.append(LOINC_WEIGHT)
            kind = rng.choice(kinds) if kinds else None
            if kind == LOINC_SYSTOLIC:
                values[LOINC_SYSTOLIC] = rng.uniform(181, 196)
                if LOINC_DIASTOLIC in values:
                    values[LOINC_DIASTOLIC] = rng.uniform(96, 112)
            elif kind == LOINC_GLUCOSE:
                values[LOINC_GLUCOSE] = rng.choice((2.6, 2.8, 3.4, 15.2, 16.8))
            elif kind == LOINC_SPO2:
                values[LOINC_SPO2] = rng.uniform(84, 87.5)
            elif kind == LOINC_HEART_RATE:
                values[LOINC_HEART_RATE] = rng.uniform(132, 145)
            elif kind == LOINC_WEIGHT:
                values[LOINC_WEIGHT] = max(history[LOINC_WEIGHT]) + rng.uniform(2.2, 3.0)
        return [
            {
                "source_id": f"demo-{uuid.uuid4().hex}",
                "loinc": loinc,
                "unit": MEASUREMENTS[loinc].unit,
                "value": _round(loinc, v),
                "effective_at": at.isoformat(),
            }
            for loinc, v in sorted(values.items())
        ]
