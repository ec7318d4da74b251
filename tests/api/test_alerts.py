import asyncio
import random
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select, update

from clinic_server.db.models import Alert, AlertEvent, Observation, ThresholdOverride, User
from clinic_server.demo.feed import DemoFeed, prepare_demo
from clinic_server.services import alert_engine as alerting
from clinic_tui.domain.codes import (
    LOINC_DIASTOLIC,
    LOINC_GLUCOSE,
    LOINC_HEART_RATE,
    LOINC_SPO2,
    LOINC_SYSTOLIC,
    LOINC_WEIGHT,
)
from tests.conftest import audit_count, bearer, last_audit, login
from tests.vitals_util import clinic, now, obs, post, silent_daily_sender

pytestmark = pytest.mark.api


@pytest.fixture
def c(world, session):
    return clinic(world, session)


@pytest.fixture
async def anna(http, c):
    return bearer(await login(http, "anna"))


def _alerts(session, person, rule_id=None) -> list[Alert]:
    session.rollback()
    session.expire_all()
    stmt = select(Alert).where(Alert.person_id == person.id).order_by(Alert.id)
    if rule_id:
        stmt = stmt.where(Alert.rule_id == rule_id)
    return list(session.scalars(stmt))


async def _queue(http, headers, **params) -> dict:
    r = await http.get("/alerts", headers=headers, params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def _raise_bp(http, c, name="nora", value=186) -> dict:
    r = await post(http, c.keys[name], obs(LOINC_SYSTOLIC, value), obs(LOINC_DIASTOLIC, 92))
    assert r.status_code == 200 and r.json()["stored"] == 2
    return r.json()


async def _transition(http, headers, alert_id, action, version, **extra):
    body = {"action": action, "expected_version": version, **extra}
    return await http.post(f"/alerts/{alert_id}/transition", headers=headers, json=body)


# --------------------------------------------------------------------------- raising alerts


async def test_ingestion_raises_an_alert_with_rule_id_version_and_inputs(http, c, session, anna):
    await _raise_bp(http, c)
    [a] = _alerts(session, c.people["nora"])
    assert (a.rule_id, a.rule_version, a.severity, a.state, a.value) == ("bp.grade3", 1, "high", "open", 186)
    assert a.inputs["threshold"] == 180 and a.inputs["threshold_name"] == "bp_grade3_sys"
    body = await _queue(http, anna)
    [item] = body["items"]
    assert item["id"] == a.id and item["label"] == "Nora Norrman" and item["unit"] == "mm[Hg]"
    assert item["rule_id"] == "bp.grade3" and item["rule_version"] == 1 and item["version"] == 1
    assert body["counts"] == {"high": 1, "medium": 0, "low": 0}


async def test_an_ongoing_excursion_is_one_alert(http, c, session):
    t = now()
    for minutes, value in ((50, 184), (30, 197), (10, 189)):
        await post(http, c.keys["nora"], obs(LOINC_SYSTOLIC, value, t - timedelta(minutes=minutes)))
    [a] = _alerts(session, c.people["nora"])
    assert a.value == 197  # the most extreme reading
    assert a.last_seen_at == t - timedelta(minutes=10)
    assert a.opened_at < a.last_seen_at
    # a lower reading (grade 2) is another rule, so another alert
    await post(http, c.keys["nora"], obs(LOINC_SYSTOLIC, 165))
    assert sorted(x.rule_id for x in _alerts(session, c.people["nora"])) == ["bp.grade2", "bp.grade3"]


async def test_after_resolving_a_new_excursion_is_a_new_alert(http, c, session, anna):
    await _raise_bp(http, c)
    [a] = _alerts(session, c.people["nora"])
    assert (await _transition(http, anna, a.id, "acknowledge", 1)).status_code == 200
    assert (await _transition(http, anna, a.id, "resolve", 2, note="Called; fine.")).status_code == 200
    await _raise_bp(http, c, value=182)
    alerts = _alerts(session, c.people["nora"])
    assert [x.state for x in alerts] == ["resolved", "open"]


@pytest.mark.parametrize("name", ["wilma", "rut", "mini", "nils"])
async def test_no_alert_without_consent_or_when_restricted_or_minor(http, c, session, name):
    r = await post(http, c.keys[name], obs(LOINC_SYSTOLIC, 199), obs(LOINC_SPO2, 80))
    assert r.json()["stored"] == 2  # the data is kept, it raises nothing
    assert _alerts(session, c.people[name]) == []


async def test_heart_failure_weight_gain_uses_the_stored_readings(http, c, session):
    t = now()
    await post(http, c.keys["nora"], obs(LOINC_WEIGHT, 80.0, t - timedelta(days=2)))
    await post(http, c.keys["nora"], obs(LOINC_WEIGHT, 81.0, t - timedelta(days=1)))
    assert _alerts(session, c.people["nora"]) == []
    await post(http, c.keys["nora"], obs(LOINC_WEIGHT, 82.4, t - timedelta(minutes=5)))
    [a] = _alerts(session, c.people["nora"])
    assert a.rule_id == "hf.weight_gain" and a.inputs["window_min"] == 80.0
    # the same gain in someone without heart failure raises nothing
    await post(http, c.keys["sune"], obs(LOINC_WEIGHT, 80.0, t - timedelta(days=2)), obs(LOINC_WEIGHT, 83.0))
    assert _alerts(session, c.people["sune"]) == []


async def test_copd_limit_for_spo2(http, c, session):
    await post(http, c.keys["bo"], obs(LOINC_SPO2, 90))  # COPD: limit 88
    await post(http, c.keys["nora"], obs(LOINC_SPO2, 90))  # limit 92
    assert _alerts(session, c.people["bo"]) == []
    assert [a.rule_id for a in _alerts(session, c.people["nora"])] == ["spo2.low"]


async def test_missing_data_sweep(c, session):
    t = now()
    nora = c.people["nora"]
    silent_daily_sender(session, nora, t)
    assert alerting.evaluate_missing(session, t) >= 1
    [a] = _alerts(session, nora, "data.missing")
    assert a.severity == "low" and a.inputs["daily_days_in_prior_week"] >= 5
    alerting.evaluate_missing(session, t + timedelta(hours=1))
    assert len(_alerts(session, nora, "data.missing")) == 1
    # people whose data may not be processed are not swept
    assert _alerts(session, c.people["rut"], "data.missing") == []


# --------------------------------------------------------------------------- lifecycle


async def test_acknowledge_then_resolve_with_a_note(http, c, session, anna):
    await _raise_bp(http, c)
    [a] = _alerts(session, c.people["nora"])
    before = audit_count(session)
    r = await _transition(http, anna, a.id, "acknowledge", 1)
    assert r.status_code == 200 and r.json()["state"] == "acknowledged" and r.json()["version"] == 2
    assert audit_count(session) == before + 1
    rec = last_audit(session)
    assert (rec.action, rec.resource_type, rec.outcome, rec.person_id) == (
        "acknowledge",
        "alert",
        "allowed",
        a.person_id,
    )
    r = await _transition(http, anna, a.id, "resolve", 2, note="  ")
    assert r.status_code == 422 and r.json()["code"] == "note_required"
    assert "note is required" in r.json()["message"]
    r = await _transition(http, anna, a.id, "resolve", 2, note="Called the patient; re-measured 142/88.")
    assert r.status_code == 200 and r.json()["state"] == "resolved" and r.json()["version"] == 3
    r = await http.get(f"/patients/{a.person_id}/alerts", headers=anna)
    [item] = r.json()["items"]
    assert [(e["from_state"], e["to_state"], e["by"]) for e in item["events"]] == [
        ("open", "acknowledged", "Anna"),
        ("acknowledged", "resolved", "Anna"),
    ]
    assert item["events"][1]["note"].startswith("Called the patient")
    assert item["inputs"]["threshold"] == 180


async def test_invalid_transitions_are_409_naming_the_state(http, c, session, anna):
    await _raise_bp(http, c)
    [a] = _alerts(session, c.people["nora"])
    r = await _transition(http, anna, a.id, "resolve", 1, note="x")
    assert r.status_code == 409 and r.json()["code"] == "invalid_transition"
    assert "it is open" in r.json()["message"] and "acknowledge it first" in r.json()["message"]
    r = await _transition(http, anna, a.id, "escalate", 1)
    assert r.status_code == 409
    await _transition(http, anna, a.id, "acknowledge", 1)
    r = await _transition(http, anna, a.id, "acknowledge", 2)
    assert r.status_code == 409 and "already acknowledged" in r.json()["message"]
    r = await _transition(http, anna, a.id, "escalate", 2, note="Doctor informed.", recipient="Dr. Ek")
    assert r.status_code == 200 and r.json()["state"] == "escalated"
    r = await _transition(http, anna, a.id, "acknowledge", 3)
    assert r.status_code == 409 and "it is escalated" in r.json()["message"]
    r = await _transition(http, anna, a.id, "reopen", 3)
    assert r.status_code == 200 and r.json()["state"] == "open"


async def test_a_stale_version_is_a_conflict_naming_who_changed_it(http, c, session, anna):
    await _raise_bp(http, c)
    [a] = _alerts(session, c.people["nora"])
    agnes = bearer(await login(http, "agnes"))
    assert (await _transition(http, agnes, a.id, "acknowledge", 1)).status_code == 200
    r = await _transition(http, anna, a.id, "acknowledge", 1)
    assert r.status_code == 409 and r.json()["code"] == "conflict"
    msg = r.json()["message"]
    assert "Agnes acknowledged this alert at" in msg and "now acknowledged" in msg and "version 2" in msg


async def test_concurrent_transitions_one_wins(http, c, session, anna):
    await _raise_bp(http, c)
    [a] = _alerts(session, c.people["nora"])
    agnes = bearer(await login(http, "agnes"))
    before = audit_count(session)
    r1, r2 = await asyncio.gather(
        _transition(http, anna, a.id, "acknowledge", 1), _transition(http, agnes, a.id, "acknowledge", 1)
    )
    assert sorted([r1.status_code, r2.status_code]) == [200, 409]
    win, lose = (r1, r2) if r1.status_code == 200 else (r2, r1)
    winner = "Anna" if win is r1 else "Agnes"
    assert lose.json()["code"] == "conflict" and lose.json()["message"].startswith(f"{winner} acknowledged")
    session.rollback()
    assert (
        session.scalar(select(func.count()).select_from(AlertEvent).where(AlertEvent.alert_id == a.id)) == 1
    )
    assert _alerts(session, c.people["nora"])[0].version == 2
    assert audit_count(session) == before + 2


async def test_snooze_hides_until_the_time_then_it_is_open_again(http, c, session, anna):
    await _raise_bp(http, c)
    [a] = _alerts(session, c.people["nora"])
    r = await _transition(http, anna, a.id, "snooze", 1)
    assert r.status_code == 422 and "snooze_until" in r.json()["message"]
    r = await _transition(
        http, anna, a.id, "snooze", 1, snooze_until=(now() - timedelta(minutes=1)).isoformat()
    )
    assert r.status_code == 422 and "past" in r.json()["message"]
    until = now() + timedelta(hours=1)
    r = await _transition(http, anna, a.id, "snooze", 1, snooze_until=until.isoformat())
    assert r.status_code == 200 and r.json()["state"] == "snoozed" and r.json()["snoozed_until"]
    assert (await _queue(http, anna))["items"] == []
    assert [i["state"] for i in (await _queue(http, anna, state="active"))["items"]] == ["snoozed"]
    poll_from = now()
    # time passes: the snooze runs out
    session.execute(update(Alert).where(Alert.id == a.id).values(snoozed_until=now()))
    session.commit()
    body = await _queue(http, anna)
    assert [(i["id"], i["state"]) for i in body["items"]] == [(a.id, "open")]
    assert body["counts"]["high"] == 1
    r = await http.get("/alerts/changes", headers=anna, params={"since": poll_from.isoformat()})
    assert [(i["id"], i["state"]) for i in r.json()["items"]] == [(a.id, "open")]
    # acting on it works from "open"
    assert (await _transition(http, anna, a.id, "acknowledge", 2)).status_code == 200


async def test_a_snoozed_acknowledged_alert_comes_back_acknowledged_and_can_be_unsnoozed(
    http, c, session, anna
):
    """One meaning of snooze everywhere: active, shown as snoozed until its time, then back as it was."""
    await _raise_bp(http, c)
    [a] = _alerts(session, c.people["nora"])
    assert (await _transition(http, anna, a.id, "acknowledge", 1)).status_code == 200
    until = now() + timedelta(hours=2)
    r = await _transition(http, anna, a.id, "snooze", 2, snooze_until=until.isoformat())
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["snoozed_from"]) == ("snoozed", "acknowledged")
    # active: in the queue, as snoozed; not counted among the open ones
    body = await _queue(http, anna, state="active")
    assert [(i["id"], i["state"], i["snoozed_from"]) for i in body["items"]] == [
        (a.id, "snoozed", "acknowledged")
    ]
    assert body["counts"]["high"] == 0
    # a second snooze keeps where it returns to
    later = now() + timedelta(hours=3)
    r = await _transition(http, anna, a.id, "snooze", 3, snooze_until=later.isoformat())
    assert r.json()["snoozed_from"] == "acknowledged"
    # un-snooze: back to acknowledged at once
    r = await _transition(http, anna, a.id, "unsnooze", 4)
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["snoozed_until"], r.json()["snoozed_from"]) == (
        "acknowledged",
        None,
        None,
    )
    # unsnoozing what is not snoozed is refused with the state it is in
    r = await _transition(http, anna, a.id, "unsnooze", 5)
    assert r.status_code == 409 and r.json()["code"] == "invalid_transition"
    # snoozed again, and the time runs out: it reads acknowledged, and stays out of the open count
    r = await _transition(
        http, anna, a.id, "snooze", 5, snooze_until=(now() + timedelta(hours=1)).isoformat()
    )
    assert r.status_code == 200
    session.execute(update(Alert).where(Alert.id == a.id).values(snoozed_until=now()))
    session.commit()
    body = await _queue(http, anna, state="active")
    assert [(i["id"], i["state"]) for i in body["items"]] == [(a.id, "acknowledged")]
    assert (await _queue(http, anna))["items"] == [] and body["counts"]["high"] == 0
    # and it can be resolved from there
    r = await _transition(http, anna, a.id, "resolve", 6, note="Called the patient; measured again.")
    assert r.status_code == 200 and r.json()["state"] == "resolved"


