"""Helpers for the ingestion and alert tests: devices, observation bodies, a two-organization world."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import httpx
from sqlalchemy.orm import Session

from clinic_server.db.models import Organization, Person
from clinic_server.services.ingest import create_device
from clinic_tui.domain.categories import Category
from clinic_tui.domain.codes import MEASUREMENTS
from tests.factories import World

_ids = itertools.count(1)


def now() -> datetime:
    return datetime.now(UTC)


def obs(loinc: str, value, at: datetime | None = None, *, source_id: str | None = None, unit=None) -> dict:
    return {
        "source_id": source_id or f"m-{next(_ids)}",
        "loinc": loinc,
        "unit": unit if unit is not None else MEASUREMENTS[loinc].unit,
        "value": value,
        "effective_at": (at or now() - timedelta(minutes=1)).isoformat(),
    }


async def post(http: httpx.AsyncClient, key: str, *items: dict, batch: bool = True) -> httpx.Response:
    body = {"observations": list(items)} if batch else items[0]
    return await http.post("/ingest/observations", json=body, headers={"X-Device-Key": key})


def device(session: Session, person: Person, label: str = "Test monitor") -> str:
    _, key = create_device(session, person.id, label)
    session.commit()
    return key


@dataclass
class Clinic:
    north: Organization
    south: Organization
    people: dict[str, Person]
    keys: dict[str, str]


def clinic(world: World, session: Session) -> Clinic:
    """Two care organizations (anna, agnes: north; bertil: south), people in every consent situation."""
    north = world.org("Norra")
    south = world.org("Söder")
    world.user("anna", "nurse", north)
    world.user("agnes", "nurse", north)
    world.user("bertil", "nurse", south)
    world.user("david", "supervisor", north)
    p = {
        "nora": world.person("Nora", "Norrman", conditions=("heart_failure", "hypertension")),
        "sune": world.person("Sune", "Södergren"),
        "bo": world.person("Bo", "Bägge", conditions=("copd",)),
        "vera": world.person("Vera", "Vitalsonly"),
        "wilma": world.person("Wilma", "Withdrawn"),
        "rut": world.person("Rut", "Restricted", restricted=True),
        "mini": world.person("Mini", "Minor", birth=date(now().year - 17, 1, 1)),
        "nils": world.person("Nils", "Noconsent"),
    }
    world.consent(p["nora"], north)
    world.consent(p["sune"], south)
    world.consent(p["bo"], north)
    world.consent(p["bo"], south)
    world.consent(p["vera"], north, categories=[Category.VITALS, Category.CONDITIONS])
    world.consent(p["wilma"], north, status="withdrawn")
    world.consent(p["rut"], north)
    world.consent(p["mini"], north)
    session.commit()
    keys = {name: device(session, person) for name, person in p.items()}
    return Clinic(north, south, p, keys)


def silent_daily_sender(session: Session, person: Person, now: datetime) -> None:
    """``person`` measured their weight every day for a week, then nothing for four days
    (readings the factory gave them in those days are moved a month back)."""
    from sqlalchemy import insert, update

    from clinic_server.db.models import Observation

    session.execute(
        update(Observation)
        .where(Observation.person_id == person.id, Observation.effective_at > now - timedelta(days=4))
        .values(effective_at=now - timedelta(days=30))
    )
    rows = [
        {"person_id": person.id, "loinc": "29463-7", "value": 80.0, "unit": "kg",
         "effective_at": now - timedelta(days=d, hours=1), "received_at": now}
        for d in range(4, 12)
    ]  # fmt: skip
    session.execute(insert(Observation), rows)
    session.commit()
