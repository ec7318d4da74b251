"""IMR onboarding: an employer's roster becomes participants with a coach, all rows or none; every
bad row is reported by its line and nothing changes."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from clinic_server.db.models import CoachAssignment, Employer, Person
from clinic_tui.domain import personnummer
from tests.conftest import audit_count, bearer, last_audit, login
from tests.rights_util import app_headers, imr_headers, organizations

pytestmark = pytest.mark.api

HEADER = "personnummer,given_name,family_name,email,phone,job_title,coach"


@pytest.fixture
def orgs(world, session):
    return organizations(world, session)


def _pnrs(n: int, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    return [personnummer.generate(rng, date(1980 + i, 1 + i % 12, 10), "female") for i in range(n)]


def _roster(rows: list[str], header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


async def _import(http, text: str, employer: str = "Nordbygg AB", dry_run: bool = False):
    return await http.post(
        f"/integration/participants/import?dry_run={'true' if dry_run else 'false'}",
        json={"employer": employer, "csv": text},
        headers=imr_headers(),
    )


def _people(session) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(Person))


async def test_a_roster_becomes_participants_with_their_coach(http, session, orgs):
    a, b = _pnrs(2)
    text = _roster(
        [
            f"{a},Ada,Ek,ada@example.se,070-1000000,Snickare,cecilia",
            f"{b},Bo,Ek,bo@example.se,070-2000000,Platschef,CECILIA",
        ]
    )
    before = audit_count(session)
    r = await _import(http, text)
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["rows"], out["created"], out["updated"]) == (2, 2, 0)
    people = {p.personnummer: p for p in session.scalars(select(Person))}
    assert people[a].employer_id == orgs.employer.id and people[a].job_title == "Snickare"
    assert people[a].birth_date == personnummer.birth_date(a) and people[a].sex == "female"
    coach = orgs.users["cecilia"].id
    assigned = set(
        session.scalars(select(CoachAssignment.person_id).where(CoachAssignment.coach_id == coach))
    )
    assert assigned == {people[a].id, people[b].id}
    # one record, naming the people by id only
    assert audit_count(session) == before + 1
    rec = last_audit(session)
    assert rec.action == "import" and rec.outcome == "allowed" and rec.purpose == "coaching"
    assert sorted(rec.details["person_ids"]) == sorted(out["person_ids"]) and a not in str(rec.details)
    # the coach sees her new participants (contact and occupation on IMR's legitimate interest)
    cecilia = bearer(await login(http, "cecilia"))
    detail = (await http.get(f"/patients/{people[a].id}", headers=cecilia)).json()
    assert detail["occupation"]["job_title"] == "Snickare"

    # the same roster again changes nothing but says so; a held person keeps their identity
    r = await _import(http, text.replace("Ada,Ek", "Adina,Ekman"))
    assert (r.json()["created"], r.json()["updated"]) == (0, 2)
    session.refresh(people[a])
    assert people[a].given_name == "Ada"


async def test_bad_rows_are_reported_by_line_and_nothing_changes(http, session, orgs):
    good, dup, minor_pnr = _pnrs(3)
    minor = personnummer.generate(random.Random(1), date.today() - timedelta(days=16 * 365), "male")
    text = _roster(
        [
            f"{good},Ada,Ek,ada@example.se,070-1000000,Snickare,cecilia",  # line 2: fine
            "19800101-0000,Bad,Check,bad@example.se,070-1,X,cecilia",  # line 3: check digit
            f"{good},Ada,Twice,a2@example.se,070-1,X,cecilia",  # line 4: same person as line 2
            f"{dup},,Ek,not-an-email,070-1,X,nobody",  # line 5: name, e-mail, coach
            f"{minor},Young,Ek,y@example.se,070-1,X,cecilia",  # line 6: under 18
            f"{minor_pnr},Short,Row",  # line 7: too few fields
        ]
    )
    before, people = audit_count(session), _people(session)
    r = await _import(http, text)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "invalid_roster" and body["params"]["lines"] == "3,4,5,6,7"
    message = body["message"]
    for expected in (
        "line 3: personnummer: check digit does not match",
        "line 4: personnummer: the same person as on line 2",
        "line 5: given_name: missing",
        "line 5: email: not an e-mail address",
        "line 5: coach: no active IMR coach has that username",
        "line 6: personnummer: the participant is under 18",
        "line 7: 3 fields, the header has 7",
    ):
        assert expected in message, message
    assert good not in message and "Ada" not in message  # problems, never the values
    assert _people(session) == people
    assert audit_count(session) == before + 1 and last_audit(session).outcome == "denied"
    assert "Ada" not in last_audit(session).reason and good not in last_audit(session).reason


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "min_length"),
        ("personnummer,given_name\n", "line 1: required column 'family_name' is missing"),
        (HEADER + ",shoe_size\n", "line 1: unknown column 'shoe_size'"),
        (HEADER + "\n", "line 2: the roster has no participants"),
    ],
)
async def test_a_file_that_is_not_a_roster_is_refused(http, session, orgs, text, problem):
    people = _people(session)
    r = await _import(http, text)
    assert r.status_code == 422
    if problem != "min_length":
        assert problem in r.json()["message"]
    assert _people(session) == people


async def test_semicolons_a_byte_order_mark_and_a_dry_run(http, session, orgs):
    (a,) = _pnrs(1, seed=9)
    text = "\ufeff" + _roster(
        [f"{a};Ada;Ek;ada@example.se;070-1000000;Snickare;cecilia"], HEADER.replace(",", ";")
    )
    people = _people(session)
    r = await _import(http, text, dry_run=True)
    assert r.status_code == 200 and (r.json()["dry_run"], r.json()["created"]) == (True, 1)
    assert _people(session) == people
    r = await _import(http, text)
    assert r.json()["created"] == 1 and _people(session) == people + 1


async def test_only_imr_imports_and_only_for_a_running_contract(http, session, orgs):
    (a,) = _pnrs(1, seed=4)
    text = _roster([f"{a},Ada,Ek,ada@example.se,070-1000000,Snickare,cecilia"])
    r = await http.post(
        "/integration/participants/import",
        json={"employer": "Nordbygg AB", "csv": text},
        headers=app_headers(),
    )
    assert r.status_code == 403
    assert (await _import(http, text, employer="Nobody AB")).status_code == 404
    session.add(
        Employer(
            name="Ended AB", contract_start=date(2020, 1, 1), contract_end=date.today() - timedelta(days=1)
        )
    )
    session.commit()
    r = await _import(http, text, employer="Ended AB")
    assert r.status_code == 422 and "not running" in r.json()["message"]


async def test_a_new_coach_on_the_roster_replaces_the_old_one(http, session, orgs, world):
    other = world.user("dora", "coach", orgs.imr)
    session.commit()
    (a,) = _pnrs(1, seed=12)
    assert (await _import(http, _roster([f"{a},Ada,Ek,ada@example.se,070-1,X,cecilia"]))).status_code == 200
    assert (await _import(http, _roster([f"{a},Ada,Ek,ada@example.se,070-1,X,dora"]))).status_code == 200
    pid = session.scalar(select(Person.id).where(Person.personnummer == a))
    active = {
        c: on
        for c, on in session.execute(
            select(CoachAssignment.coach_id, CoachAssignment.active).where(CoachAssignment.person_id == pid)
        )
    }
    assert active == {orgs.users["cecilia"].id: False, other.id: True}
