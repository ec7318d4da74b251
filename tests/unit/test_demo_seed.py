import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clinic_server.db import make_engine
from clinic_server.db.migrate import upgrade
from clinic_server.db.models import (
    BillingRecord,
    CoachAssignment,
    CoachingAssessment,
    CoachingFitnessTest,
    CoachingMeeting,
    Condition,
    Consent,
    JobRun,
    Observation,
    Organization,
    Person,
    ProfilingObjection,
    User,
)
from clinic_server.demo.seed import seed_demo
from clinic_server.services import meetings as store
from clinic_tui.domain import personnummer
from clinic_tui.domain.categories import Category
from clinic_tui.domain.codes import CONDITIONS, LOINC_WEIGHT, validate
from clinic_tui.domain.meeting import COACHING_CATEGORIES, PART_CATEGORY, Part
from clinic_tui.domain.personnummer import age_years as age_on

NOW = datetime(2026, 11, 22, 14, 5, tzinfo=UTC)
ANCHOR = datetime(2026, 11, 22, tzinfo=UTC)
SMALL = {"patients": 60, "participants": 10, "days": 14}


def _session(tmp_path, name="d") -> Session:
    engine = make_engine(f"sqlite:///{tmp_path}/{name}.sqlite3")
    upgrade(engine)
    return Session(engine)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    session = _session(tmp_path_factory.mktemp("demo"))
    counts = seed_demo(session, now=NOW, **SMALL)
    yield session, counts
    session.close()


def _org_id(session: Session, name: str) -> str:
    return session.scalar(select(Organization.id).where(Organization.name == name))


def _active_care(session: Session, org_name: str) -> set[str]:
    org = _org_id(session, org_name)
    return {
        c.person_id
        for c in session.scalars(select(Consent).where(Consent.organization_id == org))
        if c.purpose == "care"
        and c.status == "active"
        and c.valid_from <= ANCHOR
        and (c.valid_until is None or ANCHOR < c.valid_until)
    }


def _snapshot(session: Session):
    people = session.execute(
        select(
            Person.id,
            Person.personnummer,
            Person.given_name,
            Person.family_name,
            Person.birth_date,
            Person.sex,
            Person.phone,
            Person.email,
            Person.address,
            Person.restricted,
            Person.sends_daily,
            Person.created_at,
        ).order_by(Person.id)
    ).all()
    sums = session.execute(
        select(Observation.loinc, func.count(), func.sum(Observation.value))
        .group_by(Observation.loinc)
        .order_by(Observation.loinc)
    ).all()
    consents = session.execute(
        select(
            Consent.id, Consent.person_id, Consent.categories, Consent.status, Consent.valid_from
        ).order_by(Consent.id)
    ).all()
    meetings = session.execute(
        select(
            CoachingMeeting.id,
            CoachingMeeting.person_id,
            CoachingMeeting.held_on,
            CoachingMeeting.kind,
            CoachingFitnessTest.inputs,
            CoachingFitnessTest.vo2max_l_min,
        )
        .outerjoin(CoachingFitnessTest, CoachingFitnessTest.meeting_id == CoachingMeeting.id)
        .order_by(CoachingMeeting.id)
    ).all()
    return people, sums, consents, meetings


def test_counts_match_parameters(seeded):
    session, counts = seeded
    assert counts["patients"] == 60
    assert counts["participants"] == 10
    assert session.scalar(select(func.count()).select_from(Person)) == 70
    assert session.scalar(select(func.count()).select_from(Observation)) == counts["observations"]
    assert session.scalar(select(func.count()).select_from(Consent)) == counts["consents"]
    assert {u.username: (u.role, u.organization.name) for u in session.scalars(select(User))} == {
        "anna": ("nurse", "Vårdcentralen Norra"),
        "bertil": ("nurse", "Hjärtmottagningen Söder"),
        "cecilia": ("coach", "IMR"),
        "david": ("supervisor", "Vårdcentralen Norra"),
        "elsa": ("privacy_officer", "Dataskyddsombudet"),
        "eva": ("supervisor", "Hjärtmottagningen Söder"),
        "frida": ("supervisor", "IMR"),
        "gustav": ("report_analyst", "IMR"),
    }
    # every care provider and IMR has a supervisor: an emergency access or a finding about any of
    # their users reaches one (the privacy office and ImagineCare's own app read no records)
    supervised = {u.organization_id for u in session.scalars(select(User).where(User.role == "supervisor"))}
    kinds = ("care_provider", "imr")
    assert supervised == set(session.scalars(select(Organization.id).where(Organization.kind.in_(kinds))))