# --------------------------------------------------------------------------- who may see and act


async def test_a_nurse_never_sees_or_touches_another_organizations_alerts(http, c, session, anna):
    for name in ("nora", "sune", "bo", "vera"):
        await _raise_bp(http, c, name)
    bertil = bearer(await login(http, "bertil"))
    seen = {i["person_id"] for i in (await _queue(http, bertil, state="all"))["items"]}
    assert seen == {c.people["sune"].id, c.people["bo"].id}
    seen = {i["person_id"] for i in (await _queue(http, anna, state="all"))["items"]}
    assert seen == {c.people["nora"].id, c.people["bo"].id, c.people["vera"].id}
    [nora_alert] = _alerts(session, c.people["nora"])
    before = audit_count(session)
    r = await _transition(http, bertil, nora_alert.id, "acknowledge", 1)
    assert r.status_code == 403 and "Nora" not in r.text
    assert last_audit(session).outcome == "denied" and audit_count(session) == before + 1
    for path in ("alerts", "thresholds"):
        assert (await http.get(f"/patients/{c.people['nora'].id}/{path}", headers=bertil)).status_code == 403
    r = await http.get(
        f"/patients/{c.people['nora'].id}/observations", headers=bertil, params={"loinc": LOINC_SYSTOLIC}
    )
    assert r.status_code == 403
    r = await http.get(
        "/alerts/changes", headers=bertil, params={"since": (now() - timedelta(days=1)).isoformat()}
    )
    assert {i["person_id"] for i in r.json()["items"]} == {c.people["sune"].id, c.people["bo"].id}
    david = bearer(await login(http, "david"))
    assert (await http.get("/alerts", headers=david)).status_code == 403


