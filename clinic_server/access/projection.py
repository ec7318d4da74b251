"""Project a person's rows onto the categories a decision allows (the record and list responses).

The data map (``access/data_map.py``) says where each category lives; what a response shows of a
person is built here from the decision, so a withheld category is never filled in.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clinic_server.access.data_map import person_columns
from clinic_server.access.policy import Decision
from clinic_server.db.models import Observation, Person, RecordEntry
from clinic_tui.api.schemas import Contact, LatestValue, Occupation, PatientDetail, PatientSummary, RecordOut
from clinic_tui.domain.categories import ALL_CATEGORIES, Category
from clinic_tui.domain.codes import CONDITIONS, MEASUREMENTS

#: free-text record categories stored in RecordEntry
RECORD_CATEGORIES = (
    Category.MEDICATIONS,
    Category.HISTORY,
    Category.GOALS,
    Category.SOCIAL,
    Category.QUESTIONNAIRES,
    Category.PROFILING,
)


def pseudonym(person_id: str) -> str:
    return f"Patient {person_id[:6]}"


def _common(person: Person, decision: Decision) -> dict:
    allowed = decision.allowed
    data: dict = {
        "id": person.id,
        "label": pseudonym(person.id),
        "shared": sorted(allowed),
        "withheld": sorted(ALL_CATEGORIES - allowed),
        "access_basis": decision.basis,
        "break_glass_until": decision.break_glass_until,
    }
    if Category.IDENTITY in allowed:
        data.update({col: getattr(person, col) for col in person_columns(Category.IDENTITY)})
        data["label"] = f"{person.given_name} {person.family_name}"
    if Category.CONDITIONS in allowed:
        data["conditions"] = [CONDITIONS.get(c.code, c.code) for c in person.conditions]
        data["condition_codes"] = [c.code for c in person.conditions]
    return data


def summary(person: Person, decision: Decision) -> PatientSummary:
    return PatientSummary(**_common(person, decision))


def latest_values(session: Session, person_id: str) -> list[LatestValue]:
    newest = (
        select(Observation.loinc, func.max(Observation.effective_at).label("at"))
        .where(Observation.person_id == person_id)
        .group_by(Observation.loinc)
        .subquery()
    )
    rows = session.execute(
        select(Observation)
        .join(newest, (Observation.loinc == newest.c.loinc) & (Observation.effective_at == newest.c.at))
        .where(Observation.person_id == person_id)
    ).scalars()
    out: dict[str, LatestValue] = {}
    for o in rows:
        mt = MEASUREMENTS.get(o.loinc)
        if mt is None:
            continue
        out[o.loinc] = LatestValue(
            loinc=o.loinc,
            key=mt.key,
            display=mt.display,
            value=o.value,
            unit=o.unit,
            effective_at=o.effective_at,
        )
    order = list(MEASUREMENTS)
    return sorted(out.values(), key=lambda v: order.index(v.loinc))


def detail(session: Session, person: Person, decision: Decision) -> PatientDetail:
    allowed = decision.allowed
    data = _common(person, decision)
    if Category.CONTACT in allowed:
        data["contact"] = Contact(**{col: getattr(person, col) for col in person_columns(Category.CONTACT)})
    if Category.OCCUPATION in allowed:
        data["occupation"] = Occupation(
            employer=person.employer.name if person.employer else None, job_title=person.job_title
        )
    if Category.VITALS in allowed:
        data["latest"] = latest_values(session, person.id)
    wanted = [c.value for c in RECORD_CATEGORIES if c in allowed]
    if wanted:
        rows = session.scalars(
            select(RecordEntry)
            .where(RecordEntry.person_id == person.id, RecordEntry.category.in_(wanted))
            .order_by(RecordEntry.created_at.desc(), RecordEntry.id.desc())
        )
        data["records"] = [
            RecordOut(id=r.id, category=r.category, text=r.text, created_at=r.created_at) for r in rows
        ]
    return PatientDetail(**data)
