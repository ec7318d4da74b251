"""Locust users for the load and fault runs (issue 14): nurses, coaches, supervisors and devices.

Not run on its own: ``bench/run_load.py`` (and ``bench/fault_run.py``) seed the database, start
``clinic-server serve --workers 2`` and run this file headless, handing over in the environment:

- ``LOAD_PASSWORD``: the password of every load account (``nurse01``…, ``coach01``…,
  ``supervisor01``…, created by run_load.py);
- ``LOAD_NURSES``, ``LOAD_COACHES``, ``LOAD_SUPERVISORS``, ``LOAD_DEVICES``: how many of each;
- ``LOAD_DEVICE_BATCH``: readings per device post (devices post once a second);
- ``LOAD_LOG``: where to write one JSON line per request made (its ``X-Request-Id``, endpoint,
  status, time, and for writes what the client saw accepted), read afterwards to match every
  request with its audit record and every accepted write with its row.

Every request carries its own ``X-Request-Id`` (the server keeps it in the audit record as
``details.client_asserted.request_id``). Writes that the client retries carry what makes them
idempotent: a meeting save its ``Idempotency-Key``, a device post its readings' ``source_id``;
both are retried, with the same key, after a connection error or a 5xx. Alert actions have no key
and are not retried (the nurse would see the error and look again); their outcome is logged.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
import uuid
from datetime import UTC, datetime

from locust import HttpUser, between, constant, constant_pacing, events, task

PASSWORD = os.environ.get("LOAD_PASSWORD", "load-password-123")
LOG: list[dict] = []
RETRY_PAUSE_S = 1.0
#: a retried write gives up after this long (the fault run's outage is 10 s)
RETRY_FOR_S = 60.0
_device_seq = itertools.count(1)


def _ok(status: int, expected: tuple[int, ...]) -> bool:
    return status in expected


class Api(HttpUser):
    """A signed-in user of the API; every call is logged with its request id."""

    abstract = True
    token: str | None = None
    username = ""

    def call(self, method: str, path: str, name: str, expected=(200,), headers=None, write=None, **kw):
        rid = f"load-{uuid.uuid4().hex}"
        hdrs = {"X-Request-Id": rid, "X-Client-Name": "load-locust", **(headers or {})}
        if self.token:
            hdrs["Authorization"] = f"Bearer {self.token}"
        # logged before it is sent: a request still waiting when the run stops stays in the log
        entry = {"rid": rid, "name": name, "status": 0, "ms": 0.0, "ok": False, "user": self.username,
                 "t": time.time(), "error": "no answer before the run stopped"}  # fmt: skip
        if write:
            entry["write"] = write
        LOG.append(entry)
        t = time.perf_counter()
        with self.client.request(method, path, name=name, headers=hdrs, catch_response=True, **kw) as r:
            ms = (time.perf_counter() - t) * 1000
            status = r.status_code or 0
            good = _ok(status, expected)
            if good:
                r.success()
            else:
                r.failure(f"{status}: {(r.text or str(r.error))[:200]}")
            entry.update(status=status, ms=round(ms, 2), ok=good, t=time.time())
            if good:
                del entry["error"]
            else:
                entry["error"] = (r.text or str(r.error or ""))[:300]
            try:
                body = r.json() if status and r.content else None
            except ValueError:
                body = None
            return status, body, entry

    def login(self) -> None:
        while True:
            status, body, _ = self.call(
                "POST", "/api/v1/auth/login", "POST /auth/login",
                json={"username": self.username, "password": PASSWORD},
            )  # fmt: skip
            if status == 200:
                self.token = body["access_token"]
                return
            time.sleep(RETRY_PAUSE_S)

    def retried_write(self, method, path, name, expected, write, **kw):
        """A write with its idempotency key: retried after a connection error or a 5xx."""
        until = time.monotonic() + RETRY_FOR_S
        attempt = 0
        while True:
            attempt += 1
            status, body, entry = self.call(
                method, path, name, expected, write={**write, "attempt": attempt}, **kw
            )
            if status and status < 500:
                return status, body, entry
            if time.monotonic() > until:
                return status, body, entry
            time.sleep(RETRY_PAUSE_S)


class Nurse(Api):
    """Polls her alert queue's changes every 5 s; now and then opens the queue and acts on an alert."""

    fixed_count = int(os.environ.get("LOAD_NURSES", "30"))
    wait_time = constant(5)
    _n = itertools.count(1)

    def on_start(self):
        self.username = f"nurse{next(Nurse._n):02d}"
        self.login()
        _, body, _ = self.call("GET", "/api/v1/alerts", "GET /alerts", params={"limit": 50})
        self.since = body["server_time"] if body else datetime.now(UTC).isoformat()

    @task(5)
    def poll(self):
        status, body, _ = self.call("GET", "/api/v1/alerts/changes", "GET /alerts/changes",
                                    params={"since": self.since})  # fmt: skip
        if status == 200:
            self.since = body["next_since"]

    @task(1)
    def act(self):
        status, body, _ = self.call("GET", "/api/v1/alerts", "GET /alerts",
                                    params={"limit": 50, "state": "active"})  # fmt: skip
        if status != 200 or not body["items"]:
            return
        alert = random.choice(body["items"][:20])
        if alert["state"] == "open":
            action = {"action": "acknowledge", "expected_version": alert["version"]}
        else:
            action = {"action": "resolve", "expected_version": alert["version"], "note": "Called, all well."}
        # 409: another nurse acted on it first (the queue shows her the new state): not an error
        self.call("POST", f"/api/v1/alerts/{alert['id']}/transition", "POST /alerts/{id}/transition",
                  expected=(200, 409), json=action,
                  write={"kind": "transition", "alert": alert["id"], "to": action["action"]})  # fmt: skip