def test_deterministic_for_same_day(tmp_path):
    a, b = _session(tmp_path, "a"), _session(tmp_path, "b")
    try:
        seed_demo(a, now=NOW, **SMALL)
        # a different time on the same UTC day gives the same data
        seed_demo(b, now=NOW.replace(hour=23, minute=59), **SMALL)
        snap_a, snap_b = _snapshot(a), _snapshot(b)
        assert snap_a[0] and snap_a[1] and snap_a[3]
        assert snap_a == snap_b
    finally:
        a.close()
        b.close()


def test_other_seed_gives_other_people(tmp_path):
    a, b = _session(tmp_path, "a"), _session(tmp_path, "b")
    try:
        seed_demo(a, now=NOW, **SMALL)
        seed_demo(b, now=NOW, seed=7, **SMALL)
        assert _snapshot(a)[0] != _snapshot(b)[0]
    finally:
        a.close()
        b.close()


def test_refuses_to_seed_twice(seeded):
    session, _ = seeded
    with pytest.raises(RuntimeError, match="already has data"):
        seed_demo(session, now=NOW, **SMALL)


def test_observations_valid_and_before_anchor(seeded):
    session, _ = seeded
    rows = session.execute(select(Observation.loinc, Observation.unit, Observation.value)).all()
    assert rows
    for loinc, unit, value in rows:
        validate(loinc, unit, value)
    first, last = session.execute(
        select(func.min(Observation.effective_at), func.max(Observation.effective_at))
    ).one()
    assert first >= ANCHOR - timedelta(days=SMALL["days"])
    assert last < ANCHOR
    assert session.scalar(select(func.count()).where(Observation.device_id.is_not(None))) == 0


def test_blood_pressure_pairs_share_timestamp(seeded):
    session, _ = seeded
    times = defaultdict(set)
    for pid, loinc, at in session.execute(
        select(Observation.person_id, Observation.loinc, Observation.effective_at).where(
            Observation.loinc.in_(("8480-6", "8462-4"))
        )
    ):
        times[(pid, loinc)].add(at)
    pids = {pid for pid, _ in times}
    assert pids
    for pid in pids:
        assert times[(pid, "8480-6")] == times[(pid, "8462-4")]


def test_personnummer_valid_and_match_birth_date(seeded):
    session, _ = seeded
    people = session.scalars(select(Person)).all()
    assert len({p.personnummer for p in people}) == len(people)
    for p in people:
        assert personnummer.is_valid(p.personnummer)
        assert personnummer.birth_date(p.personnummer) == p.birth_date
        assert personnummer.sex(p.personnummer) == p.sex


def test_conditions(seeded):
    session, _ = seeded
    per_person = defaultdict(list)
    for pid, code, onset in session.execute(select(Condition.person_id, Condition.code, Condition.onset)):
        assert code in CONDITIONS
        assert onset is not None and onset < ANCHOR.date()
        per_person[pid].append(code)
    patients = session.scalars(select(Person.id).where(Person.employer_id.is_(None))).all()
    for pid in patients:
        assert 1 <= len(per_person[pid]) <= 3
        assert len(set(per_person[pid])) == len(per_person[pid])


def test_consent_patterns(seeded):
    session, _ = seeded
    consents = session.scalars(select(Consent)).all()
    valid = {c.value for c in Category}
    for c in consents:
        assert set(c.categories) <= valid
    assert any(c.status == "withdrawn" and c.withdrawn_at is not None for c in consents)
    assert any(c.valid_until is not None and c.valid_until < ANCHOR for c in consents)
    people = {p.id: p for p in session.scalars(select(Person))}
    norra = _active_care(session, "Vårdcentralen Norra")
    soder = _active_care(session, "Hjärtmottagningen Söder")
    assert norra and soder and norra != soder
    assert norra & soder  # some consent to both
    restricted = {pid for pid, p in people.items() if p.restricted}
    minors = {pid for pid, p in people.items() if age_on(p.birth_date, ANCHOR.date()) < 18}
    assert len(restricted) == 2 and restricted <= norra
    assert len(minors) == 2 and minors <= norra
    for pid in minors:
        assert 16 <= age_on(people[pid].birth_date, ANCHOR.date()) <= 17
    with_care = {c.person_id for c in consents if c.purpose == "care"}
    patients = {pid for pid, p in people.items() if p.employer_id is None}
    assert patients - with_care  # some patients gave no care provider a consent
    # every patient has an ImagineCare account (an active consent to ImagineCare AB itself)
    app = _org_id(session, "ImagineCare AB")
    accounts = {c.person_id for c in consents if c.organization_id == app and c.purpose == "self_care"}
    assert accounts == patients
    assert all(c.status == "active" for c in consents if c.purpose == "self_care")