async def test_pseudonym_where_identity_is_withheld_and_search_never_uses_it(http, c, session, anna):
    await _raise_bp(http, c, "vera")
    await _raise_bp(http, c, "nora")
    vera = c.people["vera"]
    items = (await _queue(http, anna))["items"]
    labels = {i["person_id"]: i["label"] for i in items}
    assert labels[vera.id].startswith("Patient ") and "Vera" not in str(items)
    assert (await _queue(http, anna, q="vera"))["items"] == []
    assert [i["person_id"] for i in (await _queue(http, anna, q="norrman"))["items"]] == [c.people["nora"].id]
    assert len((await _queue(http, anna, q="bp.grade3"))["items"]) == 2
    assert len((await _queue(http, anna, q=labels[vera.id].lower()))["items"]) == 1
    r = await http.get(f"/patients/{vera.id}/alerts", headers=anna)
    assert r.json()["label"].startswith("Patient ") and "Vera" not in r.text


async def test_queue_call_is_one_audit_record_listing_the_people(http, c, session, anna):
    for name in ("nora", "bo"):
        await _raise_bp(http, c, name)
    before = audit_count(session)
    body = await _queue(http, anna)
    assert audit_count(session) == before + 1
    rec = last_audit(session)
    assert (rec.action, rec.resource_type, rec.outcome) == ("list", "alert", "allowed")
    assert rec.details["person_ids"] == sorted({i["person_id"] for i in body["items"]})
    assert set(rec.categories) == {"vitals", "identity"}


