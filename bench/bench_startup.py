"""Start-up benchmark: launch to login screen of ``clinic-tui``, in English and in Swedish, against a
bare Textual app (issues 2 and 13).

The three run side by side in one run, interleaved (bare, clinic en, clinic sv, bare, ...) so that
machine noise hits them equally, each in a fresh detached tmux session of 120x40 on a private tmux
server. A run's clock starts right before ``tmux new-session`` and stops when ``tmux capture-pane
-p`` (polled every ~5 ms) first shows the app's ready text: "bare app ready" for
``bench/bare_app.py``, "clinic-tui · sign in" / "clinic-tui · logga in" for ``clinic-tui`` (its login
screen, which appears at once while the embedded backend still boots in the background: backend
readiness is NOT part of the figure).

Each app run has its own empty config directory (``XDG_CONFIG_HOME``): English has no settings file
(the default, as on a first start); Swedish has the file F2 writes, ``language = "sv"`` and nothing
else, which is how a Swedish user starts the app.

``CLINIC_DATA_DIR`` points at a temporary directory seeded once before timing
(``clinic-server seed-demo``), so the first-run seed never distorts a run. After each run the
session is killed and the script checks that nothing started by that run (the app, or its
``clinic_server serve --embedded`` child) is left running; stragglers are killed and reported.

    .venv/bin/python bench/bench_startup.py [--runs 15] [--warmup 2] [--out bench/results/startup.json]

Prints a markdown table and writes the figures to ``bench/results/startup.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
BIN = VENV_BIN if (VENV_BIN / "python").exists() else Path(sys.executable).parent
PYTHON = BIN / "python"
WIDTH, HEIGHT = 120, 40
GOAL = 1.3
MARKER_VAR = "CLINIC_BENCH_RUN"  # set in each run's environment: finds every process a run started
EMBEDDED_PATTERN = "clinic_server serve --embedded"

APPS = {
    "bare": {
        "label": "bare Textual app (one Static)",
        "argv": [str(PYTHON), str(ROOT / "bench" / "bare_app.py")],
        "ready": "bare app ready",
    },
    "clinic": {
        "label": "clinic-tui, English (login screen)",
        "argv": [str(BIN / "clinic-tui")],
        "ready": "clinic-tui · sign in",
        "settings": None,
    },
    "clinic-sv": {
        "label": "clinic-tui, Swedish (login screen)",
        "argv": [str(BIN / "clinic-tui")],
        "ready": "clinic-tui · logga in",
        "settings": 'language = "sv"\n',
    },
}
CLINIC_APPS = ("clinic", "clinic-sv")


def config_home(root: Path, app: str) -> Path:
    """The app's own ``XDG_CONFIG_HOME``: its settings file as ``APPS`` says (none: no file)."""
    home = root / f"config-{app}"
    (home / "clinic-tui").mkdir(parents=True, exist_ok=True)
    text = APPS[app].get("settings")
    if text is not None:
        (home / "clinic-tui" / "config.toml").write_text(text)
    return home


class Tmux:
    """A private tmux server (its own socket, no user config) so other tmux users are untouched."""

    def __init__(self) -> None:
        self.exe = shutil.which("tmux") or "tmux"
        self.socket = f"clinic-bench-{os.getpid()}"
        self.socket_path: str | None = None

    def cmd(self, *args: str) -> list[str]:
        return [self.exe, "-L", self.socket, "-f", "/dev/null", *args]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(self.cmd(*args), capture_output=True, text=True, check=check)

    def start_server(self) -> None:
        # A keeper session keeps the server up, so no run pays for starting the tmux server.
        self.run("new-session", "-d", "-s", "keeper", "-x", str(WIDTH), "-y", str(HEIGHT), "sleep 86400")
        self.run("set-option", "-g", "default-terminal", "tmux-256color")
        self.run("set-option", "-g", "remain-on-exit", "off")
        self.socket_path = self.run("display-message", "-p", "#{socket_path}").stdout.strip() or None

    def kill_server(self) -> None:
        self.run("kill-server", check=False)
        if self.socket_path:  # the server leaves its socket file behind
            Path(self.socket_path).unlink(missing_ok=True)

    def version(self) -> str:
        return subprocess.run([self.exe, "-V"], capture_output=True, text=True).stdout.strip()