def test_participants(seeded):
    session, _ = seeded
    imr = _org_id(session, "IMR")
    participants = session.scalars(select(Person).where(Person.employer_id.is_not(None))).all()
    assert len(participants) == 10
    assert all(p.job_title for p in participants)
    assert {p.employer.name for p in participants} <= {"Nordbygg AB", "Solgruppen AB"}
    imr_consents = session.scalars(select(Consent).where(Consent.organization_id == imr)).all()
    assert imr_consents and {c.purpose for c in imr_consents} == {"coaching", "statistics"}
    assert {c.person_id for c in imr_consents} <= {p.id for p in participants}
    # anonymized statistics only of what the coaching consent covers, and only health categories
    coaching = {c.person_id: set(c.categories) for c in imr_consents if c.purpose == "coaching"}
    for c in imr_consents:
        if c.purpose == "statistics":
            assert set(c.categories) <= coaching[c.person_id] - {"identity", "contact", "occupation"}
    # a billed meeting per participant with a coaching consent, kept for bookkeeping to 31 Dec + 7 years
    bills = session.scalars(select(BillingRecord)).all()
    assert {b.person_id for b in bills} == set(coaching)
    for b in bills:
        assert b.keep_until == date(b.fiscal_year_end.year + 7, 12, 31) and b.fiscal_year_end.month == 12
    # the demo's first retention run comes a day after seeding
    run = session.get(JobRun, "retention")
    assert run.last_finished_at is not None and run.last_finished_at.date() == NOW.date()
    assigned = session.scalars(select(CoachAssignment)).all()
    cecilia = session.scalar(select(User.id).where(User.username == "cecilia"))
    assert assigned and all(a.coach_id == cecilia for a in assigned)
    # participants are not patients of the care organizations
    care = _active_care(session, "Vårdcentralen Norra") | _active_care(session, "Hjärtmottagningen Söder")
    assert not care & {p.id for p in participants}


def test_full_default_seed(tmp_path):
    session = _session(tmp_path)
    try:
        started = time.perf_counter()
        counts = seed_demo(session, now=NOW)
        elapsed = time.perf_counter() - started
        print(f"full demo seed: {elapsed:.1f} s, {counts}")
        assert counts["patients"] >= 200
        assert counts["participants"] == 40
        # the cycle tests around the Swedish health-profile means (Väisänen et al. 2024: 3.58 L/min
        # men, 2.41 women), never outside what the test gives for adults
        by_sex = defaultdict(list)
        for sex, vo2max in session.execute(
            select(Person.sex, CoachingFitnessTest.vo2max_l_min)
            .join(CoachingMeeting, CoachingMeeting.id == CoachingFitnessTest.meeting_id)
            .join(Person, Person.id == CoachingMeeting.person_id)
        ):
            by_sex[sex].append(vo2max)
        assert len(by_sex["male"]) >= 10 and len(by_sex["female"]) >= 10
        men, women = (sum(v) / len(v) for v in (by_sex["male"], by_sex["female"]))
        assert 3.1 <= men <= 4.1 and 2.0 <= women <= 2.8, (men, women)
        assert all(1.3 <= v <= 4.9 for v in by_sex["male"] + by_sex["female"])
        assert counts["meetings"] >= 30
        assert len(_active_care(session, "Vårdcentralen Norra")) >= 80
        assert len(_active_care(session, "Hjärtmottagningen Söder")) >= 70

        patients = {p.id: p for p in session.scalars(select(Person).where(Person.employer_id.is_(None)))}
        weights = session.execute(
            select(
                Observation.person_id,
                func.count(),
                func.min(Observation.effective_at),
                func.max(Observation.effective_at),
            )
            .where(Observation.loinc == LOINC_WEIGHT)
            .group_by(Observation.person_id)
        ).all()
        by_person = {pid: (n, lo, hi) for pid, n, lo, hi in weights}
        assert set(patients) <= set(by_person)
        full_series = 0
        stopped = 0
        for pid, p in patients.items():
            n, lo, hi = by_person[pid]
            assert lo.date() == date(2026, 8, 24)  # 90 days before the anchor
            if n == 90:
                full_series += 1
                assert hi - lo >= timedelta(days=88)
            if p.sends_daily and ANCHOR - hi > timedelta(days=4):
                stopped += 1
        # daily senders send every day except the few who stopped 4 days before the anchor
        assert full_series >= counts["patients"] * 0.8
        assert 3 <= stopped <= 7
    finally:
        session.close()


