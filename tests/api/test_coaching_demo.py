"""The coach's demo through the API, as cecilia sees it: her participants on every basis, their
earlier meetings and charts, the one who objected, and what a missing consent looks like."""

from __future__ import annotations

import pytest

from clinic_server.demo.accounts import DEMO_PASSWORD
from clinic_server.demo.seed import seed_demo
from tests.conftest import bearer, login

pytestmark = pytest.mark.api


async def test_cecilias_demo(http, session):
    seed_demo(session, patients=20, participants=12, days=7)
    cecilia = bearer(await login(http, "cecilia", DEMO_PASSWORD))
    r = await http.get("/coaching/participants", headers=cecilia)
    assert r.status_code == 200, r.text
    rows = r.json()["items"]
    legit = [p for p in rows if p["access_basis"] == "legitimate_interest"]
    assert legit and all(p["employer"] == "Nordbygg AB" and p["consented"] == [] for p in legit)
    assert any(p["consented"] == ["fitness_tests"] for p in rows)
    assert sum(p["objected_to_profiling"] for p in rows) == 1
    # the employer whose contract ended: consented meetings, but no name or employer any more
    assert any(p["label"].startswith("Patient ") and p["meetings"] for p in rows)
    with_meetings = [p for p in rows if p["meetings"]]
    assert with_meetings and all(1 <= p["meetings"] <= 3 for p in with_meetings)

    r = await http.get(f"/coaching/participants/{legit[0]['id']}/meetings", headers=cecilia)
    assert (r.status_code, r.json()["params"]["missing"]) == (
        403,
        "fitness_tests,profiling,questionnaires,vitals",
    )

    charted = 0
    for p in with_meetings:
        r = await http.get(f"/coaching/participants/{p['id']}/meetings", headers=cecilia)
        assert r.status_code == 200, r.text
        h = r.json()
        assert len(h["meetings"]) == p["meetings"]
        assert [m["held_on"] for m in h["meetings"]] == sorted(m["held_on"] for m in h["meetings"])
        if "fitness_tests" in p["consented"]:
            assert len(h["vo2max_ml_kg_min"]) == p["meetings"]
            charted += "vitals" in p["consented"]
        if p["objected_to_profiling"]:
            assert all(m["current"]["assessment"] is None for m in h["meetings"])
        elif "profiling" in p["consented"]:
            for m in h["meetings"]:
                assert m["current"]["assessment"]["status"] == "assessed"
                assert all(c["explanation"]["key"] for c in m["current"]["assessment"]["conclusions"])
    assert charted  # someone with both curves (VO2max and weight) for the history chart
