"""How people and consents get in: the patient app's registration, consents given, changed and
withdrawn, account closure, and IMR's onboarding of an employer's roster.

Callers: the patient app's backend (an ImagineCare AB integration), IMR's onboarding (an IMR
integration), the privacy officer on the person's behalf, and the operator's CLI (which acts as
the organization's integration). Every call goes through the guard (``Action.REGISTER_PERSON``,
``CHANGE_CONSENT``, ``CLOSE_ACCOUNT``, ``IMPORT_PARTICIPANTS``) and leaves one audit record that
names people by id only; nothing typed by or about a person is written to it.

- Registration (ImagineCare §2, "always collected"): person, contact, conditions, the care
  providers chosen (each a consent with its categories) and the consent to ImagineCare AB itself
  that keeps the account alive. Under 18 is refused ("ImagineCare must not be used by persons
  under 18"). A person already held (an IMR participant) is attached to, never overwritten.
- A consent given again to the same organization for the same purpose replaces the earlier one
  (which ends now and stays in the history).
- Withdrawing a care provider's consent ends that organization's access only. Withdrawing the
  last active consent to ImagineCare AB, or closing the account, ends the account: the person's
  data is deleted (ImagineCare "Withdrawal of consent", §5), after a preview whose confirmation
  must come back unchanged.
- A roster is all or nothing: every bad row is reported by line and nothing is changed.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from clinic_server.access.guard import Guard
from clinic_server.access.policy import INTEGRATION_ROLE, Action
from clinic_server.db.models import CoachAssignment, Condition, Consent, Employer, Organization, Person, User
from clinic_server.errors import denied, refused
from clinic_server.services import erasure
from clinic_server.services.rights_out import erasure_out, preview_out, subject_consent
from clinic_tui.api.schemas import ErrorCode
from clinic_tui.api.schemas.rights import (
    AccountClosurePreview,
    ConsentGrant,
    ConsentGrantOut,
    OrganizationList,
    OrganizationOut,
    RegistrationIn,
    RegistrationOut,
    RosterImportOut,
    WithdrawalOut,
    WithdrawalPreview,
)
from clinic_tui.domain import personnummer
from clinic_tui.domain.categories import HEALTH_CATEGORIES, Category
from clinic_tui.domain.codes import CONDITIONS
from clinic_tui.domain.rights import ConsentPurpose, ErasureMode
from clinic_tui.domain.roles import OrganizationKind, Outcome, Role

#: what a consent of each purpose may name
PURPOSE_ORG_KIND: dict[ConsentPurpose, OrganizationKind] = {
    ConsentPurpose.CARE: OrganizationKind.CARE_PROVIDER,
    ConsentPurpose.COACHING: OrganizationKind.IMR,
    ConsentPurpose.STATISTICS: OrganizationKind.IMR,
    ConsentPurpose.SELF_CARE: OrganizationKind.IMAGINECARE,
}
#: the organizations an integration may record consents to: the app's for the care providers the
#: person chooses and ImagineCare AB itself; IMR's for IMR only (checked by kind, and IMR by id)
INTEGRATION_MAY_NAME: dict[OrganizationKind, frozenset[OrganizationKind]] = {
    OrganizationKind.IMAGINECARE: frozenset({OrganizationKind.CARE_PROVIDER, OrganizationKind.IMAGINECARE}),
    OrganizationKind.IMR: frozenset({OrganizationKind.IMR}),
}
#: what the patient app collects, and the person lets ImagineCare AB process, unless told otherwise
ACCOUNT_CATEGORIES: tuple[Category, ...] = (
    Category.IDENTITY,
    Category.CONTACT,
    Category.CONDITIONS,
    Category.VITALS,
    Category.QUESTIONNAIRES,
    Category.MEDICATIONS,
    Category.HISTORY,
    Category.GOALS,
    Category.SOCIAL,
)
ADULT = 18


def _today(guard: Guard):
    return guard.now.date()


def _personnummer(number: str) -> str:
    try:
        return personnummer.normalize(number)
    except personnummer.PersonnummerError as exc:
        raise refused(
            422, ErrorCode.INVALID_PERSONNUMMER, f"Personnummer: {exc}", outcome=Outcome.DENIED
        ) from None


def _org(session: Session, organization_id: str) -> Organization | None:
    return session.get(Organization, organization_id) if len(organization_id) <= 32 else None


def the_org(session: Session, kind: OrganizationKind) -> Organization | None:
    """The one organization of ``kind`` (ImagineCare AB, IMR), or None if there is none."""
    return session.scalars(
        select(Organization).where(Organization.kind == kind).order_by(Organization.name)
    ).first()


def _may_name(guard: Guard, org: Organization) -> bool:
    """May the caller record consents to ``org``? The officer, for any; an integration, as above."""
    if guard.actor.role != INTEGRATION_ROLE:
        return True
    kinds = INTEGRATION_MAY_NAME.get(OrganizationKind(guard.actor.organization_kind), frozenset())
    if org.kind not in kinds:
        return False
    return org.kind != OrganizationKind.IMR or org.id == guard.actor.organization_id


def _active(c: Consent, now: datetime) -> bool:
    return c.status == "active" and c.valid_from <= now and (c.valid_until is None or now < c.valid_until)


def _consent_error(message: str, **params) -> Exception:
    return refused(422, ErrorCode.INVALID_CONSENT, message, outcome=Outcome.DENIED, **params)


def _check_consent(org: Organization | None, purpose: ConsentPurpose, categories) -> None:
    if org is None:
        raise _consent_error("No such organization.", field="organization_id")
    if PURPOSE_ORG_KIND[purpose] != org.kind:
        raise _consent_error(
            f"A consent for {purpose} names an organization of kind {PURPOSE_ORG_KIND[purpose]}, "
            f"not {org.kind}.",
            field="purpose",
        )
    if purpose == ConsentPurpose.STATISTICS and not set(categories) <= HEALTH_CATEGORIES:
        raise _consent_error("Anonymized statistics concern health categories only.", field="categories")


def _new_consent(
    session: Session, person_id: str, org: Organization, purpose: ConsentPurpose, categories, now, until=None
) -> tuple[Consent, str | None]:
    """Record a consent; one given before to the same organization for the same purpose ends now."""
    replaced = None
    for old in session.scalars(
        select(Consent).where(
            Consent.person_id == person_id,
            Consent.organization_id == org.id,
            Consent.purpose == purpose,
            Consent.status == "active",
            or_(Consent.valid_until.is_(None), Consent.valid_until > now),
        )
    ):
        old.valid_until = now
        replaced = old.id
    consent = Consent(
        person_id=person_id,
        organization_id=org.id,
        categories=sorted({str(c) for c in categories}),
        purpose=purpose,
        valid_from=now,
        valid_until=until,
        status="active",
        created_at=now,
    )
    session.add(consent)
    session.flush()
    return consent, replaced


# --------------------------------------------------------------------------- organizations


def care_providers(guard: Guard) -> OrganizationList:
    """The care providers a person may choose to share with (the registration page's list)."""
    guard.duty(Action.LIST_ORGANIZATIONS, verb="list", resource_type="organization")
    rows = guard.session.scalars(
        select(Organization)
        .where(Organization.kind == OrganizationKind.CARE_PROVIDER)
        .order_by(Organization.name)
    )
    items = [OrganizationOut(id=o.id, name=o.name, kind=o.kind) for o in rows]
    guard.scope.reason = f"{len(items)} care providers"
    return OrganizationList(items=items)


# --------------------------------------------------------------------------- registration


def register(guard: Guard, body: RegistrationIn) -> RegistrationOut:
    """Register a person from the patient app: person, contact, conditions, consents."""
    guard.duty(Action.REGISTER_PERSON, verb="register", resource_type="person")
    session, now = guard.session, guard.now
    pnr = _personnummer(body.personnummer)
    birth = personnummer.birth_date(pnr)
    if personnummer.age_years(birth, _today(guard)) < ADULT:
        raise refused(
            422,
            ErrorCode.UNDER_AGE,
            "ImagineCare must not be used by persons under 18.",
            outcome=Outcome.DENIED,
        )
    unknown = sorted(set(body.conditions) - set(CONDITIONS))
    if unknown:
        raise refused(
            422,
            ErrorCode.INVALID_REQUEST,
            f"Unknown condition code(s): {', '.join(unknown)}; known: {', '.join(sorted(CONDITIONS))}.",
            outcome=Outcome.DENIED,
            field="conditions",
        )
    app = the_org(session, OrganizationKind.IMAGINECARE)
    if app is None:
        raise refused(409, ErrorCode.CONFLICT, "No ImagineCare AB organization is set up on this server.")
    providers = []
    for choice in body.care_providers:
        org = _org(session, choice.organization_id)
        _check_consent(org, ConsentPurpose.CARE, choice.categories)
        providers.append((org, choice.categories))

    person = session.scalar(select(Person).where(Person.personnummer == pnr))
    created = person is None
    if person is None:
        person = Person(
            personnummer=pnr,
            given_name=body.given_name,
            family_name=body.family_name,
            birth_date=birth,
            sex=body.sex or personnummer.sex(pnr),
            phone=body.phone,
            email=body.email,
            address=body.address,
            created_at=now,
        )
        session.add(person)
        session.flush()
    else:
        guard.scope.about(person_id=person.id)
        accounts = session.scalars(
            select(Consent).where(Consent.person_id == person.id, Consent.purpose == ConsentPurpose.SELF_CARE)
        )
        if any(_active(c, now) for c in accounts):
            raise refused(
                409,
                ErrorCode.ALREADY_REGISTERED,
                "This person already has an ImagineCare account.",
                outcome=Outcome.DENIED,
            )
        # attach, never overwrite: what is held is corrected only by rectification
        for col in ("phone", "email", "address"):
            if getattr(person, col) is None:
                setattr(person, col, getattr(body, col))
    guard.scope.about(person_id=person.id)
    have = {c.code for c in person.conditions} if not created else set()
    for code in sorted(set(body.conditions) - have):
        session.add(Condition(person_id=person.id, code=code))
    account, _ = _new_consent(
        session, person.id, app, ConsentPurpose.SELF_CARE, body.account_categories or ACCOUNT_CATEGORIES, now
    )
    consents = [(account, app)]
    for org, cats in providers:
        consents.append((_new_consent(session, person.id, org, ConsentPurpose.CARE, cats, now)[0], org))
    session.flush()
    guard.scope.note(
        created=created, consent_ids=[c.id for c, _ in consents], conditions=len(body.conditions)
    )
    guard.scope.reason = (
        "person registered" if created else "ImagineCare account added to a person held"
    ) + (f" with {len(providers)} care provider consent(s)")
    return RegistrationOut(
        person_id=person.id, created=created, consents=[subject_consent(c, o, now) for c, o in consents]
    )


# --------------------------------------------------------------------------- consents


def grant_consent(guard: Guard, person_id: str, body: ConsentGrant) -> ConsentGrantOut:
    """The person gives (or changes) a consent: a new row; an earlier one of the same organization
    and purpose ends now and stays in the history."""
    access = guard.person(person_id, Action.CHANGE_CONSENT, verb="consent_change", resource_type="consent")
    session = guard.session
    org = _org(session, body.organization_id)
    if org is not None and not _may_name(guard, org):
        raise denied(f"{guard.actor.organization_kind} integration may not record consents to a {org.kind}")
    _check_consent(org, body.purpose, body.categories)
    if body.valid_until is not None and body.valid_until <= guard.now:
        raise _consent_error("valid_until must be in the future.", field="valid_until")
    consent, replaced = _new_consent(
        session, access.person.id, org, body.purpose, body.categories, guard.now, body.valid_until
    )
    guard.scope.about(resource_id=consent.id)
    guard.scope.note(
        change="grant",
        purpose=str(body.purpose),
        categories=sorted(consent.categories),
        organization_id=org.id,
        replaced=replaced,
    )
    guard.scope.reason = "consent given" + (" (replaces an earlier one)" if replaced else "")
    return ConsentGrantOut(consent=subject_consent(consent, org, guard.now), replaced_id=replaced)


@dataclass
class _Withdrawal:
    consent: Consent
    org: Organization
    ends_account: bool


def _withdrawal(guard: Guard, person_id: str, consent_id: str) -> _Withdrawal:
    access = guard.person(
        person_id,
        Action.CHANGE_CONSENT,
        verb="consent_change",
        resource_type="consent",
        resource_id=consent_id,
    )
    session = guard.session
    consent = session.get(Consent, consent_id) if len(consent_id) <= 32 else None
    org = session.get(Organization, consent.organization_id) if consent is not None else None
    if consent is None or org is None or consent.person_id != access.person.id or not _may_name(guard, org):
        raise refused(
            404,
            ErrorCode.NOT_FOUND,
            "This person has no such consent.",
            outcome=Outcome.DENIED,
            resource="consent",
        )
    if consent.status == "withdrawn":
        raise refused(
            409, ErrorCode.ALREADY_WITHDRAWN, "This consent was already withdrawn.", outcome=Outcome.DENIED
        )
    ends = False
    if consent.purpose == ConsentPurpose.SELF_CARE and _active(consent, guard.now):
        others = session.scalars(
            select(Consent).where(
                Consent.person_id == access.person.id,
                Consent.purpose == ConsentPurpose.SELF_CARE,
                Consent.id != consent.id,
            )
        )
        ends = not any(_active(c, guard.now) for c in others)
    return _Withdrawal(consent, org, ends)


def withdrawal_preview(guard: Guard, person_id: str, consent_id: str) -> WithdrawalPreview:
    """What withdrawing the consent would do: end one organization's access, or end the account and
    delete the person's data (shown as the erasure it would be)."""
    w = _withdrawal(guard, person_id, consent_id)
    guard.scope.about(action="consent_withdraw_preview")
    preview = None
    token = w.consent.id
    if w.ends_account:
        outcome = erasure.preview(guard.session, [person_id], ErasureMode.DELETE, guard.now)
        preview = preview_out(guard.session, person_id, outcome, guard.now)
        token = preview.confirmation
    guard.scope.note(ends_account=w.ends_account)
    guard.scope.reason = "withdrawal previewed" + ("; it ends the account" if w.ends_account else "")
    return WithdrawalPreview(
        consent=subject_consent(w.consent, w.org, guard.now),
        ends_account=w.ends_account,
        erasure=preview,
        confirmation=token,
    )


def _check_confirmation(given: str | None, expected: str) -> None:
    if not given:
        raise refused(
            409,
            ErrorCode.CONFIRMATION_REQUIRED,
            "This deletes the person's data: preview it first and send its confirmation.",
            outcome=Outcome.DENIED,
        )
    if given != expected:
        raise refused(
            409,
            ErrorCode.CONFIRMATION_STALE,
            "What would be deleted changed since the preview: preview again and confirm that.",
            outcome=Outcome.DENIED,
        )


def _end_account(guard: Guard, person_id: str):
    """Delete the person's data (the account ended; the caller checked the confirmation), unless a
    legal hold keeps it for now. Either way nothing is shared through the app any more: every
    consent given through it (to ImagineCare AB and to care providers) is withdrawn."""
    session, now = guard.session, guard.now
    app_kinds = (OrganizationKind.IMAGINECARE, OrganizationKind.CARE_PROVIDER)
    for c in session.scalars(
        select(Consent)
        .join(Organization, Organization.id == Consent.organization_id)
        .where(Consent.person_id == person_id, Consent.status == "active", Organization.kind.in_(app_kinds))
    ):
        c.status, c.withdrawn_at = "withdrawn", now
    if erasure.held(session, [person_id], now.date()):
        guard.scope.note(deferred_by_legal_hold=True)
        return None, True
    done = erasure.erase(session, [person_id], ErasureMode.DELETE, now)
    guard.scope.note(erasure=done.summary())
    return erasure_out(person_id, done, now), False


def _expected(guard: Guard, person_id: str) -> str:
    return erasure.preview(guard.session, [person_id], ErasureMode.DELETE, guard.now).confirmation(
        [person_id]
    )


def withdraw_consent(
    guard: Guard, person_id: str, consent_id: str, confirmation: str | None
) -> WithdrawalOut:
    """The person withdraws a consent. The last consent to ImagineCare AB ends the account: the
    person's data is deleted in the same transaction (confirmation of the preview required)."""
    w = _withdrawal(guard, person_id, consent_id)
    if w.ends_account:
        _check_confirmation(confirmation, _expected(guard, person_id))
    w.consent.status = "withdrawn"
    w.consent.withdrawn_at = guard.now
    consent_id, ends = w.consent.id, w.ends_account
    guard.scope.note(
        change="withdraw", purpose=w.consent.purpose, organization_id=w.org.id, ends_account=ends
    )
    out = WithdrawalOut(consent_id=consent_id, ends_account=ends)
    if ends:
        out.erasure, out.deferred_by_legal_hold = _end_account(guard, person_id)
    guard.scope.reason = "consent withdrawn" + (
        "; the account ended and the person's data was deleted"
        if out.erasure
        else "; the account ended (deletion deferred by a legal hold)"
        if out.deferred_by_legal_hold
        else ""
    )
    return out


def _account(guard: Guard, person_id: str) -> list[Consent]:
    access = guard.person(person_id, Action.CLOSE_ACCOUNT, verb="close_account", resource_type="person")
    rows = list(
        guard.session.scalars(
            select(Consent).where(
                Consent.person_id == access.person.id, Consent.purpose == ConsentPurpose.SELF_CARE
            )
        )
    )
    if not rows:
        raise refused(
            404, ErrorCode.NOT_FOUND, "This person has no ImagineCare account.", outcome=Outcome.DENIED
        )
    return rows


def closure_preview(guard: Guard, person_id: str) -> AccountClosurePreview:
    """What closing the ImagineCare account deletes (ImagineCare §5: "we will delete all your
    personal information")."""
    _account(guard, person_id)
    guard.scope.about(action="close_account_preview")
    outcome = erasure.preview(guard.session, [person_id], ErasureMode.DELETE, guard.now)
    guard.scope.reason = "account closure previewed"
    return AccountClosurePreview(
        person_id=person_id, erasure=preview_out(guard.session, person_id, outcome, guard.now)
    )


def close_account(guard: Guard, person_id: str, confirmation: str | None) -> WithdrawalOut:
    """Close the ImagineCare account: the consents given through the app are withdrawn and the
    person's data deleted."""
    rows = _account(guard, person_id)
    _check_confirmation(confirmation, _expected(guard, person_id))
    done, deferred = _end_account(guard, person_id)
    guard.scope.reason = "account closed" + (
        "; data deleted" if done else "; deletion deferred by a legal hold"
    )
    return WithdrawalOut(
        consent_id=rows[0].id, ends_account=True, erasure=done, deferred_by_legal_hold=deferred
    )


# --------------------------------------------------------------------------- IMR roster


ROSTER_REQUIRED = ("personnummer", "given_name", "family_name", "email", "phone", "job_title", "coach")
ROSTER_OPTIONAL = ("address", "sex")
MAX_ROSTER_ROWS = 5000
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LIMITS = {"given_name": 100, "family_name": 100, "email": 200, "phone": 40, "job_title": 200, "address": 300}


@dataclass
class _RosterRow:
    line: int
    pnr: str
    values: dict[str, str]
    coach: User


def _roster_error(errors: list[str]) -> Exception:
    lines = sorted({int(e.split(":")[0].removeprefix("line ")) for e in errors})
    return refused(
        422,
        ErrorCode.INVALID_ROSTER,
        f"The roster has {len(errors)} problem(s); nothing was imported:\n" + "\n".join(errors),
        outcome=Outcome.DENIED,
        errors=len(errors),
        lines=",".join(str(n) for n in lines)[:200],
    )


def parse_roster(text: str) -> tuple[list[tuple[int, dict[str, str]]], list[str]]:
    """The rows of a roster CSV (comma or semicolon separated, a header line first) with their line
    numbers, and the problems of the file as a whole."""
    text = text.removeprefix("\ufeff")
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        return [], ["line 1: the file is empty: a header line and one row per participant are needed"]
    errors = [f"line 1: required column '{c}' is missing" for c in ROSTER_REQUIRED if c not in header]
    errors += [
        f"line 1: unknown column '{c[:40]}' (columns: {', '.join(ROSTER_REQUIRED + ROSTER_OPTIONAL)})"
        for c in header
        if c not in ROSTER_REQUIRED + ROSTER_OPTIONAL
    ]
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue
            line = reader.line_num
            if len(record) != len(header):
                errors.append(f"line {line}: {len(record)} fields, the header has {len(header)}")
                continue
            rows.append((line, {h: v.strip() for h, v in zip(header, record, strict=True)}))
    except csv.Error as exc:
        errors.append(f"line {reader.line_num}: not readable as CSV ({exc})")
    if not rows and not errors:
        errors.append("line 2: the roster has no participants")
    if len(rows) > MAX_ROSTER_ROWS:
        errors.append(
            f"line {rows[MAX_ROSTER_ROWS][0]}: a roster holds at most {MAX_ROSTER_ROWS} participants"
        )
    return rows, errors


def _check_row(
    line: int, row: dict[str, str], today, coaches: dict[str, User]
) -> tuple[str | None, list[str]]:
    errors = []
    pnr = None
    try:
        pnr = personnummer.normalize(row.get("personnummer", ""))
        if personnummer.age_on(pnr, today) < ADULT:
            errors.append(f"line {line}: personnummer: the participant is under 18")
    except personnummer.PersonnummerError as exc:
        errors.append(f"line {line}: personnummer: {exc}")
    for col in ROSTER_REQUIRED[1:-1] + ("address",):
        value = row.get(col, "")
        if col in ROSTER_REQUIRED and not value:
            errors.append(f"line {line}: {col}: missing")
        elif len(value) > _LIMITS[col]:
            errors.append(f"line {line}: {col}: longer than {_LIMITS[col]} characters")
    if row.get("email") and not _EMAIL.match(row["email"]):
        errors.append(f"line {line}: email: not an e-mail address")
    if row.get("sex") and row["sex"] not in ("female", "male", "other"):
        errors.append(f"line {line}: sex: must be female, male or other (or left empty)")
    coach = row.get("coach", "").lower()
    if coach and coach not in coaches:
        errors.append(f"line {line}: coach: no active IMR coach has that username")
    elif not coach:
        errors.append(f"line {line}: coach: missing")
    return pnr, errors


def import_roster(
    guard: Guard, *, employer_name: str, text: str, dry_run: bool = False, imr: Organization | None = None
) -> RosterImportOut:
    """Onboard an employer's participants from a roster (all or nothing): each row becomes a
    participant with the employer, job title and an assigned coach. A participant already held
    keeps their identity and contact data (corrections go through rectification)."""
    guard.duty(Action.IMPORT_PARTICIPANTS, verb="import", resource_type="roster")
    session, today = guard.session, _today(guard)
    imr_id = (
        guard.actor.organization_id if guard.actor.role == INTEGRATION_ROLE else (imr.id if imr else None)
    )
    employer = session.scalar(select(Employer).where(Employer.name == employer_name))
    if employer is None:
        raise refused(
            404, ErrorCode.NOT_FOUND, "No such employer.", outcome=Outcome.DENIED, resource="employer"
        )
    guard.scope.about(resource_id=employer.id)
    if employer.contract_start > today or (
        employer.contract_end is not None and employer.contract_end < today
    ):
        raise refused(
            422,
            ErrorCode.INVALID_ROSTER,
            "The employer's contract with IMR is not running today.",
            outcome=Outcome.DENIED,
            errors=1,
            lines="",
        )
    coaches = {
        u.username: u
        for u in session.scalars(
            select(User).where(
                User.role == Role.COACH, User.is_active.is_(True), User.organization_id == imr_id
            )
        )
    }
    raw, errors = parse_roster(text)
    rows: list[_RosterRow] = []
    seen: dict[str, int] = {}
    for line, row in raw:
        pnr, row_errors = _check_row(line, row, today, coaches)
        errors += row_errors
        if pnr is not None:
            if pnr in seen:
                errors.append(f"line {line}: personnummer: the same person as on line {seen[pnr]}")
            seen.setdefault(pnr, line)
        if not row_errors and pnr is not None:
            rows.append(_RosterRow(line, pnr, row, coaches[row["coach"].lower()]))
    if errors:
        errors.sort(key=lambda e: int(e.split(":")[0].removeprefix("line ")))
        guard.scope.note(employer_id=employer.id, problems=len(errors))
        raise _roster_error(errors)

    existing = {
        p.personnummer: p
        for i in range(0, len(rows), 500)
        for p in session.scalars(
            select(Person).where(Person.personnummer.in_([r.pnr for r in rows[i : i + 500]]))
        )
    }
    created = sum(1 for r in rows if r.pnr not in existing)
    ids: list[str] = []
    if not dry_run:
        imr_coaches = [u.id for u in coaches.values()]
        for r in rows:
            person = existing.get(r.pnr)
            if person is None:
                person = Person(
                    personnummer=r.pnr,
                    given_name=r.values["given_name"],
                    family_name=r.values["family_name"],
                    birth_date=personnummer.birth_date(r.pnr),
                    sex=r.values.get("sex") or personnummer.sex(r.pnr),
                    phone=r.values["phone"],
                    email=r.values["email"],
                    address=r.values.get("address") or None,
                    created_at=guard.now,
                )
                session.add(person)
            person.employer_id = employer.id
            person.job_title = r.values["job_title"]
            session.flush()
            _assign(session, person.id, r.coach.id, imr_coaches, guard.now)
            ids.append(person.id)
    else:
        ids = [existing[r.pnr].id for r in rows if r.pnr in existing]
    guard.scope.note(
        employer_id=employer.id, dry_run=dry_run, rows=len(rows), created=created, person_ids=sorted(ids)
    )
    guard.scope.reason = (
        f"roster {'checked' if dry_run else 'imported'}: {len(rows)} participants, {created} new"
    )
    return RosterImportOut(
        employer_id=employer.id,
        dry_run=dry_run,
        rows=len(rows),
        created=created,
        updated=len(rows) - created,
        person_ids=sorted(ids),
    )


def _assign(session: Session, person_id: str, coach_id: str, imr_coaches: list[str], now: datetime) -> None:
    """The roster's coach is the participant's one active IMR coach."""
    session.execute(
        update(CoachAssignment)
        .where(
            CoachAssignment.person_id == person_id,
            CoachAssignment.coach_id.in_(imr_coaches),
            CoachAssignment.coach_id != coach_id,
        )
        .values(active=False)
    )
    row = session.scalar(
        select(CoachAssignment).where(
            CoachAssignment.person_id == person_id, CoachAssignment.coach_id == coach_id
        )
    )
    if row is None:
        session.add(CoachAssignment(coach_id=coach_id, person_id=person_id, active=True, created_at=now))
    elif not row.active:
        row.active = True
        row.created_at = now
