"""Benchmark: the alert queue alone, for a before/after comparison of two checkouts on one database.

    .venv/bin/python bench/bench_queue_ab.py --database-url postgresql+psycopg://... [--runs 40]

Measures the database ``bench/bench_scale.py --build-only`` built (nurse "anna"), with the code of
the checkout this script sits in (copy it into the other checkout to measure that one; run the two
alternately). The real app in-process (httpx ASGITransport, lifespan run, background jobs off), every request
authenticated, every policy answer computed afresh and audited, as in bench_scale.py. Rounds in
random order of:

- first page: ``GET /alerts?state=open&limit=50``
- second page: the same with the first page's cursor
- search: ``GET /alerts?state=open&limit=50&q=given1`` (a name: the path that decides for everyone)
- change poll: ``GET /alerts/changes?since=<a minute ago>``

Prints one JSON object: p50/p95/max wall ms and this process's median CPU ms per call.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clinic_server.api.app import create_app  # noqa: E402
from clinic_server.settings import Settings  # noqa: E402

PASSWORD = "bench-password"  # noqa: S105 - bench_scale.py's throwaway accounts


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


async def measure(url: str, runs: int) -> dict:
    settings = Settings(
        database_url=url,
        secret_key="bench-secret-" + "x" * 40,
        demo=False,
        missing_sweep_minutes=0,
        findings_scan_minutes=0,
        retention_hours=0,
        audit_checkpoint_minutes=0,
    )
    app = create_app(settings)
    times: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench/api/v1", timeout=120
        ) as http,
    ):
        r = await http.post("/auth/login", json={"username": "anna", "password": PASSWORD})
        assert r.status_code == 200, r.text
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        first = (await http.get("/alerts", params={"state": "open", "limit": 50}, headers=headers)).json()
        since = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        calls = {
            "first_page": ("/alerts", {"state": "open", "limit": 50}),
            "second_page": ("/alerts", {"state": "open", "limit": 50, "after": first["next_cursor"]}),
            "search": ("/alerts", {"state": "open", "limit": 50, "q": "given1"}),
            "changes": ("/alerts/changes", {"since": since}),
        }
        shapes = {}
        for name, (path, params) in calls.items():  # warm-up, and what each answer holds
            await http.get(path, params=params, headers=headers)
            body = (await http.get(path, params=params, headers=headers)).json()
            shapes[name] = len(body["items"])
            times[name], cpu[name] = [], []
        rng = random.Random(8)
        for _ in range(runs):
            order = list(calls)
            rng.shuffle(order)
            for name in order:
                path, params = calls[name]
                t, c = time.perf_counter(), time.process_time()
                r = await http.get(path, params=params, headers=headers)
                times[name].append((time.perf_counter() - t) * 1000)
                cpu[name].append((time.process_time() - c) * 1000)
                assert r.status_code == 200, (name, r.text[:300])
    app.state.engine.dispose()
    return {
        name: {
            "items": shapes[name],
            "calls": len(v),
            "p50_ms": round(statistics.median(v), 1),
            "p95_ms": round(pct(v, 95), 1),
            "max_ms": round(max(v), 1),
            "cpu_p50_ms": round(statistics.median(cpu[name]), 1),
        }
        for name, v in times.items()
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--runs", type=int, default=40)
    args = ap.parse_args()
    load = os.getloadavg()[0]
    out = asyncio.run(measure(args.database_url, args.runs))
    out["root"] = str(ROOT)
    out["load_1min"] = [round(load, 2), round(os.getloadavg()[0], 2)]
    out["at"] = datetime.now(UTC).isoformat(timespec="seconds")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
