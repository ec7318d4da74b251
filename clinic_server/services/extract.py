"""The register extract (GDPR art. 15), built from the data map: what is held about a person, why,
on which basis, who received it and who accessed it, and until when it is kept.

Both policies promise it: ImagineCare §6 "a register extract from us that describes which personal
data is registered about you, the purposes of the processing ... and to which recipients the data
has been or will be disclosed"; IMR §8 "Rätt att bli informerad". Categories are counted from
every holding of ``access/data_map.py`` (a new table is counted without a change here); no value
leaves this module, only categories, counts and dates.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from sqlalchemy import JSON, String, cast, func, or_, select
from sqlalchemy.orm import Session

from clinic_server.access.data_map import HOLDINGS, Erasure, Holding
from clinic_server.db.models import (
    AuditEvent,
    Base,
    CoachAssignment,
    Consent,
    LegalHold,
    Objection,
    Organization,
    Person,
    PersonCorrection,
    PersonNotice,
    SubjectRequest,
    User,
)
from clinic_server.services import retention
from clinic_server.services.erasure import linked
from clinic_server.services.rights_out import subject_consent
from clinic_tui.api.schemas.rights import (
    AccessOut,
    CoachOut,
    CorrectionOut,
    HeldCategory,
    HeldSource,
    LegalHoldOut,
    NoticeOut,
    ObjectionOut,
    PurposeOut,
    RegisterExtract,
    RequestOut,
    RetentionOut,
)
from clinic_tui.domain.categories import Category
from clinic_tui.domain.rights import BOOKKEEPING, IMAGINECARE_ACCOUNT_CLOSED, PROCESSING
from clinic_tui.domain.roles import OrganizationKind, Purpose

#: the notice kind break-the-glass leaves the person (services/breakglass.py)
EMERGENCY_NOTICE = "break_glass"


def _dt(value) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, datetime.min.time(), tzinfo=UTC)


def controllers(session: Session, person_id: str) -> list[OrganizationKind]:
    """The controllers that hold data about the person: ImagineCare (an account, or a care provider
    the app shares with) and IMR (a participant)."""
    kinds = set(
        session.scalars(
            select(Organization.kind)
            .join(Consent, Consent.organization_id == Organization.id)
            .where(Consent.person_id == person_id)
        )
    )
    out = []
    if kinds & {OrganizationKind.IMAGINECARE, OrganizationKind.CARE_PROVIDER}:
        out.append(OrganizationKind.IMAGINECARE)
    if retention.imr_participants(session, [person_id]):
        out.append(OrganizationKind.IMR)
    return out


def _held(session: Session, person: Person) -> dict[Category, list[HeldSource]]:
    held: dict[Category, list[HeldSource]] = defaultdict(list)
    for h in HOLDINGS:
        if h.on_erasure == Erasure.KEEP:
            continue
        if h.table == "person":
            for cat in sorted(h.categories):
                if any(getattr(person, col) is not None for col in h.of(cat)):
                    held[cat].append(
                        HeldSource(source=h.table, count=1, first=person.created_at, last=person.created_at)
                    )
            continue
        _count_holding(session, h, person.id, held)
    return held


def _source(h: Holding, n: int, span: list) -> HeldSource:
    first, last = (_dt(span[0]), _dt(span[1])) if span else (None, None)
    return HeldSource(source=h.table, count=n, first=first, last=last)


def _count_holding(session: Session, h: Holding, pid: str, held: dict[Category, list[HeldSource]]) -> None:
    t = Base.metadata.tables[h.table]
    when = t.c[h.dated_by] if h.dated_by else None
    agg = [func.count(), func.min(when), func.max(when)] if when is not None else [func.count()]
    if h.record_category and isinstance(t.c[h.record_category].type, JSON):
        # each row is of the categories its list names (a meeting's revision: the parts it wrote)
        per: dict[str, list] = {}
        for cats, at in session.execute(select(t.c[h.record_category], when).where(linked(h, [pid]))):
            for cat in cats or ():
                n, first, last = per.get(cat, (0, at, at))
                per[cat] = (n + 1, min(first, at), max(last, at))
        for cat, (n, first, last) in sorted(per.items()):
            if cat in Category._value2member_map_:
                held[Category(cat)].append(_source(h, n, [first, last]))
        return
    if h.record_category:
        rows = session.execute(
            select(t.c[h.record_category], *agg).where(linked(h, [pid])).group_by(t.c[h.record_category])
        )
        for cat, n, *span in rows:
            if cat in Category._value2member_map_ and n:
                held[Category(cat)].append(_source(h, n, span))
        return
    cats = h.categories
    if not cats:
        return
    n, *span = session.execute(select(*agg).where(linked(h, [pid]))).one()
    if n:
        for cat in sorted(cats):
            held[cat].append(
                HeldSource(
                    source=h.table,
                    count=n,
                    first=_dt(span[0]) if span else None,
                    last=_dt(span[1]) if span else None,
                )
            )


def _accesses(session: Session, pid: str) -> list[AccessOut]:
    notices = sorted(
        session.scalars(
            select(PersonNotice.created_at).where(
                PersonNotice.person_id == pid, PersonNotice.kind == EMERGENCY_NOTICE
            )
        )
    )
    stmt = (
        select(AuditEvent, Organization.name)
        .outerjoin(Organization, Organization.id == AuditEvent.organization_id)
        .where(or_(AuditEvent.person_id == pid, cast(AuditEvent.details, String).like(f'%"{pid}"%')))
        .order_by(AuditEvent.seq)
    )
    out = []
    for e, org_name in session.execute(stmt):
        emergency = e.purpose == Purpose.EMERGENCY or pid in (e.details.get("emergency_person_ids") or [])
        notice_at = None
        if emergency:
            earlier = [n for n in notices if n <= e.ts + timedelta(seconds=1)]
            notice_at = earlier[-1] if earlier else None
        out.append(
            AccessOut(
                seq=e.seq,
                at=e.ts,
                username=e.username,
                role=e.role,
                organization_id=e.organization_id,
                organization_name=org_name,
                action=e.action,
                resource_type=e.resource_type,
                purpose=e.purpose,
                outcome=e.outcome,
                categories=list(e.categories or []),
                emergency=emergency,
                notice_at=notice_at,
            )
        )
    return out


def _retention(session: Session, pid: str, now: datetime) -> list[RetentionOut]:
    today = now.date()
    on_hold = bool(
        session.scalar(
            select(func.count())
            .select_from(LegalHold)
            .where(
                LegalHold.person_id == pid,
                LegalHold.released_at.is_(None),
                or_(LegalHold.held_until.is_(None), LegalHold.held_until >= today),
            )
        )
    )
    out = []

    def status(due_on) -> str:
        if due_on is None or due_on > today:
            return "kept"
        return "held" if on_hold else "due"

    for d in retention.dues(session, now, [pid]).get(pid, []):
        if d.controller == OrganizationKind.IMAGINECARE:
            continue
        rule = d.due.rule
        out.append(
            RetentionOut(
                controller=d.controller,
                rule_id=rule.id,
                rule_version=rule.version,
                due_on=d.due.on,
                status=status(d.due.on),
            )
        )
    ends = retention.account_ends(session, [pid], now)
    if pid in ends:
        end = ends[pid]
        out.append(
            RetentionOut(
                controller=OrganizationKind.IMAGINECARE,
                rule_id=IMAGINECARE_ACCOUNT_CLOSED.id,
                rule_version=IMAGINECARE_ACCOUNT_CLOSED.version,
                due_on=end,
                status=status(end),
            )
        )
    until = retention.billing_until(session, pid)
    if until is not None:
        out.append(
            RetentionOut(
                controller=OrganizationKind.IMR,
                rule_id=BOOKKEEPING.id,
                rule_version=BOOKKEEPING.version,
                due_on=until + timedelta(days=1),
                status="kept",
            )
        )
    return out


def corrections(session: Session, pid: str) -> list[CorrectionOut]:
    return [
        CorrectionOut(
            id=c.id,
            field=c.field,
            category=c.category,
            corrected_at=c.corrected_at,
            corrected_by=c.corrected_by,
            reason=c.reason,
        )
        for c in session.scalars(
            select(PersonCorrection).where(PersonCorrection.person_id == pid).order_by(PersonCorrection.id)
        )
    ]


def objections(session: Session, pid: str) -> list[ObjectionOut]:
    return [
        ObjectionOut(
            kind=o.kind, objected_at=o.objected_at, withdrawn_at=o.withdrawn_at, active=o.withdrawn_at is None
        )
        for o in session.scalars(select(Objection).where(Objection.person_id == pid).order_by(Objection.id))
    ]


def build(session: Session, person: Person, now: datetime) -> RegisterExtract:
    pid = person.id
    ctl = controllers(session, pid)
    held = _held(session, person)
    categories = []
    for cat in sorted(held, key=lambda c: list(Category).index(c)):
        sources = held[cat]
        firsts = [s.first for s in sources if s.first]
        lasts = [s.last for s in sources if s.last]
        purposes = [
            PurposeOut(controller=c, purpose=p.purpose, basis=p.basis, source=p.source)
            for c in ctl
            for p in PROCESSING.get((c, cat), ())
        ]
        categories.append(
            HeldCategory(
                category=cat,
                count=sum(s.count for s in sources),
                first=min(firsts) if firsts else None,
                last=max(lasts) if lasts else None,
                sources=sources,
                purposes=purposes,
            )
        )
    consents = [
        subject_consent(c, o, now)
        for c, o in session.execute(
            select(Consent, Organization)
            .join(Organization, Organization.id == Consent.organization_id)
            .where(Consent.person_id == pid)
            .order_by(Consent.valid_from, Consent.id)
        )
    ]
    coaches = [
        CoachOut(organization_id=o.id, organization_name=o.name, since=a.created_at, active=a.active)
        for a, o in session.execute(
            select(CoachAssignment, Organization)
            .join(User, User.id == CoachAssignment.coach_id)
            .join(Organization, Organization.id == User.organization_id)
            .where(CoachAssignment.person_id == pid)
            .order_by(CoachAssignment.created_at)
        )
    ]
    notices = [
        NoticeOut(kind=n.kind, at=n.created_at)
        for n in session.scalars(
            select(PersonNotice).where(PersonNotice.person_id == pid).order_by(PersonNotice.id)
        )
    ]
    requests = [
        RequestOut(
            id=r.id, kind=r.kind, received_on=r.received_on, status=r.status, completed_at=r.completed_at
        )
        for r in session.scalars(
            select(SubjectRequest).where(SubjectRequest.person_id == pid).order_by(SubjectRequest.received_on)
        )
    ]
    holds = [
        LegalHoldOut(
            id=h.id,
            reason=h.reason,
            held_until=h.held_until,
            set_at=h.set_at,
            released_at=h.released_at,
            active=h.released_at is None and (h.held_until is None or h.held_until >= now.date()),
        )
        for h in session.scalars(select(LegalHold).where(LegalHold.person_id == pid).order_by(LegalHold.id))
    ]
    return RegisterExtract(
        person_id=pid,
        generated_at=now,
        controllers=ctl,
        restricted=person.restricted,
        categories=categories,
        consents=consents,
        coaches=coaches,
        accesses=_accesses(session, pid),
        notices=notices,
        retention=_retention(session, pid, now),
        objections=objections(session, pid),
        requests=requests,
        corrections=corrections(session, pid),
        legal_holds=holds,
    )


def account_active(session: Session, pid: str, now: datetime) -> bool:
    ends = retention.account_ends(session, [pid], now)
    return pid in ends and ends[pid] is None