# --------------------------------------------------------------------------- queue order and paging


def _bulk_alerts(session, people, n, rng) -> None:
    t = now()
    rows = []
    for i in range(n):
        sev = rng.choice(["high", "medium", "low"])
        rows.append(
            {
                "person_id": people[i % len(people)].id,
                "rule_id": f"test.rule{i}",
                "rule_version": 1,
                "severity": sev,
                "severity_rank": {"high": 0, "medium": 1, "low": 2}[sev],
                "loinc": LOINC_HEART_RATE,
                "value": 140.0,
                "message": f"synthetic {i}",
                "inputs": {},
                "state": rng.choice(["open", "open", "acknowledged", "resolved"]),
                # a few share the same opened_at, so the id decides
                "opened_at": t - timedelta(minutes=rng.randint(1, 40)),
                "last_seen_at": t,
                "updated_at": t,
                "version": 1,
            }
        )
    session.execute(insert(Alert), rows)
    session.commit()


@pytest.mark.parametrize("state", ["open", "active", "all"])
async def test_keyset_paging_visits_every_alert_once_in_queue_order(http, c, session, anna, state):
    people = [c.people[n] for n in ("nora", "bo", "vera")]
    _bulk_alerts(session, people + [c.people["sune"]], 60, random.Random(4))
    expected_states = {
        "open": {"open"},
        "active": {"open", "acknowledged"},
        "all": {"open", "acknowledged", "resolved"},
    }
    session.rollback()
    want = sorted(
        (a.severity_rank, a.opened_at, a.id)
        for a in session.scalars(select(Alert))
        if a.person_id in {p.id for p in people} and a.state in expected_states[state]
    )
    seen, cursor = [], None
    while True:
        params = {"state": state, "limit": 7} | ({"after": cursor} if cursor else {})
        body = await _queue(http, anna, **params)
        seen += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert [i["id"] for i in seen] == [w[2] for w in want]
    ranks = [{"high": 0, "medium": 1, "low": 2}[i["severity"]] for i in seen]
    assert ranks == sorted(ranks)


