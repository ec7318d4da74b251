"""The typed client calls for the supervisor's screens (``clinic_tui/api/monitoring.py``), against the
real app: each parses what the server sends and sends what the server takes."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from clinic_tui.api.client import ClinicClient, Forbidden
from clinic_tui.api.monitoring import MonitoringApi
from clinic_tui.api.schemas.monitoring import CSV_COLUMNS
from clinic_tui.domain.findings import RuleId, Verdict
from tests.conftest import bearer, login
from tests.factories import PASSWORD
from tests.monitoring_util import scan, watch_world

pytestmark = pytest.mark.api

REASON = "Found unconscious in the waiting room, no consent on file"


@pytest.fixture
def w(world, session):
    return watch_world(world, session)


@pytest.fixture
async def client(app):
    c = ClinicClient("http://127.0.0.1:1", transport=httpx.ASGITransport(app=app))
    yield c
    await c.aclose()


async def test_the_supervisors_calls(http, app, session, w, client):
    anna = await login(http, "anna")
    await http.get(f"/patients/{w.people['nora'].id}", headers=bearer(anna))
    r = await http.post(
        f"/patients/{w.people['stina'].id}/break-glass", json={"reason": REASON}, headers=bearer(anna)
    )
    grant_id = r.json()["id"]
    scan(app)
    await client.login("david", PASSWORD)
    api = MonitoringApi(client)

    page = await api.events(username="anna", routine="fold")
    assert [e.action for e in page.items][:1] == ["break_glass"]
    one = await api.event(page.items[0].seq)
    assert one.hash and one.seq == page.items[0].seq
    nora = w.people["nora"].id
    assert {e.person_id for e in (await api.events(person=nora[:6])).items} == {nora}

    export = await api.export(username="anna")
    rows = list(csv.DictReader(io.StringIO(api.export_csv(export))))
    assert tuple(rows[0]) == CSV_COLUMNS and [r["seq"] for r in rows] == [str(e.seq) for e in export.items]

    rules = await api.rules()
    assert {r.id for r in rules.items} == set(RuleId)
    queue = await api.findings(rule=RuleId.BROWSING)
    [finding] = queue.items
    detail = await api.finding(finding.id)
    assert detail.evidence and detail.person_id == nora
    judged = await api.judge(finding.id, Verdict.NEEDS_FOLLOW_UP, "Ask anna", expected_version=0)
    assert (judged.state, judged.version) == ("needs_follow_up", 1)
    who = await api.identity(nora)
    assert who.family_name == "Norrman"

    reviews = await api.reviews()
    assert [r.id for r in reviews.items] == [grant_id]
    grant = await api.review(grant_id)
    assert [e.action for e in grant.records] == ["break_glass"]
    reviewed = await api.judge_review(grant_id, Verdict.JUSTIFIED, "ER case", expected_version=0)
    assert reviewed.state == "justified" and (await api.reviews()).items == []


async def test_a_nurse_is_told_no(app, w, client):
    await client.login("anna", PASSWORD)
    with pytest.raises(Forbidden):
        await MonitoringApi(client).findings()
