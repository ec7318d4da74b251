"""Benchmark: the alert queue in a real terminal — login to queue, filter keystrokes, trend chart (issue 4).

    .venv/bin/python bench/bench_queue_tui.py [--runs 10] [--chart-runs 10] [--poll-ms 3]
                                              [--db PATH] [--size 120x40]

Builds the issue-4 data set with ``bench_alerts.build`` (2,000 patients, a year of daily readings,
one patient with hourly heart rate, 10,000 open alerts; ~20 s) unless ``--db`` names one already
built, starts ``clinic-server serve`` on it (a plain serve: no demo feed, nothing changes under the
benchmark) and drives ``clinic-tui --server http://127.0.0.1:PORT`` in detached tmux sessions on a
private tmux server, reading the screen with ``tmux capture-pane -p`` every ``--poll-ms``:

1. login → queue: a fresh app per run; the clock starts right before ``send-keys Enter`` on the
   password field and stops when the queue's status line ("N alerts shown") is on screen;
2. filter keystroke → redraw: with the filter box open, one character (or Backspace) per step; the
   clock stops when the visible rows (severity + patient, in order) and the status line equal what
   the API returns for the new filter text (fetched untimed beforehand);
3. trend chart: ``o`` on the queue → the 30-day chart's title is on screen, then ``4`` → the title
   reads "last 365 days"; also on the one patient with hourly heart rate for a year.

Nothing is subtracted: each figure is keystroke → screen, including the tmux round trip and the
poll interval (the resolution). Prints a markdown table and writes bench/results/queue_tui.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import random
import re
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from importlib import metadata
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import bench_alerts  # noqa: E402 - the issue-4 data set generator
from bench_startup import BIN, MARKER_VAR, Tmux, nproc, reap  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "queue_tui.json"
from clinic_tui.views.alerts import PAGE as QUEUE_PAGE  # noqa: E402 - the page the app asks for

USER = "anna"  # a nurse at "Norra": 1,200 of the 2,000 generated patients consent to it
PASSWORD = bench_alerts.PASSWORD
GOALS_MS = {"login_to_queue": 1000, "filter_keystroke": 100, "chart_1y": 300}
# the app never finds a remembered session: every run logs in (this machine has no keyring anyway)
APP_ENV = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
KEYRING_TOAST = "No OS keyring is available"

# filter: typed untimed first, then each of these is one timed keystroke ("BSpace" = Backspace)
FILTER_BASE = "family"
FILTER_KEYS = ["1", "2", "3", "4", "BSpace", "BSpace", "BSpace", "BSpace",
               "9", "9", "8", "BSpace", "BSpace", "BSpace",
               "5", "0", "7", "BSpace", "BSpace", "BSpace"]  # fmt: skip
DENSE_FILTER = "given0"  # only "Given0 Family0": the patient with a year of hourly heart rate
DENSE_PERSON = f"{0:032x}"

ROW = re.compile(r"^\s*(HIGH|MEDIUM|LOW)\s+(\S.*?)\s{2,}")


class Failed(Exception):
    pass


# ---------------------------------------------------------------------------- screen


class Pane:
    """One tmux session running clinic-tui; polls its screen."""

    def __init__(self, tmux: Tmux, name: str, server_url: str, size: tuple[int, int], poll: float):
        self.tmux, self.name, self.poll = tmux, name, poll
        self.token = uuid.uuid4().hex
        env_args: list[str] = []
        for key, value in {**APP_ENV, MARKER_VAR: self.token}.items():
            env_args += ["-e", f"{key}={value}"]
        command = shlex.join([str(BIN / "clinic-tui"), "--server", server_url])
        w, h = size
        tmux.run("new-session", "-d", "-s", name, "-x", str(w), "-y", str(h), *env_args, command)
        self.target = f"={name}:"
        self._capture = tmux.cmd("capture-pane", "-p", "-t", self.target)
        self.captures = 0
        self.capture_s = 0.0
        self.last = ""

    def screen(self) -> str:
        t = time.monotonic()
        cp = subprocess.run(self._capture, capture_output=True, text=True)
        self.capture_s += time.monotonic() - t
        self.captures += 1
        if cp.returncode != 0:
            raise Failed(f"capture-pane failed (the app exited?): {cp.stderr.strip()}")
        self.last = cp.stdout
        return cp.stdout

    def keys(self, *keys: str, literal: bool = False) -> None:
        self.tmux.run("send-keys", "-t", self.target, *(["-l"] if literal else []), *keys)

    def wait(self, pred, timeout: float = 30.0, what: str = "") -> tuple[float, str]:
        """Poll until ``pred(screen)``; seconds since the call (untimed helper)."""
        t0 = time.monotonic()
        while True:
            s = self.screen()
            if pred(s):
                return time.monotonic() - t0, s
            if time.monotonic() - t0 > timeout:
                raise Failed(f"{what or 'condition'} not seen within {timeout} s\n{s}")
            time.sleep(self.poll)

    def timed(self, send, marks: dict, timeout: float = 30.0) -> dict[str, float]:
        """Keystroke → screen: ``send()`` then poll; ``marks`` name -> predicate; returns name -> s.

        The clock starts right before ``send`` and each mark's time is the first poll at which its
        predicate held; polling stops when every mark is seen.
        """
        seen: dict[str, float] = {}
        t0 = time.monotonic()
        send()
        while True:
            s = self.screen()
            now = time.monotonic()
            for name, pred in marks.items():
                if name not in seen and pred(s):
                    seen[name] = now - t0
            if len(seen) == len(marks):
                return seen
            if now - t0 > timeout:
                missing = [m for m in marks if m not in seen]
                raise Failed(f"{missing} not seen within {timeout} s\n{s}")
            time.sleep(self.poll)

    def close(self) -> dict:
        self.tmux.run("kill-session", "-t", self.target, check=False)
        after_kill, stragglers = reap(self.token, grace=3.0)
        return {"session": self.name, **after_kill, "stragglers": stragglers}


def queue_parts(screen: str) -> tuple[list[tuple[str, str]], int, str] | None:
    """(leading visible rows as (severity, patient), lines available for rows, status line)."""
    lines = screen.split("\n")
    head = next((i for i, ln in enumerate(lines) if "Sev" in ln and "Patient" in ln and "State" in ln), None)
    status = next(
        (i for i, ln in enumerate(lines) if "alerts shown" in ln or "No active alerts." in ln), None
    )
    if head is None or status is None or status < head:
        return None
    rows = []
    for ln in lines[head + 1 : status]:
        m = ROW.match(ln)
        if not m:
            break
        rows.append((m.group(1), m.group(2).strip()))
    return rows, status - head - 1, lines[status].strip()


def queue_region(screen: str) -> str:
    """The table rows and the status line (not the filter box, which echoes keys at once)."""
    lines = screen.split("\n")
    head = next((i for i, ln in enumerate(lines) if "Sev" in ln and "Patient" in ln), None)
    status = next(
        (i for i, ln in enumerate(lines) if "alerts shown" in ln or "No active alerts." in ln), None
    )
    return "\n".join(lines[head : status + 1]) if head is not None and status is not None else ""


# ---------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(url: str, port: int, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")}
    env["CLINIC_SECRET_KEY"] = "bench-queue-tui-" + "k" * 40
    # no missing-data sweep: it would raise alerts (and use a core) while the queue is measured
    argv = [str(BIN / "clinic-server"), "--database-url", url, "serve", "--host", "127.0.0.1",
            "--port", str(port), "--log-level", "warning", "--missing-sweep-minutes", "0"]  # fmt: skip
    proc = subprocess.Popen(
        argv, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Failed(f"clinic-server exited ({proc.returncode}); see {log}:\n{log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/info", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise Failed("clinic-server did not answer within 60 s")


def stop_server(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=5)


def leftover_servers(db_path: Path, port: int) -> list[int]:
    """``pgrep -f clinic-server``, narrowed to this run's database file or port."""
    out = subprocess.run(["pgrep", "-af", "clinic.server"], capture_output=True, text=True).stdout
    ours = []
    for line in out.splitlines():
        pid, _, cmd = line.partition(" ")
        if str(db_path) in cmd or f"--port {port}" in cmd:
            ours.append(int(pid))
    return ours