# --------------------------------------------------------------------------- the coach's demo


def _imr_consents(session: Session) -> dict[str, set[str]]:
    imr = _org_id(session, "IMR")
    return {
        c.person_id: set(c.categories)
        for c in session.scalars(select(Consent).where(Consent.organization_id == imr))
    }


def _cecilias(session: Session) -> list[Person]:
    cecilia = session.scalar(select(User.id).where(User.username == "cecilia"))
    ids = session.scalars(select(CoachAssignment.person_id).where(CoachAssignment.coach_id == cecilia))
    return list(session.scalars(select(Person).where(Person.id.in_(list(ids)))))


def test_the_coach_meets_each_case(seeded):
    session, counts = seeded
    consents = _imr_consents(session)
    mine = _cecilias(session)
    running = {p.id for p in mine if p.employer.contract_end is None}
    legit = [p for p in mine if p.id not in consents and p.id in running]
    fitness_only = [p for p in mine if consents.get(p.id) == {"fitness_tests"}]
    objectors = set(session.scalars(select(ProfilingObjection.person_id)))
    assert legit and fitness_only and len(objectors) == 1 == counts["profiling_objections"]
    assert objectors <= {p.id for p in mine}
    with_meetings = set(session.scalars(select(CoachingMeeting.person_id)))
    # at both employers (one contract running, one ended), and never without a consent to record them
    assert {p.employer.name for p in mine if p.id in with_meetings} == {"Nordbygg AB", "Solgruppen AB"}
    assert not with_meetings & {p.id for p in legit}
    covered = {p.id for p in mine if set(consents.get(p.id, ())) & set(COACHING_CATEGORIES)}
    assert with_meetings == covered


def test_earlier_meetings_are_what_the_api_would_have_stored(seeded):
    session, counts = seeded
    consents = _imr_consents(session)
    people = {p.id: p for p in session.scalars(select(Person))}
    objection = {o.person_id: o.recorded_at.date() for o in session.scalars(select(ProfilingObjection))}
    meetings = session.scalars(select(CoachingMeeting).order_by(CoachingMeeting.held_on)).all()
    assert len(meetings) == counts["meetings"]
    per_person: dict[str, list] = defaultdict(list)
    for m in meetings:
        per_person[m.person_id].append(m)
    assert all(1 <= len(v) <= 3 for v in per_person.values())
    for held in per_person.values():
        assert [m.kind for m in held] == ["first"] + ["follow_up"] * (len(held) - 1)
        assert all(m.held_on < ANCHOR.date() for m in held)
    loaded = store.load(session, [m.id for m in meetings])
    for m in meetings:
        rows = loaded[m.id]
        person = people[m.person_id]
        allowed = consents[m.person_id]
        # only what the consent covers was recorded
        for part in (Part.MEASUREMENTS, Part.QUESTIONNAIRE, Part.FITNESS_TEST, Part.NOTES):
            assert (rows.at(part, 1) is not None) == (str(PART_CATEGORY[part]) in allowed), (part, allowed)
        # the stored derived values are the rules' own (BMI, the estimate, the assessment)
        state = store.state_at(rows, 1)
        age = age_on(person.birth_date, m.held_on)
        built = store.build(state, sex=person.sex, age=age)
        assert built.problems == []
        for part, cols in built.columns.items():
            assert rows.columns_at(part, 1) == cols, part
        objected = m.person_id in objection and m.held_on >= objection[m.person_id]
        want = store.assessment_columns(
            state, built, sex=person.sex, age=age, allowed=frozenset(allowed), objected=objected
        )
        assert rows.columns_at(Part.ASSESSMENT, 1) == want
        if "fitness_tests" in allowed and "vitals" not in allowed:
            assert rows.columns_at(Part.FITNESS_TEST, 1)["weight_source"] == "test"
    statuses = set(session.scalars(select(CoachingAssessment.status)))
    assert {"assessed", "objected"} <= statuses
