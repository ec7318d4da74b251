"""The privacy officer's handling of the people's requests (GDPR chapter III).

Each step names an ``Action`` whose row in ``access/policy.py`` rests on the person's request
(``Basis.DATA_SUBJECT_REQUEST``) and records the purpose ``data_subject_request``. The officer
finds a person by personnummer and then sees what is held and why, per category, never a value,
except inside the export the person asked for. Audit records name the person by id and carry
counts, field names and rule ids only: nothing the officer types about the person and no value.

- ``lookup``: personnummer -> the id to act on (the number never reaches a URL or the audit log);
- ``extract`` / ``document``: the register extract (art. 15) as JSON and as a Markdown document;
- ``export``: the FHIR R4 Bundle (art. 20);
- ``rectify``: versioned corrections of identity and contact fields (art. 16);
- ``restrict``: the art. 18 flag, through the same service as the supervisor's;
- ``object``: to profiling (the coach's automated assessment asks ``objects_to``) or to mailings;
- ``record_request``: a request received (an IMR anonymization request starts retention rule i);
- ``set_legal_hold`` / ``release_legal_hold``: data kept for a legal claim until it lapses;
- ``erasure_preview`` / ``erase``: erasure or IMR anonymization after a confirmed preview;
- ``retention_preview``: who a retention run on a given day would remove, and why.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic_server.access.guard import Access, Guard
from clinic_server.access.policy import Action
from clinic_server.db.models import LegalHold, Objection, Person, PersonCorrection, SubjectRequest
from clinic_server.errors import refused
from clinic_server.services import erasure, extract, extract_document, fhir_export, retention
from clinic_server.services.consents import set_restriction
from clinic_server.services.rights_out import erasure_out, preview_out
from clinic_tui.api.schemas import ErrorCode, RestrictionOut
from clinic_tui.api.schemas.rights import (
    CorrectionOut,
    ErasureIn,
    ErasureOut,
    ErasurePreview,
    ExtractDocument,
    LegalHoldIn,
    LegalHoldOut,
    ObjectionIn,
    ObjectionOut,
    RectificationIn,
    RectificationOut,
    RequestIn,
    RequestOut,
    RetentionDue,
    RetentionPreview,
    SubjectExport,
    SubjectRef,
)
from clinic_tui.domain import personnummer
from clinic_tui.domain.categories import Category
from clinic_tui.domain.rights import ErasureMode, ObjectionKind
from clinic_tui.domain.roles import Outcome

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: the category of each rectifiable field (``RectifiableField``), from the data map's person holding
FIELD_CATEGORY: dict[str, Category] = {
    "personnummer": Category.IDENTITY,
    "given_name": Category.IDENTITY,
    "family_name": Category.IDENTITY,
    "sex": Category.IDENTITY,
    "birth_date": Category.IDENTITY,
    "phone": Category.CONTACT,
    "email": Category.CONTACT,
    "address": Category.CONTACT,
}
_MAX = {"given_name": 100, "family_name": 100, "phone": 40, "email": 200, "address": 300}


def _subject(
    guard: Guard, person_id: str, action: Action, verb: str, resource_type: str = "person"
) -> Access:
    return guard.person(person_id, action, verb=verb, resource_type=resource_type)


# --------------------------------------------------------------------------- finding, extract, export


def lookup(guard: Guard, number: str) -> SubjectRef:
    """The person a personnummer names, if the service holds them (the officer must be able to say
    "we hold nothing about you")."""
    guard.about(Action.SUBJECT_LOOKUP, verb="lookup", resource_type="person")
    guard.require_role(Action.SUBJECT_LOOKUP)
    try:
        pnr = personnummer.normalize(number)
    except personnummer.PersonnummerError as exc:
        raise refused(
            422, ErrorCode.INVALID_PERSONNUMMER, f"Personnummer: {exc}", outcome=Outcome.DENIED
        ) from None
    person = guard.session.scalar(select(Person).where(Person.personnummer == pnr))
    if person is None:
        raise refused(
            404,
            ErrorCode.NOT_FOUND,
            "The service holds no person with that personnummer.",
            outcome=Outcome.DENIED,
            resource="person",
        )
    guard.access(person, Action.SUBJECT_LOOKUP)
    session, now = guard.session, guard.now
    guard.scope.reason = "person found by personnummer"
    return SubjectRef(
        person_id=person.id,
        controllers=extract.controllers(session, person.id),
        restricted=person.restricted,
        legal_hold=bool(erasure.held(session, [person.id], now.date())),
        account_active=extract.account_active(session, person.id, now),
    )


def register_extract(guard: Guard, person_id: str):
    access = _subject(guard, person_id, Action.SUBJECT_EXTRACT, "extract")
    out = extract.build(guard.session, access.person, guard.now)
    guard.scope.note(categories=len(out.categories), accesses=len(out.accesses))
    guard.scope.reason = "register extract (GDPR art. 15)"
    return out


def document(guard: Guard, person_id: str, language: str) -> ExtractDocument:
    access = _subject(guard, person_id, Action.SUBJECT_EXTRACT, "extract_document")
    out = extract.build(guard.session, access.person, guard.now)
    guard.scope.note(language=language)
    guard.scope.reason = "register extract document (GDPR art. 15)"
    return ExtractDocument(
        person_id=access.person.id, language=language, text=extract_document.render(out, language)
    )


def export(guard: Guard, person_id: str) -> SubjectExport:
    """Everything held about the person, as a validated FHIR Bundle: values, at the person's request."""
    access = _subject(guard, person_id, Action.SUBJECT_EXPORT, "export")
    person = access.person
    held = extract.build(guard.session, person, guard.now)
    result = fhir_export.build(guard.session, person, guard.now)
    guard.scope.returned(c.category for c in held.categories)
    guard.scope.note(resource_counts=result.counts)
    guard.scope.reason = "FHIR export (GDPR art. 20)"
    return SubjectExport(person_id=person.id, resource_counts=result.counts, bundle=result.bundle)


