"""The operator's commands: person add, consent grant/withdraw, participants import, employer set,
integration add, subject extract/export/erase, retention run. Each goes through the same services
and guard as the API and leaves its audit records; a refusal prints why, exits 1, changes nothing."""

from __future__ import annotations

import json
import random
from datetime import date
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clinic_server.cli import main
from clinic_server.db import make_engine
from clinic_server.db.migrate import upgrade
from clinic_server.db.models import AuditEvent, Consent, Employer, Person
from tests.conftest import bearer, login
from tests.factories import World
from tests.rights_util import full_person, organizations, rows_about, scan

pytestmark = pytest.mark.api


@pytest.fixture
def orgs(world, session):
    return organizations(world, session)


@pytest.fixture
def cli(db_url, capsys):
    def run(*argv: str) -> tuple[int, str, str]:
        code = main(["--database-url", db_url, *argv])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def _pnr(seed=8, birth=date(1975, 5, 5)) -> str:
    from clinic_tui.domain import personnummer

    return personnummer.generate(random.Random(seed), birth, "female")


def _count(session, model) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(model))


async def test_person_add_and_consents(cli, http, session, orgs):
    pnr = _pnr()
    code, out, err = cli(
        "person",
        "add",
        "--personnummer",
        pnr,
        "--given-name",
        "Klara",
        "--family-name",
        "Kommando",
        "--phone",
        "070-555 44 33",
        "--email",
        "klara@example.se",
        "--address",
        "CLI-gatan 1",
        "--condition",
        "copd",
        "--care-provider",
        "Vårdcentralen Norra=identity,vitals",
    )
    assert code == 0, err
    assert "registered person" in out and "Vårdcentralen Norra" in out
    pid = session.scalar(select(Person.id).where(Person.personnummer == pnr))
    rec = session.scalar(select(AuditEvent).where(AuditEvent.action == "register"))
    assert rec.username.startswith("cli:") and rec.role == "integration" and rec.person_id == pid

    code, out, err = cli(
        "consent", "grant", pnr, "--organization", "Hjärtmottagningen Söder", "--categories", "vitals"
    )
    assert code == 0 and "consent" in out and "care" in out, err
    bertil = bearer(await login(http, "bertil"))
    assert (await http.get(f"/patients/{pid}", headers=bertil)).json()["shared"] == ["vitals"]
    code, out, _ = cli("consent", "withdraw", pnr, "--organization", "Hjärtmottagningen Söder")
    assert code == 0 and "withdrawn" in out
    assert (await http.get(f"/patients/{pid}", headers=bertil)).status_code == 403
    # a consent that does not exist, a purpose to the wrong kind of organization: refused, said why
    code, _, err = cli("consent", "withdraw", pnr, "--organization", "Hjärtmottagningen Söder")
    assert code == 1 and "no active consent" in err
    code, _, err = cli(
        "consent", "grant", pnr, "--organization", "IMR", "--purpose", "care", "--categories", "vitals"
    )
    assert code == 1 and "organization of kind care_provider" in err
    # registering the same person twice: refused, nothing changed
    people = _count(session, Person)
    code, _, err = cli(
        "person",
        "add",
        "--personnummer",
        pnr,
        "--given-name",
        "K",
        "--family-name",
        "K",
        "--phone",
        "070-1111111",
        "--email",
        "k@example.se",
        "--address",
        "Gatan 1",
        "--condition",
        "copd",
    )
    assert code == 1 and "already has an ImagineCare account" in err and _count(session, Person) == people


def test_a_bad_personnummer_is_refused_before_anything_runs(cli, session, orgs):
    with pytest.raises(SystemExit) as exc:
        cli("subject", "export", "19121212-1213", "--out", "/dev/null")
    assert exc.value.code == 2


def test_withdrawing_the_account_consent_asks_first(cli, session, orgs, monkeypatch):
    pnr = _pnr(9)
    assert (
        cli(
            "person",
            "add",
            "--personnummer",
            pnr,
            "--given-name",
            "Vera",
            "--family-name",
            "Vill",
            "--phone",
            "070-1234567",
            "--email",
            "v@example.se",
            "--address",
            "Gatan 2",
            "--condition",
            "copd",
        )[0]
        == 0
    )
    monkeypatch.setattr("builtins.input", lambda _prompt: "n")
    code, out, _ = cli("consent", "withdraw", pnr, "--organization", "ImagineCare AB")
    assert code == 1 and "DELETED" in out and "nothing was changed" in out
    assert _count(session, Person) == 1
    monkeypatch.setattr("builtins.input", lambda _prompt: "ja")
    code, out, _ = cli("consent", "withdraw", pnr, "--organization", "ImagineCare AB")
    assert code == 0 and "data was deleted" in out and _count(session, Person) == 0