def processes_with_token(token: str) -> dict[int, str]:
    """Every live process whose environment holds this run's token: pid -> command line."""
    found: dict[int, str] = {}
    needle = f"{MARKER_VAR}={token}".encode()
    me = os.getpid()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as f:
                env = f.read().split(b"\0")
            if needle not in env:
                continue
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                if f.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                    continue  # a zombie is already dead, only not yet reaped by its parent
        except OSError:
            continue
        found[int(entry.name)] = cmdline
    return found


def leftover_backends(data_dir: Path) -> list[int]:
    """``pgrep -f 'clinic_server serve --embedded'``, narrowed to the ones on this benchmark's data dir

    (other people's embedded backends, e.g. from a test run, are not ours to judge or kill).
    """
    out = subprocess.run(["pgrep", "-f", EMBEDDED_PATTERN], capture_output=True, text=True).stdout
    needle = f"CLINIC_DATA_DIR={data_dir}".encode()
    ours = []
    for pid in out.split():
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    ours.append(int(pid))
        except OSError:
            continue
    return ours


def reap(token: str, grace: float) -> tuple[dict, list[dict]]:
    """Wait up to ``grace`` s for the run's processes to exit; kill and return the ones that did not.

    Returns what was still alive right after ``kill-session`` (and how long it took to go away on
    its own) and the stragglers, which were SIGKILLed.
    """
    start = time.monotonic()
    deadline = start + grace
    first = None
    while True:
        left = processes_with_token(token)
        if first is None:
            first = {
                "processes": len(left),
                "cmdlines": sorted(left.values()),
                "embedded_backends": sum(EMBEDDED_PATTERN in cmd for cmd in left.values()),
            }
        if not left:
            first["gone_after_ms"] = round((time.monotonic() - start) * 1000, 1)
            return first, []
        if time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    stragglers = [
        {"pid": pid, "cmdline": cmd, "embedded_backend": EMBEDDED_PATTERN in cmd} for pid, cmd in left.items()
    ]
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    first["gone_after_ms"] = None
    return first, stragglers


def one_run(
    tmux: Tmux,
    app: str,
    session: str,
    env: dict[str, str],
    poll: float,
    timeout: float,
    then_wait_for: str | None = None,
) -> dict:
    """One launch: seconds from ``tmux new-session`` to the ready text; then kill and reap.

    ``then_wait_for``: after the ready text, keep polling (untimed) until this text shows too before
    killing, e.g. to check that a running embedded backend goes away with the app.
    """
    spec = APPS[app]
    token = uuid.uuid4().hex
    env_args: list[str] = []
    for key, value in {**env, MARKER_VAR: token}.items():
        env_args += ["-e", f"{key}={value}"]
    command = shlex.join(spec["argv"])
    new_session = tmux.cmd(
        "new-session", "-d", "-s", session, "-x", str(WIDTH), "-y", str(HEIGHT), *env_args, command
    )
    capture = tmux.cmd("capture-pane", "-p", "-t", f"={session}:")
    ready = spec["ready"]
    screen = ""
    elapsed = None
    error = None
    t0 = time.monotonic()
    subprocess.run(new_session, check=True)
    while True:
        cp = subprocess.run(capture, capture_output=True, text=True)
        now = time.monotonic()
        if cp.returncode != 0:
            error = f"capture-pane failed (the app exited?): {cp.stderr.strip()}"
            break
        screen = cp.stdout
        if elapsed is None and ready in screen:
            elapsed = now - t0
        if elapsed is not None and (then_wait_for is None or then_wait_for in screen):
            break
        if now - t0 > timeout:
            error = f"{ready if elapsed is None else then_wait_for!r} not seen within {timeout} s"
            break
        time.sleep(poll)
    tmux.run("kill-session", "-t", f"={session}", check=False)
    after_kill, stragglers = reap(token, grace=3.0)
    result = {"app": app, "seconds": elapsed, "after_kill": after_kill, "stragglers": stragglers}
    if error:
        result["error"] = error
        result["last_screen"] = screen
    return result


def seed(data_dir: Path) -> None:
    env = {**os.environ, "CLINIC_DATA_DIR": str(data_dir)}
    env.pop("CLINIC_DATABASE_URL", None)
    url = f"sqlite:///{data_dir / 'clinic.sqlite3'}"
    subprocess.run(
        [str(BIN / "clinic-server"), "--database-url", url, "seed-demo"],
        env=env,
        check=True,
        capture_output=True,
    )