# --------------------------------------------------------------------------- rectification


def _bad(message: str, field: str) -> Exception:
    return refused(422, ErrorCode.INVALID_CORRECTION, message, outcome=Outcome.DENIED, field=field)


def _new_value(session: Session, person: Person, field: str, value: str | None):
    if value is not None:
        value = value.strip()
        if value == "":
            value = None
    if value is None:
        if FIELD_CATEGORY[field] == Category.IDENTITY:
            raise _bad(f"{field} cannot be cleared.", field)
        return None
    if field == "personnummer":
        try:
            pnr = personnummer.normalize(value)
        except personnummer.PersonnummerError as exc:
            raise _bad(f"personnummer: {exc}", field) from None
        other = session.scalar(select(Person.id).where(Person.personnummer == pnr, Person.id != person.id))
        if other is not None:
            raise refused(
                409, ErrorCode.CONFLICT, "Another person holds that personnummer.", outcome=Outcome.DENIED
            )
        return pnr
    if field == "sex" and value not in ("female", "male", "other"):
        raise _bad("sex must be female, male or other.", field)
    if field == "email" and not _EMAIL.match(value):
        raise _bad("email: not an e-mail address.", field)
    if field in _MAX and len(value) > _MAX[field]:
        raise _bad(f"{field}: longer than {_MAX[field]} characters.", field)
    return value


def _text(value) -> str | None:
    return None if value is None else value.isoformat() if isinstance(value, date) else str(value)


def correction_out(c: PersonCorrection) -> CorrectionOut:
    return CorrectionOut(
        id=c.id,
        field=c.field,
        category=c.category,
        corrected_at=c.corrected_at,
        corrected_by=c.corrected_by,
        reason=c.reason,
    )


def rectify(guard: Guard, person_id: str, body: RectificationIn) -> RectificationOut:
    """Correct identity or contact fields: the person row holds the new value, the history the old
    one (who, when, why); a personnummer correction corrects the birth date with it."""
    access = _subject(guard, person_id, Action.SUBJECT_RECTIFY, "rectify")
    session, person = guard.session, access.person
    changes: dict[str, object] = {}
    for field, value in body.changes.items():
        new = _new_value(session, person, field, value)
        if new != getattr(person, field):
            changes[field] = new
    if "personnummer" in changes:
        birth = personnummer.birth_date(changes["personnummer"])
        if birth != person.birth_date:
            changes["birth_date"] = birth
    if not changes:
        raise _bad("The new values are the ones already held: nothing to correct.", "changes")
    rows = []
    for field, new in changes.items():
        row = PersonCorrection(
            person_id=person.id,
            field=field,
            category=str(FIELD_CATEGORY[field]),
            old_value=_text(getattr(person, field)),
            new_value=_text(new),
            reason=body.reason,
            corrected_by=guard.actor.username,
            corrected_at=guard.now,
        )
        session.add(row)
        setattr(person, field, new)
        rows.append(row)
    session.flush()
    guard.scope.returned({FIELD_CATEGORY[f] for f in changes})
    guard.scope.note(fields=sorted(changes), correction_ids=[r.id for r in rows])
    guard.scope.reason = f"rectified {len(changes)} field(s) (GDPR art. 16)"
    return RectificationOut(
        person_id=person.id,
        corrections=[correction_out(r) for r in rows],
        current={f: _text(getattr(person, f)) for f in changes},
    )