def test_participants_import_is_all_or_nothing(cli, session, orgs, tmp_path):
    a, b = _pnr(1, date(1980, 1, 1)), _pnr(2, date(1981, 2, 2))
    header = "personnummer,given_name,family_name,email,phone,job_title,coach\n"
    bad = tmp_path / "bad.csv"
    bad.write_text(
        header + f"{a},Ada,Ek,ada@example.se,070-1,Snickare,cecilia\n{b},Bo,Ek,bo@x,070-2,X,cecilia\n"
    )
    code, _, err = cli("participants", "import", str(bad), "--employer", "Nordbygg AB")
    assert code == 1 and "line 3: email: not an e-mail address" in err and "nothing was imported" in err
    assert _count(session, Person) == 0
    good = tmp_path / "good.csv"
    good.write_text(
        header
        + f"{a},Ada,Ek,ada@example.se,070-1,Snickare,cecilia\n{b},Bo,Ek,bo@example.se,070-2,X,cecilia\n"
    )
    code, out, _ = cli("participants", "import", str(good), "--employer", "Nordbygg AB", "--dry-run")
    assert code == 0 and "would import 2" in out and _count(session, Person) == 0
    code, out, _ = cli("participants", "import", str(good), "--employer", "Nordbygg AB")
    assert (
        code == 0
        and "imported 2 participant(s) of Nordbygg AB: 2 new" in out
        and _count(session, Person) == 2
    )
    code, _, err = cli("participants", "import", str(tmp_path / "missing.csv"), "--employer", "Nordbygg AB")
    assert code == 2 and "cannot read" in err


async def test_employer_set_and_integration_add(cli, http, session, orgs):
    code, out, _ = cli("employer", "set", "Ny Kund AB", "--contract-start", "2026-01-01")
    assert code == 0 and "open-ended" in out
    code, out, _ = cli("employer", "set", "Ny Kund AB", "--contract-end", "2026-12-31")
    assert code == 0 and "2026-12-31" in out
    session.rollback()
    assert session.scalar(select(Employer.contract_end).where(Employer.name == "Ny Kund AB")) == date(
        2026, 12, 31
    )
    code, _, err = cli("employer", "set", "Ny Kund AB", "--contract-end", "2025-01-01")
    assert code == 2 and "cannot end before it starts" in err
    code, out, _ = cli("integration", "add", "ImagineCare AB", "--label", "second backend")
    assert code == 0
    key = out.strip().splitlines()[-1]
    assert key.startswith("cik_")
    r = await http.get("/integration/care-providers", headers={"X-Client-Key": key})
    assert r.status_code == 200 and len(r.json()["items"]) == 2


def test_subject_extract_export_and_erase(cli, session, orgs, tmp_path):
    marks = full_person(session, orgs)
    doc = tmp_path / "extract.md"
    code, out, _ = cli("subject", "extract", marks.personnummer, "--language", "en", "--out", str(doc))
    assert code == 0 and "# Register extract" in doc.read_text()
    target = tmp_path / "export.json"
    code, out, _ = cli("subject", "export", marks.personnummer, "--out", str(target))
    # 5 measurements, 3 entries (social, profiling, fitness); of the meeting: measurements at two
    # revisions, the cycle test, the note, the assessment at two revisions
    assert code == 0 and "Observation 14" in out
    bundle = json.loads(target.read_text())
    Bundle.model_validate(bundle)
    assert any(e["resource"]["resourceType"] == "Patient" for e in bundle["entry"])
    code, out, _ = cli("subject", "erase", marks.personnummer, "--yes")
    assert code == 0 and "delete     person" in out and "erased (delete)" in out
    assert not any(rows_about(session, marks.person_id).values())
    assert scan(session, marks.strings()) == []
    assert cli("audit", "verify")[0] == 0
    # every step was recorded as the privacy officer's
    session.rollback()
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.role == "privacy_officer")).all()
    assert {"lookup", "extract_document", "export", "erasure_preview", "erase"} <= set(actions)


def test_after_an_erasure_the_sqlite_file_holds_no_trace_of_the_person(tmp_path, capsys):
    """Not only the tables: the bytes of the database file and its write-ahead log (freed pages are
    overwritten, the log is folded in and truncated)."""
    url = f"sqlite:///{tmp_path / 'raw.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as s:
        marks = full_person(s, organizations(World(s), s))
    engine.dispose()
    raw = Path(tmp_path / "raw.sqlite3")
    files = [raw, raw.with_name(raw.name + "-wal")]
    before = b"".join(f.read_bytes() for f in files if f.exists())
    assert marks.personnummer.encode() in before
    assert main(["--database-url", url, "subject", "erase", marks.personnummer, "--yes"]) == 0
    after = b"".join(f.read_bytes() for f in files if f.exists())
    for needle in marks.strings():
        assert needle.encode() not in after, needle
    capsys.readouterr()


def test_retention_run_from_the_command_line(cli, session, orgs, world):
    p = world.person("Gammal", employer=orgs.employer)
    from datetime import UTC, datetime

    p.created_at = datetime(2020, 1, 1, tzinfo=UTC)
    session.commit()
    code, out, _ = cli("retention", "run", "--dry-run")
    assert code == 0 and p.id in out and "imr.last_meeting v1" in out and "anonymize" in out
    assert _count(session, Person) == 1
    code, _, err = cli("retention", "run", "--as-of", "2030-01-01")
    assert code == 2 and "--dry-run" in err
    code, out, _ = cli("retention", "run")
    assert code == 0 and "removed: 1 people" in out and _count(session, Person) == 0
    assert _count(session, Consent) == 0
