"""``clinic-server`` commands for people, consents and the people's rights.

    person add                      register a person as the patient app would (ImagineCare AB)
    consent grant|withdraw PNR      record a consent the person gave or withdrew
    participants import FILE        onboard an employer's roster (IMR), all rows or none
    employer set NAME               create an employer or change its contract dates
    integration add ORGANIZATION    an integration key for an organization's system (shown once)
    subject extract|export|erase    the privacy officer's register extract, FHIR export, erasure
    retention run [--dry-run]       the retention job, once

Each command goes through the same service, guard and action table as the API: the operator acts
as the organization's integration (person add, participants import) or as the privacy officer
(consents and subject commands), named ``cli:<login>`` in the one audit record each step leaves.
A refusal prints the server's message and exits 1 with nothing changed.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic_server import __version__
from clinic_server.access.guard import Guard
from clinic_server.access.policy import INTEGRATION_ROLE, Actor
from clinic_server.audit.chain import Who, system_request
from clinic_server.audit.scope import AuditScope
from clinic_server.db import make_engine, make_sessionmaker, utcnow
from clinic_server.db.models import Consent, Employer, Organization
from clinic_server.errors import ApiError
from clinic_server.settings import Settings
from clinic_tui.domain import personnummer
from clinic_tui.domain.categories import Category
from clinic_tui.domain.rights import ConsentPurpose, ErasureMode
from clinic_tui.domain.roles import OrganizationKind, Outcome, Purpose, Role


class Refused(Exception):
    """A step was refused: its message has been printed, nothing was changed."""


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in this environment
        return "operator"


def _as(session: Session, settings: Settings, role: str, kind: OrganizationKind | None) -> Guard:
    org = None
    if kind is not None:
        org = session.scalars(
            select(Organization).where(Organization.kind == kind).order_by(Organization.name)
        ).first()
        if org is None:
            print(
                f"clinic-server: no organization of kind {kind} on this server (create-user "
                f"--create-organization {kind} makes one)",
                file=sys.stderr,
            )
            raise Refused
    name = f"cli:{_login()}"
    actor = Actor("", name, role, org.id if org else "", org.kind if org else "")
    scope = AuditScope(
        session,
        Who(None, name, role, org.id if org else None),
        system_request("clinic-server-cli", __version__),
    )
    return Guard(session, scope, None, actor, settings, utcnow())


def _step(settings: Settings, role: str, kind: OrganizationKind | None, fn: Callable[[Guard], object]):
    """Run one audited step as the API would: its writes and its one audit record commit together."""
    engine = make_engine(settings.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            guard = _as(session, settings, role, kind)
            try:
                result = fn(guard)
            except ApiError as exc:
                guard.scope.fail(exc.outcome, exc.audit_reason)
                print(f"clinic-server: {exc.message}", file=sys.stderr)
                raise Refused from None
            except Exception as exc:
                guard.scope.fail(Outcome.ERROR, f"server error: {type(exc).__name__}")
                raise
            guard.scope.close_and_commit(Outcome.ALLOWED)
            return result
    finally:
        engine.dispose()


def _officer(settings, fn):
    return _step(settings, Role.PRIVACY_OFFICER, None, fn)


def _find(guard: Guard, number: str) -> str:
    """The person id a personnummer names (through the officer's audited lookup)."""
    from clinic_server.services import rights

    return rights.lookup(guard, number).person_id


def _wrap(cmd):
    def run(settings: Settings, args) -> int:
        try:
            return cmd(settings, args)
        except Refused:
            return 1

    return run


# --------------------------------------------------------------------------- people and consents


def cmd_person_add(settings: Settings, args) -> int:
    from clinic_server.services import registration
    from clinic_tui.api.schemas.rights import CareProviderChoice, RegistrationIn

    def choices(session: Session) -> list[CareProviderChoice]:
        out = []
        for item in args.care_provider or []:
            name, _, cats = item.partition("=")
            org = session.scalar(select(Organization).where(Organization.name == name.strip()))
            if org is None:
                print(
                    f"clinic-server: no organization named {name.strip()!r}; nothing was registered",
                    file=sys.stderr,
                )
                raise Refused
            chosen = [c.strip() for c in cats.split(",") if c.strip()] or list(
                registration.ACCOUNT_CATEGORIES
            )
            out.append(CareProviderChoice(organization_id=org.id, categories=chosen))
        return out

    def register(guard: Guard):
        body = RegistrationIn(
            personnummer=args.personnummer,
            given_name=args.given_name,
            family_name=args.family_name,
            sex=args.sex,
            phone=args.phone,
            email=args.email,
            address=args.address,
            conditions=args.condition,
            care_providers=choices(guard.session),
        )
        return registration.register(guard, body)

    try:
        out = _step(settings, INTEGRATION_ROLE, OrganizationKind.IMAGINECARE, register)
    except ValueError as exc:  # a value the wire model refuses
        print(f"clinic-server: {exc}", file=sys.stderr)
        return 2
    verb = "registered" if out.created else "ImagineCare account added for"
    print(f"{verb} person {out.person_id} with {len(out.consents)} consent(s):")
    for c in out.consents:
        print(f"  {c.id}  {c.organization_name}  {c.purpose}  {', '.join(c.categories)}")
    return 0


def _organization(session: Session, name: str) -> Organization:
    org = session.scalar(select(Organization).where(Organization.name == name))
    if org is None:
        print(f"clinic-server: no organization named {name!r}; nothing was changed", file=sys.stderr)
        raise Refused
    return org


def cmd_consent_grant(settings: Settings, args) -> int:
    from clinic_server.services import registration
    from clinic_tui.api.schemas.rights import ConsentGrant

    def grant(guard: Guard):
        pid = _find(guard, args.personnummer)
        org = _organization(guard.session, args.organization)
        body = ConsentGrant(
            organization_id=org.id,
            purpose=args.purpose or _default_purpose(org),
            categories=[c.strip() for c in args.categories.split(",") if c.strip()],
            valid_until=args.until,
        )
        return registration.grant_consent(guard, pid, body)

    try:
        out = _officer(settings, grant)
    except ValueError as exc:
        print(f"clinic-server: {exc}", file=sys.stderr)
        return 2
    c = out.consent
    print(f"consent {c.id} given to {c.organization_name} for {c.purpose}: {', '.join(c.categories)}")
    if out.replaced_id:
        print(f"(it replaces consent {out.replaced_id}, which ends now)")
    return 0


def _default_purpose(org: Organization) -> ConsentPurpose:
    return {
        OrganizationKind.CARE_PROVIDER: ConsentPurpose.CARE,
        OrganizationKind.IMR: ConsentPurpose.COACHING,
        OrganizationKind.IMAGINECARE: ConsentPurpose.SELF_CARE,
    }.get(org.kind, ConsentPurpose.CARE)


def _confirm(prompt: str, args) -> bool:
    if args.yes:
        return True
    answer = input(f"{prompt} [y/N] ").strip().lower()
    return answer in ("y", "yes", "j", "ja")


def cmd_consent_withdraw(settings: Settings, args) -> int:
    from clinic_server.services import registration

    def pick(guard: Guard) -> tuple[str, str]:
        pid = _find(guard, args.personnummer)
        org = _organization(guard.session, args.organization)
        stmt = select(Consent).where(
            Consent.person_id == pid, Consent.organization_id == org.id, Consent.status == "active"
        )
        if args.purpose:
            stmt = stmt.where(Consent.purpose == args.purpose)
        rows = list(guard.session.scalars(stmt.order_by(Consent.valid_from.desc())))
        if not rows:
            print(
                f"clinic-server: the person has no active consent to {org.name}; nothing was changed",
                file=sys.stderr,
            )
            raise Refused
        return pid, rows[0].id

    pid, consent_id = _officer(settings, pick)
    preview = _officer(settings, lambda g: registration.withdrawal_preview(g, pid, consent_id))
    confirmation = None
    if preview.ends_account:
        print("Withdrawing this consent ends the person's ImagineCare account: their data is DELETED.")
        _print_erasure(preview.erasure)
        if not _confirm("Withdraw and delete?", args):
            print("nothing was changed")
            return 1
        confirmation = preview.confirmation
    out = _officer(settings, lambda g: registration.withdraw_consent(g, pid, consent_id, confirmation))
    print(f"consent {out.consent_id} withdrawn")
    if out.erasure:
        print("the account ended; the person's data was deleted")
    elif out.deferred_by_legal_hold:
        print("the account ended; a legal hold keeps the data until it is released or lapses")
    return 0


def cmd_participants_import(settings: Settings, args) -> int:
    from clinic_server.services import registration

    try:
        text = Path(args.file).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"clinic-server: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    out = _step(
        settings,
        INTEGRATION_ROLE,
        OrganizationKind.IMR,
        lambda g: registration.import_roster(g, employer_name=args.employer, text=text, dry_run=args.dry_run),
    )
    verb = "would import" if out.dry_run else "imported"
    print(
        f"{verb} {out.rows} participant(s) of {args.employer}: {out.created} new, {out.updated} already held"
    )
    return 0


