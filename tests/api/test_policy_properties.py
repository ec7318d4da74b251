"""Property-based test of the access model: random worlds, every personal-data endpoint, every user.

For each generated world (organizations, users of every role, people of varied ages, restrictions
and employer contracts, consents with random scopes, purposes and validity, coach assignments,
break-the-glass grants) every personal-data endpoint is called as every user, and:

(a) no value of a category withheld from that user appears anywhere in the response body;
(b) allowed/denied (and the categories shared) match ``oracle`` below, written from DESIGN.md and
    the two privacy policies in seeds/, not by calling ``policy.decide``;
(c) every request leaves exactly one new audit record, with the matching outcome.

Every person also has a withheld-able diagnosis planted the way real rules leave it: a COPD
patient's ``spo2.low`` alert (its text names the COPD limit, its inputs say ``copd`` and the COPD
threshold) and a heart-failure ``hf.weight_gain`` alert (a rule that only runs for that diagnosis).
Each carries unique values of the category ``conditions``, so (a) also checks that no alert, count,
search or error reveals a withheld diagnosis, and searching for the COPD text finds the alert only
for a nurse to whom conditions are shared.

Every person also has one coach's meeting, saved while every meeting category was consented (a
value of each category in it), so the coach's endpoints show that a narrower consent now hides
what was recorded then, the automated assessment's conclusions included.

The server runs on its real clock, so "clock time" is varied by placing every time in the world
relative to now (consents starting or ending hours or days away, grants expired or running,
18th birthdays yesterday or tomorrow, contracts ended or running).
"""

from __future__ import annotations

import os
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from clinic_server.audit import chain as audit_chain
from clinic_server.db.models import (
    Alert,
    AuditEvent,
    BreakGlassGrant,
    CoachAssignment,
    Condition,
    Consent,
    Employer,
    Observation,
    Organization,
    Person,
    RecordEntry,
    User,
)
from clinic_server.errors import NOT_PERMITTED_MESSAGE
from clinic_server.services import meetings as store
from clinic_tui.domain import personnummer
from clinic_tui.domain.codes import CONDITIONS
from clinic_tui.domain.meeting import COACHING_CATEGORIES
from tests.conftest import access_token
from tests.factories import password_hash

pytestmark = pytest.mark.api

# ----------------------------------------------------------------------------- the rules, restated

ALL = frozenset(
    {
        "identity",
        "contact",
        "conditions",
        "vitals",
        "questionnaires",
        "medications",
        "history",
        "goals",
        "social",
        "occupation",
        "fitness_tests",
        "profiling",
    }
)
#: IMR processes these on its legitimate interest while the employer's contract runs (IMR policy,
#: "Kontakt- och identitetsuppgifter", "Sysselsättning"); everything else is health data: consent
LEGITIMATE_INTEREST = frozenset({"identity", "contact", "occupation"})
HEALTH = ALL - LEGITIMATE_INTEREST
#: what care needs in an emergency (vital interests): never goals, social, occupation, fitness, profiling
EMERGENCY = frozenset(
    {"identity", "contact", "conditions", "vitals", "medications", "history", "questionnaires"}
)
RECORD_CATEGORIES = ("medications", "history", "goals", "social", "questionnaires", "profiling")
CARE0, CARE1, IMR = 0, 1, 2


@dataclass(frozen=True)
class ConsentSpec:
    org: int
    categories: frozenset[str]
    purpose: str
    from_hours: int
    until_hours: int | None
    withdrawn: bool


@dataclass(frozen=True)
class PersonSpec:
    age: int
    birthday_shift_days: int
    restricted: bool
    #: (start, end) in days from today; end None = open-ended; None = no employer
    contract: tuple[int, int | None] | None
    consents: tuple[ConsentSpec, ...]
    coaches: frozenset[int]
    #: (nurse index, expires in hours)
    grants: tuple[tuple[int, int], ...]
    condition: str


@dataclass(frozen=True)
class UserSpec:
    key: str
    role: str
    org: int


@dataclass(frozen=True)
class WorldSpec:
    people: tuple[PersonSpec, ...]
    users: tuple[UserSpec, ...]


def add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def full_years(birth: date, today: date) -> int:
    years = today.year - birth.year
    if (today.month, today.day) < (birth.month, birth.day):
        years -= 1
    return years