async def test_severity_filter_and_counts(http, c, session, anna):
    _bulk_alerts(session, [c.people["nora"], c.people["sune"]], 30, random.Random(9))
    session.rollback()
    mine = [
        a for a in session.scalars(select(Alert)) if a.person_id == c.people["nora"].id and a.state == "open"
    ]
    body = await _queue(http, anna, severity="high,low", limit=500)
    assert {i["severity"] for i in body["items"]} <= {"high", "low"}
    assert len(body["items"]) == sum(1 for a in mine if a.severity != "medium")
    assert body["counts"] == {s: sum(1 for a in mine if a.severity == s) for s in ("high", "medium", "low")}
    r = await http.get("/alerts", headers=anna, params={"severity": "urgent"})
    assert r.status_code == 422
    r = await http.get("/alerts", headers=anna, params={"after": "garbage"})
    assert r.status_code == 422 and "cursor" in r.json()["message"]


# --------------------------------------------------------------------------- series and thresholds


async def test_series_downsamples_a_year_to_points_and_keeps_the_spike(http, c, session, anna):
    nora = c.people["nora"]
    t = now()
    rng = random.Random(2)
    rows = [
        {"person_id": nora.id, "loinc": LOINC_SYSTOLIC, "value": float(round(rng.gauss(135, 6))),
         "unit": "mm[Hg]", "effective_at": t - timedelta(hours=6 * k + 1), "received_at": t}
        for k in range(4 * 365)
    ]  # fmt: skip
    rows[700]["value"] = 199.0
    session.execute(insert(Observation), rows)
    session.commit()
    await _raise_bp(http, c)
    r = await http.get(
        f"/patients/{nora.id}/observations",
        headers=anna,
        params={"loinc": LOINC_SYSTOLIC, "range": "1y", "points": 100},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["points"]) == 100 and body["total"] >= 4 * 365 - 4
    assert max(p["value"] for p in body["points"]) == 199.0
    assert body["unit"] == "mm[Hg]" and body["range"] == "1y"
    assert {(x["key"], x["value"]) for x in body["thresholds"]} == {
        ("bp_grade2_sys", 160),
        ("bp_grade3_sys", 180),
    }
    assert [a["rule_id"] for a in body["alerts"]] == ["bp.grade3"]
    stamps = [p["at"] for p in body["points"]]
    assert stamps == sorted(stamps)
    rec = last_audit(session)
    assert (rec.action, rec.resource_type, rec.categories) == ("read", "observation", ["vitals"])
    r = await http.get(f"/patients/{nora.id}/observations", headers=anna, params={"loinc": "nope"})
    assert r.status_code == 422
    r = await http.get(
        f"/patients/{nora.id}/observations", headers=anna, params={"loinc": LOINC_SYSTOLIC, "points": 5000}
    )
    assert r.status_code == 422


async def test_spo2_lines_follow_copd_only_when_conditions_are_shared(http, c, session, anna):
    r = await http.get(
        f"/patients/{c.people['bo'].id}/observations", headers=anna, params={"loinc": LOINC_SPO2}
    )
    assert [x["key"] for x in r.json()["thresholds"]] == ["spo2_low_copd"]
    await post(http, c.keys["vera"], obs(LOINC_SPO2, 96))
    r = await http.get(
        f"/patients/{c.people['vera'].id}/observations", headers=anna, params={"loinc": LOINC_SPO2}
    )
    assert [x["key"] for x in r.json()["thresholds"]] == ["spo2_low"]


