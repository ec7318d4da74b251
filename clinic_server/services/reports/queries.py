"""Who an employer report for one year rests on, from the coach's stored meetings.

``participants(session, employer_id, year, now)`` gives the engine's ``Participant`` records:

- everyone employed by the employer (``person.employer_id``: the one employer the service records;
  there is no employment history, so a person who changed employer counts for the new one) who had
  a meeting in the calendar year, not restricted (GDPR art. 18: no processing but storage), and 18
  or older on the meeting's date;
- with their **latest meeting in the year** (by date, then when it was saved), each of its parts as
  of the meeting's current revision (a correction counts, earlier revisions never do);
- sex from the person, and the age band on the meeting's date;
- categories from the stored values, classified by the same rules the coach's screen uses: the
  fitness category from the stored relative VO2max (Åstrand, sex and age on the meeting date), the
  BMI class from the stored BMI when it was derived by ``bmi`` v1, waist risk and blood-pressure
  grade from what was measured, the questionnaire's answers when it is the report's version;
  a value the rules cannot classify (an age outside Åstrand's table) is left out, not guessed;
- ``consented``: the health categories an **active consent to IMR** (an organization of kind
  ``imr``; purpose ``coaching`` or ``reporting``) covers at ``now``, the time the report is made. A
  withdrawal before then takes the person out of every health table (they still count as having
  taken part, which the employer may know).

No access decision is made here: ``services/reports/service.py`` asks the guard and
``may_aggregate`` first, and nothing this returns leaves the server except through the engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from clinic_server.db.models import CoachingMeeting, Consent, Organization, Person
from clinic_server.services import meetings as store
from clinic_server.services.reports.definitions import (
    EMPLOYER_REPORT,
    Participant,
    ReportDefinition,
    age_band,
)
from clinic_tui.domain import classification as cls
from clinic_tui.domain.categories import HEALTH_CATEGORIES, Category
from clinic_tui.domain.meeting import BMI, Part
from clinic_tui.domain.personnummer import age_years
from clinic_tui.domain.provenance import DomainError

__all__ = ["CONSENT_PURPOSES", "participants"]

#: the purposes of a consent to IMR that count for its statistics (docs/reports.md, "Who counts")
CONSENT_PURPOSES = ("coaching", "reporting")
ADULT = 18


def _latest_meetings(session: Session, employer_id: str, year: int) -> dict[str, tuple[str, Person]]:
    """person id -> (their latest meeting's id in ``year``, the person)."""
    rows = session.execute(
        select(CoachingMeeting.id, CoachingMeeting.person_id, Person)
        .join(Person, Person.id == CoachingMeeting.person_id)
        .where(
            Person.employer_id == employer_id,
            Person.restricted.is_(False),
            CoachingMeeting.held_on >= date(year, 1, 1),
            CoachingMeeting.held_on <= date(year, 12, 31),
        )
        .order_by(CoachingMeeting.held_on, CoachingMeeting.created_at, CoachingMeeting.id)
    )
    latest: dict[str, tuple[str, Person]] = {}
    for meeting_id, person_id, person in rows:
        latest[person_id] = (meeting_id, person)  # ordered: the last one wins
    return latest


def consented_categories(session: Session, person_ids: Iterable[str], now: datetime) -> dict[str, frozenset]:
    """person id -> the health categories their active consents to IMR cover at ``now``."""
    ids = list(person_ids)
    out: dict[str, set[Category]] = {pid: set() for pid in ids}
    if not ids:
        return {}
    for pid, categories in session.execute(
        select(Consent.person_id, Consent.categories)
        .join(Organization, Organization.id == Consent.organization_id)
        .where(
            Consent.person_id.in_(ids),
            Organization.kind == "imr",
            Consent.purpose.in_(CONSENT_PURPOSES),
            Consent.status == "active",
            Consent.valid_from <= now,
            or_(Consent.valid_until.is_(None), Consent.valid_until > now),
        )
    ):
        for c in categories or ():
            if c in Category.__members__.values() and Category(c) in HEALTH_CATEGORIES:
                out[pid].add(Category(c))
    return {pid: frozenset(cats) for pid, cats in out.items()}


def _classified(fn, **kwargs) -> str | None:
    if any(v is None for v in kwargs.values()):
        return None
    try:
        return fn(**kwargs).value
    except DomainError:
        return None


def _bmi_class(m: dict | None) -> str | None:
    if not m or m.get("bmi") is None:
        return None
    if (m.get("bmi_rule_id"), m.get("bmi_rule_version")) != (BMI.id, BMI.version):
        return None
    return [name for name, lowest in cls.BMI_CUTOFFS if m["bmi"] >= lowest][-1]


def participants(
    session: Session,
    employer_id: str,
    year: int,
    now: datetime,
    definition: ReportDefinition = EMPLOYER_REPORT,
) -> list[Participant]:
    """The participants of ``employer_id``'s report for ``year``, one per person (module docstring)."""
    latest = _latest_meetings(session, employer_id, year)
    loaded = store.load(session, [mid for mid, _ in latest.values()])
    consents = consented_categories(session, latest.keys(), now)
    q = definition.questionnaire
    out: list[Participant] = []
    for person_id in sorted(latest):
        meeting_id, person = latest[person_id]
        rows = loaded[meeting_id]
        held_on = rows.meeting.held_on
        age = age_years(person.birth_date, held_on)
        if age < ADULT or person.sex not in definition.sexes:
            continue
        revision = rows.meeting.current_revision
        m = rows.columns_at(Part.MEASUREMENTS, revision)
        f = rows.columns_at(Part.FITNESS_TEST, revision)
        qn = rows.columns_at(Part.QUESTIONNAIRE, revision)
        vo2 = f.get("vo2max_ml_kg_min") if f else None
        answers: dict[str, str] = {}
        if qn and (qn["questionnaire_id"], qn["questionnaire_version"]) == (q.id, q.version):
            answers = {str(k): str(v) for k, v in (qn["answers"] or {}).items()}
        out.append(
            Participant(
                person_id=person_id,
                sex=person.sex,
                age_band=age_band(age),
                consented=consents.get(person_id, frozenset()),
                fitness_category=_classified(
                    cls.fitness_category, sex=person.sex, age=age, vo2max_ml_kg_min=vo2
                ),
                vo2max_ml_kg_min=vo2,
                bmi_category=_bmi_class(m),
                waist_category=_classified(
                    cls.waist_category, sex=person.sex, waist_cm=m.get("waist_cm") if m else None
                ),
                bp_grade=_classified(
                    cls.bp_grade,
                    systolic=m.get("systolic") if m else None,
                    diastolic=m.get("diastolic") if m else None,
                ),
                answers=answers,
            )
        )
    return out