@dataclass
class Built:
    """A world as stored: ids and the unique values of each person's categories."""

    now: datetime
    orgs: list[Organization]
    users: dict[str, User]
    specs: dict[str, UserSpec]
    people: list[Person] = field(default_factory=list)
    person_specs: list[PersonSpec] = field(default_factory=list)
    values: list[dict[str, list[str]]] = field(default_factory=list)
    consent_ids: list[list[tuple[int, str]]] = field(default_factory=list)
    has_alert: list[bool] = field(default_factory=list)
    #: a word of each person's COPD alert text (conditions): what a search for it may find
    copd_words: list[str] = field(default_factory=list)


def consent_active(c: ConsentSpec, now: datetime, built: Built) -> bool:
    start = built.now + timedelta(hours=c.from_hours)
    end = built.now + timedelta(hours=c.until_hours) if c.until_hours is not None else None
    return not c.withdrawn and start <= now and (end is None or now < end)


def oracle(built: Built, user: UserSpec, index: int) -> tuple[frozenset[str], str | None]:
    """(categories the user may read of person ``index``, basis) from DESIGN.md's access model."""
    p = built.person_specs[index]
    person = built.people[index]
    now = built.now
    today = now.date()
    if user.role == "supervisor":  # never clinical categories
        return frozenset(), None
    # deny overrides: restriction of processing (art. 18) and age under 18
    if p.restricted or full_years(person.birth_date, today) < 18:
        return frozenset(), None
    if user.role == "nurse":
        consented: set[str] = set()
        for c in p.consents:
            if c.org == user.org and c.purpose == "care" and consent_active(c, now, built):
                consented |= c.categories
        if consented:
            # an existing consent is the person's own say: the emergency basis is for when there is
            # none (which is also why breaking the glass is refused to a nurse with consent access)
            return frozenset(consented), "consent"
        nurse_index = int(user.key[1:])
        if any(n == nurse_index and hours > 0 for n, hours in p.grants):
            return EMERGENCY, "break_glass"
        return frozenset(), None
    # coach: only IMR's coaches, only assigned participants
    if user.org != IMR or int(user.key[1:]) not in p.coaches:
        return frozenset(), None
    allowed: set[str] = set()
    for c in p.consents:
        if c.org == IMR and c.purpose == "coaching" and consent_active(c, now, built):
            allowed |= c.categories & HEALTH
    if p.contract is not None:
        start, end = p.contract
        if today + timedelta(days=start) <= today and (end is None or today <= today + timedelta(days=end)):
            allowed |= LEGITIMATE_INTEREST
    if not allowed:
        return frozenset(), None
    return frozenset(allowed), "consent" if allowed & HEALTH else "legitimate_interest"


# ----------------------------------------------------------------------------- strategies

#: (organization, purpose): mostly the pairs that can grant something, sometimes the ones that must not
ORG_PURPOSE = (
    [(CARE0, "care")] * 3
    + [(CARE1, "care")] * 2
    + [(IMR, "coaching")] * 3
    + [
        (IMR, "care"),
        (CARE0, "coaching"),
    ]
)


@st.composite
def consents(draw) -> ConsentSpec:
    org, purpose = draw(st.sampled_from(ORG_PURPOSE))
    return ConsentSpec(
        org=org,
        categories=draw(st.frozensets(st.sampled_from(sorted(ALL)))),
        purpose=purpose,
        # hours from now: mostly running, sometimes starting later or ended a moment ago
        from_hours=draw(st.sampled_from([-24 * 60, -24 * 60, -24 * 60, -2, 2, 24 * 3])),
        until_hours=draw(st.sampled_from([None, None, None, 24 * 30, -24, -1, 1])),
        withdrawn=draw(st.sampled_from([False, False, False, False, True])),
    )


@st.composite
def coaching_consents(draw) -> ConsentSpec:
    meeting = ["fitness_tests", "profiling", "questionnaires", "vitals"]
    return ConsentSpec(
        org=IMR,
        categories=draw(st.frozensets(st.sampled_from(meeting), min_size=1)),
        purpose="coaching",
        from_hours=-24 * 60,
        until_hours=None,
        withdrawn=False,
    )


