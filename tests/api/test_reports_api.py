"""Issuing employer reports through the API, on a real database: the analyst's duty, audited with
purpose reporting; a stored report given back for the same people; refusals that change nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from clinic_server.access.data_map import BY_TABLE
from clinic_server.db.models import IssuedReport, ReportPopulation
from clinic_tui.api.schemas.reports import CellStatus
from clinic_tui.api.schemas.reports import IssuedReport as IssuedReportOut
from tests.coaching_util import COACHING
from tests.conftest import audit_count, bearer, last_audit, login
from tests.report_util import last_year, store_meeting

pytestmark = pytest.mark.api

YEAR = last_year()


@pytest.fixture
def rw(world, session):
    """Nordbygg AB: 14 participants of the last year (7 women, 7 men), all consenting; Solgruppen
    AB: 3. An analyst (gustav), a coach, a nurse."""
    imr = world.org("IMR", kind="imr")
    care = world.org("Vårdcentralen Norra")
    nordbygg = world.employer("Nordbygg AB", date(2020, 1, 1))
    small = world.employer("Solgruppen AB", date(2020, 1, 1))
    coach = world.user("cecilia", "coach", imr)
    world.user("gustav", "report_analyst", imr)
    world.user("anna", "nurse", care)
    people = []
    for i in range(14):
        p = world.person(birth=date(1970 + i, 3, 1), employer=nordbygg)
        p.sex = "female" if i % 2 else "male"
        world.consent(p, imr, categories=COACHING, purpose="coaching")
        store_meeting(session, p, coach, date(YEAR, 3, 1 + i), weight=60.0 + 3 * i, waist=80.0 + 2 * i)
        people.append(p)
    for _ in range(3):
        p = world.person(employer=small)
        world.consent(p, imr, categories=COACHING, purpose="coaching")
        store_meeting(session, p, coach, date(YEAR, 5, 1))
    session.commit()
    return {"people": people, "coach": coach, "nordbygg": nordbygg, "imr": imr}


async def _issue(http, tokens, employer="Nordbygg AB", period=YEAR):
    return await http.post(
        "/reports/employer", json={"employer": employer, "period": period}, headers=bearer(tokens)
    )


async def test_the_analyst_issues_a_report_audited_with_purpose_reporting(http, rw, session):
    gustav = await login(http, "gustav")
    r = await _issue(http, gustav)
    assert r.status_code == 200, r.text
    out = IssuedReportOut.model_validate(r.json())
    assert (out.employer, out.period, out.min_cell, out.issued_by, out.reused) == (
        "Nordbygg AB",
        YEAR,
        5,
        "gustav",
        False,
    )
    participation = out.report.table("participation")
    total = participation.cell("all", "all")
    assert total.status is CellStatus.PUBLISHED and total.value == 14
    # every number published rests on 0 or at least 5 people
    for t in out.report.tables:
        for c in t.cells:
            if c.status is CellStatus.PUBLISHED and t.kind != "mean":
                assert c.value == 0 or c.value >= 5, (t.id, c)
    rec = last_audit(session)
    assert (rec.action, rec.resource_type, rec.purpose, rec.outcome, rec.person_id) == (
        "issue_report",
        "employer_report",
        "reporting",
        "allowed",
        None,
    )
    assert rec.details["report_id"] == out.id and rec.details["participants"] == 14
    # the populations are stored, each contribution a keyed hash, never the value itself
    rows = list(session.scalars(select(ReportPopulation).where(ReportPopulation.report_id == out.id)))
    assert {r.person_id for r in rows} == {p.id for p in rw["people"]}
    bmi = [r for r in rows if r.table_id == "bmi_category"]
    assert len(bmi) == 14 and all(len(r.contribution) == 64 for r in bmi)
    assert not {r.contribution for r in bmi} & {"normal", "overweight", "obesity_class_1"}
    # one person's hashes differ by table, and two people with the same class differ too
    assert len({r.contribution for r in bmi}) == 14


async def test_asking_again_for_the_same_people_gives_the_stored_report(http, rw, session):
    gustav = await login(http, "gustav")
    first = (await _issue(http, gustav)).json()
    again = await _issue(http, gustav)
    assert again.status_code == 200
    assert again.json()["id"] == first["id"] and again.json()["reused"] is True
    assert again.json()["report"] == first["report"]
    assert session.scalar(select(func.count()).select_from(IssuedReport)) == 1
    listed = (await http.get("/reports/employer", headers=bearer(gustav))).json()["items"]
    assert [(i["id"], i["employer"], i["period"]) for i in listed] == [(first["id"], "Nordbygg AB", YEAR)]
    one = await http.get(f"/reports/employer/{first['id']}", headers=bearer(gustav))
    assert one.status_code == 200 and one.json()["report"] == first["report"]


async def test_a_changed_year_already_issued_is_refused_and_nothing_is_stored(http, rw, session):
    gustav = await login(http, "gustav")
    first = (await _issue(http, gustav)).json()
    # a late meeting in December changes one person's values
    p = rw["people"][0]
    store_meeting(session, p, rw["coach"], date(YEAR, 12, 20), weight=120.0)
    session.commit()
    before = audit_count(session)
    r = await _issue(http, gustav)
    assert (r.status_code, r.json()["code"], r.json()["params"]) == (
        409,
        "report_already_issued",
        {"period": YEAR},
    )
    assert audit_count(session) == before + 1
    rec = last_audit(session)
    assert rec.outcome == "denied" and first["id"] in rec.reason
    assert session.scalar(select(func.count()).select_from(IssuedReport)) == 1


async def test_refusals_too_few_year_not_over_unknown_employer_and_roles(http, rw, session):
    gustav = await login(http, "gustav")
    r = await _issue(http, gustav, employer="Solgruppen AB")
    assert (r.status_code, r.json()["code"], r.json()["params"]) == (
        409,
        "report_too_few",
        {"period": YEAR, "min_cell": 5},
    )
    r = await _issue(http, gustav, period=datetime.now(UTC).year)
    assert (r.status_code, r.json()["code"]) == (409, "report_period_open")
    r = await _issue(http, gustav, employer="Nobody AB")
    assert (r.status_code, r.json()["code"]) == (404, "not_found")
    r = await _issue(http, gustav, period=1800)
    assert r.status_code == 422
    for who in ("anna", "cecilia"):
        tokens = await login(http, who)
        r = await _issue(http, tokens)
        assert (r.status_code, r.json()["code"]) == (403, "not_permitted")
        assert (await http.get("/reports/employer", headers=bearer(tokens))).status_code == 403
        rec = last_audit(session)
        assert (rec.outcome, rec.purpose) == ("denied", "reporting")
    assert session.scalar(select(func.count()).select_from(IssuedReport)) == 0


async def test_a_year_that_differs_from_an_issued_one_by_fewer_than_k_is_refused(http, rw, session, world):
    """The year before holds the same 14 people with the same measurements, but one more: the
    BMI table's difference would rest on that one person."""
    people = rw["people"]
    for i, p in enumerate(people):
        store_meeting(
            session, p, rw["coach"], date(YEAR - 1, 3, 1 + i), weight=60.0 + 3 * i, waist=80.0 + 2 * i
        )
    extra = world.person(birth=date(1980, 1, 1), employer=rw["nordbygg"])
    world.consent(extra, rw["imr"], categories=COACHING, purpose="coaching")
    store_meeting(session, extra, rw["coach"], date(YEAR - 1, 6, 1))
    session.commit()
    gustav = await login(http, "gustav")
    assert (await _issue(http, gustav, period=YEAR - 1)).status_code == 200
    r = await _issue(http, gustav)
    assert (r.status_code, r.json()["code"]) == (409, "report_differencing")
    assert "differs from issued report" in last_audit(session).reason
    assert session.scalar(select(func.count()).select_from(IssuedReport)) == 1