# --------------------------------------------------------------------------- restriction, objection


def restrict(guard: Guard, person_id: str, restricted: bool) -> RestrictionOut:
    """GDPR art. 18 at the person's request: the same flag and service as the supervisor's."""
    return set_restriction(guard, person_id, restricted, action=Action.SUBJECT_RESTRICTION)


def objects_to(session: Session, person_id: str, kind: ObjectionKind) -> bool:
    """Has the person an objection of ``kind`` in force? The coach's automated assessment passes this
    as ``objected_to_profiling`` (clinic_tui/domain/profiling.py); mailings skip objectors."""
    return (
        session.scalar(
            select(Objection.id).where(
                Objection.person_id == person_id, Objection.kind == kind, Objection.withdrawn_at.is_(None)
            )
        )
        is not None
    )


def object_(guard: Guard, person_id: str, body: ObjectionIn) -> ObjectionOut:
    """Record an objection (GDPR art. 21), or that the person withdrew it."""
    access = _subject(guard, person_id, Action.SUBJECT_OBJECTION, "objection", "objection")
    session = guard.session
    current = session.scalars(
        select(Objection).where(
            Objection.person_id == access.person.id,
            Objection.kind == body.kind,
            Objection.withdrawn_at.is_(None),
        )
    ).all()
    guard.scope.note(kind=str(body.kind), objected=body.objected)
    if body.objected:
        if current:
            row = current[0]
            guard.scope.reason = f"objection to {body.kind} already in force"
        else:
            row = Objection(
                person_id=access.person.id,
                kind=body.kind,
                objected_at=guard.now,
                recorded_by=guard.actor.username,
            )
            session.add(row)
            guard.scope.reason = f"objection to {body.kind} recorded"
    else:
        if not current:
            raise refused(
                404,
                ErrorCode.NOT_FOUND,
                f"No objection to {body.kind} is in force.",
                outcome=Outcome.DENIED,
                resource="objection",
            )
        for row in current:
            row.withdrawn_at = guard.now
        guard.scope.reason = f"objection to {body.kind} withdrawn"
    session.flush()
    return ObjectionOut(
        kind=row.kind,
        objected_at=row.objected_at,
        withdrawn_at=row.withdrawn_at,
        active=row.withdrawn_at is None,
    )


# --------------------------------------------------------------------------- requests, legal holds


def record_request(guard: Guard, person_id: str, body: RequestIn) -> RequestOut:
    """Record a request the person made (when it reached us). An IMR anonymization request is carried
    out by the next retention run (rule i), or at once by an erasure in anonymize mode."""
    access = _subject(guard, person_id, Action.SUBJECT_REQUEST, "request", "subject_request")
    received = body.received_on or guard.now.date()
    if received > guard.now.date():
        raise refused(
            422,
            ErrorCode.INVALID_REQUEST,
            "received_on cannot be in the future.",
            outcome=Outcome.DENIED,
            field="received_on",
        )
    row = SubjectRequest(
        person_id=access.person.id,
        kind=body.kind,
        received_on=received,
        recorded_by=guard.actor.username,
        recorded_at=guard.now,
        status="open",
    )
    guard.session.add(row)
    guard.session.flush()
    guard.scope.about(resource_id=row.id)
    guard.scope.note(kind=str(body.kind), received_on=received.isoformat())
    guard.scope.reason = f"{body.kind} request recorded"
    return RequestOut(id=row.id, kind=row.kind, received_on=row.received_on, status=row.status)


def _hold_out(h: LegalHold, today: date) -> LegalHoldOut:
    return LegalHoldOut(
        id=h.id,
        reason=h.reason,
        held_until=h.held_until,
        set_at=h.set_at,
        released_at=h.released_at,
        active=h.released_at is None and (h.held_until is None or h.held_until >= today),
    )