@st.composite
def worlds(draw) -> WorldSpec:
    users = [
        UserSpec("n0", "nurse", CARE0),
        UserSpec("n1", "nurse", CARE1),
        UserSpec("c0", "coach", IMR),
        UserSpec("s0", "supervisor", CARE0),
    ]
    if draw(st.booleans()):
        users.append(UserSpec("n2", "nurse", CARE0))
    if draw(st.booleans()):
        users.append(UserSpec("c1", "coach", CARE0))  # a "coach" outside IMR
    if draw(st.booleans()):
        users.append(UserSpec("s1", "supervisor", IMR))
    nurses = [int(u.key[1:]) for u in users if u.role == "nurse"]
    coaches = [int(u.key[1:]) for u in users if u.role == "coach"]
    people = []
    for _ in range(draw(st.integers(1, 3))):
        people.append(
            PersonSpec(
                age=draw(st.sampled_from([16, 18, 18, 45, 80])),
                birthday_shift_days=draw(st.sampled_from([-1, 1, 90])),
                restricted=draw(st.sampled_from([False, False, False, False, True])),
                contract=draw(
                    st.sampled_from([None, (-400, None), (-400, 30), (-400, -1), (-400, -200), (5, None)])
                ),
                consents=tuple(draw(st.lists(consents(), max_size=4)))
                # often a running consent to IMR's coaching over some of the meeting categories, so
                # the coach's endpoints meet every mix of them
                + tuple(draw(st.lists(coaching_consents(), max_size=1))),
                coaches=draw(st.frozensets(st.sampled_from(coaches))),
                grants=tuple(
                    draw(st.lists(st.tuples(st.sampled_from(nurses), st.sampled_from([-1, 1])), max_size=2))
                ),
                condition=draw(st.sampled_from(sorted(CONDITIONS))),
            )
        )
    return WorldSpec(tuple(people), tuple(users))


# ----------------------------------------------------------------------------- building a world


def token() -> str:
    """Letters g-v only: can never occur inside a hex id, hash or timestamp."""
    return "".join(chr(ord("g") + int(c, 16)) for c in uuid.uuid4().hex[:10])


def number(rng: random.Random) -> str:
    """A unique-looking decimal >= 60 (so it cannot hide in a timestamp's seconds)."""
    return f"{rng.randint(60, 899)}.{rng.randint(1, 99):02d}{rng.randint(1, 9)}"