class Api:
    """What the queue should show for a filter text: the same request the app makes, untimed."""

    def __init__(self, base: str):
        self.http = httpx.Client(base_url=base + "/api/v1", timeout=60)
        r = self.http.post("/auth/login", json={"username": USER, "password": PASSWORD})
        r.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {r.json()['access_token']}"

    def expected(self, text: str) -> dict:
        q = text.strip() or None
        params = {"state": "active", "limit": QUEUE_PAGE, **({"q": q} if q else {})}
        r = self.http.get("/alerts", params=params)
        r.raise_for_status()
        body = r.json()
        n = len(body["items"])
        more = " · more load as you scroll" if body["next_cursor"] else ""
        return {
            "text": text,
            "rows": [(a["severity"].upper(), a["label"]) for a in body["items"]],
            "status": f"{n} alert{'s' if n != 1 else ''} shown{more}" if n else "No active alerts.",
            "counts": body["counts"],
            "person_ids": [a["person_id"] for a in body["items"]],
        }


# lines between the table header and the status line that never hold a row (the table's horizontal
# scrollbar at 120 columns); measured on the settled unfiltered queue by calibrate()
NON_ROW_LINES = 0


def calibrate(pane: Pane, unfiltered: dict) -> int:
    global NON_ROW_LINES
    pane.wait(lambda s: (queue_parts(s) or ([], 0, ""))[2] == unfiltered["status"], what="the queue")
    time.sleep(0.5)
    rows, room, _ = queue_parts(pane.screen())
    if len(rows) >= len(unfiltered["rows"]) or room - len(rows) not in (0, 1):
        raise Failed(f"cannot calibrate the table geometry: {len(rows)} rows in {room} lines")
    NON_ROW_LINES = room - len(rows)
    return NON_ROW_LINES


