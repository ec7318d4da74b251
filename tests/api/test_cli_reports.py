"""``clinic-server report employer``: the same service and audit as the API, as a named analyst;
each format written; a refusal prints why, exits 1 and writes nothing."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest
from sqlalchemy import func, select

from clinic_server.cli import main
from clinic_server.db.models import IssuedReport
from clinic_tui.api.schemas.reports import EmployerReport
from tests.coaching_util import COACHING
from tests.conftest import last_audit
from tests.report_util import last_year, store_meeting

pytestmark = pytest.mark.api

YEAR = last_year()


@pytest.fixture
def cli(db_url, capsys):
    def run(*argv: str) -> tuple[int, str, str]:
        code = main(["--database-url", db_url, *argv])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@pytest.fixture
def nordbygg(world, session):
    imr = world.org("IMR", kind="imr")
    employer = world.employer("Nordbygg AB", date(2020, 1, 1))
    coach = world.user("cecilia", "coach", imr)
    world.user("gustav", "report_analyst", imr)
    for i in range(12):
        p = world.person(birth=date(1965 + 2 * i, 5, 1), employer=employer)
        p.sex = "female" if i % 2 else "male"
        world.consent(p, imr, categories=COACHING, purpose="coaching")
        store_meeting(session, p, coach, date(YEAR, 2, 1 + i), weight=62.0 + 2.5 * i)
    session.commit()
    return employer


def test_each_format_is_the_one_issued_report(cli, nordbygg, session, tmp_path):
    code, out, err = cli(
        "report",
        "employer",
        "Nordbygg AB",
        "--period",
        str(YEAR),
        "--format",
        "json",
        "--out",
        str(tmp_path / "r.json"),
    )
    assert code == 0, err
    assert "a new report" in out
    report = EmployerReport.model_validate_json((tmp_path / "r.json").read_text())
    assert (report.employer, report.period, report.min_cell) == ("Nordbygg AB", YEAR, 5)
    rec = last_audit(session)
    assert (rec.username, rec.role, rec.action, rec.purpose, rec.outcome) == (
        "gustav",
        "report_analyst",
        "issue_report",
        "reporting",
        "allowed",
    )
    code, out, err = cli(
        "report",
        "employer",
        "Nordbygg AB",
        "--period",
        str(YEAR),
        "--format",
        "csv",
        "--out",
        str(tmp_path / "r.csv"),
        "--as",
        "gustav",
    )
    assert code == 0 and "issued before" in out
    rows = list(csv.DictReader(io.StringIO((tmp_path / "r.csv").read_text())))
    assert {r["table"] for r in rows} >= {"participation", "bmi_category", "vo2max"}
    suppressed = [r for r in rows if r["status"] == "suppressed"]
    assert suppressed and all(r["value"] == "–" and r["note"] for r in suppressed)
    code, _, _ = cli(
        "report", "employer", "Nordbygg AB", "--period", str(YEAR), "--out", str(tmp_path / "r.md")
    )
    assert code == 0 and (tmp_path / "r.md").read_text().startswith("#")
    assert session.scalar(select(func.count()).select_from(IssuedReport)) == 1
    assert json.loads((tmp_path / "r.json").read_text())["tables"]


def test_refusals_write_nothing(cli, nordbygg, session, tmp_path, world):
    out = tmp_path / "r.md"
    code, _, err = cli("report", "employer", "Nordbygg AB", "--period", str(YEAR + 1), "--out", str(out))
    assert code == 1 and "not over" in err and not out.exists()
    assert (last_audit(session).outcome, last_audit(session).purpose) == ("denied", "reporting")
    code, _, err = cli("report", "employer", "Nobody AB", "--period", str(YEAR), "--out", str(out))
    assert code == 1 and "No such employer" in err and not out.exists()
    code, _, err = cli(
        "report", "employer", "Nordbygg AB", "--period", str(YEAR), "--out", str(out), "--as", "cecilia"
    )
    assert code == 1 and "no active report analyst named 'cecilia'" in err and not out.exists()
    world.user("hanna", "report_analyst", world.org("IMR 2", kind="imr"))
    session.commit()
    code, _, err = cli("report", "employer", "Nordbygg AB", "--period", str(YEAR), "--out", str(out))
    assert code == 1 and "--as USERNAME" in err and not out.exists()
    with pytest.raises(SystemExit):
        cli("report", "employer", "Nordbygg AB", "--period", "last year", "--out", str(out))
    assert session.scalar(select(func.count()).select_from(IssuedReport)) == 0