def build(session, spec: WorldSpec) -> Built:
    now = datetime.now(UTC)
    today = now.date()
    rng = random.Random()
    tag = token()
    orgs = [
        Organization(name=f"Care0 {tag}", kind="care_provider"),
        Organization(name=f"Care1 {tag}", kind="care_provider"),
        Organization(name=f"IMR {tag}", kind="imr"),
    ]
    session.add_all(orgs)
    session.flush()
    users = {}
    for u in spec.users:
        users[u.key] = User(
            username=f"{u.key}-{tag}",
            display_name=u.key,
            role=u.role,
            organization_id=orgs[u.org].id,
            password_hash=password_hash(),
        )
    session.add_all(users.values())
    session.flush()
    built = Built(now, orgs, users, {u.key: u for u in spec.users})
    for p in spec.people:
        birth = add_years(today, -p.age) + timedelta(days=p.birthday_shift_days)
        sex = rng.choice(["female", "male"])
        while True:
            pnr = personnummer.generate(rng, birth, sex)
            if session.scalar(select(Person.id).where(Person.personnummer == pnr)) is None:
                break
        employer = None
        values: dict[str, list[str]] = {c: [] for c in ALL}
        if p.contract is not None:
            start, end = p.contract
            employer = Employer(
                name=f"Employer {token()}",
                contract_start=today + timedelta(days=start),
                contract_end=today + timedelta(days=end) if end is not None else None,
            )
            session.add(employer)
            session.flush()
            values["occupation"].append(employer.name)
        person = Person(
            personnummer=pnr,
            given_name="Zq" + token(),
            family_name="Zx" + token(),
            birth_date=birth,
            sex=sex,
            phone=f"+46 7{rng.randint(10**7, 10**8 - 1)}",
            email=f"{token()}@example.se",
            address=f"{token()}gatan 1, Uppsala",
            employer_id=employer.id if employer else None,
            job_title=f"Job {token()}" if employer else None,
            restricted=p.restricted,
        )
        session.add(person)
        session.flush()
        values["identity"] += [person.given_name, person.family_name, person.personnummer]
        values["contact"] += [person.phone, person.email, person.address]
        if person.job_title:
            values["occupation"].append(person.job_title)
        session.add(Condition(person_id=person.id, code=p.condition))
        for cat in RECORD_CATEGORIES:
            text = f"{cat} note {token()}"
            session.add(RecordEntry(person_id=person.id, category=cat, text=text))
            values[cat].append(text)
        weight = number(rng)
        session.add(
            Observation(
                person_id=person.id,
                loinc="29463-7",
                value=float(weight),
                unit="kg",
                effective_at=now - timedelta(hours=3),
            )
        )
        alert_value = number(rng)
        session.add(
            Alert(
                person_id=person.id,
                rule_id="hr.tachy",
                rule_version=1,
                severity="medium",
                severity_rank=2,
                loinc="29463-7",
                value=float(alert_value),
                message=f"Weight {alert_value} kg: gain above limit",
                inputs={"value": float(alert_value)},
                opened_at=now - timedelta(hours=2),
                last_seen_at=now - timedelta(hours=2),
                updated_at=now - timedelta(hours=2),
            )
        )
        values["vitals"] += [weight, alert_value]
        # the diagnoses, as real rules leave them in alerts (clinic_tui/domain/alerts.py)
        for code in {"copd", "heart_failure"} - {p.condition}:
            session.add(Condition(person_id=person.id, code=code))
        spo2, copd_limit, copd_word = number(rng), number(rng), token()
        session.add(
            Alert(
                person_id=person.id,
                rule_id="spo2.low",
                rule_version=1,
                severity="high",
                severity_rank=0,
                loinc="59408-5",
                value=float(spo2),
                message=f"SpO2 {spo2} % < {copd_limit} (COPD limit) {copd_word}",
                neutral_message=f"SpO2 {spo2} % below the patient's limit",
                inputs={
                    "value": float(spo2),
                    "unit": "%",
                    "threshold": float(copd_limit),
                    "threshold_name": "spo2_low_copd",
                    "copd": True,
                    "comparison": "<",
                },
                opened_at=now - timedelta(hours=1),
                last_seen_at=now - timedelta(hours=1),
                updated_at=now - timedelta(hours=1),
            )
        )
        gain, hf_word = number(rng), token()
        session.add(
            Alert(
                person_id=person.id,
                rule_id="hf.weight_gain",
                rule_version=1,
                severity="medium",
                severity_rank=1,
                loinc="29463-7",
                value=float(gain),
                message=f"Weight up {gain} kg within 3 days {hf_word}",
                neutral_message=f"Weight up {gain} kg within 3 days {hf_word}",
                inputs={"value": float(gain), "gain_kg": float(gain), "threshold": 2.0},
                opened_at=now - timedelta(hours=1),
                last_seen_at=now - timedelta(hours=1),
                updated_at=now - timedelta(hours=1),
            )
        )
        values["vitals"].append(spo2)
        values["conditions"] += [copd_limit, copd_word, gain, hf_word]
        built.copd_words.append(copd_word)
        ids = []
        for c in p.consents:
            row = Consent(
                person_id=person.id,
                organization_id=orgs[c.org].id,
                categories=sorted(c.categories),
                purpose=c.purpose,
                valid_from=now + timedelta(hours=c.from_hours),
                valid_until=now + timedelta(hours=c.until_hours) if c.until_hours is not None else None,
                status="withdrawn" if c.withdrawn else "active",
                withdrawn_at=now - timedelta(hours=1) if c.withdrawn else None,
            )
            session.add(row)
            session.flush()
            ids.append((c.org, row.id))
        for coach in p.coaches:
            session.add(CoachAssignment(coach_id=users[f"c{coach}"].id, person_id=person.id))
        # a meeting saved when every meeting category was consented: a value of each category
        waist = f"{rng.randint(70, 119)}.{rng.randint(10, 99)}{rng.randint(1, 9)}"
        hr = f"{rng.randint(140, 159)}.{rng.randint(10, 99)}{rng.randint(1, 9)}"
        note = f"coach note {token()}"
        state = store.MeetingState(
            measurements={"height_cm": 172.0, "weight_kg": 75.0, "waist_cm": float(waist)},
            fitness=store.FitnessState("astrand-ryhming", {"watts": 120.0, "hr": float(hr)}),
            notes=note,
        )
        age = full_years(birth, today)
        built_meeting = store.build(state, sex=sex, age=age)
        assert built_meeting.problems == []
        store.add_meeting(
            session,
            meeting_id=uuid.uuid4().hex,
            person_id=person.id,
            coach_id=users["c0"].id,
            held_on=today,
            kind="first",
            built=built_meeting,
            assessment=store.assessment_columns(
                state, built_meeting, sex=sex, age=age, allowed=COACHING_CATEGORIES, objected=False
            ),
            created_at=now,
        )
        values["vitals"].append(waist)
        values["fitness_tests"].append(hr)
        values["profiling"].append(note)
        for nurse, hours in p.grants:
            session.add(
                BreakGlassGrant(
                    user_id=users[f"n{nurse}"].id,
                    person_id=person.id,
                    reason="generated emergency access for the property test",
                    created_at=now - timedelta(hours=2),
                    expires_at=now + timedelta(hours=hours),
                )
            )
        built.people.append(person)
        built.person_specs.append(p)
        built.values.append(values)
        built.consent_ids.append(ids)
        built.has_alert.append(True)
    session.commit()
    return built