def api_alone(api: Api, filter_texts: list[str], typical: str, dense: str, repeat: int = 5) -> dict:
    """The same requests the screens make, over the same HTTP, without the app: for attribution."""

    def ms(call) -> float:
        t = time.perf_counter()
        r = call()
        r.raise_for_status()
        return (time.perf_counter() - t) * 1000

    def med(call) -> float:
        return round(statistics.median(ms(call) for _ in range(repeat)), 1)

    http = api.http
    creds = {"username": USER, "password": PASSWORD}
    queue = {"state": "active", "limit": QUEUE_PAGE}
    out = {
        "login_post": med(lambda: http.post("/auth/login", json=creds)),
        "queue_first_page": med(lambda: http.get("/alerts", params=queue)),
        "queue_filtered": [
            round(ms(lambda t=t: http.get("/alerts", params={**queue, "q": t})), 1) for t in filter_texts
        ],
    }
    for name, pid in (("typical", typical), ("hourly", dense)):
        out[f"{name}_patient"] = med(lambda pid=pid: http.get(f"/patients/{pid}"))
        out[f"{name}_patient_alerts"] = med(
            lambda pid=pid: http.get(f"/patients/{pid}/alerts", params={"limit": 200})
        )
        for rng in ("30d", "1y"):
            params = {"loinc": bench_alerts.LOINC_HEART_RATE, "range": rng, "points": 116}
            out[f"{name}_series_{rng}"] = med(
                lambda pid=pid, params=params: http.get(f"/patients/{pid}/observations", params=params)
            )
    return out