async def test_threshold_overrides_are_validated_recorded_and_used(http, c, session, anna):
    nora = c.people["nora"]
    url = f"/patients/{nora.id}/thresholds"
    for bad, words in (
        ({"hr_hihg": 150}, "unknown threshold 'hr_hihg'"),
        ({"hr_high": "fast"}, "valid number"),
        ({"hr_high": -3}, "positive"),
        ({"hr_low": 150}, "inconsistent"),
        ({}, "at least one"),
    ):
        r = await http.put(url, headers=anna, json=bad)
        assert r.status_code == 422 and words in r.json()["message"], (bad, r.text)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(ThresholdOverride)) == 0
    r = await http.put(url, headers=anna, json={"hr_high": 150})
    assert r.status_code == 200
    item = {i["key"]: i for i in r.json()["items"]}["hr_high"]
    assert (item["value"], item["default"], item["overridden"], item["set_by"]) == (150, 130, True, "Anna")
    assert last_audit(session).details == {"set": ["hr_high"], "cleared": []}
    await post(http, c.keys["nora"], obs(LOINC_HEART_RATE, 140))
    assert _alerts(session, nora) == []  # under the patient's own limit
    await post(http, c.keys["sune"], obs(LOINC_HEART_RATE, 140))
    assert [a.rule_id for a in _alerts(session, c.people["sune"])] == ["hr.tachy"]
    await post(http, c.keys["nora"], obs(LOINC_HEART_RATE, 152))
    [a] = _alerts(session, nora)
    assert a.inputs["threshold"] == 150
    r = await http.get(url, headers=anna)
    assert {i["key"]: i["overridden"] for i in r.json()["items"]}["hr_high"] is True
    r = await http.put(url, headers=anna, json={"hr_high": None})
    assert {i["key"]: i["value"] for i in r.json()["items"]}["hr_high"] == 130
    r = await http.get(f"/patients/{nora.id}/observations", headers=anna, params={"loinc": LOINC_GLUCOSE})
    assert [x["key"] for x in r.json()["thresholds"]] == ["glucose_l2_low", "glucose_l1_low", "glucose_high"]


# --------------------------------------------------------------------------- demo


def test_demo_starts_with_a_queue_and_the_feed_adds_to_it(app, session):
    from clinic_server.demo.seed import seed_demo

    seed_demo(session, patients=40, participants=4, days=20)
    counts = prepare_demo(session)
    assert counts["devices"] == 40
    assert counts["alerts_raised"] > 0
    session.rollback()
    states = dict(session.execute(select(Alert.state, func.count()).group_by(Alert.state)).all())
    assert states.get("open", 0) > 0
    closed = list(session.scalars(select(Alert).where(Alert.state.in_(["resolved", "escalated"]))))
    for a in closed:  # closed by the patient's nurse, with a note
        notes = session.scalars(select(AlertEvent.note).where(AlertEvent.alert_id == a.id)).all()
        assert any(notes)
        last = session.scalars(
            select(AlertEvent).where(AlertEvent.alert_id == a.id).order_by(AlertEvent.id.desc())
        ).first()
        assert bool(last.recipient) == (a.state == "escalated")  # an escalation names to whom
    nurse_ids = set(session.scalars(select(User.id).where(User.role == "nurse")))
    assert set(session.scalars(select(AlertEvent.user_id))) <= nurse_ids
    before = session.scalar(select(func.count()).select_from(Alert))
    feed = DemoFeed(app.state.sessionmaker, interval=0.05, rng=random.Random(1))
    results = feed.tick(excursion=True, patients=3)
    assert results and all(r.stored > 0 and r.rejected == 0 for r in results)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Alert)) > before
    # the thread starts and stops cleanly
    feed.start()
    assert feed.running
    feed.stop()
    assert not feed.running


# --------------------------------------------------------------------------- typed client


async def test_the_typed_client_round_trips_every_alert_endpoint(app, c, session, http):
    import httpx

    from clinic_tui.api.client import AlertConflict, ApiError, ClinicClient

    await _raise_bp(http, c)
    nora = c.people["nora"]
    client = ClinicClient("http://127.0.0.1", transport=httpx.ASGITransport(app=app))
    other = ClinicClient("http://127.0.0.1", transport=httpx.ASGITransport(app=app))
    try:
        await client.login("anna", "correct horse battery")
        await other.login("agnes", "correct horse battery")
        page = await client.alerts()
        [item] = page.items
        assert item.rule_id == "bp.grade3" and page.counts.high == 1 and page.next_cursor is None
        acked = await other.transition_alert(item.id, "acknowledge", item.version)
        assert acked.state == "acknowledged" and acked.version == 2
        with pytest.raises(AlertConflict, match="Agnes acknowledged"):
            await client.transition_alert(item.id, "acknowledge", item.version)
        with pytest.raises(ApiError) as err:
            await client.transition_alert(item.id, "resolve", 2)
        assert err.value.code == "note_required"
        done = await client.transition_alert(item.id, "resolve", 2, note="Called; fine.")
        assert done.state == "resolved"
        changes = await client.alert_changes(page.server_time - timedelta(minutes=1))
        assert [a.id for a in changes.items] == [item.id] and changes.items[0].state == "resolved"
        assert changes.next_since < changes.since + timedelta(hours=1)
        history = await client.patient_alerts(nora.id)
        assert [e.to_state for e in history.items[0].events] == ["acknowledged", "resolved"]
        series = await client.observation_series(nora.id, LOINC_SYSTOLIC, "7d", points=50)
        assert series.unit == "mm[Hg]" and series.points and series.alerts[0].id == item.id
        settings = await client.set_thresholds(nora.id, {"bp_grade3_sys": 175})
        assert {t.key: t.value for t in settings.items}["bp_grade3_sys"] == 175
        assert {t.key: t.set_by for t in (await client.thresholds(nora.id)).items}["bp_grade3_sys"] == "Anna"
        snoozed = await client.alerts(state="all", severity="high", q="nora")
        assert [a.id for a in snoozed.items] == [item.id]
    finally:
        await client.aclose()
        await other.aclose()


