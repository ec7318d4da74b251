"""The coach's demo: who of cecilia's participants consented to what, and their earlier meetings.

Called by ``seed.seed_demo`` with its own ``random.Random`` (so the rest of the demo does not move
when this changes). Deterministic like the rest: the same seed and UTC day give the same rows.

- ``designate`` fixes the cases a coach meets, over cecilia's participants (the rest keep the
  random consents the seed gave them): a participant on IMR's legitimate interest only (no
  consent; a running employer contract, so the name and employer show), one with full consent at
  the employer whose contract has ended (meetings, but no name), consent to fitness tests only,
  and one who objected to profiling (as far as she has participants; with the full demo, a few
  more on legitimate interest and on fitness tests only).
- ``add_meetings`` gives each of her participants whose consent covers a meeting category 1–3
  earlier meetings, a year or so apart, through ``services/meetings.py`` like the API does (so
  the stored values carry the same derived values, equation ids and assessments). Only what the
  consent covers is recorded; the objector's meetings after the objection are not assessed.

The values are demo values, not a reference: VO2max around the Swedish health-profile means of
the revised Ekblom-Bak test (Väisänen et al. 2024: 3.58 L/min men, 2.41 L/min women; docs/fitness.md),
less with age; height, BMI, waist and resting blood pressure roughly as in Swedish adults.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from sqlalchemy.orm import Session

from clinic_server.db.models import ProfilingObjection
from clinic_server.services import meetings as store
from clinic_tui.domain.categories import Category
from clinic_tui.domain.fitness import EKBLOM_BAK_2016, demo_cycle_test
from clinic_tui.domain.meeting import COACHING_CATEGORIES, MeetingKind
from clinic_tui.domain.personnummer import age_years
from clinic_tui.domain.provenance import DomainError
from clinic_tui.domain.questionnaire import CURRENT

FULL = [Category.FITNESS_TESTS, Category.PROFILING, Category.GOALS, Category.VITALS, Category.QUESTIONNAIRES]
FITNESS_ONLY = [Category.FITNESS_TESTS]

#: (mean L/min at 45, L/min per year of age, spread): Väisänen et al. 2024 means; the age slope and
#: spread are demo assumptions
VO2MAX = {"male": (3.6, -0.025, 0.45), "female": (2.4, -0.017, 0.32)}
#: (mean height cm, sd)
HEIGHT = {"male": (180.0, 6.5), "female": (166.0, 6.0)}

NOTES = [
    "Vill börja cykla till jobbet två dagar i veckan.",
    "Pratade om sömn och skärmtid på kvällen; provar att lägga undan telefonen.",
    "Motiverad att öka vardagsmotionen; promenad på lunchen.",
    "Har ont i nacken efter långa dagar vid datorn; tipsade om mikropauser.",
    "Tränar redan regelbundet; mål att behålla konditionen.",
    "Stressig period på jobbet; pratade om återhämtning.",
    "Vill minska snuset; hänvisade till sluta-snusa-linjen.",
]


@dataclass
class Designated:
    """What ``designate`` decided, for the seed's counts and the demo's tests."""

    legitimate_interest: list[str]
    fitness_only: list[str]
    objectors: list[str]
    ended_contract: list[str]


def designate(
    rng: random.Random,
    participants: list[dict],
    assigned: list[int],
    consents: dict[str, dict],
    *,
    running_employer: str,
    ended_employer: str,
    job_titles: dict[str, list[str]],
    employer_names: dict[str, str],
    make_consent,
) -> Designated:
    """Fix the cases a coach meets among her participants (rows and consents are edited in place).

    ``participants``: the participant rows; ``assigned``: indexes of hers; ``consents``: person id
    -> the IMR consent row (absent: none); ``make_consent(person_id, categories)`` adds one."""
    order = sorted(assigned)
    by_name = {name: eid for eid, name in employer_names.items()}

    def at(j: int, employer: str) -> str:
        row = participants[j]
        if row["employer_id"] != by_name[employer]:
            row["employer_id"] = by_name[employer]
            row["job_title"] = rng.choice(job_titles[employer])
        return row["id"]

    def consent(pid: str, categories: list[Category]) -> None:
        if pid in consents:
            consents[pid]["categories"] = [str(c) for c in categories]
        else:
            make_consent(pid, categories)

    # one of each case, in this order, as far as she has participants; a few more with the full demo
    first, rest = order[:4], order[4:]
    extra = len(rest) // 10
    rng.shuffle(rest)
    legit = [*first[:1], *rest[:extra]]
    fitness = [*first[2:3], *rest[extra : 3 * extra]]
    out = Designated([], [], [], [])
    for j in legit:
        pid = at(j, running_employer)
        consents.pop(pid, None)
        out.legitimate_interest.append(pid)
    for j in first[1:2]:
        pid = at(j, ended_employer)
        consent(pid, FULL)
        out.ended_contract.append(pid)
    for j in fitness:
        pid = participants[j]["id"]
        consent(pid, FITNESS_ONLY)
        out.fitness_only.append(pid)
    for j in first[3:4]:
        pid = at(j, running_employer)
        consent(pid, FULL)
        out.objectors.append(pid)
    return out


def _clamp(v: float, lo: float, hi: float) -> float:
    return min(max(v, lo), hi)


def _answers(rng: random.Random) -> dict[str, str]:
    """A plausible answer set: each question answered, the middle of a scale more often."""
    out: dict[str, str] = {}
    for q in CURRENT.questions:
        if not CURRENT.applies(q, out):
            continue
        n = len(q.codes)
        weights = [1 + min(i, n - 1 - i) for i in range(n)]
        out[q.id] = rng.choices(q.codes, weights=weights)[0]
    return out


def _cycle_test(rng: random.Random, sex: str, age: int, target: float) -> dict:
    for attempt in range(6):
        try:
            return demo_cycle_test(sex=sex, age=age, target_vo2max_l_min=round(target, 2))
        except DomainError:
            # too far from what a valid test gives at this age: towards the mean
            mean = VO2MAX[sex][0]
            target = target + (mean - target) * 0.5 + rng.uniform(-0.05, 0.05) * attempt
    raise RuntimeError(f"no demo cycle test for {sex}, {age} y")


def add_meetings(
    session: Session,
    rng: random.Random,
    *,
    people: list[dict],
    consents: dict[str, dict],
    coach_id: str,
    objectors: list[str],
    anchor: datetime,
) -> dict[str, int]:
    """1–3 earlier meetings for each participant whose consent covers a meeting category."""
    today = anchor.date()
    meetings = objections = 0
    for row in people:
        consent = consents.get(row["id"])
        allowed = frozenset(Category(c) for c in consent["categories"]) if consent else frozenset()
        if not allowed & COACHING_CATEGORIES:
            continue
        sex, birth = row["sex"], row["birth_date"]
        n = 2 if row["id"] in objectors else rng.choice((1, 2, 2, 3))
        # the last one weeks to months ago, each earlier one about a year before the next
        dates = [today - timedelta(days=rng.randint(20, 200))]
        while len(dates) < n:
            dates.insert(0, dates[0] - timedelta(days=rng.randint(300, 400)))
        mean_h, sd_h = HEIGHT[sex]
        height = round(_clamp(rng.gauss(mean_h, sd_h), 150, 205), 1)
        bmi = _clamp(rng.gauss(26.0, 3.5), 19.0, 37.0)
        base, slope, spread = VO2MAX[sex]
        fitness_offset = rng.gauss(0, spread)
        objected_on = dates[0] + timedelta(days=10) if row["id"] in objectors else None
        for i, held_on in enumerate(dates):
            age = age_years(birth, held_on)
            bmi = _clamp(bmi + rng.gauss(-0.2, 0.6) * (i > 0), 18.5, 38.0)
            weight = round(bmi * (height / 100) ** 2, 1)
            target = _clamp(base + slope * (age - 45) + fitness_offset + 0.08 * i, 1.4, 4.8)
            test = _cycle_test(rng, sex, age, target)
            systolic = round(_clamp(rng.gauss(122 + 0.45 * (age - 40), 11), 98, 168))
            diastolic = round(_clamp(systolic * 0.62 + rng.gauss(2, 4), 58, systolic - 25))
            state = store.MeetingState(
                measurements={
                    "height_cm": height,
                    "weight_kg": weight,
                    "waist_cm": round((41.0 if sex == "male" else 31.0) + 1.9 * bmi + rng.gauss(0, 3), 1),
                    "systolic": float(systolic),
                    "diastolic": float(diastolic),
                    "heart_rate": float(round(_clamp(rng.gauss(66, 8), 48, 95))),
                }
                if Category.VITALS in allowed
                else None,
                questionnaire=(CURRENT.id, CURRENT.version, _answers(rng))
                if Category.QUESTIONNAIRES in allowed
                else None,
                fitness=store.FitnessState(
                    EKBLOM_BAK_2016.id,
                    {k: float(test[k]) for k in ("watts_low", "hr_low", "watts_high", "hr_high")},
                    # without consent to vitals the test carries the weight it used
                    None if Category.VITALS in allowed else weight,
                )
                if Category.FITNESS_TESTS in allowed
                else None,
                notes=rng.choice(NOTES) if Category.PROFILING in allowed else None,
            )
            built = store.build(state, sex=sex, age=age)
            if built.problems:
                raise RuntimeError(f"demo meeting refused by the rules: {built.problems}")
            objected = objected_on is not None and held_on >= objected_on
            assessment = store.assessment_columns(
                state, built, sex=sex, age=age, allowed=allowed, objected=objected
            )
            at = datetime.combine(held_on, time(9 + rng.randint(0, 7), rng.randint(0, 59)), tzinfo=UTC)
            store.add_meeting(
                session,
                meeting_id=f"{rng.getrandbits(128):032x}",
                person_id=row["id"],
                coach_id=coach_id,
                held_on=held_on,
                kind=str(MeetingKind.FIRST if i == 0 else MeetingKind.FOLLOW_UP),
                built=built,
                assessment=assessment,
                created_at=at,
            )
            meetings += 1
        if objected_on is not None:
            session.add(
                ProfilingObjection(
                    id=f"{rng.getrandbits(128):032x}",
                    person_id=row["id"],
                    recorded_at=datetime.combine(objected_on, time(10), tzinfo=UTC),
                    recorded_by_id=coach_id,
                )
            )
            objections += 1
    session.flush()
    return {"meetings": meetings, "profiling_objections": objections}