def cmd_employer_set(settings: Settings, args) -> int:
    engine = make_engine(settings.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            emp = session.scalar(select(Employer).where(Employer.name == args.name))
            created = emp is None
            if created:
                if args.contract_start is None:
                    print(
                        "clinic-server: a new employer needs --contract-start; nothing was changed",
                        file=sys.stderr,
                    )
                    return 2
                emp = Employer(name=args.name, contract_start=args.contract_start, contract_end=None)
                session.add(emp)
            if args.contract_start is not None:
                emp.contract_start = args.contract_start
            if args.contract_end is not None:
                emp.contract_end = args.contract_end
            if args.no_end:
                emp.contract_end = None
            if emp.contract_end is not None and emp.contract_end < emp.contract_start:
                print(
                    "clinic-server: the contract cannot end before it starts; nothing was changed",
                    file=sys.stderr,
                )
                return 2
            session.flush()
            name = f"cli:{_login()}"
            scope = AuditScope(
                session,
                Who(None, name, "operator", None),
                system_request("clinic-server-cli", __version__),
                action="employer_set",
                resource_type="employer",
                resource_id=emp.id,
                purpose=Purpose.COACHING,
            )
            scope.note(
                created=created,
                contract_start=emp.contract_start.isoformat(),
                contract_end=emp.contract_end.isoformat() if emp.contract_end else None,
            )
            scope.close_and_commit(Outcome.ALLOWED, "employer " + ("created" if created else "changed"))
            print(f"employer {emp.name}: contract {emp.contract_start} – {emp.contract_end or 'open-ended'}")
    finally:
        engine.dispose()
    return 0


def cmd_integration_add(settings: Settings, args) -> int:
    from clinic_server.services.integrations import create_client

    engine = make_engine(settings.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            org = session.scalar(select(Organization).where(Organization.name == args.organization))
            if org is None:
                print(
                    f"clinic-server: no organization named {args.organization!r}; nothing was created",
                    file=sys.stderr,
                )
                return 2
            client, key = create_client(session, org, args.label)
            scope = AuditScope(
                session,
                Who(None, f"cli:{_login()}", "operator", org.id),
                system_request("clinic-server-cli", __version__),
                action="integration_add",
                resource_type="integration_client",
                resource_id=client.id,
                purpose=Purpose.AUTHENTICATION,
            )
            scope.close_and_commit(Outcome.ALLOWED, "integration key created")
            client_id = client.id
    finally:
        engine.dispose()
    print(f"created integration {client_id} ({args.label}) for {args.organization}")
    print("Integration key (shown once; only its hash is stored — send it in the X-Client-Key header):")
    print(key)
    return 0


# --------------------------------------------------------------------------- the privacy officer


def _print_erasure(preview) -> None:
    for table, n in preview.deleted.items():
        print(f"  delete     {table:<20} {n:>8} row(s)")
    for table, n in preview.anonymized.items():
        print(f"  anonymize  {table:<20} {n:>8} row(s) kept without any link to the person")
    for r in preview.retained:
        print(f"  retain     {r.source:<20} {r.rows:>8} row(s) for bookkeeping until {r.until} (unlinked)")
    for table in preview.kept:
        print(f"  keep       {table:<20}          (names the person by opaque id only)")
    if preview.legal_hold:
        print("  A LEGAL HOLD keeps this person's data: the erasure will be refused until it is released.")


def _write(out: str, text: str) -> None:
    if out == "-":
        sys.stdout.write(text)
    else:
        Path(out).write_text(text, encoding="utf-8")


def cmd_subject_extract(settings: Settings, args) -> int:
    from clinic_server.services import rights

    def run(guard: Guard):
        pid = _find(guard, args.personnummer)
        if args.format == "markdown":
            return rights.document(guard, pid, args.language).text
        return rights.register_extract(guard, pid).model_dump_json(indent=2)

    text = _officer(settings, run)
    _write(args.out, text if text.endswith("\n") else text + "\n")
    if args.out != "-":
        print(f"register extract written to {args.out}")
    return 0


def cmd_subject_export(settings: Settings, args) -> int:
    from clinic_server.services import rights

    out = _officer(settings, lambda g: rights.export(g, _find(g, args.personnummer)))
    _write(args.out, json.dumps(out.bundle, ensure_ascii=False, separators=(",", ":")) + "\n")
    counts = ", ".join(f"{k} {v}" for k, v in out.resource_counts.items())
    print(
        f"FHIR R4 Bundle (validated) written to {args.out}: {counts}",
        file=sys.stderr if args.out == "-" else sys.stdout,
    )
    return 0


def cmd_subject_erase(settings: Settings, args) -> int:
    from clinic_server.services import rights
    from clinic_tui.api.schemas.rights import ErasureIn

    mode = ErasureMode(args.mode)
    pid = _officer(settings, lambda g: _find(g, args.personnummer))
    preview = _officer(settings, lambda g: rights.erasure_preview(g, pid, mode))
    print(f"Erasure ({mode}) of person {pid}:")
    _print_erasure(preview)
    if not _confirm("Erase this person now? This cannot be undone.", args):
        print("nothing was changed")
        return 1
    out = _officer(
        settings, lambda g: rights.erase(g, pid, ErasureIn(mode=mode, confirmation=preview.confirmation))
    )
    removed = sum(out.deleted.values())
    print(
        f"person {pid} erased ({mode}): {removed} row(s) removed, {sum(out.anonymized.values())} anonymized"
    )
    _checkpoint(settings)
    return 0


def _checkpoint(settings: Settings) -> None:
    """SQLite: fold the write-ahead log into the database and truncate it, so no page image of the
    erased rows outlives the erasure in the -wal file (secure_delete overwrote them in the file)."""
    if not settings.database_url.startswith("sqlite"):
        return
    from sqlalchemy import text

    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute(text("SELECT 1"))
    finally:
        engine.dispose()


def cmd_retention_run(settings: Settings, args) -> int:
    from datetime import UTC, datetime

    from clinic_server.jobs.retention import run_retention

    now = utcnow()
    if args.as_of is not None:
        if not args.dry_run:
            print(
                "clinic-server: --as-of only goes with --dry-run (a real run removes what is due now)",
                file=sys.stderr,
            )
            return 2
        now = datetime.combine(args.as_of, now.timetz()).astimezone(UTC)
    engine = make_engine(settings.database_url)
    try:
        outcome = run_retention(make_sessionmaker(engine), now=now, dry_run=args.dry_run)
    finally:
        engine.dispose()
    print(f"retention{' (dry run)' if args.dry_run else ''}: {outcome.summary()}")
    for d in outcome.due:
        rule = f"{d.due.rule.id} v{d.due.rule.version}"
        print(f"  {d.person_id}  {d.controller:<11} {rule}  due {d.due.on}  {d.mode}")
    if outcome.ran and not args.dry_run:
        _checkpoint(settings)
    return 0


# --------------------------------------------------------------------------- the parser


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _pnr(value: str) -> str:
    try:
        personnummer.normalize(value)
    except personnummer.PersonnummerError as exc:
        raise argparse.ArgumentTypeError(f"personnummer: {exc}") from None
    return value


def add_commands(sub) -> None:
    """Add this module's commands to ``clinic-server``'s subcommand parser."""
    cats = ", ".join(c.value for c in Category)

    pe = sub.add_parser("person", help="people: register one as the patient app would")
    psub = pe.add_subparsers(dest="person_command", required=True)
    a = psub.add_parser(
        "add", help="register a person with an ImagineCare account (conditions, care providers)"
    )
    a.add_argument("--personnummer", required=True, type=_pnr)
    a.add_argument("--given-name", required=True)
    a.add_argument("--family-name", required=True)
    a.add_argument("--sex", choices=["female", "male", "other"], help="default: the personnummer's legal sex")
    a.add_argument("--phone", required=True)
    a.add_argument("--email", required=True)
    a.add_argument("--address", required=True)
    a.add_argument("--condition", action="append", required=True, help="condition code (repeat for several)")
    a.add_argument(
        "--care-provider",
        action="append",
        metavar="NAME[=CATEGORY,...]",
        help=f"a care provider to share with and the categories (default: all the app holds): {cats}",
    )
    a.set_defaults(func=_wrap(cmd_person_add))

    co = sub.add_parser("consent", help="record a consent the person gave or withdrew")
    csub = co.add_subparsers(dest="consent_command", required=True)
    g = csub.add_parser("grant", help="the person gives (or changes) a consent to an organization")
    g.add_argument("personnummer", type=_pnr)
    g.add_argument("--organization", required=True, help="organization name")
    g.add_argument("--categories", required=True, help=f"comma-separated: {cats}")
    g.add_argument(
        "--purpose",
        choices=[p.value for p in ConsentPurpose],
        help="default: by the organization's kind (care, coaching, self_care)",
    )
    g.add_argument("--until", type=_date_time, help="valid until (YYYY-MM-DD, UTC midnight)")
    g.set_defaults(func=_wrap(cmd_consent_grant))
    w = csub.add_parser("withdraw", help="the person withdraws their consent to an organization")
    w.add_argument("personnummer", type=_pnr)
    w.add_argument("--organization", required=True, help="organization name")
    w.add_argument("--purpose", choices=[p.value for p in ConsentPurpose])
    w.add_argument(
        "--yes", action="store_true", help="do not ask (a withdrawal that deletes data shows its preview)"
    )
    w.set_defaults(func=_wrap(cmd_consent_withdraw))

    pa = sub.add_parser("participants", help="IMR participants")
    pasub = pa.add_subparsers(dest="participants_command", required=True)
    i = pasub.add_parser("import", help="onboard an employer's roster CSV (all rows or none)")
    i.add_argument(
        "file", help="CSV: personnummer,given_name,family_name,email,phone,job_title,coach[,address,sex]"
    )
    i.add_argument("--employer", required=True, help="employer name (clinic-server employer set creates one)")
    i.add_argument("--dry-run", action="store_true", help="check the roster and report; change nothing")
    i.set_defaults(func=_wrap(cmd_participants_import))

    em = sub.add_parser("employer", help="IMR's customers")
    esub = em.add_subparsers(dest="employer_command", required=True)
    e = esub.add_parser("set", help="create an employer or change its contract dates")
    e.add_argument("name")
    e.add_argument("--contract-start", type=_date)
    end = e.add_mutually_exclusive_group()
    end.add_argument(
        "--contract-end", type=_date, help="the contract's last day (IMR keeps data 6 months after)"
    )
    end.add_argument("--no-end", action="store_true", help="the contract runs until further notice")
    e.set_defaults(func=_wrap(cmd_employer_set))

    ig = sub.add_parser("integration", help="integration keys of organizations' systems")
    isub = ig.add_subparsers(dest="integration_command", required=True)
    ia = isub.add_parser("add", help="create an integration key for an organization; prints it once")
    ia.add_argument("organization", help="organization name")
    ia.add_argument("--label", required=True, help="what the system is, e.g. 'patient app backend'")
    ia.set_defaults(func=_wrap(cmd_integration_add))

    su = sub.add_parser("subject", help="the privacy officer's tools for a person (by personnummer)")
    ssub = su.add_subparsers(dest="subject_command", required=True)
    x = ssub.add_parser("extract", help="the register extract (GDPR art. 15)")
    x.add_argument("personnummer", type=_pnr)
    x.add_argument("--format", choices=["json", "markdown"], default="markdown")
    x.add_argument("--language", choices=["sv", "en"], default="sv")
    x.add_argument("--out", default="-", help="file to write (default: standard output)")
    x.set_defaults(func=_wrap(cmd_subject_extract))
    ex = ssub.add_parser("export", help="everything held about the person as a FHIR R4 Bundle (GDPR art. 20)")
    ex.add_argument("personnummer", type=_pnr)
    ex.add_argument("--out", required=True, help="file to write (- for standard output)")
    ex.set_defaults(func=_wrap(cmd_subject_export))
    er = ssub.add_parser("erase", help="erase (or IMR-anonymize) the person after a preview and confirmation")
    er.add_argument("personnummer", type=_pnr)
    er.add_argument("--mode", choices=[m.value for m in ErasureMode], default=ErasureMode.DELETE.value)
    er.add_argument(
        "--yes", action="store_true", help="do not ask (the preview is still shown and confirmed)"
    )
    er.set_defaults(func=_wrap(cmd_subject_erase))

    re = sub.add_parser("retention", help="the retention job")
    rsub = re.add_subparsers(dest="retention_command", required=True)
    r = rsub.add_parser("run", help="run it once (serve runs it on a schedule)")
    r.add_argument(
        "--dry-run", action="store_true", help="list who would be removed, and why; change nothing"
    )
    r.add_argument("--as-of", type=_date, help="with --dry-run: as a run on this day would")
    r.set_defaults(func=_wrap(cmd_retention_run))


def _date_time(value: str):
    from datetime import UTC, datetime, time

    return datetime.combine(_date(value), time(0), tzinfo=UTC)