def shows(expected: dict):
    """Predicate: the status line is the expected one and the visible rows are a window of the expected
    result that fills the table (or runs to its end).

    A window, not the top: the queue keeps the cursor on the alert it was on, so when that alert is
    still in the new result the table scrolls to it.
    """
    want = expected["rows"]

    def pred(screen: str) -> bool:
        parts = queue_parts(screen)
        if parts is None:
            return False
        rows, room, status = parts
        if status != expected["status"]:
            return False
        if not want:
            return not rows
        capacity = room - NON_ROW_LINES
        if not rows or (len(rows) < capacity and len(rows) < len(want)):
            return False
        return any(
            want[k : k + len(rows)] == rows and (len(rows) == capacity or k + len(rows) == len(want))
            for k, row in enumerate(want)
            if row == rows[0]
        )

    return pred


# ---------------------------------------------------------------------------- measurements


def login(pane: Pane) -> dict[str, float]:
    """Untimed up to the password; then Enter → queue (timed)."""
    pane.wait(lambda s: "Connected to clinic-server" in s, what="login screen connected")
    pane.keys(USER, literal=True)
    pane.keys("Enter")
    time.sleep(0.2)
    pane.keys(PASSWORD, literal=True)
    dots = "•" * len(PASSWORD)
    _, s = pane.wait(lambda s: dots in s, timeout=10, what="password typed")
    if f"{USER}{PASSWORD[:4]}" in s:
        raise Failed("the password went into the username field")
    time.sleep(0.1)
    return pane.timed(
        lambda: pane.keys("Enter"),
        {
            "queue_screen": lambda s: "Alerts —" in s,  # login answered, queue screen mounted
            "rows": lambda s: "alerts shown" in s and " HIGH " in s,  # first page drawn, counts shown
        },
    )


def filter_runs(pane: Pane, api: Api) -> list[dict]:
    states, text = [FILTER_BASE], FILTER_BASE
    for key in FILTER_KEYS:
        text = text[:-1] if key == "BSpace" else text + key
        states.append(text)
    expect = {t: api.expected(t) for t in dict.fromkeys(states)}
    pane.keys("/", literal=True)
    pane.wait(lambda s: "Filter: patient" in s, timeout=10, what="filter box")
    pane.keys(FILTER_BASE, literal=True)
    pane.wait(shows(expect[FILTER_BASE]), timeout=30, what=f"filter {FILTER_BASE!r}")
    time.sleep(0.5)
    out = []
    for key, before_text, after_text in zip(FILTER_KEYS, states[:-1], states[1:], strict=True):
        before, after = expect[before_text], expect[after_text]
        room = queue_parts(pane.screen())[1]
        if before["rows"][:room] == after["rows"][:room] and before["status"] == after["status"]:
            raise Failed(f"{before_text!r} → {after_text!r} does not change the visible rows")
        region = queue_region(pane.screen())
        marks = pane.timed(
            lambda key=key: pane.keys(key, literal=key != "BSpace"),
            {"changed": lambda s, region=region: queue_region(s) != region, "result": shows(after)},
            timeout=15,
        )
        time.sleep(0.3)
        stable = shows(after)(pane.screen())
        out.append({"key": "⌫" if key == "BSpace" else key, "from": before_text, "to": after_text,
                    "first_change_ms": round(marks["changed"] * 1000, 1),
                    "result_ms": round(marks["result"] * 1000, 1),
                    "status": after["status"], "stable_after_300ms": stable})  # fmt: skip
        print(f"  filter {before_text!r:>13} → {after_text!r:<13} {marks['result'] * 1000:7.1f} ms "
              f"(first change {marks['changed'] * 1000:.1f} ms)", file=sys.stderr)  # fmt: skip
    return out