async def test_erasure_removes_the_persons_population_rows_and_the_report_stays(http, rw, session):
    from clinic_server.services.erasure import erase
    from clinic_tui.domain.rights import ErasureMode

    gustav = await login(http, "gustav")
    first = (await _issue(http, gustav)).json()
    p = rw["people"][0]
    counted = select(func.count()).select_from(ReportPopulation)
    assert session.scalar(counted.where(ReportPopulation.person_id == p.id)) > 0
    erase(session, [p.id], ErasureMode.ANONYMIZE, datetime.now(UTC))
    session.commit()
    assert session.scalar(counted.where(ReportPopulation.person_id == p.id)) == 0
    assert session.scalar(counted) > 0
    kept = session.get(IssuedReport, first["id"])
    assert kept is not None and kept.report == first["report"]


async def test_the_persons_export_says_which_reports_counted_them(http, rw, session):
    from clinic_server.services import fhir_export

    gustav = await login(http, "gustav")
    first = (await _issue(http, gustav)).json()
    p = rw["people"][0]
    # the population's exporter alone (the whole export waits for the coach's tables' exporters)
    ctx = fhir_export.ExportContext(session, p, datetime.now(UTC), organizations={}, users={})
    holding = BY_TABLE["report_population"]
    for row in fhir_export._rows(ctx, holding):
        fhir_export.EXPORTS[holding.table].build(ctx, row)
    counted = [e["resource"] for e in ctx.entries]
    assert fhir_export._validate_resources(counted) == []
    assert {x["code"]["coding"][0]["code"] for x in counted} == {"employer-report-population"}
    tables = {x["extension"][0]["extension"][1]["valueString"] for x in counted}
    assert "participation" in tables and "bmi_category" in tables
    report_ids = {x["extension"][0]["extension"][0]["valueString"] for x in counted}
    assert report_ids == {first["id"]}
    # the keyed hash of the value is the server's and is not exported
    hashes = {r.contribution for r in session.scalars(select(ReportPopulation)) if r.contribution}
    assert not any(h in str(counted) for h in hashes)


async def test_another_report_key_is_refused_instead_of_compared_wrongly(http, rw, session, memory_keyring):
    gustav = await login(http, "gustav")
    assert (await _issue(http, gustav)).status_code == 200
    [entry] = [k for k in memory_keyring.store if k[1].startswith("report-key:")]
    memory_keyring.store[entry] = "another key " + "x" * 40
    r = await _issue(http, gustav)
    assert (r.status_code, r.json()["code"]) == (503, "report_key_unavailable")
    assert "another key" in last_audit(session).reason
    assert session.scalar(select(func.count()).select_from(IssuedReport)) == 1


def test_without_a_keyring_only_a_demo_server_has_a_report_key(settings, monkeypatch):
    import keyring
    from keyring.errors import NoKeyringError

    from clinic_server.services.reports import store

    def broken(*_a):
        raise NoKeyringError("no backend")

    monkeypatch.setattr(keyring, "get_password", broken)
    with pytest.raises(store.KeyMissing):
        store.report_key(settings)
    demo = store.report_key(settings.model_copy(update={"demo": True}))
    assert demo.secret == store.DEMO_SECRET
    configured = store.report_key(settings.model_copy(update={"report_key": SecretStr("k" * 40)}))
    assert configured.secret == b"k" * 40 and configured.key_id != demo.key_id
