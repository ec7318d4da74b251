"""The report analyst's demo through the API: gustav issues Nordbygg AB's report for last year
from the coach's demo meetings, and it publishes (with suppressed cells where it must)."""

from __future__ import annotations

import pytest

from clinic_server.demo.accounts import DEMO_PASSWORD
from clinic_server.demo.seed import seed_demo
from tests.conftest import bearer, last_audit, login
from tests.report_util import last_year

pytestmark = pytest.mark.api


async def test_gustavs_demo_report_publishes(http, session):
    seed_demo(session, patients=20, participants=40, days=7)
    gustav = bearer(await login(http, "gustav", DEMO_PASSWORD))
    r = await http.post(
        "/reports/employer", json={"employer": "Nordbygg AB", "period": last_year()}, headers=gustav
    )
    assert r.status_code == 200, r.text
    report = r.json()["report"]
    tables = {t["id"]: t for t in report["tables"]}
    total = next(c for c in tables["participation"]["cells"] if (c["row"], c["column"]) == ("all", "all"))
    assert total["status"] == "published" and total["value"] >= 5
    published = [t for t in report["tables"] if t["status"] == "published" and t["id"] != "participation"]
    assert published, "no health table published"
    statuses = {c["status"] for t in report["tables"] for c in t["cells"]}
    assert {"published", "suppressed"} <= statuses
    assert last_audit(session).purpose == "reporting"
    # this year is not over: refused, nothing published
    r = await http.post(
        "/reports/employer", json={"employer": "Nordbygg AB", "period": last_year() + 1}, headers=gustav
    )
    assert (r.status_code, r.json()["code"]) == (409, "report_period_open")