# ----------------------------------------------------------------------------- the property


class Checker:
    def __init__(self, http, session, built: Built, secret: str):
        self.http = http
        self.session = session
        self.built = built
        self.secret = secret
        self.calls = 0
        self.tokens: dict[str, str] = {}

    def head(self) -> int:
        self.session.rollback()
        return audit_chain.last_seq(self.session.connection())

    def allowed_for(self, user: UserSpec) -> list[frozenset[str]]:
        return [oracle(self.built, user, i)[0] for i in range(len(self.built.people))]

    async def call(self, user: UserSpec, path: str, expect_ok: bool, **params):
        if user.key not in self.tokens:
            self.tokens[user.key] = access_token(self.session, self.built.users[user.key], self.secret)
        token = self.tokens[user.key]
        before = self.head()
        r = await self.http.get(path, params=params, headers={"Authorization": f"Bearer {token}"})
        self.calls += 1
        where = f"{user.key} ({user.role}) GET {path} {params}"
        assert r.status_code in (200, 403), (where, r.status_code, r.text)
        assert (r.status_code == 200) == expect_ok, (where, r.status_code, r.text)
        if r.status_code == 403:
            body = r.json()
            if body["code"] == "consent_missing":
                # the one exception (policy.py docstring): a coach's participant she may see, whose
                # consent lacks the meeting categories; it names only those, never why
                assert user.role == "coach" and "/coaching/" in path, where
                missing = set(body["params"]["missing"].split(","))
                assert missing <= set(COACHING_CATEGORIES), where
            else:
                # a refusal says no more than that: never a restriction, an age, a consent (issue 9)
                uniform = {"code": "not_permitted", "message": NOT_PERMITTED_MESSAGE, "params": {}}
                assert body == uniform, where
        # (c) exactly one new audit record, with the right outcome
        assert self.head() == before + 1, where
        rec = self.session.scalar(select(AuditEvent).where(AuditEvent.seq == before + 1))
        assert rec.outcome == ("allowed" if expect_ok else "denied"), (where, rec.outcome, rec.reason)
        assert rec.user_id == self.built.users[user.key].id, where
        # (a) nothing withheld, anywhere in the body (a denial reveals nothing at all)
        allowed = self.allowed_for(user) if r.status_code == 200 else [frozenset()] * len(self.built.people)
        for i, values in enumerate(self.built.values):
            for category, texts in values.items():
                if category in allowed[i]:
                    continue
                for text in texts:
                    assert text not in r.text, (where, f"person {i}", category, text)
        return r


def expected_queue(built: Built, user: UserSpec) -> set[str]:
    """The alert queue: people whose consent to the nurse's organization covers vitals."""
    out = set()
    for i, person in enumerate(built.people):
        allowed, basis = oracle(built, user, i)
        if basis == "consent" and "vitals" in allowed and built.has_alert[i]:
            out.add(person.id)
    return out


