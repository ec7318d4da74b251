"""``clinic-server``: serve, migrate, seed-demo, create-user, audit verify, findings scan, link-user;
the people's commands (person, consent, participants, employer, integration, subject, retention) are
in ``cli_rights``."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import socket
import sys
import threading

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic_server.settings import Settings, describe_error


def _engine(settings: Settings):
    from clinic_server.db import make_engine

    return make_engine(settings.database_url)


def cmd_migrate(settings: Settings, _args) -> int:
    from clinic_server.db.migrate import upgrade

    upgrade(_engine(settings))
    print("database is at the latest schema")
    return 0


def _seed_if_empty(engine) -> bool:
    from clinic_server.db.models import Organization
    from clinic_server.demo.seed import seed_demo

    with Session(engine) as s:
        if s.scalar(select(Organization.id).limit(1)) is not None:
            return False
        seed_demo(s)
        from clinic_server.demo.feed import prepare_demo
        from clinic_server.demo.monitoring import seed_monitoring

        prepare_demo(s)  # demo devices and the starting alert queue
        seed_monitoring(s)  # weeks of audited routine work, with improper accesses planted in it
        return True


def cmd_seed_demo(settings: Settings, _args) -> int:
    from clinic_server.db.migrate import upgrade
    from clinic_server.demo.seed import seed_demo

    engine = _engine(settings)
    upgrade(engine)
    with Session(engine) as s:
        try:
            counts = seed_demo(s)
        except RuntimeError as exc:
            print(f"clinic-server: {exc}", file=sys.stderr)
            return 1
        from clinic_server.demo.feed import prepare_demo

        counts.update(prepare_demo(s))  # demo devices and the starting alert queue
        from clinic_server.demo.monitoring import seed_monitoring

        story = seed_monitoring(s)  # weeks of audited routine work, with improper accesses planted in it
        counts.update(audit_records=story.records, planted_cases=len(story.planted))
    print("demo data seeded: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    from clinic_server.demo.accounts import describe

    print(describe())
    return 0


def cmd_create_user(settings: Settings, args) -> int:
    import pyotp

    from clinic_server.db.models import Organization, User
    from clinic_server.services.security import hash_password

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Repeat password: "):
            print("clinic-server: the passwords differ; nothing was created", file=sys.stderr)
            return 2
    if len(password) < 12:
        print("clinic-server: a password needs at least 12 characters; nothing was created", file=sys.stderr)
        return 2
    engine = _engine(settings)
    with Session(engine) as s:
        org = s.scalar(select(Organization).where(Organization.name == args.organization))
        if org is None:
            if not args.create_organization:
                print(
                    f"clinic-server: no organization named {args.organization!r} "
                    "(add --create-organization KIND to create it); nothing was created",
                    file=sys.stderr,
                )
                return 2
            org = Organization(name=args.organization, kind=args.create_organization)
            s.add(org)
            s.flush()
        if s.scalar(select(User).where(User.username == args.username.lower())) is not None:
            print(
                f"clinic-server: user {args.username!r} already exists; nothing was created", file=sys.stderr
            )
            return 2
        secret = pyotp.random_base32() if args.totp else None
        s.add(
            User(
                username=args.username.lower(),
                display_name=args.display_name or args.username,
                role=args.role,
                organization_id=org.id,
                password_hash=hash_password(password),
                totp_secret=secret,
            )
        )
        s.commit()
    print(f"created {args.role} {args.username!r} in {args.organization}")
    if secret:
        uri = pyotp.TOTP(secret).provisioning_uri(name=args.username, issuer_name="clinic-tui")
        print(f"TOTP enabled. Add this to the user's authenticator app (shown once):\n{uri}")
    return 0


def cmd_create_device(settings: Settings, args) -> int:
    from clinic_server.services.ingest import create_device

    with Session(_engine(settings)) as s:
        try:
            device, key = create_device(s, args.person_id, args.label)
        except LookupError as exc:
            print(f"clinic-server: {exc}; nothing was created", file=sys.stderr)
            return 2
        device_id = device.id
        s.commit()
    print(f"created device {device_id} ({args.label}) for person {args.person_id}")
    print("Device key (shown once; only its hash is stored — put it in the device's X-Device-Key header):")
    print(key)
    return 0


def cmd_audit_verify(settings: Settings, args) -> int:
    import time

    from clinic_server.audit import checkpoint, verify

    workers = args.workers if args.workers else min(os.cpu_count() or 1, 8)
    public_key = None
    if getattr(args, "public_key", None):
        try:
            public_key = checkpoint.load_public(args.public_key)
        except ValueError as exc:
            print(f"clinic-server: --public-key: {exc}", file=sys.stderr)
            return 2
    elif (own := checkpoint.configured_key(settings)) is not None:
        public_key = own.public_key()
    engine = _engine(settings)
    started = time.perf_counter()
    try:
        with engine.connect() as conn:
            result = verify(conn, workers=workers, public_key=public_key)
    finally:
        engine.dispose()
    elapsed = time.perf_counter() - started
    print(result.describe())
    if result.ok and result.checked and elapsed > 0:
        print(f"({elapsed:.2f} s, {result.checked / elapsed:,.0f} records/s)")
    return 0 if result.ok else 1


def cmd_audit_checkpoint(settings: Settings, _args) -> int:
    from clinic_server.audit.checkpoint import configured_key
    from clinic_server.db import make_sessionmaker
    from clinic_server.jobs.audit_checkpoint import make_checkpoint

    engine = _engine(settings)
    try:
        print(make_checkpoint(make_sessionmaker(engine), configured_key(settings)))
    finally:
        engine.dispose()
    return 0


def cmd_audit_public_key(settings: Settings, _args) -> int:
    from clinic_server.audit.checkpoint import configured_key, public_text

    key = configured_key(settings)
    if key is None:
        print("clinic-server: no signing key: set CLINIC_AUDIT_SIGNING_KEY", file=sys.stderr)
        return 1
    print(public_text(key))
    return 0


def cmd_sweep_missing(settings: Settings, _args) -> int:
    from clinic_server.db import make_sessionmaker
    from clinic_server.jobs.missing_data import sweep_missing

    engine = _engine(settings)
    try:
        outcome = sweep_missing(make_sessionmaker(engine))
    finally:
        engine.dispose()
    print(f"missing-data sweep: {outcome.summary()}")
    return 0


def cmd_flush_failures(settings: Settings, _args) -> int:
    from clinic_server.db import make_sessionmaker
    from clinic_server.jobs.failure_tally import flush_failures

    engine = _engine(settings)
    try:
        seqs = flush_failures(make_sessionmaker(engine))
    finally:
        engine.dispose()
    print(f"unauthenticated failures: {len(seqs)} finished minute(s) recorded")
    return 0


def cmd_findings_scan(settings: Settings, args) -> int:
    from clinic_server.db import make_sessionmaker
    from clinic_server.jobs.findings import scan_findings
    from clinic_server.services.findings.identity import scan_key

    engine = _engine(settings)
    try:
        sessions = make_sessionmaker(engine)
        with sessions() as s:
            key = scan_key(settings, s)
        run = scan_findings(sessions, key, from_start=args.from_start)
    finally:
        engine.dispose()
    if not run.ran:
        print(f"findings scan: {run.summary()}", file=sys.stderr)
        return 1
    print(f"findings scan: {run.summary()}")
    if key is None:
        print(
            "note: no identity key (CLINIC_IDENTITY_KEY or the OS keyring): the relation rule compared "
            "no one with their own identity"
        )
    return 0


def cmd_link_user(settings: Settings, args) -> int:
    """Link a user to their own personnummer, surname and address (stored as keyed hashes only)."""
    from clinic_server.db.models import User
    from clinic_server.services.findings.identity import configured_key, link_user

    lines = sys.stdin.read().splitlines() if args.stdin else None

    def ask(prompt: str, i: int) -> str:
        if lines is not None:
            return lines[i].strip() if i < len(lines) else ""
        return input(prompt).strip()

    pnr = ask("Personnummer (empty: none): ", 0)
    family = ask("Surname (empty: none): ", 1)
    address = ask("Home address (empty: none): ", 2)
    key = configured_key(settings, create=True)
    if key is None:
        print(
            "clinic-server: no identity key: set CLINIC_IDENTITY_KEY (shared by every server process) or "
            "run where the OS keyring works; nothing was stored",
            file=sys.stderr,
        )
        return 2
    engine = _engine(settings)
    try:
        with Session(engine) as s:
            user = s.scalar(select(User).where(User.username == args.username.lower()))
            if user is None:
                print(f"clinic-server: no user {args.username!r}; nothing was stored", file=sys.stderr)
                return 2
            try:
                link_user(
                    s, key, user.id, personnummer_value=pnr or None, family_name=family, address=address
                )
            except ValueError as exc:
                print(f"clinic-server: personnummer: {exc}; nothing was stored", file=sys.stderr)
                return 2
            s.commit()
    finally:
        engine.dispose()
    print(f"linked {args.username!r} to their own identity (keyed hashes only)")
    return 0


def _watch_parent() -> None:
    """Embedded mode: our stdin is a pipe from clinic-tui; EOF means it is gone, so go too."""

    def watch():
        try:
            while sys.stdin.buffer.read(1024):
                pass
        finally:
            os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _say(event: dict) -> None:
    print(json.dumps(event), flush=True)


#: how long an idle keep-alive connection stays open. uvicorn's default (5 s) equals the interval
#: the alert queue polls at (and httpx's own idle limit), so a poll could be sent on a connection
#: the server was closing that instant and fail with "connection reset" (seen in bench/run_load.py);
#: longer than a load balancer's usual idle timeout (60 s), so the balancer closes first, never us
KEEP_ALIVE_SECONDS = 75


def cmd_serve(settings: Settings, args) -> int:
    import uvicorn

    from clinic_server.api.app import create_app
    from clinic_server.db.migrate import upgrade

    if args.embedded:
        _watch_parent()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        engine = _engine(settings)
        _say({"event": "migrating"})
        upgrade(engine)
        _say({"event": "seeding"})
        _seed_if_empty(engine)
        engine.dispose()
        app = create_app(settings)
        # the app names this backend (e.g. its keyring entry) by the database it serves
        _say({"event": "ready", "port": sock.getsockname()[1], "database": settings.database_url})
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, timeout_keep_alive=KEEP_ALIVE_SECONDS
        )
        uvicorn.Server(config).run(sockets=[sock])
        return 0
    if args.workers < 1:
        print("clinic-server: --workers must be 1 or more", file=sys.stderr)
        return 2
    if args.migrate:
        upgrade(_engine(settings))
    tls = {}
    if args.certfile or args.keyfile:
        if not (args.certfile and args.keyfile):
            print("clinic-server: --certfile and --keyfile go together", file=sys.stderr)
            return 2
        tls = {"ssl_certfile": args.certfile, "ssl_keyfile": args.keyfile}
    elif not _loopback(args.host):
        print(
            f"clinic-server: serving plain http on {args.host}: put a TLS-terminating proxy in front, or "
            "give --certfile and --keyfile (clients refuse http:// to anything but loopback)",
            file=sys.stderr,
        )
    common = {
        "host": args.host,
        "port": args.port,
        "log_level": args.log_level,
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        **tls,
    }
    if args.workers == 1:
        uvicorn.run(create_app(settings), **common)
        return 0
    # N processes, each building the app from the same settings, handed over in the environment
    # (never a file): the one signing key, so a token from one process is good at every other
    os.environ.update(
        {
            "CLINIC_DATABASE_URL": settings.database_url,
            "CLINIC_SECRET_KEY": settings.secret_key,
            "CLINIC_DEMO": "1" if settings.demo else "0",
            "CLINIC_MISSING_SWEEP_MINUTES": str(settings.missing_sweep_minutes),
            "CLINIC_RETENTION_HOURS": str(settings.retention_hours),
            "CLINIC_FINDINGS_SCAN_MINUTES": str(settings.findings_scan_minutes),
        }
    )
    uvicorn.run("clinic_server.api.app:create_app", factory=True, workers=args.workers, **common)
    return 0


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="clinic-server", description="Backend API of clinic-tui.")
    p.add_argument(
        "--database-url",
        help="SQLAlchemy URL (default: $CLINIC_DATABASE_URL, else a SQLite file in the user data directory)",
    )
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the API server")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--log-level", default="info")
    s.add_argument("--migrate", action="store_true", help="apply migrations before serving")
    s.add_argument(
        "--demo", action="store_true", help="demo mode: list the demo accounts on the login screen"
    )
    s.add_argument(
        "--missing-sweep-minutes",
        type=float,
        metavar="MIN",
        help="minutes between missing-data sweeps (default: $CLINIC_MISSING_SWEEP_MINUTES, else 15; 0: off)",
    )
    s.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="API processes sharing the database and the signing key (jobs still run once per interval)",
    )
    s.add_argument("--certfile", metavar="PEM", help="TLS certificate (chain) to serve https with")
    s.add_argument("--keyfile", metavar="PEM", help="the certificate's private key")
    s.add_argument(
        "--retention-hours",
        type=float,
        metavar="H",
        help="hours between retention runs (default: $CLINIC_RETENTION_HOURS, else 24; 0: off)",
    )
    s.add_argument(
        "--findings-scan-minutes",
        type=float,
        metavar="MIN",
        help="minutes between findings scans (default: $CLINIC_FINDINGS_SCAN_MINUTES, else 5; 0: off)",
    )
    s.add_argument("--embedded", action="store_true", help=argparse.SUPPRESS)
    s.set_defaults(func=cmd_serve)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    sub.add_parser("seed-demo", help="create the deterministic demo data set and demo accounts").set_defaults(
        func=cmd_seed_demo
    )

    u = sub.add_parser("create-user", help="create a user account")
    u.add_argument("username")
    u.add_argument("--role", required=True, choices=["nurse", "coach", "supervisor", "privacy_officer"])
    u.add_argument("--organization", required=True, help="organization name")
    u.add_argument(
        "--create-organization",
        choices=["care_provider", "imr", "imaginecare", "operator"],
        metavar="KIND",
        help="create the organization if missing, of this kind (care_provider, imr, imaginecare: the "
        "patient app's accounts, operator: the privacy office running this deployment)",
    )
    u.add_argument("--display-name")
    u.add_argument("--totp", action="store_true", help="require a TOTP second factor")
    u.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    u.set_defaults(func=cmd_create_user)

    sub.add_parser(
        "sweep-missing",
        help="run the missing-data sweep once (serve also runs it on a schedule); for cron or by hand",
    ).set_defaults(func=cmd_sweep_missing)
    sub.add_parser(
        "flush-failures",
        help="record the finished minutes of unauthenticated failures now (serve does it every minute)",
    ).set_defaults(func=cmd_flush_failures)

    d = sub.add_parser("create-device", help="register a measuring device for a person; prints its key once")
    d.add_argument("person_id")
    d.add_argument("--label", required=True, help="what the device is, e.g. 'Omron BP monitor'")
    d.set_defaults(func=cmd_create_device)

    f = sub.add_parser("findings", help="privacy monitoring: the findings rules over the audit log")
    fsub = f.add_subparsers(dest="findings_command", required=True)
    fs = fsub.add_parser("scan", help="run the findings rules now (serve also runs them on a schedule)")
    fs.add_argument(
        "--from-start",
        action="store_true",
        help="read the whole audit log again (stored findings are extended, never duplicated)",
    )
    fs.set_defaults(func=cmd_findings_scan)

    lu = sub.add_parser(
        "link-user",
        help="link a user to their own personnummer, surname and address, for the relation rule "
        "(asked for, or three lines on stdin; only keyed hashes are stored)",
    )
    lu.add_argument("username")
    lu.add_argument("--stdin", action="store_true", help="read personnummer, surname, address as three lines")
    lu.set_defaults(func=cmd_link_user)

    a = sub.add_parser("audit", help="audit log tools")
    asub = a.add_subparsers(dest="audit_command", required=True)
    v = asub.add_parser("verify", help="check the whole hash chain; name the first broken record")
    v.add_argument(
        "--workers", type=int, default=0, help="processes for large chains (default: CPU count, at most 8)"
    )
    v.add_argument(
        "--public-key",
        help="check the checkpoints' signatures with this key (as `audit public-key` prints it; "
        "default: the one CLINIC_AUDIT_SIGNING_KEY gives)",
    )
    v.set_defaults(func=cmd_audit_verify)
    c = asub.add_parser("checkpoint", help="bind every shard's head into a checkpoint now")
    c.set_defaults(func=cmd_audit_checkpoint)
    pk = asub.add_parser("public-key", help="print the public key that checks the checkpoints' signatures")
    pk.set_defaults(func=cmd_audit_public_key)

    from clinic_server.cli_rights import add_commands

    add_commands(sub)
    from clinic_server.cli_reports import add_commands as add_report_commands

    add_report_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides: dict = {}
    if args.database_url:
        overrides["database_url"] = args.database_url
    if getattr(args, "demo", False) or getattr(args, "embedded", False):
        overrides["demo"] = True
    minutes = getattr(args, "missing_sweep_minutes", None)
    if minutes is not None:
        overrides["missing_sweep_minutes"] = minutes
    hours = getattr(args, "retention_hours", None)
    if hours is not None:
        overrides["retention_hours"] = hours
    scan_minutes = getattr(args, "findings_scan_minutes", None)
    if scan_minutes is not None:
        overrides["findings_scan_minutes"] = scan_minutes
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        print(f"clinic-server: invalid setting: {describe_error(exc)}", file=sys.stderr)
        return 2
    return args.func(settings, args)


if __name__ == "__main__":
    sys.exit(main())