async def test_the_queue_shows_each_state_on_its_own(http, c, session, anna):
    """Snoozed (while its time is ahead), escalated and resolved each have a view (issue 13.12)."""
    await _raise_bp(http, c, "nora")
    await _raise_bp(http, c, "vera")
    await _raise_bp(http, c, "bo")
    nora, vera, bo = (_alerts(session, c.people[n])[0] for n in ("nora", "vera", "bo"))
    for a in (nora, vera):
        assert (await _transition(http, anna, a.id, "acknowledge", 1)).status_code == 200
    r = await _transition(http, anna, nora.id, "resolve", 2, note="Re-measured: 138/85.")
    assert r.status_code == 200
    r = await _transition(http, anna, vera.id, "escalate", 2, note="A doctor today.", recipient="Dr. Ek")
    assert r.status_code == 200
    until = now() + timedelta(hours=1)
    r = await _transition(http, anna, bo.id, "snooze", 1, snooze_until=until.isoformat())
    assert r.status_code == 200

    async def ids(state):
        return [(i["id"], i["state"]) for i in (await _queue(http, anna, state=state))["items"]]

    assert await ids("resolved") == [(nora.id, "resolved")]
    assert await ids("escalated") == [(vera.id, "escalated")]
    assert await ids("snoozed") == [(bo.id, "snoozed")]
    assert await ids("active") == [(bo.id, "snoozed")]
    # the snooze runs out: it is open again, no longer in the snoozed view
    session.execute(update(Alert).where(Alert.id == bo.id).values(snoozed_until=now()))
    session.commit()
    assert await ids("snoozed") == []
    assert await ids("open") == [(bo.id, "open")]
    r = await http.get("/alerts", headers=anna, params={"state": "gone"})
    assert r.status_code == 422


async def test_escalating_names_a_recipient_kept_within_the_organization(http, c, session, anna):
    """Escalate needs who takes it over (issue 13.12): stored with the event, shown to the
    organization that escalated, never written into the audit record."""
    await _raise_bp(http, c, "bo")  # bo has a consent to both organizations
    [a] = _alerts(session, c.people["bo"])
    assert (await _transition(http, anna, a.id, "acknowledge", 1)).status_code == 200
    events_before = session.scalar(select(func.count()).select_from(AlertEvent))
    for recipient in (None, "   "):
        extra = {} if recipient is None else {"recipient": recipient}
        r = await _transition(http, anna, a.id, "escalate", 2, note="Needs a doctor today.", **extra)
        assert r.status_code == 422 and r.json()["code"] == "recipient_required", r.text
    r = await _transition(http, anna, a.id, "acknowledge", 2, recipient="Dr. Lind")
    assert r.status_code == 409  # (acknowledged already: the state is checked first)
    [same] = _alerts(session, c.people["bo"])
    assert (same.state, same.version) == ("acknowledged", 2)  # nothing changed
    assert session.scalar(select(func.count()).select_from(AlertEvent)) == events_before

    r = await _transition(
        http, anna, a.id, "escalate", 2, note="SpO2 84 twice.", recipient="  Dr. Lind, cardiology "
    )
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["escalated_to"]) == ("escalated", "Dr. Lind, cardiology")
    rec = last_audit(session)
    assert rec.action == "escalate"
    written = " ".join(str(getattr(rec, col.key)) for col in rec.__table__.columns)
    assert "Lind" not in written and "SpO2" not in written
    assert (rec.details["recipient"], rec.details["note"]) == (True, True)  # that there was one, no more
    [item] = (await _queue(http, anna, state="escalated"))["items"]
    assert (item["id"], item["escalated_to"]) == (a.id, "Dr. Lind, cardiology")
    [pa] = (await http.get(f"/patients/{a.person_id}/alerts", headers=anna)).json()["items"]
    assert pa["escalated_to"] == "Dr. Lind, cardiology"
    assert pa["events"][-1]["recipient"] == "Dr. Lind, cardiology"
    # the other organization sees that it was escalated, not to whom
    bertil = bearer(await login(http, "bertil"))
    [item] = (await _queue(http, bertil, state="escalated"))["items"]
    assert item["id"] == a.id and item["escalated_to"] is None
    [pa] = (await http.get(f"/patients/{a.person_id}/alerts", headers=bertil)).json()["items"]
    assert pa["escalated_to"] is None and pa["events"][-1]["recipient"] is None
    # reopened, it is no longer escalated to anyone
    r = await _transition(http, anna, a.id, "reopen", 3)
    assert r.status_code == 200 and r.json()["escalated_to"] is None


