"""The supervisor's API: findings and verdicts (kept as history), identity look-ups, the audit log
(routine hidden or folded, alert actions named, the person filter, one record, the export) and
break-the-glass reviews with verdicts. Every request through the guard, one audit record each."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from clinic_server.audit.chain import Who, append, system_request
from clinic_server.db import utcnow
from clinic_server.db.models import AuditEvent, BreakGlassVerdict, FindingVerdict
from clinic_tui.api.schemas import AuditPage, BreakGlassReview, BreakGlassReviewList
from clinic_tui.api.schemas.monitoring import (
    CSV_COLUMNS,
    AuditExport,
    AuditRecordOut,
    FindingDetail,
    FindingPage,
    GrantDetail,
    PersonIdentityOut,
    RuleList,
)
from tests.conftest import audit_count, bearer, last_audit, login
from tests.monitoring_util import findings, past, scan, watch_world

pytestmark = pytest.mark.api

REASON = "Found unconscious in the waiting room, no consent on file"


@pytest.fixture
def w(world, session):
    return watch_world(world, session)


@pytest.fixture
async def found(http, app, session, w):
    """anna browses nora and olle, bertil browses sune; the scan finds them."""
    anna = await login(http, "anna")
    for p in ("nora", "olle"):
        assert (await http.get(f"/patients/{w.people[p].id}", headers=bearer(anna))).status_code == 200
    bertil = await login(http, "bertil")
    assert (await http.get(f"/patients/{w.people['sune'].id}", headers=bearer(bertil))).status_code == 200
    scan(app)
    return {f.person_id: f for f in findings(session)}


async def _call(http, session, method, path, tokens, **kw):
    """One request; asserts it left exactly one audit record, returns (response, record)."""
    before = audit_count(session)
    r = await http.request(method, path, headers=bearer(tokens), **kw)
    assert audit_count(session) == before + 1, (method, path, r.status_code, r.text)
    return r, last_audit(session)


# --------------------------------------------------------------------------- findings


async def test_the_queue_shows_the_organizations_findings(http, session, w, found):
    david = await login(http, "david")
    r, rec = await _call(http, session, "GET", "/audit/findings", david)
    assert r.status_code == 200
    page = FindingPage.model_validate(r.json())
    assert {i.person_id for i in page.items} == {w.people["nora"].id, w.people["olle"].id}
    assert {i.username for i in page.items} == {"anna"} and all(i.state == "new" for i in page.items)
    assert page.counts == {"new": 2, "justified": 0, "not_justified": 0, "needs_follow_up": 0}
    assert [i.id for i in page.items] == sorted((i.id for i in page.items), reverse=True)
    item = page.items[0]
    assert item.reason.key == "finding.browsing" and item.reason.params["care_days"] == 30
    assert (rec.action, rec.resource_type, rec.purpose, rec.outcome) == (
        "findings_list",
        "finding",
        "audit",
        "allowed",
    )
    # Söder's supervisor sees bertil's, not anna's
    sigrid = await login(http, "sigrid")
    page = FindingPage.model_validate((await http.get("/audit/findings", headers=bearer(sigrid))).json())
    assert [i.username for i in page.items] == ["bertil"]
    # filters and paging
    r = await http.get("/audit/findings", params={"rule": "volume"}, headers=bearer(david))
    assert r.json()["items"] == []
    r = await http.get("/audit/findings", params={"limit": 1}, headers=bearer(david))
    first = r.json()
    r = await http.get(
        "/audit/findings", params={"limit": 1, "before_id": first["next_before_id"]}, headers=bearer(david)
    )
    assert r.json()["items"][0]["id"] < first["items"][0]["id"] and r.json()["next_before_id"] is None
    for bad in ({"rule": "gossip"}, {"state": "maybe"}, {"limit": 0}):
        r, rec = await _call(http, session, "GET", "/audit/findings", david, params=bad)
        assert r.status_code == 422 and rec.outcome == "denied"


@pytest.mark.parametrize("who", ["anna", "cecilia"])
async def test_findings_are_for_supervisors(http, session, w, found, who):
    tokens = await login(http, who)
    fid = next(iter(found.values())).id
    for method, path, kw in (
        ("GET", "/audit/findings", {}),
        ("GET", "/audit/findings/rules", {}),
        ("GET", f"/audit/findings/{fid}", {}),
        ("POST", f"/audit/findings/{fid}/verdicts", {"json": {"verdict": "justified", "note": "fine"}}),
        ("GET", f"/audit/people/{w.people['nora'].id}", {}),
        ("GET", "/audit/events/1", {}),
        ("GET", "/audit/export", {}),
        ("GET", f"/audit/reviews/{'b' * 32}", {}),
    ):
        r, rec = await _call(http, session, method, path, tokens, **kw)
        assert r.status_code == 403, (method, path)
        assert (rec.outcome, rec.username, rec.purpose) == ("denied", who, "audit")
        assert w.people["nora"].family_name not in r.text


async def test_one_finding_with_its_evidence(http, session, w, found):
    david = await login(http, "david")
    f = found[w.people["nora"].id]
    r, rec = await _call(http, session, "GET", f"/audit/findings/{f.id}", david)
    assert r.status_code == 200
    detail = FindingDetail.model_validate(r.json())
    assert [e.seq for e in detail.evidence] == f.evidence
    assert all(e.person_id == w.people["nora"].id and e.username == "anna" for e in detail.evidence)
    assert detail.verdicts == [] and detail.version == 0 and detail.state == "new"
    assert (rec.action, rec.resource_id, rec.person_id, rec.categories) == (
        "finding_read",
        str(f.id),
        w.people["nora"].id,
        [],
    )
    assert "Norrman" not in r.text and w.people["nora"].personnummer not in r.text
    # another organization's finding is as unknown as a made-up one
    other = found[w.people["sune"].id]
    for fid in (other.id, 999_999):
        r, rec = await _call(http, session, "GET", f"/audit/findings/{fid}", david)
        assert r.status_code == 404 and rec.outcome == "denied"


async def test_verdicts_are_kept_as_history(http, app, session, w, found):
    david = await login(http, "david")
    f = found[w.people["nora"].id]
    path = f"/audit/findings/{f.id}/verdicts"
    r, rec = await _call(
        http, session, "POST", path, david, json={"verdict": "needs_follow_up", "note": "Ask anna why"}
    )
    assert r.status_code == 200, r.text
    detail = FindingDetail.model_validate(r.json())
    assert (detail.state, detail.version) == ("needs_follow_up", 1)
    assert (rec.action, rec.outcome, rec.purpose, rec.details["verdict"], rec.details["ordinal"]) == (
        "finding_verdict",
        "allowed",
        "audit",
        "needs_follow_up",
        1,
    )
    r = await http.post(
        path,
        json={"verdict": "not_justified", "note": "No care reason", "expected_version": 1},
        headers=bearer(david),
    )
    detail = FindingDetail.model_validate(r.json())
    assert [(v.ordinal, v.verdict, v.note, v.by) for v in detail.verdicts] == [
        (1, "needs_follow_up", "Ask anna why", "david"),
        (2, "not_justified", "No care reason", "david"),
    ]
    assert detail.state == "not_justified" and detail.version == 2
    # a verdict given on what someone else already changed: a conflict that says who and what
    r, rec = await _call(
        http,
        session,
        "POST",
        path,
        david,
        json={"verdict": "justified", "note": "late", "expected_version": 1},
    )
    assert r.status_code == 409 and r.json()["code"] == "conflict"
    assert (
        r.json()["params"]["by"] == "david" and r.json()["params"]["version"] == 2 and rec.outcome == "denied"
    )
    for bad in ({"verdict": "justified", "note": "  "}, {"verdict": "fine", "note": "x"}, {"note": "x"}):
        r, rec = await _call(http, session, "POST", path, david, json=bad)
        assert r.status_code == 422 and rec.outcome == "denied"
    session.expire_all()
    rows = session.scalars(select(FindingVerdict).order_by(FindingVerdict.ordinal)).all()
    assert [r.verdict for r in rows] == ["needs_follow_up", "not_justified"]
    # the history cannot be rewritten
    with app.state.engine.connect() as conn, pytest.raises(DBAPIError, match="history"):
        conn.execute(text("UPDATE finding_verdict SET verdict = 'justified'"))
    # the queue: waiting holds new and needs-follow-up; judged ones by their state
    page = (await http.get("/audit/findings", headers=bearer(david))).json()
    assert [i["id"] for i in page["items"]] == [found[w.people["olle"].id].id]
    assert page["counts"] == {"new": 1, "justified": 0, "not_justified": 1, "needs_follow_up": 0}
    page = (
        await http.get("/audit/findings", params={"state": "not_justified"}, headers=bearer(david))
    ).json()
    assert [i["id"] for i in page["items"]] == [f.id]


async def test_the_rules(http, session, w):
    david = await login(http, "david")
    r, rec = await _call(http, session, "GET", "/audit/findings/rules", david)
    rules = RuleList.model_validate(r.json()).items
    assert {r.id for r in rules} == {
        "browsing",
        "relation",
        "emergency_unreviewed",
        "volume",
        "out_of_hours",
        "probing",
        "coach_other_employer",
    }
    assert next(r for r in rules if r.id == "volume").thresholds == {"people": 20, "minutes": 60}
    assert all(r.version == 1 and r.reason_key == f"finding.{r.id}" for r in rules)


# --------------------------------------------------------------------------- identity


async def test_a_supervisor_looks_up_who_a_person_is(http, session, w, found):
    nora = w.people["nora"]
    david = await login(http, "david")
    r, rec = await _call(http, session, "GET", f"/audit/people/{nora.id}", david)
    assert r.status_code == 200
    who = PersonIdentityOut.model_validate(r.json())
    assert (who.given_name, who.family_name, who.personnummer) == ("Nora", "Norrman", nora.personnummer)
    assert "phone" not in r.json() and nora.address not in r.text  # identity only
    assert (rec.action, rec.person_id, rec.purpose, rec.categories, rec.outcome) == (
        "identity_lookup",
        nora.id,
        "audit",
        ["identity"],
        "allowed",
    )
    # nobody of Norra ever touched stina; asking the log about her does not make her fair game
    stina = w.people["stina"]
    await http.get("/audit/events", params={"person_id": stina.id}, headers=bearer(david))
    r, rec = await _call(http, session, "GET", f"/audit/people/{stina.id}", david)
    assert r.status_code == 403 and rec.outcome == "denied" and "Stranger" not in r.text
    r, _ = await _call(http, session, "GET", f"/audit/people/{'0' * 32}", david)
    assert r.status_code == 403
    # sune is Söder's: sigrid may, david may not
    assert (await http.get(f"/audit/people/{w.people['sune'].id}", headers=bearer(david))).status_code == 403
    sigrid = await login(http, "sigrid")
    assert (await http.get(f"/audit/people/{w.people['sune'].id}", headers=bearer(sigrid))).status_code == 200


# --------------------------------------------------------------------------- the audit log


async def test_routine_polling_is_hidden_by_default_folded_or_shown(http, session, w):
    anna = await login(http, "anna")
    for _ in range(3):
        await http.get("/patients", headers=bearer(anna))
        await http.get("/alerts", headers=bearer(anna))
    await http.get(f"/patients/{w.people['nora'].id}", headers=bearer(anna))
    david = await login(http, "david")
    r, rec = await _call(http, session, "GET", "/audit/events", david, params={"username": "anna"})
    page = AuditPage.model_validate(r.json())
    assert [i.action for i in page.items] == ["read", "login"] and page.routine_hidden == 6
    assert not any(i.routine for i in page.items) and rec.details["routine"] == "hide"
    page = AuditPage.model_validate(
        (
            await http.get(
                "/audit/events", params={"username": "anna", "routine": "fold"}, headers=bearer(david)
            )
        ).json()
    )
    assert [i.action for i in page.items] == ["read", "login"]
    assert sorted((f.action, f.resource_type, f.count) for f in page.folded) == [
        ("list", "alert", 3),
        ("list", "person", 3),
    ]
    assert all(f.username == "anna" and f.first_seq <= f.last_seq for f in page.folded)
    page = AuditPage.model_validate(
        (
            await http.get(
                "/audit/events", params={"username": "anna", "routine": "show"}, headers=bearer(david)
            )
        ).json()
    )
    assert len(page.items) == 8 and sum(i.routine for i in page.items) == 6
    r = await http.get("/audit/events", params={"routine": "sometimes"}, headers=bearer(david))
    assert r.status_code == 422


async def test_the_person_filter_takes_the_id_the_log_shows(http, session, w):
    nora = w.people["nora"]
    anna = await login(http, "anna")
    await http.get(f"/patients/{nora.id}", headers=bearer(anna))
    await http.get(f"/patients/{w.people['olle'].id}", headers=bearer(anna))
    david = await login(http, "david")
    for value in (nora.id, nora.id[:6], nora.id[:10].upper(), f"Patient {nora.id[:6]}"):
        items = (await http.get("/audit/events", params={"person_id": value}, headers=bearer(david))).json()[
            "items"
        ]
        assert {i["person_id"] for i in items} == {nora.id}, value
    for bad in ("nora", "abc", "zzzzzz", "1234567890abcdef1234567890abcdef0"):
        r, rec = await _call(http, session, "GET", "/audit/events", david, params={"person_id": bad})
        assert r.status_code == 422 and r.json()["params"]["field"] == "person_id" and rec.outcome == "denied"


async def test_alert_actions_are_named_old_and_new(http, session, w):
    anna, nora = w.users["anna"], w.people["nora"]
    t = utcnow() - timedelta(hours=1)
    old = past(
        session,
        anna,
        t,
        "transition",
        "alert",
        resource_id="7",
        person_id=nora.id,
        details={"action": "acknowledge", "from": "open", "to": "acknowledged"},
    )
    new = past(
        session,
        anna,
        t + timedelta(minutes=5),
        "resolve",
        "alert",
        resource_id="7",
        person_id=nora.id,
        details={"action": "resolve"},
    )
    david = await login(http, "david")
    items = (await http.get("/audit/events", params={"action": "acknowledge"}, headers=bearer(david))).json()[
        "items"
    ]
    assert [(i["seq"], i["action"], i["action_name"]) for i in items] == [(old, "transition", "acknowledge")]
    items = (await http.get("/audit/events", params={"action": "transition"}, headers=bearer(david))).json()[
        "items"
    ]
    assert [(i["seq"], i["action_name"]) for i in items] == [(new, "resolve"), (old, "acknowledge")]
    items = (await http.get("/audit/events", params={"action": "resolve"}, headers=bearer(david))).json()[
        "items"
    ]
    assert [i["seq"] for i in items] == [new]


async def test_one_record_in_full(http, session, w):
    anna = await login(http, "anna")
    await http.get(f"/patients/{w.people['nora'].id}", headers=bearer(anna))
    bertil = await login(http, "bertil")
    await http.get(f"/patients/{w.people['sune'].id}", headers=bearer(bertil))
    session.expire_all()
    mine = session.scalar(
        select(AuditEvent).where(AuditEvent.username == "anna", AuditEvent.action == "read")
    )
    theirs = session.scalar(
        select(AuditEvent).where(AuditEvent.username == "bertil", AuditEvent.action == "read")
    )
    david = await login(http, "david")
    r, rec = await _call(http, session, "GET", f"/audit/events/{mine.seq}", david)
    full = AuditRecordOut.model_validate(r.json())
    assert (full.seq, full.hash, full.prev_hash, full.request_id) == (
        mine.seq,
        mine.hash,
        mine.prev_hash,
        mine.request_id,
    )
    assert full.categories == mine.categories and full.details == mine.details
    assert (rec.action, rec.resource_id, rec.person_id) == (
        "audit_record",
        str(mine.seq),
        w.people["nora"].id,
    )
    for seq in (theirs.seq, 10**9):
        r, rec = await _call(http, session, "GET", f"/audit/events/{seq}", david)
        assert r.status_code == 404 and rec.outcome == "denied"


async def test_export_json_and_csv(http, session, w):
    anna = await login(http, "anna")
    await http.get(f"/patients/{w.people['nora'].id}", headers=bearer(anna))
    await http.get("/patients", headers=bearer(anna))
    # a typed name that a spreadsheet would run as a formula (an unknown login name is only counted
    # in the tally now, so the record is planted as a login failure of an org-less name would be)
    append(
        session,
        who=Who(None, "=hyperlink(evil)", None, None),
        request=system_request("test"),
        action="login_failed",
        resource_type="session",
        outcome="denied",
        reason="wrong credentials",
        purpose="authentication",
    )
    session.commit()
    david = await login(http, "david")
    r, rec = await _call(http, session, "GET", "/audit/export", david, params={"username": "anna"})
    export = AuditExport.model_validate(r.json())
    assert [i.action for i in export.items] == ["read", "login"] and not export.truncated
    assert export.filters == {"username": "anna", "routine": False} and export.count == 2
    assert (rec.action, rec.outcome, rec.details["count"]) == ("audit_export", "allowed", 2)
    r = await http.get("/audit/export", params={"username": "anna", "routine": "true"}, headers=bearer(david))
    assert [i["action"] for i in r.json()["items"]] == ["list", "read", "login"]
    r = await http.get("/audit/export", params={"format": "csv", "limit": 2}, headers=bearer(david))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"] and int(r.headers["x-next-before-seq"]) > 0
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 2
    r = await http.get("/audit/export", params={"format": "csv", "outcome": "denied"}, headers=bearer(david))
    [row] = list(csv.DictReader(io.StringIO(r.text)))
    assert row["username"] == "'=hyperlink(evil)" and json.loads(row["details"]) == {}
    r = await http.get("/audit/export", params={"format": "xml"}, headers=bearer(david))
    assert r.status_code == 422


# --------------------------------------------------------------------------- break-the-glass reviews


async def _glass(http, who, person) -> str:
    tokens = await login(http, who)
    r = await http.post(f"/patients/{person.id}/break-glass", json={"reason": REASON}, headers=bearer(tokens))
    assert r.status_code == 201, r.text
    await http.get(f"/patients/{person.id}", headers=bearer(tokens))
    return r.json()["id"]


async def test_every_emergency_access_reaches_its_organizations_supervisor(http, session, w):
    anna_grant = await _glass(http, "anna", w.people["stina"])
    bertil_grant = await _glass(http, "bertil", w.people["nora"])
    for sup, grant in (("david", anna_grant), ("sigrid", bertil_grant)):
        tokens = await login(http, sup)
        listed = BreakGlassReviewList.model_validate(
            (await http.get("/audit/reviews", headers=bearer(tokens))).json()
        )
        assert [(i.id, i.state, i.version) for i in listed.items] == [(grant, "pending", 0)]
    fiona = await login(http, "fiona")
    assert (await http.get("/audit/reviews", headers=bearer(fiona))).json()["items"] == []


async def test_review_verdicts_are_history_and_a_note_only_review_still_works(http, app, session, w):
    grant = await _glass(http, "anna", w.people["stina"])
    second = await _glass(http, "agnes", w.people["stina"])
    david = await login(http, "david")
    path = f"/audit/reviews/{grant}"
    r, rec = await _call(http, session, "GET", path, david)
    detail = GrantDetail.model_validate(r.json())
    assert [e.action for e in detail.records] == ["break_glass", "read"]
    assert all(e.purpose == "emergency" for e in detail.records) and detail.state == "pending"
    assert (rec.action, rec.person_id, rec.outcome) == ("review_read", w.people["stina"].id, "allowed")

    r, rec = await _call(
        http,
        session,
        "POST",
        path,
        david,
        json={"note": "Ask anna", "verdict": "needs_follow_up", "expected_version": 0},
    )
    review = BreakGlassReview.model_validate(r.json())
    assert (review.state, review.version, review.reviewed_by, review.review_note) == (
        "needs_follow_up",
        1,
        "david",
        "Ask anna",
    )
    assert (rec.action, rec.details["verdict"], rec.details["ordinal"]) == ("review", "needs_follow_up", 1)
    # still waiting for a supervisor
    assert {i["id"] for i in (await http.get("/audit/reviews", headers=bearer(david))).json()["items"]} == {
        grant,
        second,
    }
    r = await http.post(
        path,
        json={"note": "ER admission confirmed", "verdict": "justified", "expected_version": 1},
        headers=bearer(david),
    )
    review = BreakGlassReview.model_validate(r.json())
    assert [(v.ordinal, v.verdict) for v in review.verdicts] == [(1, "needs_follow_up"), (2, "justified")]
    assert (
        review.state == "justified" and review.review_note == "Ask anna"
    )  # the first review stays as it was
    r, rec = await _call(
        http, session, "POST", path, david, json={"note": "x", "verdict": "justified", "expected_version": 1}
    )
    assert r.status_code == 409 and r.json()["code"] == "conflict" and r.json()["params"]["version"] == 2
    # a note only, as before verdicts: the first review of a grant, and only the first
    r = await http.post(f"/audit/reviews/{second}", json={"note": "seen"}, headers=bearer(david))
    assert (
        r.status_code == 200
        and r.json()["state"] == "reviewed"
        and r.json()["verdicts"][0]["verdict"] is None
    )
    r = await http.post(f"/audit/reviews/{second}", json={"note": "again"}, headers=bearer(david))
    assert r.status_code == 409 and r.json()["code"] == "already_reviewed"
    assert (await http.get("/audit/reviews", headers=bearer(david))).json()["items"] == []
    listed = (await http.get("/audit/reviews", params={"state": "all"}, headers=bearer(david))).json()[
        "items"
    ]
    assert {(i["id"], i["state"]) for i in listed} == {(grant, "justified"), (second, "reviewed")}
    listed = (await http.get("/audit/reviews", params={"state": "justified"}, headers=bearer(david))).json()[
        "items"
    ]
    assert [i["id"] for i in listed] == [grant]
    session.expire_all()
    assert [
        v.ordinal
        for v in session.scalars(select(BreakGlassVerdict).where(BreakGlassVerdict.grant_id == grant))
    ] == [1, 2]
    with app.state.engine.connect() as conn, pytest.raises(DBAPIError, match="history"):
        conn.execute(text("UPDATE break_glass_verdict SET note = 'rewritten'"))