def set_legal_hold(guard: Guard, person_id: str, body: LegalHoldIn) -> LegalHoldOut:
    """Keep the person's data for a legal claim (IMR row 7) until ``held_until`` or release."""
    access = _subject(guard, person_id, Action.LEGAL_HOLD, "legal_hold", "legal_hold")
    if body.held_until is not None and body.held_until < guard.now.date():
        raise refused(
            422,
            ErrorCode.INVALID_REQUEST,
            "held_until is in the past.",
            outcome=Outcome.DENIED,
            field="held_until",
        )
    row = LegalHold(
        person_id=access.person.id,
        reason=body.reason,
        held_until=body.held_until,
        set_by=guard.actor.username,
        set_at=guard.now,
    )
    guard.session.add(row)
    guard.session.flush()
    guard.scope.about(resource_id=str(row.id))
    guard.scope.note(held_until=body.held_until.isoformat() if body.held_until else None)
    guard.scope.reason = "legal hold set"
    return _hold_out(row, guard.now.date())


def release_legal_hold(guard: Guard, person_id: str, hold_id: int) -> LegalHoldOut:
    access = _subject(guard, person_id, Action.LEGAL_HOLD, "legal_hold_release", "legal_hold")
    row = guard.session.get(LegalHold, hold_id)
    if row is None or row.person_id != access.person.id:
        raise refused(
            404,
            ErrorCode.NOT_FOUND,
            "This person has no such legal hold.",
            outcome=Outcome.DENIED,
            resource="legal_hold",
        )
    if row.released_at is None:
        row.released_at = guard.now
    guard.scope.about(resource_id=str(row.id))
    guard.scope.reason = "legal hold released"
    return _hold_out(row, guard.now.date())


# --------------------------------------------------------------------------- erasure


def erasure_preview(guard: Guard, person_id: str, mode: ErasureMode) -> ErasurePreview:
    access = _subject(guard, person_id, Action.SUBJECT_ERASE, "erasure_preview")
    outcome = erasure.preview(guard.session, [access.person.id], mode, guard.now)
    guard.scope.note(**outcome.summary())
    guard.scope.reason = f"erasure previewed ({mode})"
    return preview_out(guard.session, access.person.id, outcome, guard.now)


def erase(guard: Guard, person_id: str, body: ErasureIn) -> ErasureOut:
    """Erase (or anonymize) the person, exactly as the preview whose confirmation is sent showed."""
    access = _subject(guard, person_id, Action.SUBJECT_ERASE, "erase")
    session, pid, now = guard.session, access.person.id, guard.now
    if erasure.held(session, [pid], now.date()):
        raise refused(
            409,
            ErrorCode.LEGAL_HOLD,
            "A legal hold keeps this person's data until it is released or lapses.",
            outcome=Outcome.DENIED,
        )
    expected = erasure.preview(session, [pid], body.mode, now).confirmation([pid])
    if body.confirmation != expected:
        raise refused(
            409,
            ErrorCode.CONFIRMATION_STALE,
            "What would be erased changed since the preview (or this is not its confirmation): "
            "preview again and confirm that.",
            outcome=Outcome.DENIED,
        )
    done = erasure.erase(session, [pid], body.mode, now)
    guard.scope.note(**done.summary())
    guard.scope.reason = f"person erased ({body.mode}; GDPR art. 17)"
    return erasure_out(pid, done, now)


def retention_preview(guard: Guard, as_of: date | None) -> RetentionPreview:
    """Who a retention run on ``as_of`` (default today) would remove, by which rule."""
    guard.duty(Action.RETENTION_PREVIEW, verb="retention_preview", resource_type="person")
    day = as_of or guard.now.date()
    at = datetime.combine(day, guard.now.timetz())
    result = retention.assess(guard.session, at)
    items = [
        RetentionDue(
            person_id=d.person_id,
            controller=d.controller,
            rule_id=d.due.rule.id,
            rule_version=d.due.rule.version,
            due_on=d.due.on,
            mode=d.mode,
        )
        for d in result.due
    ]
    by_rule: dict[str, int] = {}
    for i in items:
        by_rule[i.rule_id] = by_rule.get(i.rule_id, 0) + 1
    guard.scope.note(as_of=day.isoformat(), by_rule=by_rule, person_ids=[i.person_id for i in items])
    guard.scope.reason = f"retention preview: {len(items)} people due"
    return RetentionPreview(
        as_of=day, items=items, by_rule=by_rule, billing_records_due=result.billing_due, held=len(result.held)
    )