async def test_the_resolved_view_shows_what_was_resolved_since_the_given_midnight(http, c, session, anna):
    """Resolved today (issue 13, deliverable 4): ``resolved_since`` (the client's local midnight)
    keeps the alerts resolved at or after it; one resolved yesterday is not listed."""
    await _raise_bp(http, c, "nora")
    await _raise_bp(http, c, "vera")
    nora, vera = (_alerts(session, c.people[n])[0] for n in ("nora", "vera"))
    for a in (nora, vera):
        assert (await _transition(http, anna, a.id, "acknowledge", 1)).status_code == 200
        assert (await _transition(http, anna, a.id, "resolve", 2, note="Re-measured.")).status_code == 200
    midnight = now().replace(hour=0, minute=0, second=0, microsecond=0)
    # vera's was resolved yesterday evening
    session.execute(update(Alert).where(Alert.id == vera.id).values(updated_at=midnight - timedelta(hours=2)))
    session.commit()
    page = await _queue(http, anna, state="resolved", resolved_since=midnight.isoformat())
    assert [i["id"] for i in page["items"]] == [nora.id]
    assert last_audit(session).details["resolved_since"] == midnight.isoformat()
    # without it, every resolved alert (as before)
    assert {i["id"] for i in (await _queue(http, anna, state="resolved"))["items"]} == {nora.id, vera.id}
    # it only goes with the resolved view, and it needs an offset
    for params in (
        {"state": "active", "resolved_since": midnight.isoformat()},
        {"state": "resolved", "resolved_since": "2026-11-30T00:00"},
    ):
        r = await http.get("/alerts", headers=anna, params=params)
        assert r.status_code == 422, params


async def test_mine_lists_the_alerts_the_caller_was_last_to_take_on(http, c, session, anna):
    """Mine (issue 13, deliverable 4): the alerts not resolved whose last event (acknowledge,
    snooze, escalate...) is the caller's; a colleague's in the same organization are hers."""
    for name in ("nora", "vera", "bo"):
        await _raise_bp(http, c, name)
    nora, vera, bo = (_alerts(session, c.people[n])[0] for n in ("nora", "vera", "bo"))
    await post(http, c.keys["nora"], obs(LOINC_HEART_RATE, 140))
    [pulse] = _alerts(session, c.people["nora"], "hr.tachy")
    agnes = bearer(await login(http, "agnes"))  # anna's colleague in the same organization
    assert (await _transition(http, anna, nora.id, "acknowledge", 1)).status_code == 200
    assert (await _transition(http, agnes, vera.id, "acknowledge", 1)).status_code == 200
    # anna took bo's on, then agnes snoozed it: it is agnes's now
    assert (await _transition(http, anna, bo.id, "acknowledge", 1)).status_code == 200
    until = (now() + timedelta(hours=1)).isoformat()
    assert (await _transition(http, agnes, bo.id, "snooze", 2, snooze_until=until)).status_code == 200
    # anna escalated nora's pulse: still hers (handed on by her)
    assert (await _transition(http, anna, pulse.id, "acknowledge", 1)).status_code == 200
    r = await _transition(http, anna, pulse.id, "escalate", 2, note="A doctor today.", recipient="Dr. Ek")
    assert r.status_code == 200 and r.json()["mine"] is True

    async def mine(headers):
        items = (await _queue(http, headers, state="mine"))["items"]
        return sorted((i["id"], i["state"], i["mine"]) for i in items)

    assert await mine(anna) == sorted([(nora.id, "acknowledged", True), (pulse.id, "escalated", True)])
    rec = last_audit(session)
    assert (rec.action, rec.outcome, rec.details["state"]) == ("list", "allowed", "mine")
    assert await mine(agnes) == sorted([(vera.id, "acknowledged", True), (bo.id, "snoozed", True)])
    # the active queue says which are hers, and so does the patient's alert list
    active = {i["id"]: i["mine"] for i in (await _queue(http, anna, state="active"))["items"]}
    assert active == {nora.id: True, vera.id: False, bo.id: False}
    r = await http.get(f"/patients/{bo.person_id}/alerts", headers=anna)
    assert [(i["id"], i["mine"]) for i in r.json()["items"]] == [(bo.id, False)]
    r = await http.get(f"/patients/{nora.person_id}/alerts", headers=anna)
    assert {i["id"]: i["mine"] for i in r.json()["items"]} == {nora.id: True, pulse.id: True}
    # resolved, it leaves her Mine view
    assert (await _transition(http, anna, nora.id, "resolve", 2, note="Re-measured.")).status_code == 200
    assert await mine(anna) == [(pulse.id, "escalated", True)]
    # a nurse of another organization who acts on none of them has none
    bertil = bearer(await login(http, "bertil"))
    assert await mine(bertil) == []