def chart_run(pane: Pane) -> dict:
    """From the queue: ``o`` → 30-day chart; ``4`` → one-year chart; Esc back to the queue."""
    o = pane.timed(
        lambda: pane.keys("o"),
        {
            "identity": lambda s: "born " in s,
            "chart_30d": lambda s: "· last 30 days" in s,
            "note_30d": lambda s: "· last 30 days" in s and "readings in range" in s,
        },
    )
    time.sleep(0.3)
    note_before = next(ln for ln in pane.screen().split("\n") if "readings in range" in ln)
    y = pane.timed(
        lambda: pane.keys("4"),
        {
            "chart_1y": lambda s: "· last 365 days" in s,
            "note_1y": lambda s: (
                "· last 365 days" in s
                and any("readings in range" in ln and ln != note_before for ln in s.split("\n"))
            ),
        },
    )
    note = next(ln for ln in pane.screen().split("\n") if "readings in range" in ln).strip()
    patient = next(ln for ln in pane.screen().split("\n") if "born " in ln).split("   ")[0].strip()
    pane.keys("Escape")
    pane.wait(lambda s: "alerts shown" in s and "Sev" in s, what="queue after Esc")
    time.sleep(0.3)
    ms = {k: round(v * 1000, 1) for k, v in {**o, **y}.items()}
    return {"patient": patient, "note_1y_text": note, **ms}


# ---------------------------------------------------------------------------- report


def pct(values: list[float], p: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * p / 100) - 1)] if ordered else float("nan")