MEETING_ANSWERS = {
    "physical_activity.everyday": "min_60_89", "exercise.vigorous": "min_30_59", "sitting.daily": "h_8_10",
    "diet.vegetables": "daily_2", "diet.fruit": "daily_1", "diet.fish": "weekly_1",
    "diet.sweets": "weekly_3_6", "alcohol.frequency": "weekly_2_3", "alcohol.typical_quantity": "d_3_4",
    "alcohol.heavy_episodes": "monthly", "tobacco.smoking": "never", "tobacco.snus": "daily",
    "stress.current": "rather_much", "recovery.rested": "sometimes", "sleep.duration": "h_6",
    "sleep.quality": "good", "perceived_health.self_rated": "good", "symptoms.neck_shoulders": "weekly",
    "symptoms.back": "rarely", "symptoms.headache": "monthly", "symptoms.fatigue": "rarely",
    "symptoms.stomach": "never",
}  # fmt: skip


def meeting_body(i: int) -> dict:
    """A whole follow-up meeting, as the meeting screen saves it (as bench/bench_coaching.py)."""
    return {
        "held_on": datetime.now(UTC).date().isoformat(),
        "kind": "follow_up",
        "measurements": {"height_cm": 176.0, "weight_kg": 78.0 + i % 7, "waist_cm": 88.0,
                         "systolic": 124.0, "diastolic": 80.0, "heart_rate": 62.0},
        "questionnaire": {"questionnaire_id": "imr-health-profile", "version": 1, "answers": MEETING_ANSWERS},
        "fitness_test": {"protocol": "ekblom-bak-2016", "watts_low": 30, "hr_low": 96, "watts_high": 130,
                         "hr_high": 138 + i % 5},
        "notes": "Load run meeting: talked about sleep and cycling to work.",
    }  # fmt: skip


