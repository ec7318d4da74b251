"""``clinic-server report employer NAME --period YYYY --format json|csv|md --out FILE``.

Issues an employer report (or gives the issued one again) through the same service, guard and
audit as ``POST /api/v1/reports/employer``, as a named report analyst (``--as``; by default the
server's one active report analyst), and writes it in the chosen format for sending. The audit
record names the analyst (``cli:`` is not an analyst: a report is always someone's duty). A refusal
prints why and exits 1, with nothing issued and nothing written. The report is kept before the file
is written: if the file cannot be written, running the command again writes the same report.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy import select

from clinic_server import __version__
from clinic_server.access.guard import Guard
from clinic_server.access.policy import Actor, purpose_for
from clinic_server.audit.chain import system_request
from clinic_server.audit.scope import AuditScope, who_of
from clinic_server.db import make_engine, make_sessionmaker, utcnow
from clinic_server.db.models import User
from clinic_server.errors import ApiError
from clinic_server.settings import Settings
from clinic_tui.domain.roles import Outcome, Role

FORMATS = ("json", "csv", "md")


def _analyst(session, username: str | None) -> User | None:
    stmt = select(User).where(User.role == Role.REPORT_ANALYST, User.is_active.is_(True))
    if username is not None:
        return session.scalar(stmt.where(User.username == username))
    found = list(session.scalars(stmt.limit(2)))
    return found[0] if len(found) == 1 else None


def cmd_report_employer(settings: Settings, args) -> int:
    from clinic_server.services.reports import formats, service

    write = {"json": formats.to_json, "csv": formats.to_csv, "md": formats.to_markdown}[args.format]
    engine = make_engine(settings.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            user = _analyst(session, args.as_user)
            if user is None:
                which = (
                    f"no active report analyst named {args.as_user!r}"
                    if args.as_user
                    else ("name the report analyst with --as USERNAME (there is none, or more than one)")
                )
                print(f"clinic-server: {which}; nothing was issued", file=sys.stderr)
                return 1
            actor = Actor(user.id, user.username, user.role, user.organization_id, user.organization.kind)
            scope = AuditScope(
                session,
                who_of(user),
                system_request("clinic-server-cli", __version__),
                purpose=purpose_for(actor),
            )
            guard = Guard(session, scope, user, actor, settings, utcnow())
            try:
                issued = service.issue(guard, args.name, args.period)
                text = write(issued.report)
            except ApiError as exc:
                guard.scope.fail(exc.outcome, exc.audit_reason)
                print(f"clinic-server: {exc.message} Nothing was issued.", file=sys.stderr)
                return 1
            except Exception as exc:
                guard.scope.fail(Outcome.ERROR, f"server error: {type(exc).__name__}")
                raise
            # kept (and audited) before it is written: a report that went out is always on record
            guard.scope.close_and_commit(Outcome.ALLOWED)
    finally:
        engine.dispose()
    out = Path(args.out)
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(
            f"clinic-server: report {issued.id} is issued, but {out} cannot be written ({exc.strerror}); "
            "run the command again with another --out to write the same report",
            file=sys.stderr,
        )
        return 1
    state = "the report issued before (unchanged)" if issued.reused else "a new report"
    print(f"{state} {issued.id}: {issued.employer}, {issued.period} -> {out} ({args.format})")
    return 0


def _year(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a year such as 2025, not {text!r}") from None
    if not 2000 <= value <= 2100:
        raise argparse.ArgumentTypeError(f"a year from 2000 to 2100, not {value}")
    return value


def add_commands(sub) -> None:
    r = sub.add_parser("report", help="employer reports (IMR): aggregates nobody can be singled out from")
    rsub = r.add_subparsers(dest="report_command", required=True)
    e = rsub.add_parser(
        "employer",
        help="issue an employer's report for a closed year (or the one issued before) and write it",
    )
    e.add_argument("name", help="the employer's name")
    e.add_argument("--period", required=True, type=_year, help="the calendar year, e.g. 2025")
    e.add_argument("--format", choices=FORMATS, default="md", help="json, csv or md (default md)")
    e.add_argument("--out", required=True, help="the file to write")
    e.add_argument("--as", dest="as_user", help="the report analyst issuing it (default: the only one)")
    e.set_defaults(func=cmd_report_employer)
