"""A small IMR world for the coach's tests: coaches, participants on each basis, meeting bodies."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from clinic_server.db.models import Person, User
from clinic_tui.domain.categories import Category
from clinic_tui.domain.personnummer import age_years
from tests.factories import World

COACHING = [Category.FITNESS_TESTS, Category.QUESTIONNAIRES, Category.PROFILING, Category.VITALS]

#: a complete, valid answer set of imr-health-profile v1 (a drinker: the follow-ups apply)
ANSWERS = {
    "physical_activity.everyday": "min_60_89",
    "exercise.vigorous": "min_30_59",
    "sitting.daily": "h_8_10",
    "diet.vegetables": "daily_2",
    "diet.fruit": "daily_1",
    "diet.fish": "weekly_1",
    "diet.sweets": "weekly_3_6",
    "alcohol.frequency": "weekly_2_3",
    "alcohol.typical_quantity": "d_3_4",
    "alcohol.heavy_episodes": "monthly",
    "tobacco.smoking": "never",
    "tobacco.snus": "daily",
    "stress.current": "rather_much",
    "recovery.rested": "sometimes",
    "sleep.duration": "h_6",
    "sleep.quality": "good",
    "perceived_health.self_rated": "good",
    "symptoms.neck_shoulders": "weekly",
    "symptoms.back": "rarely",
    "symptoms.headache": "monthly",
    "symptoms.fatigue": "rarely",
    "symptoms.stomach": "never",
}


def yesterday() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)


def meeting_body(**parts) -> dict:
    """A full meeting (every part), with ``parts`` replacing or (None) dropping some."""
    body = {
        "held_on": yesterday().isoformat(),
        "kind": "first",
        "measurements": {
            "height_cm": 178.0,
            "weight_kg": 82.0,
            "waist_cm": 90.0,
            "systolic": 128.0,
            "diastolic": 82.0,
            "heart_rate": 64.0,
        },
        "questionnaire": {"questionnaire_id": "imr-health-profile", "version": 1, "answers": dict(ANSWERS)},
        "fitness_test": {
            "protocol": "ekblom-bak-2016",
            "watts_low": 30.0,
            "hr_low": 95.0,
            "watts_high": 150.0,
            "hr_high": 135.0,
        },
        "notes": "Wants to cycle to work; talked about sleep.",
    }
    for name, value in parts.items():
        if value is None:
            body.pop(name, None)
        else:
            body[name] = value
    return body


def key() -> dict:
    return {"Idempotency-Key": uuid.uuid4().hex}


@dataclass
class Coaching:
    cecilia: User
    olof: User
    anna: User
    #: consent to every meeting category, contract running
    full: Person
    #: consent to fitness tests only, contract running
    fitness_only: Person
    #: no consent: IMR's legitimate interest only (contract running)
    legit: Person
    #: olof's participant, full consent (cecilia is not assigned)
    olofs: Person
    #: consent to every meeting category, but the employer's contract has ended (no legitimate interest)
    ended: Person

    def age_at(self, person: Person, on: date) -> int:
        return age_years(person.birth_date, on)


def build_coaching(world: World) -> Coaching:
    imr = world.org("IMR", kind="imr")
    care = world.org("Vårdcentralen Norra")
    running = world.employer("Nordbygg AB", date(2020, 1, 1))
    ended = world.employer("Solgruppen AB", date(2019, 1, 1), datetime.now(UTC).date() - timedelta(days=30))
    cecilia = world.user("cecilia", "coach", imr)
    olof = world.user("olof", "coach", imr)
    anna = world.user("anna", "nurse", care)
    full = world.person("Frida", "Fullsson", birth=date(1978, 4, 12), employer=running)
    fitness_only = world.person("Filip", "Fitnes", birth=date(1985, 9, 3), employer=running)
    legit = world.person("Lena", "Legitim", birth=date(1990, 1, 20), employer=running)
    olofs = world.person("Otto", "Olofsson", birth=date(1970, 6, 30), employer=running)
    gone = world.person("Greta", "Gammal", birth=date(1966, 2, 14), employer=ended)
    for p in (full, olofs, gone):
        world.consent(p, imr, categories=[*COACHING, Category.GOALS], purpose="coaching")
    world.consent(fitness_only, imr, categories=[Category.FITNESS_TESTS], purpose="coaching")
    for p in (full, fitness_only, legit, gone):
        world.assign(cecilia, p)
    world.assign(olof, olofs)
    world.s.commit()
    return Coaching(cecilia, olof, anna, full, fitness_only, legit, olofs, gone)