class Coach(Api):
    """Saves a whole meeting every 10–20 s (with a new Idempotency-Key), reads a history now and then."""

    fixed_count = int(os.environ.get("LOAD_COACHES", "10"))
    wait_time = between(10, 20)
    _n = itertools.count(1)

    def on_start(self):
        self.username = f"coach{next(Coach._n):02d}"
        self.login()
        _, body, _ = self.call("GET", "/api/v1/coaching/participants", "GET /coaching/participants")
        self.people = [p["id"] for p in (body or {"items": []})["items"]
                       if not p.get("missing") and not p.get("objected_to_profiling")]  # fmt: skip
        self.i = 0

    @task(4)
    def save(self):
        if not self.people:
            return
        self.i += 1
        pid, key = random.choice(self.people), f"load-{uuid.uuid4().hex}"
        status, body, entry = self.retried_write(
            "POST", f"/api/v1/coaching/participants/{pid}/meetings",
            "POST /coaching/participants/{id}/meetings",
            expected=(201, 200), json=meeting_body(self.i), headers={"Idempotency-Key": key},
            write={"kind": "meeting", "key": key, "person": pid},
        )  # fmt: skip
        if status in (200, 201):
            entry["write"]["meeting_id"] = body["id"]

    @task(1)
    def history(self):
        if self.people:
            pid = random.choice(self.people)
            self.call("GET", f"/api/v1/coaching/participants/{pid}/meetings",
                      "GET /coaching/participants/{id}/meetings")  # fmt: skip


class Supervisor(Api):
    """Filters the audit log every 10–20 s: by a nurse, by outcome, by action, routine folded."""

    fixed_count = int(os.environ.get("LOAD_SUPERVISORS", "5"))
    wait_time = between(10, 20)
    _n = itertools.count(1)

    def on_start(self):
        self.username = f"supervisor{next(Supervisor._n):02d}"
        self.login()

    @task
    def filter_log(self):
        params = random.choice(
            [
                {"username": f"nurse{random.randint(1, 30):02d}"},
                {"outcome": "denied"},
                {"action": "acknowledge"},
                {"routine": "fold"},
                {},
            ]
        )
        self.call("GET", "/api/v1/audit/events", "GET /audit/events", params={"limit": 100, **params})


class Device(Api):
    """A home device posting a batch of readings once a second (idempotent on each source_id)."""

    fixed_count = int(os.environ.get("LOAD_DEVICES", "25"))
    wait_time = constant_pacing(1)
    batch = int(os.environ.get("LOAD_DEVICE_BATCH", "4"))
    _n = itertools.count(1)

    def on_start(self):
        self.n = next(Device._n)
        self.username = f"device{self.n:02d}"
        self.key = f"load-device-key-{self.n:02d}"

    @task
    def post(self):
        now = datetime.now(UTC).isoformat()
        items = []
        for _ in range(self.batch):
            seq = next(_device_seq)
            loinc, unit, value = random.choice(
                [("8480-6", "mm[Hg]", random.choice([124, 132, 141, 150, 185])),
                 ("8462-4", "mm[Hg]", random.choice([78, 84, 92])),
                 ("8867-4", "/min", random.choice([58, 66, 74, 88, 135])),
                 ("29463-7", "kg", round(random.uniform(70, 90), 1))]
            )  # fmt: skip
            items.append({"source_id": f"load-{self.n}-{seq}", "loinc": loinc, "unit": unit,
                          "value": value, "effective_at": now})  # fmt: skip
        status, body, entry = self.retried_write(
            "POST", "/api/v1/ingest/observations", "POST /ingest/observations", expected=(200,),
            json={"observations": items}, headers={"X-Device-Key": self.key},
            write={"kind": "readings", "device": self.n, "sources": [i["source_id"] for i in items]},
        )  # fmt: skip
        if status == 200:
            entry["write"].update(stored=body["stored"], duplicates=body["duplicates"],
                                    rejected=body["rejected"])  # fmt: skip


@events.quitting.add_listener
def _write_log(environment, **_kw):
    path = os.environ.get("LOAD_LOG")
    if path:
        with open(path, "w") as f:
            for entry in LOG:
                f.write(json.dumps(entry) + "\n")
