"""Worlds for the people's-rights tests: the organizations and accounts, integration keys, and a
person with data in every holding of the data map (setup only; assertions go through the API)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clinic_server.access.data_map import HOLDINGS, Erasure
from clinic_server.db.models import (
    Alert,
    AlertEvent,
    Base,
    BillingRecord,
    BreakGlassGrant,
    BreakGlassVerdict,
    CoachAssignment,
    CoachingAssessment,
    CoachingFitnessTest,
    CoachingMeasurement,
    CoachingMeeting,
    CoachingNote,
    CoachingQuestionnaire,
    CoachingRevision,
    Condition,
    Consent,
    Device,
    Employer,
    IssuedReport,
    LegalHold,
    Objection,
    Observation,
    Organization,
    Person,
    PersonCorrection,
    PersonNotice,
    ProfilingObjection,
    RecordEntry,
    ReportPopulation,
    SubjectRequest,
    ThresholdOverride,
    User,
)
from clinic_server.services.erasure import linked
from clinic_server.services.ingest import hash_key
from clinic_server.services.integrations import create_client
from clinic_tui.domain import personnummer
from clinic_tui.domain.categories import ALL_CATEGORIES, HEALTH_CATEGORIES, Category
from tests.factories import World

APP_KEY = "cik_test-imaginecare-app-key-0123456789abcdef"
IMR_KEY = "cik_test-imr-onboarding-key-0123456789abcdef"
NOW = datetime.now(UTC)


def app_headers() -> dict:
    return {"X-Client-Key": APP_KEY}


def imr_headers() -> dict:
    return {"X-Client-Key": IMR_KEY}


@dataclass
class Orgs:
    norra: Organization
    soder: Organization
    imr: Organization
    app: Organization
    office: Organization
    employer: Employer
    users: dict[str, User]


def organizations(world: World, session: Session) -> Orgs:
    """The demo's shape: two care providers, IMR, ImagineCare AB, the privacy office; anna, bertil,
    cecilia, david and elsa; an employer with a running contract; the two integration keys."""
    norra = world.org("Vårdcentralen Norra")
    soder = world.org("Hjärtmottagningen Söder")
    imr = world.org("IMR", "imr")
    app = world.org("ImagineCare AB", "imaginecare")
    office = world.org("Dataskyddsombudet", "operator")
    users = {
        "anna": world.user("anna", "nurse", norra),
        "bertil": world.user("bertil", "nurse", soder),
        "cecilia": world.user("cecilia", "coach", imr),
        "david": world.user("david", "supervisor", norra),
        "elsa": world.user("elsa", "privacy_officer", office),
    }
    employer = world.employer("Nordbygg AB", date(2020, 1, 1))
    create_client(session, app, "patient app backend", APP_KEY)
    create_client(session, imr, "imr onboarding", IMR_KEY)
    session.commit()
    return Orgs(norra, soder, imr, app, office, employer, users)


@dataclass
class Marks:
    """What identifies the person: nothing of it may remain after an erasure."""

    person_id: str
    personnummer: str
    given: str
    family: str
    email: str
    phone: str
    address: str
    old_address: str

    def strings(self) -> list[str]:
        pnr = self.personnummer
        return [
            pnr,
            f"{pnr[:8]}-{pnr[8:]}",
            pnr[2:],
            self.given,
            self.family,
            self.email,
            self.phone,
            self.address,
            self.old_address,
        ]


def full_person(
    session: Session,
    orgs: Orgs,
    *,
    given: str = "Märta",
    family: str = "Raderasson",
    birth: date = date(1971, 6, 14),
    billing_until: date | None = None,
    statistics: bool = False,
    seed: int = 11,
) -> Marks:
    """A person with rows in every holding of the data map, with their name, personnummer and
    contact details in the free text a user might type (notes, a break-the-glass reason)."""
    import random

    rng = random.Random(seed)
    pnr = personnummer.generate(rng, birth, "female")
    email, phone = f"{given.lower()}.{family.lower()}@example.se", "070-987 65 43"
    address, old_address = "Raderagatan 7, 123 45 Glömsta", "Gamla Vägen 3, 543 21 Förr"
    person = Person(
        personnummer=pnr,
        given_name=given,
        family_name=family,
        birth_date=birth,
        sex="female",
        phone=phone,
        email=email,
        address=address,
        employer_id=orgs.employer.id,
        job_title="Snickare",
        created_at=NOW - timedelta(days=200),
    )
    session.add(person)
    session.flush()
    pid = person.id
    u = orgs.users
    session.add(Condition(person_id=pid, code="hypertension", onset=date(2015, 3, 1)))
    for cat in sorted(HEALTH_CATEGORIES - {Category.CONDITIONS, Category.VITALS}):
        session.add(
            RecordEntry(
                person_id=pid,
                category=str(cat),
                text=f"{cat} note about {given} {family}, call {phone}",
                author_id=u["anna"].id,
                created_at=NOW - timedelta(days=30),
            )
        )
    for org, purpose, cats in (
        (orgs.norra, "care", ALL_CATEGORIES - {Category.OCCUPATION}),
        (orgs.app, "self_care", ALL_CATEGORIES - {Category.OCCUPATION}),
        (orgs.imr, "coaching", HEALTH_CATEGORIES),
    ) + (
        ((orgs.imr, "statistics", {Category.VITALS, Category.CONDITIONS, Category.FITNESS_TESTS}),)
        if statistics
        else ()
    ):
        session.add(
            Consent(
                person_id=pid,
                organization_id=org.id,
                categories=sorted(str(c) for c in cats),
                purpose=purpose,
                valid_from=NOW - timedelta(days=100),
                status="active",
                created_at=NOW - timedelta(days=100),
            )
        )
    session.add(CoachAssignment(coach_id=u["cecilia"].id, person_id=pid, created_at=NOW - timedelta(days=90)))
    grant = BreakGlassGrant(
        user_id=u["bertil"].id,
        person_id=pid,
        reason=f"{given} {family} found unconscious, {address}",
        created_at=NOW - timedelta(days=20),
        expires_at=NOW - timedelta(days=20) + timedelta(hours=1),
        reviewed_by_id=u["david"].id,
        reviewed_at=NOW - timedelta(days=19),
        review_note=f"justified: {given} {family} was unconscious",
    )
    session.add(grant)
    session.flush()
    session.add(
        BreakGlassVerdict(
            grant_id=grant.id,
            ordinal=1,
            verdict="justified",
            note=f"{given} {family} was unconscious at {address}",
            user_id=u["david"].id,
            at=NOW - timedelta(days=19),
        )
    )
    session.add(
        PersonNotice(
            person_id=pid,
            kind="break_glass",
            text="Opened in an emergency",
            created_at=NOW - timedelta(days=20),
        )
    )
    device = Device(person_id=pid, label=f"{given}'s BP monitor", key_hash=hash_key(f"key-{pid}"))
    session.add(device)
    session.flush()
    for i in range(5):
        session.add(
            Observation(
                person_id=pid,
                loinc="8480-6",
                value=130 + i,
                unit="mm[Hg]",
                effective_at=NOW - timedelta(days=10 - i),
                received_at=NOW - timedelta(days=10 - i),
                device_id=device.id,
                source_id=f"m{i}",
            )
        )
    session.add(
        ThresholdOverride(person_id=pid, key="systolic_high", value=170, set_by_id=u["anna"].id, set_at=NOW)
    )
    alert = Alert(
        person_id=pid,
        rule_id="bp_high",
        rule_version=1,
        severity="high",
        severity_rank=3,
        loinc="8480-6",
        value=190,
        message="Systolic 190",
        neutral_message="Systolic 190",
        inputs={"systolic": 190},
        state="resolved",
        opened_at=NOW - timedelta(days=5),
    )
    session.add(alert)
    session.flush()
    session.add(
        AlertEvent(
            alert_id=alert.id,
            from_state="open",
            to_state="resolved",
            user_id=u["anna"].id,
            at=NOW - timedelta(days=4),
            note=f"Called {given} at {phone}",
        )
    )
    session.add(
        PersonCorrection(
            person_id=pid,
            field="address",
            category="contact",
            old_value=old_address,
            new_value=address,
            reason="moved",
            corrected_by="elsa",
            corrected_at=NOW - timedelta(days=3),
        )
    )
    session.add(
        Objection(person_id=pid, kind="mailings", objected_at=NOW - timedelta(days=2), recorded_by="elsa")
    )
    session.add(
        SubjectRequest(
            person_id=pid,
            kind="erasure",
            received_on=NOW.date(),
            recorded_by="elsa",
            status="open",
            recorded_at=NOW,
        )
    )
    session.add(
        LegalHold(
            person_id=pid,
            reason="claim settled",
            held_until=None,
            set_by="elsa",
            set_at=NOW - timedelta(days=60),
            released_at=NOW - timedelta(days=1),
        )
    )
    until = billing_until or date(NOW.year - 9, 12, 31)
    session.add(
        BillingRecord(
            person_id=pid,
            employer_id=orgs.employer.id,
            service="health_profile_meeting",
            service_date=date(until.year - 7, 6, 1),
            name=f"{given} {family}",
            fiscal_year_end=date(until.year - 7, 12, 31),
            keep_until=until,
        )
    )
    _meeting(session, pid, u["cecilia"].id, f"{given} {family}", phone)
    # counted in an issued employer report (the report itself is anonymous and stays)
    report = session.scalar(select(IssuedReport).where(IssuedReport.employer_id == orgs.employer.id))
    if report is None:
        report = IssuedReport(
            employer_id=orgs.employer.id,
            period=NOW.year - 1,
            min_cell=5,
            report_rule="imr-employer-report v1",
            disclosure_rule="imr-report-disclosure v1",
            key_id="0" * 16,
            issued_by_id=u["cecilia"].id,
            report={},
            groups={},
        )
        session.add(report)
        session.flush()
    session.add(
        ReportPopulation(
            report_id=report.id, table_id="bmi_category", person_id=pid, atom="female", contribution="f" * 64
        )
    )
    session.commit()
    return Marks(pid, pnr, given, family, email, phone, address, old_address)


def _meeting(session: Session, pid: str, coach: str, name: str, phone: str) -> None:
    """A health-profile meeting saved, then corrected (the weight), with every part, a note naming
    the person, and an objection to profiling since withdrawn."""
    at1, at2 = NOW - timedelta(days=40), NOW - timedelta(days=39)
    meeting = CoachingMeeting(
        person_id=pid, coach_id=coach, held_on=at1.date(), kind="first", created_at=at1, current_revision=2
    )
    session.add(meeting)
    session.flush()
    mid = meeting.id
    conclusion = {
        "code": "bmi_class",
        "value": "obese_1",
        "rule_id": "bmi-class",
        "rule_version": 1,
        "explanation": {"key": "bmi_class", "params": {"bmi": 30.5}},
        "qualifiers": [],
    }
    session.add_all(
        [
            CoachingRevision(
                meeting_id=mid,
                number=1,
                author_id=coach,
                created_at=at1,
                categories=["fitness_tests", "profiling", "questionnaires", "vitals"],
            ),
            CoachingRevision(
                meeting_id=mid,
                number=2,
                author_id=coach,
                created_at=at2,
                reason=f"{name} said the weight was typed wrong",
                changes=["measurements.weight_kg", "measurements.bmi"],
                categories=["vitals"],
            ),
            CoachingMeasurement(
                meeting_id=mid,
                revision=1,
                height_cm=168.0,
                weight_kg=86.0,
                waist_cm=92.0,
                systolic=128.0,
                diastolic=84.0,
                heart_rate=66.0,
                bmi=30.5,
                bmi_rule_id="bmi",
                bmi_rule_version=1,
                recorded_at=at1,
            ),
            CoachingMeasurement(
                meeting_id=mid,
                revision=2,
                height_cm=168.0,
                weight_kg=68.0,
                waist_cm=92.0,
                systolic=128.0,
                diastolic=84.0,
                heart_rate=66.0,
                bmi=24.1,
                bmi_rule_id="bmi",
                bmi_rule_version=1,
                recorded_at=at2,
            ),
            CoachingQuestionnaire(
                meeting_id=mid,
                revision=1,
                questionnaire_id="imr-health-profile",
                questionnaire_version=1,
                answers={"smoking": "never"},
                recorded_at=at1,
            ),
            CoachingFitnessTest(
                meeting_id=mid,
                revision=1,
                equation_id="ekblom-bak-2016",
                equation_version=1,
                inputs={
                    "sex": "female",
                    "age": 54,
                    "watts_low": 30,
                    "hr_low": 98,
                    "watts_high": 90,
                    "hr_high": 132,
                },
                weight_source="measurements",
                vo2max_l_min=2.1,
                vo2max_ml_kg_min=30.9,
                relative_rule_id="vo2max-relative",
                relative_rule_version=1,
                warnings=[],
                recorded_at=at1,
            ),
            CoachingNote(
                meeting_id=mid, revision=1, text=f"{name} works nights, call {phone}", recorded_at=at1
            ),
            CoachingAssessment(
                meeting_id=mid,
                revision=1,
                ruleset_id="imr-lifestyle",
                ruleset_version=1,
                status="assessed",
                conclusions=[conclusion],
                recorded_at=at1,
            ),
            CoachingAssessment(
                meeting_id=mid,
                revision=2,
                ruleset_id="imr-lifestyle",
                ruleset_version=1,
                status="assessed",
                conclusions=[
                    {
                        **conclusion,
                        "value": "normal",
                        "explanation": {"key": "bmi_class", "params": {"bmi": 24.1}},
                    }
                ],
                recorded_at=at2,
            ),
            ProfilingObjection(
                person_id=pid,
                recorded_at=NOW - timedelta(days=30),
                recorded_by_id=coach,
                withdrawn_at=NOW - timedelta(days=29),
                withdrawn_by_id=coach,
            ),
        ]
    )


def rows_about(session: Session, person_id: str) -> dict[str, int]:
    """Per holding of the data map (but the audit log), the rows about the person."""
    out = {}
    for h in HOLDINGS:
        if h.on_erasure == Erasure.KEEP:
            continue
        t = Base.metadata.tables[h.table]
        out[h.table] = session.scalar(select(func.count()).select_from(t).where(linked(h, [person_id])))
    return out


def scan(session: Session, needles: list[str]) -> list[tuple[str, str, str]]:
    """Every (table, column, needle) where a value of any column of any table contains a needle."""
    session.rollback()
    hits = []
    for name, table in Base.metadata.tables.items():
        for row in session.execute(select(*table.columns)):
            for col, value in zip(table.columns, row, strict=True):
                if value is None:
                    continue
                text = str(value)
                for needle in needles:
                    if needle and needle in text:
                        hits.append((name, col.name, needle))
    return hits