def importtime_total(statement: str, repeat: int = 7) -> float:
    """Median over ``repeat`` runs of the summed top-level cumulative times of ``-X importtime``, in ms."""
    totals = []
    for _ in range(repeat):
        cp = subprocess.run(
            [str(PYTHON), "-X", "importtime", "-c", statement], capture_output=True, text=True, check=True
        )
        total = 0
        for line in cp.stderr.splitlines():
            if not line.startswith("import time:") or "cumulative" in line:
                continue
            _self, cumulative, name = line.removeprefix("import time:").split("|", 2)
            if not name[1:].startswith(" "):  # top level: no nesting indent after the separator space
                total += int(cumulative)
        totals.append(total / 1000)
    return statistics.median(totals)


def summary(samples: list[float]) -> dict:
    ordered = sorted(samples)
    p90 = ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]  # nearest rank
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 1),
        "p90_ms": round(p90 * 1000, 1),
        "min_ms": round(ordered[0] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
        "samples_ms": [round(s * 1000, 1) for s in samples],
    }


def nproc() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=15, help="timed runs of each app (default 15)")
    p.add_argument("--warmup", type=int, default=2, help="untimed warm-up runs of each app (default 2)")
    p.add_argument("--poll-ms", type=float, default=5.0, help="capture-pane poll interval (default 5 ms)")
    p.add_argument("--timeout", type=float, default=30.0, help="give up on a run after this many s")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "startup.json")
    p.add_argument("--no-importtime", action="store_true", help="skip the -X importtime context figures")
    args = p.parse_args(argv)

    if shutil.which("tmux") is None:
        print("bench_startup: tmux is required", file=sys.stderr)
        return 2
    tmux = Tmux()
    data_dir = Path(tempfile.mkdtemp(prefix="clinic-bench-data-"))
    env = {"CLINIC_DATA_DIR": str(data_dir)}
    order = ["bare", *CLINIC_APPS]
    envs = {app: {**env, "XDG_CONFIG_HOME": str(config_home(data_dir, app))} for app in order}
    results: dict[str, list[float]] = {app: [] for app in order}
    failures: list[dict] = []
    stragglers: list[dict] = []
    after_kill: list[dict] = []
    backend_check: dict | None = None
    try:
        print(f"seeding the demo database in {data_dir} ...", file=sys.stderr)
        seed(data_dir)
        tmux.start_server()
        total = args.warmup + args.runs
        for i in range(total):
            timed = i >= args.warmup
            for app in order:
                r = one_run(tmux, app, f"run{i:03d}-{app}", envs[app], args.poll_ms / 1000, args.timeout)
                after_kill.append({"run": i, "app": app, **r["after_kill"]})
                for s in r["stragglers"]:
                    stragglers.append({"run": i, "app": app, "timed": timed, **s})
                if "error" in r:
                    failures.append({"run": i, "app": app, "error": r["error"], "screen": r["last_screen"]})
                    print(f"  {app:9} run {i}: FAILED: {r['error']}", file=sys.stderr)
                    continue
                tag = "" if timed else " (warm-up, not counted)"
                print(f"  {app:9} run {i}: {r['seconds'] * 1000:7.1f} ms{tag}", file=sys.stderr)
                if timed:
                    results[app].append(r["seconds"])
        # Untimed: the timed runs are killed the moment the login screen shows, usually before the
        # backend child exists; here the backend is up ("Connected to ...") when the session is killed.
        r = one_run(
            tmux,
            "clinic",
            "backend-cleanup",
            envs["clinic"],
            0.05,
            args.timeout,
            then_wait_for="Connected to",
        )
        backend_check = {"error": r.get("error"), **r["after_kill"], "stragglers": r["stragglers"]}
        if "error" in r:
            print(f"backend clean-up check: {r['error']}\n{r['last_screen']}", file=sys.stderr)
        for s in r["stragglers"]:
            stragglers.append({"run": "backend-cleanup", "app": "clinic", "timed": False, **s})
    finally:
        tmux.kill_server()
        final_leftovers = leftover_backends(data_dir)
        for pid in final_leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(data_dir, ignore_errors=True)

    if failures:
        for f in failures:
            print(f"\nrun {f['run']} {f['app']}: {f['error']}\n{f['screen']}", file=sys.stderr)
    if not all(results.values()):
        print("bench_startup: no successful runs", file=sys.stderr)
        return 1

    stats = {app: summary(results[app]) for app in order}
    ratios = {app: round(stats[app]["median_ms"] / stats["bare"]["median_ms"], 2) for app in CLINIC_APPS}
    # per round: each clinic run over the bare run just before it (the noise of that moment shared)
    paired = {
        app: round(statistics.median(c / b for b, c in zip(results["bare"], results[app], strict=False)), 2)
        for app in CLINIC_APPS
    }
    ratio = max(ratios.values())
    importtime = None
    if not args.no_importtime:
        importtime = {
            "python -c pass": importtime_total("pass"),
            "import textual.app": importtime_total("import textual.app"),
            "import clinic_tui.app": importtime_total("import clinic_tui.app"),
            "import clinic_tui.settings": importtime_total("import clinic_tui.settings"),
        }

    table = [
        "| app | runs | median (ms) | p90 (ms) | min (ms) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for app in order:
        s = stats[app]
        table.append(
            f"| {APPS[app]['label']} | {len(results[app])} | {s['median_ms']:.0f} | {s['p90_ms']:.0f} "
            f"| {s['min_ms']:.0f} |"
        )
    print("\n".join(table))
    print()
    for app in CLINIC_APPS:
        verdict = "meets" if ratios[app] <= GOAL else "misses"
        print(
            f"ratio of medians ({app} / bare): {ratios[app]:.2f}x — {verdict} the {GOAL}x goal "
            f"(median of per-round ratios: {paired[app]:.2f}x)"
        )
    if importtime:
        for stmt, ms in importtime.items():
            print(f"-X importtime total, {stmt}: {ms:.0f} ms")
    leftover = [s for s in stragglers if s["embedded_backend"]]
    with_child = [a for a in after_kill if a["embedded_backends"]]
    gone = [a["gone_after_ms"] for a in after_kill if a["gone_after_ms"] is not None]
    cleanup = {
        "runs": len(after_kill),
        "runs_with_backend_child_at_kill": len(with_child),
        "max_ms_until_all_gone": max(gone) if gone else None,
        "stragglers_killed": len(stragglers),
    }
    print(
        f"after kill-session: {len(with_child)} of {len(after_kill)} runs had an embedded backend child "
        f"alive; every run's processes were gone within {cleanup['max_ms_until_all_gone']} ms"
        if not stragglers
        else f"after kill-session: {len(with_child)} of {len(after_kill)} runs had an embedded backend child"
    )
    if backend_check:
        print(
            f"backend clean-up check (kill-session with the backend up): "
            f"{backend_check['embedded_backends']} backend child alive at kill, all gone after "
            f"{backend_check['gone_after_ms']} ms"
            + (f" ({backend_check['error']})" if backend_check["error"] else "")
        )
    print(f"pgrep after the benchmark: {len(final_leftovers)} embedded backend(s) on our data dir left")
    print(
        f"stragglers killed after a run: {len(stragglers)} "
        f"({len(leftover)} of them '{EMBEDDED_PATTERN}' children)"
    )

    record = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "nproc": nproc(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "textual": metadata.version("textual"),
        "tmux": tmux.version(),
        "terminal": f"{WIDTH}x{HEIGHT}",
        "runs": args.runs,
        "warmup_runs": args.warmup,
        "poll_ms": args.poll_ms,
        "order": "interleaved " + "/".join(order),
        "ready_text": {app: APPS[app]["ready"] for app in order},
        "results": stats,
        "ratio_of_medians": ratios,
        "median_of_paired_ratios": paired,
        "goal": GOAL,
        "meets_goal": ratio <= GOAL,
        "failures": len(failures),
        "cleanup": cleanup,
        "backend_cleanup_check": backend_check,
        "stragglers": stragglers,
        "embedded_backends_left_at_end": len(final_leftovers),
        "importtime_ms": importtime,
        "command": ".venv/bin/python bench/bench_startup.py"
        + (f" --runs {args.runs}" if args.runs != 15 else ""),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