def stats(values: list[float]) -> dict:
    return {"n": len(values), "median_ms": round(statistics.median(values), 1),
            "p90_ms": round(pct(values, 90), 1), "p95_ms": round(pct(values, 95), 1),
            "min_ms": round(min(values), 1), "max_ms": round(max(values), 1)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10, help="login → queue runs, a fresh app each (10)")
    ap.add_argument("--chart-runs", type=int, default=10, help="o → chart → 4 runs (10)")
    ap.add_argument("--dense-runs", type=int, default=5, help="the same on the hourly patient (5)")
    ap.add_argument("--poll-ms", type=float, default=3.0, help="capture-pane poll interval (3 ms)")
    ap.add_argument("--size", default="120x40", help="terminal size (120x40)")
    ap.add_argument("--db", type=Path, help="use (or build and keep) the data set at this path")
    ap.add_argument("--patients", type=int, default=2000)
    ap.add_argument("--alerts", type=int, default=10_000)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    size = tuple(int(x) for x in args.size.lower().split("x"))
    poll = args.poll_ms / 1000

    tmp = Path(tempfile.mkdtemp(prefix="clinic-bench-queue-"))
    db = args.db or tmp / "queue_tui.sqlite3"
    url = f"sqlite:///{db}"
    built = None
    if not db.exists():
        print(f"building the data set in {db} ...", file=sys.stderr)
        built = bench_alerts.build(db, args.patients, args.alerts, random.Random(4))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    tmux = Tmux()
    server = None
    pane: Pane | None = None
    cleanup: list[dict] = []
    load_before = os.getloadavg()
    login_samples: list[dict] = []
    warmup: dict | None = None
    filters: list[dict] = []
    charts: list[dict] = []
    dense: list[dict] = []
    capture_calls, capture_s = 0, 0.0
    alone: dict = {}
    error = None
    try:
        server = start_server(url, port, tmp / "server.log")
        tmux.start_server()
        api = Api(base)
        unfiltered = api.expected("")

        def fresh(name: str) -> Pane:
            return Pane(tmux, name, base, size, poll)

        def done(p: Pane) -> None:
            nonlocal capture_calls, capture_s
            capture_calls += p.captures
            capture_s += p.capture_s
            cleanup.append(p.close())

        # 1. login → queue, a fresh app each run (one untimed warm-up run first)
        for i in range(args.runs + 1):
            pane = fresh(f"login{i:02d}")
            marks = login(pane)
            sample = {k: round(v * 1000, 1) for k, v in marks.items()}
            if i == 0:
                warmup = sample
            else:
                login_samples.append(sample)
            tag = " (warm-up, not counted)" if i == 0 else ""
            print(f"  login run {i}: queue screen {sample['queue_screen']:6.1f} ms, "
                  f"rows {sample['rows']:6.1f} ms{tag}", file=sys.stderr)  # fmt: skip
            done(pane)
            pane = None

        # 2 + 3. one more fresh app: filter keystrokes, then charts
        pane = fresh("interact")
        login(pane)
        # the "no keyring" notice covers part of the table for 8 s after login: let it go first
        pane.wait(lambda s: KEYRING_TOAST not in s, timeout=20, what="the keyring notice to go")
        calibrate(pane, unfiltered)
        pane.wait(shows(unfiltered), what="the unfiltered queue")
        filters = filter_runs(pane, api)
        pane.keys("Escape")  # clears the filter, hides the box, focuses the table
        pane.wait(shows(unfiltered), what="the unfiltered queue after Esc")
        time.sleep(0.5)
        for i in range(args.chart_runs):
            if i:
                pane.keys("Down")
                time.sleep(0.3)
            r = chart_run(pane)
            charts.append(r)
            print(f"  chart run {i}: o → 30 d chart {r['chart_30d']:6.1f} ms, "
                  f"4 → 1 y {r['chart_1y']:6.1f} ms ({r['patient']})", file=sys.stderr)  # fmt: skip
        if args.dense_runs:
            pane.keys("/", literal=True)
            pane.wait(lambda s: "Filter: patient" in s, timeout=10, what="filter box")
            pane.keys(DENSE_FILTER, literal=True)
            pane.wait(shows(api.expected(DENSE_FILTER)), what=f"filter {DENSE_FILTER!r}")
            pane.keys("Enter")  # focus back on the table
            time.sleep(0.5)
            for i in range(args.dense_runs):
                r = chart_run(pane)
                dense.append(r)
                print(f"  dense run {i}: o → 30 d chart {r['chart_30d']:6.1f} ms, "
                      f"4 → 1 y {r['chart_1y']:6.1f} ms ({r['note_1y_text']})", file=sys.stderr)  # fmt: skip
        done(pane)
        pane = None
        # untimed by the screen: the same requests without the app, once no app is polling
        alone = api_alone(api, [f["to"] for f in filters], unfiltered["person_ids"][0], DENSE_PERSON)
    except Failed as exc:
        error = str(exc)
        print(f"bench_queue_tui: FAILED: {exc}", file=sys.stderr)
    finally:
        if pane is not None:
            cleanup.append(pane.close())
        tmux.kill_server()
        stop_server(server)
        left = leftover_servers(db, port)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if args.db is None:
            db.unlink(missing_ok=True)
            for suffix in ("-wal", "-shm"):
                Path(str(db) + suffix).unlink(missing_ok=True)
        server_log = (tmp / "server.log").read_text(errors="replace") if (tmp / "server.log").exists() else ""
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()
    load_after = os.getloadavg()
    if error:
        if server_log.strip():
            print(server_log[-3000:], file=sys.stderr)
        return 1

    rows_ms = [s["rows"] for s in login_samples]
    filt_ms = [f["result_ms"] for f in filters]
    o_ms = [c["chart_30d"] for c in charts]
    y_ms = [c["chart_1y"] for c in charts]
    results = {
        "login_to_queue": stats(rows_ms),
        "login_to_queue_screen": stats([s["queue_screen"] for s in login_samples]),
        "filter_keystroke": stats(filt_ms),
        "filter_first_change": stats([f["first_change_ms"] for f in filters]),
        "open_patient_chart_30d": stats(o_ms),
        "chart_1y": stats(y_ms),
        "chart_1y_note": stats([c["note_1y"] for c in charts]),
    }
    if dense:
        results["dense_open_patient_chart_30d"] = stats([c["chart_30d"] for c in dense])
        results["dense_chart_1y"] = stats([c["chart_1y"] for c in dense])
    ms_per_capture = capture_s / capture_calls * 1000 if capture_calls else float("nan")

    def row(label, key, goal_key=None, p="p90"):
        s = results[key]
        goal = GOALS_MS.get(goal_key) if goal_key else None
        verdict = ""
        if goal is not None:
            verdict = f"< {goal:,} ms: {'met' if s[p + '_ms'] < goal else 'missed'} ({p})"
        return (f"| {label} | {s['n']} | {s['median_ms']:.0f} | {s[p + '_ms']:.0f} ({p}) | {s['min_ms']:.0f} "
                f"| {s['max_ms']:.0f} | {verdict} |")  # fmt: skip

    table = [
        "| measurement (keystroke → screen) | n | median (ms) | p90 / p95 (ms) | min | max | goal |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
        row("Enter on password → queue rows + counts visible", "login_to_queue", "login_to_queue"),
        row("  of which: Enter → queue screen shown (login answered)", "login_to_queue_screen"),
        row("filter keystroke → rows + status equal the API result", "filter_keystroke",
            "filter_keystroke", "p95"),
        row("  filter keystroke → first change of the rows", "filter_first_change", p="p95"),
        row("`o` on the queue → 30-day chart title visible", "open_patient_chart_30d", "chart_1y"),
        row("`4` → chart title \"last 365 days\"", "chart_1y", "chart_1y"),
        row("  `4` → one-year readings note updated", "chart_1y_note"),
    ]  # fmt: skip
    if dense:
        table += [
            row("hourly patient: `o` → 30-day chart", "dense_open_patient_chart_30d", "chart_1y"),
            row('hourly patient: `4` → "last 365 days"', "dense_chart_1y", "chart_1y"),
        ]
    print("\n".join(table))
    print(f"\npoll interval {args.poll_ms} ms; one capture-pane call took {ms_per_capture:.1f} ms on average "
          f"(resolution ≈ {args.poll_ms + ms_per_capture:.0f} ms)")  # fmt: skip
    print(f"load average (1/5/15 min) before {load_before[0]:.2f}/{load_before[1]:.2f}/{load_before[2]:.2f}, "
          f"after {load_after[0]:.2f}/{load_after[1]:.2f}/{load_after[2]:.2f}; nproc {nproc()}")  # fmt: skip
    stragglers = [s for c in cleanup for s in c["stragglers"]]
    print(
        f"app sessions closed: {len(cleanup)}, stragglers killed: {len(stragglers)}; "
        f"clinic-server processes left on {db.name}/port {port}: {len(left)}"
    )

    record = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "nproc": nproc(),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in load_after],
        "machine": platform.machine(),
        "python": platform.python_version(),
        "textual": metadata.version("textual"),
        "tmux": tmux.version(),
        "terminal": args.size,
        "poll_ms": args.poll_ms,
        "mean_capture_pane_ms": round(ms_per_capture, 2),
        "dataset": {
            "patients": args.patients,
            "open_alerts": args.alerts,
            "observations": built["observations"] if built else None,
            "user": USER,
            "visible_open_alerts": sum(unfiltered["counts"].values()),
        },  # fmt: skip
        "runs": {
            "login": args.runs,
            "login_warmup": 1,
            "filter_keystrokes": len(filters),
            "chart": args.chart_runs,
            "dense_chart": args.dense_runs,
        },  # fmt: skip
        "goals_ms": GOALS_MS,
        "results": results,
        "api_alone_ms": alone,
        "samples": {
            "login": login_samples,
            "login_warmup": warmup,
            "filter": filters,
            "chart": charts,
            "dense_chart": dense,
        },  # fmt: skip
        "cleanup": {
            "sessions": len(cleanup),
            "stragglers": stragglers,
            "max_ms_until_gone": max((c["gone_after_ms"] or 0) for c in cleanup) if cleanup else None,
            "clinic_server_left": len(left),
        },  # fmt: skip
        "table": table,
        "command": ".venv/bin/python bench/bench_queue_tui.py",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