@settings(
    max_examples=int(os.environ.get("CLINIC_PROPERTY_EXAMPLES", "40")),
    deadline=None,
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=worlds())
async def test_every_endpoint_obeys_the_access_model(http, session, settings, spec):
    built = build(session, spec)
    check = Checker(http, session, built, settings.secret_key)
    people = built.people
    for user in spec.users:
        allowed = check.allowed_for(user)
        visible = {p.id for p, a in zip(people, allowed, strict=True) if a}

        # the coach's list: her participants on any basis, which meeting categories each covers
        coach = user.role == "coach"
        r = await check.call(user, "/coaching/participants", coach)
        if coach:
            rows = {row["id"]: row for row in r.json()["items"]}
            assert set(rows) == visible, (user, spec)
            for i, p in enumerate(people):
                if p.id in rows:
                    covered = allowed[i] & {str(c) for c in COACHING_CATEGORIES}
                    assert set(rows[p.id]["consented"]) == covered, (user, i)

        # list
        r = await check.call(user, "/patients", True, limit=500)
        items = {i["id"]: i for i in r.json()["items"]}
        assert set(items) == visible, (user, spec)
        for i, p in enumerate(people):
            if p.id in items:
                item = items[p.id]
                assert set(item["shared"]) == allowed[i], (user, i, item["shared"])
                assert set(item["withheld"]) == ALL - allowed[i]
                assert (item["conditions"] is not None) == ("conditions" in allowed[i])
                assert (item["label"] == f"{p.given_name} {p.family_name}") == ("identity" in allowed[i])

        # search by a name: matches only where identity is shared
        target = people[len(people) // 2]
        index = people.index(target)
        r = await check.call(user, "/patients", True, q=target.given_name.lower())
        found = [i["id"] for i in r.json()["items"]]
        assert found == ([target.id] if "identity" in allowed[index] else []), (user, index)

        # the alert queue and its change feed (nurses only)
        nurse = user.role == "nurse"
        queue = expected_queue(built, user) if nurse else set()
        r = await check.call(user, "/alerts", nurse, state="all", limit=500)
        if nurse:
            assert {a["person_id"] for a in r.json()["items"]} == queue, (user, spec)
        # a search for a diagnosis word finds the alert only where conditions are shared
        for i, word in enumerate(built.copd_words):
            r = await check.call(user, "/alerts", nurse, state="all", q=word)
            if nurse:
                sees = people[i].id in queue and "conditions" in allowed[i]
                assert [a["person_id"] for a in r.json()["items"]] == ([people[i].id] if sees else [])
            r = await check.call(user, "/patients", True, q=word)
            assert r.json()["items"] == [], (user, i)
        since = (built.now - timedelta(days=1)).isoformat()
        r = await check.call(user, "/alerts/changes", nurse, since=since)
        if nurse:
            assert {a["person_id"] for a in r.json()["items"]} == queue, (user, spec)

        for i, p in enumerate(people):
            may = bool(allowed[i])
            basis = oracle(built, user, i)[1]
            r = await check.call(user, f"/patients/{p.id}", may)
            if may:
                body = r.json()
                assert set(body["shared"]) == allowed[i], (user, i)
                assert body["access_basis"] == basis, (user, i)
                assert (body["break_glass_until"] is not None) == (basis == "break_glass")
                present = {
                    "identity": p.personnummer,
                    "contact": p.phone,
                    "medications": built.values[i]["medications"][0],
                    "vitals": built.values[i]["vitals"][0],
                }
                for category, text in present.items():
                    assert (text in r.text) == (category in allowed[i]), (user, i, category)
                if p.job_title:
                    assert (p.job_title in r.text) == ("occupation" in allowed[i])

            r = await check.call(user, f"/patients/{p.id}/consents", nurse and may)
            if nurse and may:
                mine = {cid for org, cid in built.consent_ids[i] if org == user.org}
                assert {c["id"] for c in r.json()["items"]} == mine

            # the coach's history of meetings: only where a meeting category is shared, each part
            # only where its category is (the no-leak check above covers the rest of the body)
            coaching = sorted(allowed[i] & {str(c) for c in COACHING_CATEGORIES}) if coach else []
            r = await check.call(user, f"/coaching/participants/{p.id}/meetings", bool(coaching))
            if coaching:
                [m] = r.json()["meetings"]
                cur = m["current"]
                assert (cur["measurements"] is not None) == ("vitals" in coaching)
                assert (cur["fitness_test"] is not None) == ("fitness_tests" in coaching)
                assert (cur["notes"] is not None) == ("profiling" in coaching)
                if "profiling" in coaching:
                    assert ("waist.category" in cur["assessment"]["withheld"]) == ("vitals" not in coaching)
            elif coach and allowed[i]:
                assert r.json()["code"] == "consent_missing", (user, i, r.text)

            vitals = "vitals" in allowed[i]
            await check.call(user, f"/patients/{p.id}/observations", vitals, loinc="29463-7", range="7d")
            r = await check.call(user, f"/patients/{p.id}/alerts", nurse and vitals)
            if nurse and vitals:
                # the diagnosis' alerts are there exactly where conditions are shared
                shown = {a["rule_id"] for a in r.json()["items"]}
                assert ("hf.weight_gain" in shown) == ("conditions" in allowed[i]), (user, i)
                assert (built.copd_words[i] in r.text) == ("conditions" in allowed[i]), (user, i)
            await check.call(user, f"/patients/{p.id}/thresholds", nurse and vitals)
