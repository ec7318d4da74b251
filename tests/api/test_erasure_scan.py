"""Erasure leaves nothing of the person: every column of every table is scanned for their
personnummer, names, e-mail, phone and addresses (SQLite, and PostgreSQL in its pass), and the
audit chain still verifies. IMR's anonymization keeps only what the law requires (the billing
record, until its date) and values with no link to anyone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from clinic_server.access.data_map import BY_TABLE, HOLDINGS, Erasure
from clinic_server.audit.chain import verify
from clinic_server.db.models import AnonymizedRecord, AuditEvent, Base, BillingRecord
from clinic_server.jobs.retention import run_retention
from clinic_tui.domain.categories import ALL_CATEGORIES
from tests.conftest import bearer, login
from tests.rights_util import NOW, full_person, organizations, rows_about, scan

pytestmark = pytest.mark.api


@pytest.fixture
def orgs(world, session):
    return organizations(world, session)


async def _accesses(http, pid: str) -> None:
    """Leave the person in the audit log the ways users do: a read, a list, an emergency access."""
    anna = bearer(await login(http, "anna"))
    assert (await http.get(f"/patients/{pid}", headers=anna)).status_code == 200
    assert (await http.get("/patients", headers=anna)).status_code == 200
    bertil = bearer(await login(http, "bertil"))
    r = await http.post(
        f"/patients/{pid}/break-glass",
        json={"reason": "Märta Raderasson collapsed at Raderagatan 7"},
        headers=bertil,
    )
    assert r.status_code == 201, r.text


async def _erase(http, elsa: dict, pid: str, mode: str = "delete") -> dict:
    preview = (await http.post(f"/subjects/{pid}/erasure/preview?mode={mode}", headers=elsa)).json()
    r = await http.post(
        f"/subjects/{pid}/erasure", json={"mode": mode, "confirmation": preview["confirmation"]}, headers=elsa
    )
    assert r.status_code == 200, r.text
    return r.json()


def _chain_ok(session) -> bool:
    session.rollback()
    result = verify(session.connection())
    assert result.ok, result.describe()
    return result.ok


async def test_erasure_leaves_nothing_of_the_person_in_any_column_and_the_chain_verifies(http, session, orgs):
    marks = full_person(session, orgs)
    pid = marks.person_id
    await _accesses(http, pid)
    elsa = bearer(await login(http, "elsa"))

    # the person has rows in every holding of the data map, and data in every category
    before = rows_about(session, pid)
    assert set(before) == {h.table for h in HOLDINGS if h.on_erasure != Erasure.KEEP}
    assert all(n > 0 for n in before.values()), before
    extract = (await http.get(f"/subjects/{pid}/extract", headers=elsa)).json()
    assert {c["category"] for c in extract["categories"]} == set(ALL_CATEGORIES)
    # and is found everywhere before the erasure (the scan would see them)
    found = {table for table, _col, _needle in scan(session, marks.strings())}
    assert {"person", "person_correction", "alert_event", "break_glass_grant", "billing_record"} <= found

    done = await _erase(http, elsa, pid)
    assert set(done["deleted"]) == set(before) and done["retained"] == []

    assert all(n == 0 for n in rows_about(session, pid).values())
    assert scan(session, marks.strings()) == []
    assert _chain_ok(session)
    # the audit log still holds every access, naming the person by opaque id only
    assert session.scalar(select(func.count()).where(AuditEvent.person_id == pid)) >= 4
    assert (
        await http.post("/subjects/lookup", json={"personnummer": marks.personnummer}, headers=elsa)
    ).status_code == 404


async def test_the_scan_covers_every_table_and_column(session, orgs):
    """The scan reads every column of every table of the schema: a needle planted in any of them
    is found (so "zero hits" means something)."""
    marks = full_person(session, orgs)
    hits = scan(session, [marks.personnummer, marks.old_address])
    assert ("person", "personnummer", marks.personnummer) in hits
    assert ("person_correction", "old_value", marks.old_address) in hits
    scanned = {t for t, _c, _n in scan(session, [""])} | set(Base.metadata.tables)
    assert scanned == set(Base.metadata.tables)


async def test_imr_anonymization_keeps_the_billing_name_until_its_date_and_unlinked_values(
    http, session, orgs
):
    keep_until = date(NOW.year + 2, 12, 31)
    marks = full_person(session, orgs, billing_until=keep_until, statistics=True)
    pid = marks.person_id
    elsa = bearer(await login(http, "elsa"))

    preview = (await http.post(f"/subjects/{pid}/erasure/preview?mode=anonymize", headers=elsa)).json()
    # a statistics consent covers vitals, conditions and fitness tests: those rows are kept, unlinked;
    # of the meeting's parts only the current version (the corrected weight, not the first)
    anonymized = {"condition": 1, "observation": 5, "coaching_measurement": 1, "coaching_fitness_test": 1}
    assert preview["anonymized"] == anonymized
    assert preview["retained"] == [{"source": "billing_record", "rows": 1, "until": keep_until.isoformat()}]
    done = await _erase(http, elsa, pid, "anonymize")
    assert done["anonymized"] == anonymized

    # only the bookkeeping record names them (name and that the service was used), unlinked
    hits = scan(session, marks.strings())
    assert {(t, c) for t, c, _n in hits} == {("billing_record", "name")}
    bill = session.scalar(select(BillingRecord))
    assert bill.person_id is None and bill.service == "health_profile_meeting"
    # anonymized values: no person, no date, only the month, sex and a ten-year age band
    rows = session.scalars(select(AnonymizedRecord)).all()
    assert len(rows) == 8
    columns = set(AnonymizedRecord.__table__.columns.keys())
    assert not columns & {"person_id", "created_at"}
    for r in rows:
        assert r.sex == "female" and r.age_band in ("50-59", "40-49")
        assert r.period is not None and len(r.period) == 7
        # the kept columns but their dates (which became the month)
        kept = BY_TABLE[r.source].anonymized
        assert set(r.values) == {c for c in kept if c not in ("effective_at", "onset", "recorded_at")}
    assert {r.source for r in rows} == set(anonymized)
    (measured,) = [r for r in rows if r.source == "coaching_measurement"]
    assert measured.values["weight_kg"] == 68.0 and measured.values["bmi"] == 24.1
    (test,) = [r for r in rows if r.source == "coaching_fitness_test"]
    assert test.values["equation_id"] == "ekblom-bak-2016" and test.values["equation_version"] == 1
    assert _chain_ok(session)

    # the day after the bookkeeping date the retention job removes the record: nothing remains
    day_after = datetime.combine(keep_until + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    from clinic_server.db import make_sessionmaker

    outcome = run_retention(make_sessionmaker(session.get_bind()), now=day_after)
    assert outcome.billing == 1
    assert scan(session, marks.strings()) == []
    assert _chain_ok(session)
