"""The demo's planted snooping, found by the rules among four weeks of routine traffic, and judged by
the demo's supervisors through the API (issue 12's "done when")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from clinic_server.api.app import create_app
from clinic_server.audit.chain import verify
from clinic_server.db.models import BreakGlassGrant, Finding, Organization, User
from clinic_server.demo.accounts import DEMO_PASSWORD
from clinic_server.demo.feed import prepare_demo
from clinic_server.demo.monitoring import seed_monitoring
from clinic_server.demo.seed import seed_demo
from clinic_server.jobs.findings import scan_findings
from clinic_server.services.findings.identity import demo_key
from clinic_server.settings import Settings
from tests.conftest import bearer, login
from tests.dbutil import fresh_database

pytestmark = pytest.mark.api

#: a Sunday morning (local 07:30): some of the last evening's alert handling cannot move into hours
SEEDED = datetime(2026, 11, 22, 6, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    url = fresh_database(tmp_path_factory.mktemp("demo"))
    settings = Settings(database_url=url, secret_key="demo-monitoring-" + "x" * 40, demo=True)
    app = create_app(settings)
    with app.state.sessionmaker() as s:
        seed_demo(s, now=SEEDED)
        prepare_demo(s, now=SEEDED)
        story = seed_monitoring(s, now=SEEDED)
    run = scan_findings(app.state.sessionmaker, demo_key(), now=SEEDED + timedelta(days=1))
    with app.state.sessionmaker() as s:
        found = list(s.scalars(select(Finding)))
    yield app, story, run, found
    app.state.engine.dispose()


def test_the_rules_find_the_planted_cases_and_little_else(demo):
    app, story, run, found = demo
    planted = {seq: case.name for case in story.planted for seq in case.seqs}
    fired: dict[str, set[str]] = {c.name: set() for c in story.planted}
    true_positives = 0
    for f in found:
        hits = {planted[s] for s in f.evidence if s in planted}
        for name in hits:
            fired[name].add(f.rule_id)
        true_positives += bool(hits)
    for case in story.planted:
        if case.rules:
            assert fired[case.name] & {str(r) for r in case.rules}, (case.name, fired[case.name])
        else:  # the pretext: nothing in the log can tell it from care
            assert not fired[case.name], case.name
    recall = sum(bool(v) for v in fired.values()) / len(story.planted)
    precision = true_positives / len(found)
    assert recall >= 0.9 and precision >= 0.8, (recall, precision)
    assert len(story.planted) >= 14 and story.routine > 3000
    assert {r for f in found for r in [f.rule_id]} == {
        "browsing",
        "relation",
        "emergency_unreviewed",
        "volume",
        "out_of_hours",
        "probing",
        "coach_other_employer",
    }
    with app.state.engine.connect() as conn:
        assert verify(conn).ok


def test_the_demo_is_deterministic_in_what_it_plants(demo):
    _app, story, _run, _found = demo
    names = [c.name for c in story.planted]
    assert names[:4] == ["browsing-1", "browsing-2", "browsing-3", "colleague"]
    assert {"namesake", "neighbour", "sweep", "night", "unreviewed-glass", "pretext"} <= set(names)
    assert all(c.seqs for c in story.planted)


async def test_the_supervisors_judge_what_was_found(demo):
    app, story, _run, _found = demo
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://demo/api/v1") as http:
        # every care provider and IMR has a supervisor, and bertil's emergency access reaches Söder's
        with app.state.sessionmaker() as s:
            supervised = {u.organization_id for u in s.scalars(select(User).where(User.role == "supervisor"))}
            kinds = ("care_provider", "imr")
            assert supervised == set(s.scalars(select(Organization.id).where(Organization.kind.in_(kinds))))
            bertil = s.scalar(select(User).where(User.username == "bertil"))
            grants = {
                g.id for g in s.scalars(select(BreakGlassGrant).where(BreakGlassGrant.user_id == bertil.id))
            }
        eva = await login(http, "eva", DEMO_PASSWORD)
        waiting = (await http.get("/audit/reviews", headers=bearer(eva))).json()["items"]
        assert {i["id"] for i in waiting} == grants and all(i["username"] == "bertil" for i in waiting)

        # david sees the findings about Norra's users, anna's planted ones among them
        david = await login(http, "david", DEMO_PASSWORD)
        page = (await http.get("/audit/findings", params={"limit": 200}, headers=bearer(david))).json()
        assert page["items"] and {i["username"] for i in page["items"]} == {"anna"}
        colleague = next(c for c in story.planted if c.name == "colleague")
        [finding] = [
            i for i in page["items"] if i["rule_id"] == "relation" and i["person_id"] == colleague.person_id
        ]
        assert finding["reason"] == {
            "key": "finding.relation",
            "params": {"relations": ["colleague"], "accesses": 3},
        }
        detail = (await http.get(f"/audit/findings/{finding['id']}", headers=bearer(david))).json()
        assert {e["seq"] for e in detail["evidence"]} == set(colleague.seqs)
        who = (await http.get(f"/audit/people/{colleague.person_id}", headers=bearer(david))).json()
        assert (who["given_name"], who["family_name"]) == ("David", "Holm")
        r = await http.post(
            f"/audit/findings/{finding['id']}/verdicts",
            json={
                "verdict": "not_justified",
                "note": "anna had no care reason to open my record",
                "expected_version": 0,
            },
            headers=bearer(david),
        )
        assert r.status_code == 200 and r.json()["state"] == "not_justified"
