"""Build small worlds straight in the database (setup only; assertions go through the API)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from functools import cache

from sqlalchemy.orm import Session

from clinic_server.db.models import (
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
from clinic_server.services.security import hash_password
from clinic_tui.domain import personnummer
from clinic_tui.domain.categories import ALL_CATEGORIES

PASSWORD = "correct horse battery"
NOW = datetime.now(UTC)


@cache
def password_hash() -> str:
    return hash_password(PASSWORD)


class World:
    def __init__(self, session: Session, seed: int = 1):
        self.s = session
        self.rng = random.Random(seed)
        self._n = 0

    def org(self, name: str, kind: str = "care_provider") -> Organization:
        o = Organization(name=name, kind=kind)
        self.s.add(o)
        self.s.flush()
        return o

    def employer(self, name: str, start: date, end: date | None = None) -> Employer:
        e = Employer(name=name, contract_start=start, contract_end=end)
        self.s.add(e)
        self.s.flush()
        return e

    def user(self, username: str, role: str, org: Organization, totp_secret: str | None = None) -> User:
        u = User(
            username=username,
            display_name=username.title(),
            role=role,
            organization_id=org.id,
            password_hash=password_hash(),
            totp_secret=totp_secret,
        )
        self.s.add(u)
        self.s.flush()
        return u

    def person(
        self,
        given: str = "Test",
        family: str | None = None,
        birth: date = date(1960, 5, 17),
        restricted: bool = False,
        conditions: tuple[str, ...] = ("hypertension",),
        employer: Employer | None = None,
    ) -> Person:
        self._n += 1
        sex = self.rng.choice(["female", "male"])
        p = Person(
            personnummer=personnummer.generate(self.rng, birth, sex),
            given_name=given,
            family_name=family or f"Person{self._n:03d}",
            birth_date=birth,
            sex=sex,
            phone=f"070-{self._n:03d} 00 00",
            email=f"p{self._n}@example.se",
            address=f"Storgatan {self._n}, Uppsala",
            employer_id=employer.id if employer else None,
            job_title="Snickare" if employer else None,
            restricted=restricted,
        )
        self.s.add(p)
        self.s.flush()
        for c in conditions:
            self.s.add(Condition(person_id=p.id, code=c))
        self.s.add(RecordEntry(person_id=p.id, category="medications", text="Enalapril 10 mg x1"))
        self.s.add(
            Observation(
                person_id=p.id, loinc="29463-7", value=82.5, unit="kg", effective_at=NOW - timedelta(hours=3)
            )
        )
        self.s.add(
            Observation(
                person_id=p.id,
                loinc="8480-6",
                value=142,
                unit="mm[Hg]",
                effective_at=NOW - timedelta(hours=2),
            )
        )
        self.s.flush()
        return p

    def consent(
        self,
        person: Person,
        org: Organization,
        categories=ALL_CATEGORIES,
        *,
        purpose: str = "care",
        status: str = "active",
        valid_from: datetime | None = None,
        valid_until: datetime | None = None,
    ) -> Consent:
        c = Consent(
            person_id=person.id,
            organization_id=org.id,
            categories=sorted(str(x) for x in categories),
            purpose=purpose,
            status=status,
            valid_from=valid_from or NOW - timedelta(days=30),
            valid_until=valid_until,
            withdrawn_at=NOW - timedelta(days=1) if status == "withdrawn" else None,
        )
        self.s.add(c)
        self.s.flush()
        return c

    def assign(self, coach: User, person: Person) -> None:
        self.s.add(CoachAssignment(coach_id=coach.id, person_id=person.id))
        self.s.flush()
