"""Deterministic demo data: organizations, demo accounts, patients, IMR participants, measurements,
and the coach's earlier meetings (``demo/coaching.py``).

``seed_demo`` builds the same rows (ids, names, personnummer, values, times) for the same ``seed``
on the same UTC day: the only randomness is ``random.Random(seed)`` (and, for the coach's part, a
generator seeded from it) and every time is anchored on ``now`` truncated to midnight UTC. It
refuses to run on a database that already has data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from clinic_server.db.models import (
    BillingRecord,
    CoachAssignment,
    Condition,
    Consent,
    Employer,
    JobRun,
    Objection,
    Observation,
    Organization,
    Person,
    RecordEntry,
    User,
)
from clinic_server.demo import coaching
from clinic_server.demo.accounts import (
    DEMO_PASSWORD,
    DEMO_USERS,
    IMAGINECARE,
    IMR,
    NORRA,
    PRIVACY_OFFICE,
    SODER,
)
from clinic_server.services.security import hash_password
from clinic_tui.domain import personnummer, rights
from clinic_tui.domain.categories import HEALTH_CATEGORIES, Category
from clinic_tui.domain.codes import (
    BY_KEY,
    LOINC_DIASTOLIC,
    LOINC_GLUCOSE,
    LOINC_HEART_RATE,
    LOINC_SLEEP,
    LOINC_SPO2,
    LOINC_STEPS,
    LOINC_SYSTOLIC,
    LOINC_WEIGHT,
    MEASUREMENTS,
)
from clinic_tui.domain.roles import Role

__all__ = ["DEFAULT_SEED", "seed_demo"]

DEFAULT_SEED = 20261122
CHUNK = 5000


FULL_CARE = [
    Category.IDENTITY,
    Category.CONTACT,
    Category.CONDITIONS,
    Category.VITALS,
    Category.MEDICATIONS,
    Category.HISTORY,
    Category.QUESTIONNAIRES,
    Category.GOALS,
    Category.SOCIAL,
]
#: partial consents, alternating between the two care organizations
PARTIAL_CARE = [
    (NORRA, [Category.VITALS, Category.CONDITIONS]),
    (SODER, [Category.IDENTITY, Category.VITALS]),
    (NORRA, [Category.IDENTITY, Category.CONTACT, Category.VITALS]),
    (SODER, [Category.VITALS, Category.CONDITIONS, Category.MEDICATIONS]),
]
IMR_CATEGORIES = [
    Category.FITNESS_TESTS,
    Category.PROFILING,
    Category.GOALS,
    Category.VITALS,
    Category.QUESTIONNAIRES,
]

#: share of patients per consent pattern (sums to 1)
PATTERNS: list[tuple[str, float]] = [
    ("norra", 0.37),
    ("soder", 0.32),
    ("both", 0.08),
    ("partial", 0.08),
    ("withdrawn", 0.05),
    ("expired", 0.05),
    ("none", 0.05),
]

FEMALE_NAMES = [
    "Anna", "Eva", "Maria", "Karin", "Sara", "Kristina", "Lena", "Emma", "Ingrid", "Kerstin",
    "Marie", "Malin", "Birgitta", "Elin", "Ulla", "Sofia", "Linnea", "Margareta", "Johanna", "Astrid",
    "Gunilla", "Maja", "Elsa", "Ebba",
]  # fmt: skip
MALE_NAMES = [
    "Lars", "Mikael", "Anders", "Johan", "Erik", "Per", "Karl", "Peter", "Jan", "Thomas",
    "Daniel", "Fredrik", "Hans", "Bengt", "Nils", "Stefan", "Magnus", "Gustav", "Olof", "Sven",
    "Göran", "Åke", "Leif", "Oskar",
]  # fmt: skip
FAMILY_NAMES = [
    "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson",
    "Svensson", "Gustafsson", "Pettersson", "Jonsson", "Jansson", "Hansson", "Bengtsson",
    "Jönsson", "Lindberg", "Jakobsson", "Magnusson", "Olofsson", "Lindström", "Lindqvist",
    "Lindgren", "Berg", "Axelsson", "Bergström", "Lundberg", "Lind", "Lundgren", "Lundqvist",
    "Mattsson", "Berglund", "Fredriksson", "Sandberg", "Henriksson", "Forsberg", "Sjöberg",
    "Wallin", "Engström", "Danielsson", "Håkansson", "Ekström",
]  # fmt: skip
STREETS = [
    "Storgatan", "Kungsgatan", "Drottninggatan", "Skolgatan", "Kyrkogatan", "Parkvägen", "Björkvägen",
    "Ringvägen", "Järnvägsgatan", "Tallvägen", "Ekvägen", "Sjövägen", "Bergsgatan", "Vasagatan",
    "Hantverkargatan", "Södra vägen", "Norra Ågatan", "Lärkvägen",
]  # fmt: skip
#: (first postcode digits, city)
CITIES = [
    ("11", "Stockholm"), ("12", "Stockholm"), ("17", "Solna"), ("19", "Sollentuna"),
    ("75", "Uppsala"), ("72", "Västerås"), ("70", "Örebro"), ("60", "Norrköping"),
    ("58", "Linköping"), ("41", "Göteborg"), ("21", "Malmö"), ("90", "Umeå"),
]  # fmt: skip
EMAIL_DOMAINS = ["example.com", "example.org", "example.net"]
JOB_TITLES = {
    "Nordbygg AB": [
        "Snickare", "Betongarbetare", "Elektriker", "Platschef", "Arbetsledare", "Projektledare",
        "Kalkylator", "Maskinförare", "Ekonom", "Inköpare",
    ],
    "Solgruppen AB": [
        "Projektledare", "Ekonom", "Säljare", "Kundtjänstmedarbetare", "Installatör",
        "HR-specialist", "Systemutvecklare", "Lagerarbetare",
    ],
}  # fmt: skip

MEDICATIONS = {
    "hypertension": ["Enalapril 10 mg x1", "Amlodipin 5 mg x1", "Losartan 50 mg x1"],
    "heart_failure": ["Metoprolol 50 mg x1", "Furosemid 40 mg x1", "Spironolakton 25 mg x1"],
    "diabetes_t2": ["Metformin 500 mg x2", "Empagliflozin 10 mg x1", "Insulin glargin 20 E till natten"],
    "copd": ["Spiriva 2,5 mikrogram 2 inh x1", "Bricanyl 0,5 mg vid behov"],
}
HISTORY = [
    "Penicillin allergy",
    "Appendectomy 1998",
    "Hip replacement (left) 2015",
    "Myocardial infarction 2019",
    "Smoker 30 pack-years, quit 2018",
    "Hearing impairment, uses hearing aids",
    "Cataract surgery 2021",
    "Atrial fibrillation, on anticoagulants",
]
GOALS = [
    "Walk 30 min daily",
    "Reduce salt intake",
    "Lose 3 kg by summer",
    "Stop smoking",
    "Take the stairs at work",
    "Measure blood pressure every morning",
    "Eat vegetables with every meal",
]

#: (condition, relative weight): hypertension is the most common
CONDITION_WEIGHTS = [("hypertension", 0.55), ("diabetes_t2", 0.3), ("heart_failure", 0.22), ("copd", 0.2)]


# --------------------------------------------------------------------------- helpers


def _rid(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


def _years_before(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year - years)
    except ValueError:  # 29 February
        return d.replace(year=d.year - years, day=28)


def _last_sunday(year: int, month: int) -> date:
    last = date(year, month, 31)
    return last - timedelta(days=(last.weekday() + 1) % 7)


def _stockholm_offset(d: date) -> timedelta:
    """UTC offset of Europe/Stockholm at local noon on ``d`` (EU summer time rule)."""
    summer = _last_sunday(d.year, 3) <= d < _last_sunday(d.year, 10)
    return timedelta(hours=2 if summer else 1)


def _largest_remainder(n: int, shares: list[tuple[str, float]]) -> dict[str, int]:
    raw = [(name, n * share) for name, share in shares]
    counts = {name: int(x) for name, x in raw}
    rest = n - sum(counts.values())
    for name, _ in sorted(raw, key=lambda t: t[1] - int(t[1]), reverse=True)[:rest]:
        counts[name] += 1
    return counts


def _ascii(s: str) -> str:
    return s.lower().translate(str.maketrans({"å": "a", "ä": "a", "ö": "o", "é": "e", " ": ""}))


@dataclass
class _PersonMaker:
    rng: random.Random
    anchor: datetime
    used_pnr: set[str] = field(default_factory=set)
    used_email: set[str] = field(default_factory=set)

    def make(self, birth: date, *, sends_daily: bool = True, **extra) -> dict:
        rng = self.rng
        sex = rng.choice(("female", "male"))
        given = rng.choice(FEMALE_NAMES if sex == "female" else MALE_NAMES)
        family = rng.choice(FAMILY_NAMES)
        pnr = personnummer.generate(rng, birth, sex)
        while pnr in self.used_pnr:
            pnr = personnummer.generate(rng, birth, sex)
        self.used_pnr.add(pnr)
        local = f"{_ascii(given)}.{_ascii(family)}"
        email = f"{local}@{rng.choice(EMAIL_DOMAINS)}"
        n = 2
        while email in self.used_email:
            email = f"{local}{n}@{email.split('@')[1]}"
            n += 1
        self.used_email.add(email)
        a, b, c = rng.randint(100, 999), rng.randint(0, 99), rng.randint(0, 99)
        phone = f"07{rng.choice('02369')}-{a} {b:02d} {c:02d}"
        prefix, city = rng.choice(CITIES)
        postcode = f"{prefix}{rng.randint(0, 9)} {rng.randint(0, 99):02d}"
        address = f"{rng.choice(STREETS)} {rng.randint(1, 60)}, {postcode} {city}"
        created = self.anchor - timedelta(days=rng.randint(100, 900), minutes=rng.randint(0, 24 * 60))
        row = {
            "id": _rid(rng),
            "personnummer": pnr,
            "given_name": given,
            "family_name": family,
            "birth_date": birth,
            "sex": sex,
            "phone": phone,
            "email": email,
            "address": address,
            "employer_id": None,
            "job_title": None,
            "restricted": False,
            "sends_daily": sends_daily,
            "created_at": created,
        }
        row.update(extra)
        return row


# --------------------------------------------------------------------------- measurements


@dataclass
class _Profile:
    conditions: set[str]
    sex: str
    age: int
    sends_daily: bool
    stop_day: int | None  # first day index with no readings (stopped sending)


def _clamp(key: str, value: float, lo: float | None = None, hi: float | None = None) -> float:
    mt = BY_KEY[key]
    lo = mt.plausible_min if lo is None else max(lo, mt.plausible_min)
    hi = mt.plausible_max if hi is None else min(hi, mt.plausible_max)
    v = round(min(max(value, lo), hi), mt.decimals)
    return float(v)


def _observations(
    rng: random.Random, person_id: str, p: _Profile, day_dates: list[date], anchor: datetime
) -> list[dict]:
    """Daily home measurements for one patient: baseline + slow trend + noise + rare excursions."""
    days = len(day_dates)
    conds = p.conditions
    has_bp = bool(conds & {"hypertension", "heart_failure"})
    has_glucose = "diabetes_t2" in conds
    has_spo2 = bool(conds & {"copd", "heart_failure"})
    hf = "heart_failure" in conds
    copd = "copd" in conds

    # personal baselines and trends over the whole period
    w0 = rng.uniform(62, 118) if p.sex == "male" else rng.uniform(52, 100)
    w_trend = rng.uniform(-3, 3)
    sys0 = rng.uniform(118, 142) if "hypertension" in conds else rng.uniform(108, 132)
    sys_trend = rng.uniform(-6, 6)
    dia0 = sys0 * 0.6 + rng.uniform(-4, 6)
    dia_trend = sys_trend * 0.5
    hr0 = rng.uniform(58, 82)
    glu0 = rng.uniform(5.8, 8.3)
    glu_twice = rng.random() < 0.5
    spo0 = rng.uniform(91.5, 95) if copd else rng.uniform(95, 97.5)
    steps0 = max(1500.0, rng.uniform(3000, 10000) - (p.age - 35) * 60)
    sleep0 = rng.uniform(6.0, 8.0)
    morning = rng.randint(6 * 60 + 15, 8 * 60 + 30)  # local minutes after midnight
    evening = rng.randint(19 * 60, 21 * 60 + 15)

    # excursions: about one per 30 days, each in one measurement the patient takes
    kinds = ["hr"]
    if has_bp:
        kinds.append("sys")
    if has_glucose:
        kinds += ["glu_low", "glu_high"]
    if has_spo2:
        kinds.append("spo2")
    if hf:
        kinds.append("weight_jump")
    excursions: dict[int, str] = {}
    for d in range(days):
        if rng.random() < 1 / 30:
            excursions[d] = rng.choice(kinds)
    weight_extra = [0.0] * (days + 5)
    for d, kind in excursions.items():
        if kind == "weight_jump":
            for k, extra in enumerate((1.3, 2.6, 2.5, 1.6, 0.6)):
                weight_extra[d + k] = max(weight_extra[d + k], extra)

    rows: list[dict] = []

    def add(loinc: str, value: float, at: datetime) -> None:
        rows.append(
            {
                "person_id": person_id,
                "loinc": loinc,
                "value": value,
                "unit": MEASUREMENTS[loinc].unit,
                "effective_at": at,
                "received_at": at + timedelta(seconds=rng.randint(5, 240)),
                "device_id": None,
                "source_id": None,
            }
        )

    for d, day in enumerate(day_dates):
        # decide whether anything is sent today (the first day always, so the series spans the period)
        skip = p.stop_day is not None and d >= p.stop_day
        if not skip and not p.sends_daily and d > 0:
            skip = rng.random() < 0.5
        if skip:
            continue
        t = d / max(1, days - 1)
        midnight = datetime.combine(day, time(0), tzinfo=UTC) - _stockholm_offset(day)
        m_at = midnight + timedelta(minutes=morning + rng.randint(-25, 25), seconds=rng.randint(0, 59))
        e_at = midnight + timedelta(minutes=evening + rng.randint(-30, 30), seconds=rng.randint(0, 59))
        exc = excursions.get(d)

        weight = w0 + w_trend * t + rng.gauss(0, 0.35) + weight_extra[d]
        add(LOINC_WEIGHT, _clamp("weight", weight), m_at)

        if has_bp:
            bp_at = m_at + timedelta(minutes=3)
            if exc == "sys":
                sys = rng.uniform(182, 196)
                dia = rng.uniform(98, 112)
            else:
                sys = min(sys0 + sys_trend * t + rng.gauss(0, 5), 158)
                dia = min(dia0 + dia_trend * t + rng.gauss(0, 3.5), 97)
            dia = min(dia, sys - 25)
            add(LOINC_SYSTOLIC, _clamp("systolic", sys), bp_at)
            add(LOINC_DIASTOLIC, _clamp("diastolic", dia), bp_at)

        hr = rng.uniform(132, 142) if exc == "hr" else hr0 + rng.gauss(0, 4)
        add(
            LOINC_HEART_RATE,
            _clamp("heart_rate", hr, 45, 145 if exc == "hr" else 120),
            m_at + timedelta(minutes=3),
        )

        if has_spo2:
            if exc == "spo2":
                spo2 = rng.uniform(84, 87)
            else:
                spo2 = spo0 + rng.gauss(0, 0.9)
            lo = 80 if exc == "spo2" else (89 if copd else 93)
            add(LOINC_SPO2, _clamp("spo2", spo2, lo, 99), m_at + timedelta(minutes=5))

        if has_glucose:
            glu_exc = exc in ("glu_low", "glu_high")
            evening_exc = glu_exc and glu_twice and rng.random() < 0.5
            for which, at in (("m", m_at + timedelta(minutes=8)), ("e", e_at)):
                if which == "e" and not glu_twice:
                    continue
                g = glu0 + (1.6 if which == "e" else 0.0) + rng.gauss(0, 0.7)
                g = min(max(g, 4.2), 12.8)
                if glu_exc and (which == "e") == evening_exc:
                    g = rng.choice((2.6, 2.7, 2.8)) if exc == "glu_low" else rng.uniform(14.8, 17.5)
                add(LOINC_GLUCOSE, _clamp("glucose", g), at)

        weekend = day.weekday() >= 5
        steps = steps0 * (0.8 if weekend else 1.0) * max(0.15, rng.gauss(1, 0.25))
        add(LOINC_STEPS, _clamp("steps", steps), midnight + timedelta(hours=22, minutes=30))
        sleep = sleep0 + (0.5 if weekend else 0.0) + rng.gauss(0, 0.7)
        add(LOINC_SLEEP, _clamp("sleep", sleep, 3, 11), m_at - timedelta(minutes=20))

    # never a reading after the anchor (all times are before midnight UTC of the anchor day)
    return [r for r in rows if r["effective_at"] < anchor]


# --------------------------------------------------------------------------- seed


def _insert_chunks(session: Session, model, rows: list[dict]) -> None:
    for i in range(0, len(rows), CHUNK):
        session.execute(insert(model), rows[i : i + CHUNK])


def seed_demo(
    session: Session,
    *,
    now: datetime | None = None,
    seed: int = DEFAULT_SEED,
    patients: int = 220,
    participants: int = 40,
    days: int = 90,
) -> dict:
    """Fill an empty database with deterministic demo data and return the row counts."""
    if session.scalar(select(Organization.id).limit(1)) is not None:
        raise RuntimeError("database already has data; seed-demo only runs on an empty database")
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    anchor = datetime.combine(now.astimezone(UTC).date(), time(0), tzinfo=UTC)
    today = anchor.date()
    rng = random.Random(seed)
    #: what was added for the people's rights draws from its own generator: the rest stays as it was
    extra = random.Random(seed * 7919 + 1)

    # organizations, employers, users --------------------------------------------------------
    orgs = {
        name: Organization(id=_rid(rng), name=name, kind=kind)
        for name, kind in ((NORRA, "care_provider"), (SODER, "care_provider"), (IMR, "imr"))
    }
    employers = {
        "Nordbygg AB": Employer(
            id=_rid(rng), name="Nordbygg AB", contract_start=_years_before(today, 2), contract_end=None
        ),
        "Solgruppen AB": Employer(
            id=_rid(rng),
            name="Solgruppen AB",
            contract_start=_years_before(today, 3),
            contract_end=today - timedelta(days=60),
        ),
    }
    orgs.update(
        {
            name: Organization(id=_rid(extra), name=name, kind=kind)
            for name, kind in ((IMAGINECARE, "imaginecare"), (PRIVACY_OFFICE, "operator"))
        }
    )
    session.add_all(orgs.values())
    session.add_all(employers.values())
    session.flush()
    pw_hash = hash_password(DEMO_PASSWORD)
    users = {}
    #: accounts added later draw their ids from a generator of their own: the rest stays as it was
    later = random.Random(f"accounts:{seed}")
    for account in DEMO_USERS:
        if account.role == Role.REPORT_ANALYST:
            user_id = _rid(later)
        elif account.organization in (NORRA, SODER, IMR):
            user_id = _rid(rng)
        else:
            user_id = _rid(extra)
        users[account.username] = User(
            id=user_id,
            username=account.username,
            display_name=account.display_name,
            role=account.role,
            organization_id=orgs[account.organization].id,
            password_hash=pw_hash,
            is_active=True,
            created_at=anchor - timedelta(days=400),
        )
    session.add_all(users.values())
    session.flush()

    # patients: consent patterns -------------------------------------------------------------
    counts = _largest_remainder(patients, PATTERNS)
    patterns = [name for name, _ in PATTERNS for _ in range(counts[name])]
    rng.shuffle(patterns)
    norra_full = [i for i, pat in enumerate(patterns) if pat == "norra"]
    special = rng.sample(norra_full, min(4, len(norra_full)))
    restricted_idx = set(special[:2])
    minor_idx = set(special[2:4])

    maker = _PersonMaker(rng, anchor)
    person_rows: list[dict] = []
    condition_rows: list[dict] = []
    consent_rows: list[dict] = []
    entry_rows: list[dict] = []
    profiles: list[_Profile] = []
    partial_n = 0

    def consent(pid: str, org: str, cats: list, purpose: str, **kw) -> None:
        valid_from = kw.pop("valid_from", None) or anchor - timedelta(
            days=rng.randint(20, 540), minutes=rng.randint(0, 1439)
        )
        row = {
            "id": _rid(rng),
            "person_id": pid,
            "organization_id": orgs[org].id,
            "categories": [str(c) for c in cats],
            "purpose": purpose,
            "valid_from": valid_from,
            "valid_until": None,
            "status": "active",
            "withdrawn_at": None,
            "created_at": valid_from,
        }
        row.update(kw)
        consent_rows.append(row)

    for i, pattern in enumerate(patterns):
        if i in minor_idx:
            birth = today - timedelta(days=rng.randint(16 * 365 + 5, 18 * 365 - 5))
        else:
            birth = date(rng.randint(today.year - 90, today.year - 36), 1, 1) + timedelta(
                days=rng.randrange(365)
            )
        sends_daily = rng.random() < 0.9
        row = maker.make(birth, sends_daily=sends_daily, restricted=i in restricted_idx)
        person_rows.append(row)
        pid = row["id"]
        age = personnummer.age_on(row["personnummer"], today)

        # conditions
        k = rng.choices((1, 2, 3), weights=(0.5, 0.35, 0.15))[0]
        available = list(CONDITION_WEIGHTS)
        chosen: list[str] = []
        for _ in range(k):
            code = rng.choices([c for c, _ in available], weights=[w for _, w in available])[0]
            chosen.append(code)
            available = [(c, w) for c, w in available if c != code]
        for code in sorted(chosen):
            years_back = max(1, min(20, age - 25))
            onset = today - timedelta(days=rng.randint(120, years_back * 365))
            condition_rows.append({"person_id": pid, "code": code, "onset": max(onset, birth)})
        profiles.append(_Profile(set(chosen), row["sex"], age, sends_daily, None))

        # consents
        if pattern == "norra":
            consent(pid, NORRA, FULL_CARE, "care")
        elif pattern == "soder":
            consent(pid, SODER, FULL_CARE, "care")
        elif pattern == "both":
            consent(pid, NORRA, FULL_CARE, "care")
            consent(pid, SODER, FULL_CARE, "care")
        elif pattern == "partial":
            org, cats = PARTIAL_CARE[partial_n % len(PARTIAL_CARE)]
            partial_n += 1
            consent(pid, org, cats, "care")
        elif pattern == "withdrawn":
            start = anchor - timedelta(days=rng.randint(200, 500))
            consent(
                pid,
                NORRA,
                FULL_CARE,
                "care",
                valid_from=start,
                status="withdrawn",
                withdrawn_at=anchor - timedelta(days=rng.randint(5, 60), minutes=rng.randint(0, 1439)),
            )
        elif pattern == "expired":
            start = anchor - timedelta(days=rng.randint(400, 800))
            consent(
                pid,
                SODER,
                FULL_CARE,
                "care",
                valid_from=start,
                valid_until=anchor - timedelta(days=rng.randint(3, 45)),
            )

        # free record entries for about half the patients
        if rng.random() < 0.5:
            for _ in range(rng.randint(1, 3)):
                cat = rng.choice(("medications", "history", "goals"))
                if cat == "medications":
                    text = rng.choice(MEDICATIONS[rng.choice(sorted(chosen))])
                elif cat == "history":
                    text = rng.choice(HISTORY)
                else:
                    text = rng.choice(GOALS)
                entry_rows.append(
                    {
                        "person_id": pid,
                        "category": cat,
                        "text": text,
                        "author_id": None,
                        "created_at": anchor
                        - timedelta(days=rng.randint(1, 300), minutes=rng.randint(0, 999)),
                    }
                )

    # a few daily senders (visible to a nurse) stop sending 4 days before the anchor
    visible = [
        i
        for i, pat in enumerate(patterns)
        if pat in ("norra", "soder", "both")
        and profiles[i].sends_daily
        and i not in restricted_idx
        and i not in minor_idx
    ]
    n_stop = min(len(visible), max(1, round(patients * 5 / 220))) if patients else 0
    for i in rng.sample(visible, n_stop):
        profiles[i].stop_day = max(1, days - 4)

    # IMR participants ------------------------------------------------------------------------
    imr_rows: list[dict] = []
    n_no_consent = round(participants * 0.2)
    n_assigned = round(participants * 0.85)
    no_consent = set(rng.sample(range(participants), n_no_consent))
    assigned = set(rng.sample(range(participants), n_assigned))
    assignment_rows: list[dict] = []
    for j in range(participants):
        emp = "Nordbygg AB" if rng.random() < 0.7 else "Solgruppen AB"
        birth = date(rng.randint(today.year - 64, today.year - 22), 1, 1) + timedelta(days=rng.randrange(365))
        row = maker.make(
            birth,
            sends_daily=False,
            employer_id=employers[emp].id,
            job_title=rng.choice(JOB_TITLES[emp]),
        )
        imr_rows.append(row)
        if j not in no_consent:
            cats = [c for c in IMR_CATEGORIES if rng.random() < 0.7] or [rng.choice(IMR_CATEGORIES)]
            consent(row["id"], IMR, cats, "coaching")
        if j in assigned:
            assignment_rows.append(
                {
                    "coach_id": users["cecilia"].id,
                    "person_id": row["id"],
                    "active": True,
                    "created_at": anchor - timedelta(days=rng.randint(10, 300)),
                }
            )

    # the coach's cases and earlier meetings: a generator of their own (demo/coaching.py)
    crng = random.Random(f"coaching:{seed}")
    imr_consents = {r["person_id"]: r for r in consent_rows if r["organization_id"] == orgs[IMR].id}

    def coaching_consent(pid: str, cats: list) -> None:
        valid_from = anchor - timedelta(days=crng.randint(400, 900), minutes=crng.randint(0, 1439))
        imr_consents[pid] = {
            "id": _rid(crng),
            "person_id": pid,
            "organization_id": orgs[IMR].id,
            "categories": [str(c) for c in cats],
            "purpose": "coaching",
            "valid_from": valid_from,
            "valid_until": None,
            "status": "active",
            "withdrawn_at": None,
            "created_at": valid_from,
        }

    designated = coaching.designate(
        crng,
        imr_rows,
        [j for j in range(participants) if j in assigned],
        imr_consents,
        running_employer="Nordbygg AB",
        ended_employer="Solgruppen AB",
        job_titles=JOB_TITLES,
        employer_names={e.id: name for name, e in employers.items()},
        make_consent=coaching_consent,
    )
    consent_rows = [r for r in consent_rows if r["organization_id"] != orgs[IMR].id]
    consent_rows += list(imr_consents.values())

    rights_rows = _rights_rows(extra, orgs, person_rows, imr_rows, consent_rows)
    _insert_chunks(session, Person, person_rows + imr_rows)
    _insert_chunks(session, Condition, condition_rows)
    _insert_chunks(session, Consent, consent_rows + rights_rows["consents"])
    _insert_chunks(session, BillingRecord, rights_rows["billing"])
    _insert_chunks(session, Objection, rights_rows["objections"])
    _insert_chunks(session, RecordEntry, entry_rows)
    _insert_chunks(session, CoachAssignment, assignment_rows)
    coached = coaching.add_meetings(
        session,
        crng,
        people=[imr_rows[j] for j in sorted(assigned)],
        consents=imr_consents,
        coach_id=users["cecilia"].id,
        objectors=designated.objectors,
        anchor=anchor,
    )

    # observations -----------------------------------------------------------------------------
    day_dates = [today - timedelta(days=days - d) for d in range(days)]
    n_obs = 0
    buffer: list[dict] = []
    for row, profile in zip(person_rows, profiles, strict=True):
        buffer.extend(_observations(rng, row["id"], profile, day_dates, anchor))
        if len(buffer) >= CHUNK:
            _insert_chunks(session, Observation, buffer)
            n_obs += len(buffer)
            buffer = []
    # participants: a weekly weight and the last two weeks of steps
    for row in imr_rows:
        w = rng.uniform(60, 105)
        for d, day in enumerate(day_dates):
            midnight = datetime.combine(day, time(0), tzinfo=UTC) - _stockholm_offset(day)
            if d % 7 == 0:
                at = midnight + timedelta(minutes=rng.randint(6 * 60, 9 * 60))
                value = _clamp("weight", w + rng.gauss(0, 0.5))
                buffer.append(_simple_obs(row["id"], LOINC_WEIGHT, value, at))
            if d >= days - 14:
                at = midnight + timedelta(hours=22, minutes=30)
                value = _clamp("steps", rng.uniform(3000, 13000))
                buffer.append(_simple_obs(row["id"], LOINC_STEPS, value, at))
    _insert_chunks(session, Observation, buffer)
    n_obs += len(buffer)

    # the demo's first retention run comes a day after seeding (the seed counts as a run), so the
    # people due today are there for a dry run to list
    session.execute(update(JobRun).where(JobRun.name == "retention").values(last_finished_at=now))
    session.commit()
    return {
        "organizations": len(orgs),
        "employers": len(employers),
        "users": len(users),
        "patients": len(person_rows),
        "participants": len(imr_rows),
        "conditions": len(condition_rows),
        "consents": len(consent_rows) + len(rights_rows["consents"]),
        "billing_records": len(rights_rows["billing"]),
        "record_entries": len(entry_rows),
        "coach_assignments": len(assignment_rows),
        "observations": n_obs,
        **coached,
    }


def _rights_rows(
    rng: random.Random,
    orgs: dict[str, Organization],
    patients: list[dict],
    participants: list[dict],
    consents: list[dict],
) -> dict[str, list[dict]]:
    """The people's side: every patient's consent to ImagineCare AB (their account), some
    participants' consent to anonymized statistics, a billed health-profile meeting per participant
    with a coaching consent, and two objections."""
    app, imr = orgs[IMAGINECARE].id, orgs[IMR].id
    out: dict[str, list[dict]] = {"consents": [], "billing": [], "objections": []}
    for p in patients:
        out["consents"].append(
            {
                "id": _rid(rng),
                "person_id": p["id"],
                "organization_id": app,
                "categories": [str(c) for c in FULL_CARE],
                "purpose": "self_care",
                "valid_from": p["created_at"],
                "valid_until": None,
                "status": "active",
                "withdrawn_at": None,
                "created_at": p["created_at"],
            }
        )
    by_person = {c["person_id"]: c for c in consents if c["organization_id"] == imr}
    for p in participants:
        coaching = by_person.get(p["id"])
        if coaching is None:
            continue
        if rng.random() < 0.5:
            health = sorted(set(coaching["categories"]) & {str(c) for c in HEALTH_CATEGORIES})
            if health:
                out["consents"].append(
                    {**coaching, "id": _rid(rng), "purpose": "statistics", "categories": health}
                )
        served = coaching["valid_from"].date()
        fiscal = rights.fiscal_year_end(served)
        out["billing"].append(
            {
                "person_id": p["id"],
                "employer_id": p["employer_id"],
                "service": "health_profile_meeting",
                "service_date": served,
                "name": f"{p['given_name']} {p['family_name']}",
                "fiscal_year_end": fiscal,
                "keep_until": rights.bookkeeping_keep_until(fiscal),
                "created_at": coaching["valid_from"],
            }
        )
    objectors = [p for p in participants if p["id"] in by_person][:2]
    for p, kind in zip(objectors, ("profiling", "mailings"), strict=False):
        at = by_person[p["id"]]["valid_from"] + timedelta(days=3)
        out["objections"].append(
            {"person_id": p["id"], "kind": kind, "objected_at": at, "recorded_by": "demo"}
        )
    return out


def _simple_obs(person_id: str, loinc: str, value: float, at: datetime) -> dict:
    return {
        "person_id": person_id,
        "loinc": loinc,
        "value": value,
        "unit": MEASUREMENTS[loinc].unit,
        "effective_at": at,
        "received_at": at + timedelta(minutes=1),
        "device_id": None,
        "source_id": None,
    }
