"""The coach's API against the real app and database: saving a meeting with all its parts, consent
gating both ways (read and write), one audit record per request, idempotent saves (also
concurrent), rectification as new versions with derived values recomputed, objection to
profiling, and invalid input refused with the domain's codes while nothing is stored."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import func, select, text

from clinic_server.db.models import (
    AuditEvent,
    CoachingAssessment,
    CoachingMeeting,
    CoachingRevision,
    Consent,
    IdempotencyKey,
)
from clinic_tui.domain.fitness import estimate_ekblom_bak_2016
from clinic_tui.domain.profiling import CONCLUSION_CODES, EXPLANATION_KEYS
from tests.coaching_util import ANSWERS, build_coaching, key, meeting_body, yesterday
from tests.conftest import audit_count, bearer, last_audit, login

pytestmark = pytest.mark.api


@pytest.fixture
def coaching(world):
    return build_coaching(world)


@pytest.fixture
async def cecilia(http, coaching):
    return bearer(await login(http, "cecilia"))


def count(session, model) -> int:
    session.rollback()
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


async def save(http, headers, person_id, body=None, idem=None):
    return await http.post(
        f"/coaching/participants/{person_id}/meetings",
        json=body if body is not None else meeting_body(),
        headers={**headers, **(idem or key())},
    )


def values(version) -> dict:
    return {m["key"]: m["value"] for m in version["measurements"]}


# --------------------------------------------------------------------------- saving and reading


async def test_a_whole_meeting_is_saved_in_one_post_with_its_derived_values(http, coaching, cecilia, session):
    before = audit_count(session)
    r = await save(http, cecilia, coaching.full.id)
    assert r.status_code == 201, r.text
    m = r.json()
    assert (m["person_id"], m["kind"], m["coach"], m["current_revision"]) == (
        coaching.full.id,
        "first",
        "Cecilia",
        1,
    )
    assert m["earlier"] == [] and m["withheld"] == []
    cur = m["current"]
    assert cur["revision"] == 1 and cur["current"] is True
    # LOINC and UCUM on every value; BMI derived with its rule
    by_key = {x["key"]: x for x in cur["measurements"]}
    assert (by_key["weight_kg"]["loinc"], by_key["weight_kg"]["unit"]) == ("29463-7", "kg")
    assert (by_key["height_cm"]["loinc"], by_key["height_cm"]["unit"]) == ("8302-2", "cm")
    assert (by_key["waist_cm"]["loinc"], by_key["systolic"]["unit"]) == ("8280-0", "mm[Hg]")
    assert (by_key["heart_rate"]["loinc"], by_key["heart_rate"]["unit"]) == ("8867-4", "/min")
    assert by_key["bmi"] == {
        "key": "bmi",
        "loinc": "39156-5",
        "unit": "kg/m2",
        "value": 25.9,
        "rule_id": "bmi",
        "rule_version": 1,
    }
    # the cycle test: every input (sex and age the participant's), equation id and version, estimate
    p = coaching.full
    age = coaching.age_at(p, yesterday())
    expected = estimate_ekblom_bak_2016(
        sex=p.sex, age=age, hr_low=95, hr_high=135, watts_low=30, watts_high=150, weight_kg=82.0
    )
    test = cur["fitness_test"]
    assert (test["equation_id"], test["equation_version"]) == ("ekblom-bak-2016", 1)
    assert test["inputs"] == {
        "sex": p.sex,
        "age": age,
        "hr_low": 95.0,
        "hr_high": 135.0,
        "watts_low": 30.0,
        "watts_high": 150.0,
        "weight_kg": 82.0,
    }
    assert test["weight_source"] == "measurements"
    assert test["vo2max_l_min"] == pytest.approx(expected.vo2max_l_min)
    assert test["vo2max_ml_kg_min"] == pytest.approx(expected.vo2max_l_min * 1000 / 82.0)
    assert (test["relative_rule_id"], test["relative_rule_version"]) == ("vo2max-relative", 1)
    assert cur["questionnaire"] == {
        "questionnaire_id": "imr-health-profile",
        "version": 1,
        "answers": ANSWERS,
    }
    assert cur["notes"] == "Wants to cycle to work; talked about sleep."
    # the automated assessment: every conclusion with its rule, version and explanation
    a = cur["assessment"]
    assert (a["status"], a["ruleset_id"], a["ruleset_version"], a["withheld"]) == (
        "assessed",
        "imr-profiling",
        1,
        [],
    )
    assert [c["code"] for c in a["conclusions"]] == list(CONCLUSION_CODES)
    for c in a["conclusions"]:
        assert c["rule_id"] and c["rule_version"] >= 1
        assert set(c["explanation"]["params"]) == set(EXPLANATION_KEYS[c["explanation"]["key"]]), c
    bmi = next(c for c in a["conclusions"] if c["code"] == "bmi.category")
    assert bmi["value"] == "overweight"
    assert bmi["explanation"] == {
        "key": "bmi_from_weight_height",
        "params": {"weight_kg": 82.0, "height_cm": 178.0, "bmi": 25.9},
    }
    snus = next(c for c in a["conclusions"] if c["code"] == "lifestyle.tobacco_use")
    assert snus["value"] == "flagged"
    # the revision: who and when, no reason for a first save
    [rev] = m["revisions"]
    assert (rev["number"], rev["author"], rev["reason"], rev["changes"]) == (1, "Cecilia", None, None)
    assert rev["categories"] == ["fitness_tests", "profiling", "questionnaires", "vitals"]
    # one audit record: the write, about this person, naming what it returned, not the values
    assert audit_count(session) == before + 1
    rec = last_audit(session)
    assert (rec.action, rec.resource_type, rec.resource_id, rec.outcome, rec.person_id, rec.purpose) == (
        "create",
        "coaching_meeting",
        m["id"],
        "allowed",
        coaching.full.id,
        "coaching",
    )
    assert set(rec.categories) == {"fitness_tests", "profiling", "questionnaires", "vitals"}
    assert "82.0" not in str(rec.details) and "cycle" not in str(rec.details)  # values: never


async def test_history_has_every_meeting_side_by_side_and_the_series_for_the_chart(http, coaching, cecilia):
    first = meeting_body(held_on="2025-03-10")
    later = meeting_body(held_on="2026-03-12", kind="follow_up")
    later["measurements"]["weight_kg"] = 79.5
    later["fitness_test"]["hr_high"] = 128.0
    ids = []
    for body in (later, first):  # saved out of order: the history is by meeting date
        r = await save(http, cecilia, coaching.full.id, body)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    r = await http.get(f"/coaching/participants/{coaching.full.id}/meetings", headers=cecilia)
    assert r.status_code == 200, r.text
    h = r.json()
    assert h["label"] == "Frida Fullsson" and h["missing"] == [] and h["objected_to_profiling"] is False
    # what the meeting screen's live estimate needs: the sex and age the equations use
    assert (h["test_sex"], h["test_age"]) == (
        coaching.full.sex,
        coaching.age_at(coaching.full, datetime.now(UTC).date()),
    )
    assert [m["held_on"] for m in h["meetings"]] == ["2025-03-10", "2026-03-12"]
    assert [m["id"] for m in h["meetings"]] == [ids[1], ids[0]]
    assert [p["value"] for p in h["weight_kg"]] == [82.0, 79.5]
    vo2 = [p["value"] for p in h["vo2max_ml_kg_min"]]
    assert vo2 == [pytest.approx(m["current"]["fitness_test"]["vo2max_ml_kg_min"]) for m in h["meetings"]]
    assert vo2[1] > vo2[0]  # a lower heart rate at the same work rate: fitter, and lighter
    assert [p["held_on"] for p in h["vo2max_ml_kg_min"]] == ["2025-03-10", "2026-03-12"]

    r = await http.get(f"/coaching/meetings/{ids[0]}", headers=cecilia)
    assert r.status_code == 200 and r.json() == h["meetings"][1]


async def test_the_participant_list_is_made_for_coaches(http, coaching, cecilia):
    r = await save(http, cecilia, coaching.full.id, meeting_body(held_on="2025-01-15"))
    assert r.status_code == 201
    r = await save(http, cecilia, coaching.full.id, meeting_body(held_on="2025-11-02", fitness_test=None))
    assert r.status_code == 201
    r = await http.get("/coaching/participants", headers=cecilia)
    assert r.status_code == 200, r.text
    rows = {row["id"]: row for row in r.json()["items"]}
    assert set(rows) == {coaching.full.id, coaching.fitness_only.id, coaching.legit.id, coaching.ended.id}
    # no conditions column, and no diagnosis anywhere (every participant has one): not the nurse's list
    assert all("conditions" not in row for row in rows.values())
    assert "Hypertension" not in r.text and "hypertension" not in r.text
    full = rows[coaching.full.id]
    assert (full["label"], full["employer"], full["job_title"]) == (
        "Frida Fullsson",
        "Nordbygg AB",
        "Snickare",
    )
    assert (full["meetings"], full["last_meeting_on"], full["last_test_on"]) == (
        2,
        "2025-11-02",
        "2025-01-15",
    )
    assert (full["test_due_on"], full["test_due"]) == ("2026-01-15", True)
    assert (
        full["consented"] == ["fitness_tests", "profiling", "questionnaires", "vitals"]
        and full["missing"] == []
    )
    fit = rows[coaching.fitness_only.id]
    assert (fit["consented"], fit["missing"]) == (
        ["fitness_tests"],
        ["profiling", "questionnaires", "vitals"],
    )
    assert (fit["last_test_on"], fit["test_due"]) == (None, True)  # never tested: due
    legit = rows[coaching.legit.id]
    assert (legit["access_basis"], legit["consented"]) == ("legitimate_interest", [])
    assert legit["missing"] == ["fitness_tests", "profiling", "questionnaires", "vitals"]
    assert legit["test_due"] is None and legit["employer"] == "Nordbygg AB"  # not shared: not told
    # contract ended: consent still covers the meeting categories, but no name or employer
    ended = rows[coaching.ended.id]
    assert ended["label"].startswith("Patient ") and ended["given_name"] is None
    assert ended["employer"] is None and "identity" in ended["withheld"]
    assert list(rows)[-1] == coaching.ended.id  # pseudonyms after names


# --------------------------------------------------------------------------- consent gating


async def test_legitimate_interest_only_can_neither_read_nor_write_and_is_told_what_is_missing(
    http, coaching, cecilia, session
):
    pid = coaching.legit.id
    all_four = "fitness_tests,profiling,questionnaires,vitals"
    before = audit_count(session)
    r = await http.get(f"/coaching/participants/{pid}/meetings", headers=cecilia)
    assert r.status_code == 403 and r.json()["code"] == "consent_missing"
    assert r.json()["params"] == {"missing": all_four}
    rec = last_audit(session)
    assert (rec.outcome, rec.person_id, rec.action) == ("denied", pid, "read")
    assert rec.details["missing"] == all_four.split(",")
    # a write: each part needs its own category, every missing one is named
    r = await save(http, cecilia, pid, meeting_body(measurements=None, questionnaire=None, notes=None))
    assert (r.status_code, r.json()["params"]) == (403, {"missing": "fitness_tests"})
    r = await save(http, cecilia, pid)
    assert (r.status_code, r.json()["params"]) == (403, {"missing": all_four})
    assert audit_count(session) == before + 3
    assert count(session, CoachingMeeting) == 0 and count(session, IdempotencyKey) == 0


async def test_fitness_only_consent_records_and_reads_fitness_tests_only(http, coaching, cecilia, session):
    pid = coaching.fitness_only.id
    r = await save(http, cecilia, pid)
    assert r.status_code == 403 and r.json()["params"] == {"missing": "profiling,questionnaires,vitals"}
    only_test = meeting_body(measurements=None, questionnaire=None, notes=None)
    only_test["fitness_test"]["weight_kg"] = 91.0  # no vitals: the test carries its own weight
    r = await save(http, cecilia, pid, only_test)
    assert r.status_code == 201, r.text
    m = r.json()
    assert m["withheld"] == ["profiling", "questionnaires", "vitals"]
    cur = m["current"]
    assert cur["fitness_test"]["weight_source"] == "test"
    assert cur["fitness_test"]["vo2max_ml_kg_min"] == pytest.approx(
        cur["fitness_test"]["vo2max_l_min"] * 1000 / 91
    )
    assert (cur["measurements"], cur["questionnaire"], cur["notes"], cur["assessment"]) == (None,) * 4
    # no consent to profiling: no automated assessment was made
    session.rollback()
    stored = session.scalar(select(CoachingAssessment).where(CoachingAssessment.meeting_id == m["id"]))
    assert (stored.status, stored.conclusions) == ("not_consented", [])
    r = await http.get(f"/coaching/participants/{pid}/meetings", headers=cecilia)
    assert r.status_code == 200
    h = r.json()
    assert h["missing"] == ["profiling", "questionnaires", "vitals"] and h["weight_kg"] == []
    assert h["test_sex"] == coaching.fitness_only.sex and h["test_age"] > 30
    assert len(h["vo2max_ml_kg_min"]) == 1
    assert set(last_audit(session).categories) == {"fitness_tests", "identity"}


async def test_a_narrowed_consent_hides_what_was_recorded_and_the_conclusions_resting_on_it(
    http, coaching, cecilia, session
):
    r = await save(http, cecilia, coaching.full.id)
    assert r.status_code == 201
    consent = session.scalar(select(Consent).where(Consent.person_id == coaching.full.id))
    consent.categories = ["fitness_tests", "profiling"]
    session.commit()
    r = await http.get(f"/coaching/participants/{coaching.full.id}/meetings", headers=cecilia)
    assert r.status_code == 200
    [m] = r.json()["meetings"]
    cur = m["current"]
    assert cur["measurements"] is None and cur["questionnaire"] is None
    assert m["withheld"] == ["questionnaires", "vitals"]
    a = cur["assessment"]
    assert [c["code"] for c in a["conclusions"]] == ["fitness.category"]
    assert set(a["withheld"]) == set(CONCLUSION_CODES) - {"fitness.category"}
    # no value of a withheld category anywhere in the body (the BMI explanation named 178 cm)
    assert "178.0" not in r.text and "snus" not in r.text and "h_8_10" not in r.text
    assert r.json()["weight_kg"] == []


async def test_another_coachs_participant_is_a_uniform_403(http, coaching, cecilia, session):
    olof = bearer(await login(http, "olof"))
    r = await save(http, olof, coaching.olofs.id)
    assert r.status_code == 201
    mid = r.json()["id"]
    unknown = uuid.uuid4().hex
    calls = [
        ("GET", f"/coaching/participants/{coaching.olofs.id}/meetings", None),
        ("POST", f"/coaching/participants/{coaching.olofs.id}/meetings", meeting_body()),
        ("GET", f"/coaching/meetings/{mid}", None),
        (
            "POST",
            f"/coaching/meetings/{mid}/corrections",
            {"expected_revision": 1, "reason": "typo", "changes": [{"field": "notes", "value": "x"}]},
        ),
        ("PUT", f"/coaching/participants/{coaching.olofs.id}/objection", None),
        ("DELETE", f"/coaching/participants/{coaching.olofs.id}/objection", None),
        ("GET", f"/coaching/participants/{unknown}/meetings", None),
        ("GET", f"/coaching/meetings/{unknown}", None),
    ]
    bodies = set()
    for method, path, body in calls:
        before = audit_count(session)
        r = await http.request(method, path, json=body, headers={**cecilia, **key()})
        assert r.status_code == 403, (method, path, r.text)
        bodies.add(r.text)
        assert audit_count(session) == before + 1
        assert last_audit(session).outcome == "denied"
    assert bodies == {'{"code":"not_permitted","message":"You do not have access to this.","params":{}}'}
    r = await http.get("/coaching/participants", headers=cecilia)
    assert coaching.olofs.id not in r.text
    assert count(session, CoachingMeeting) == 1 and count(session, CoachingRevision) == 1


@pytest.mark.parametrize("who", ["anna"])
async def test_other_roles_have_no_coaching_endpoints(http, coaching, session, who):
    token = bearer(await login(http, who))
    for method, path in [
        ("GET", "/coaching/participants"),
        ("GET", f"/coaching/participants/{coaching.full.id}/meetings"),
        ("POST", f"/coaching/participants/{coaching.full.id}/meetings"),
    ]:
        before = audit_count(session)
        r = await http.request(method, path, json=meeting_body(), headers={**token, **key()})
        assert (r.status_code, r.json()["code"]) == (403, "not_permitted"), (path, r.text)
        assert audit_count(session) == before + 1


# --------------------------------------------------------------------------- one record per request


async def test_every_request_leaves_exactly_one_audit_record_whatever_its_outcome(
    app, http, coaching, cecilia, session, db_url
):
    def outcome_of(r_status: int) -> str:
        return {200: "allowed", 201: "allowed"}.get(r_status, "denied")

    cases = [
        ("POST", f"/coaching/participants/{coaching.full.id}/meetings", meeting_body(), 201),
        ("POST", f"/coaching/participants/{coaching.legit.id}/meetings", meeting_body(), 403),
        (
            "POST",
            f"/coaching/participants/{coaching.full.id}/meetings",
            meeting_body(held_on="2999-01-01"),
            422,
        ),
        ("GET", f"/coaching/participants/{coaching.full.id}/meetings", None, 200),
        ("GET", "/coaching/participants", None, 200),
    ]
    for method, path, body, status in cases:
        before = audit_count(session)
        r = await http.request(method, path, json=body, headers={**cecilia, **key()})
        assert r.status_code == status, (path, r.text)
        assert audit_count(session) == before + 1, path
        assert last_audit(session).outcome == outcome_of(status)

    # the server fails half-way through a save (the database refuses the meeting's row): the
    # request still leaves one record, "error", and nothing of the meeting is stored
    session.rollback()
    if db_url.startswith("postgresql"):
        session.execute(
            text(
                "CREATE FUNCTION refuse_meeting() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk full'; "
                "END $$ LANGUAGE plpgsql"
            )
        )
        session.execute(
            text(
                "CREATE TRIGGER refuse_meeting BEFORE INSERT ON coaching_meeting "
                "FOR EACH ROW EXECUTE FUNCTION refuse_meeting()"
            )
        )
    else:
        session.execute(
            text(
                "CREATE TRIGGER refuse_meeting BEFORE INSERT ON coaching_meeting "
                "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
            )
        )
    session.commit()
    meetings, keys = count(session, CoachingMeeting), count(session, IdempotencyKey)
    before = audit_count(session)
    # a client that gets the app's 500 answer, as a real one would (not the exception)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver/api/v1") as client:
        r = await save(client, cecilia, coaching.full.id)
    assert (r.status_code, r.json()["code"]) == (500, "server_error")
    assert audit_count(session) == before + 1
    rec = last_audit(session)
    assert (rec.outcome, rec.action, rec.person_id) == ("error", "create", coaching.full.id)
    assert (count(session, CoachingMeeting), count(session, IdempotencyKey)) == (meetings, keys)


# --------------------------------------------------------------------------- idempotency


async def test_a_retry_with_the_same_key_returns_the_first_meeting_and_never_saves_twice(
    http, coaching, cecilia, session
):
    idem = key()
    first = await save(http, cecilia, coaching.full.id, idem=idem)
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    before = audit_count(session)
    again = await save(http, cecilia, coaching.full.id, idem=idem)
    assert again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert count(session, CoachingMeeting) == 1
    assert audit_count(session) == before + 1
    rec = last_audit(session)
    assert (rec.outcome, rec.resource_id, rec.details.get("replayed")) == (
        "allowed",
        first.json()["id"],
        True,
    )

    # the same key with a different meeting: refused, nothing stored
    other = meeting_body()
    other["measurements"]["weight_kg"] = 83.0
    r = await save(http, cecilia, coaching.full.id, other, idem=idem)
    assert (r.status_code, r.json()["code"]) == (422, "idempotency_key_reused")
    # ... or for another participant
    r = await save(http, cecilia, coaching.ended.id, idem=idem)
    assert (r.status_code, r.json()["code"]) == (422, "idempotency_key_reused")
    assert count(session, CoachingMeeting) == 1

    # a key is scoped to its user: another coach's same key is her own
    olof = bearer(await login(http, "olof"))
    r = await save(http, olof, coaching.olofs.id, idem=idem)
    assert r.status_code == 201 and "idempotent-replayed" not in r.headers
    # a new key is a new meeting
    r = await save(http, cecilia, coaching.full.id)
    assert r.status_code == 201 and r.json()["id"] != first.json()["id"]
    assert count(session, CoachingMeeting) == 3


async def test_concurrent_retries_with_one_key_store_one_meeting(http, coaching, cecilia, session):
    idem = key()
    responses = await asyncio.gather(*(save(http, cecilia, coaching.full.id, idem=idem) for _ in range(6)))
    assert [r.status_code for r in responses] == [201] * 6, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(1 for r in responses if r.headers.get("idempotent-replayed") == "true") == 5
    assert count(session, CoachingMeeting) == 1 and count(session, IdempotencyKey) == 1
    assert count(session, CoachingRevision) == 1


async def test_an_expired_key_is_forgotten(http, coaching, cecilia, session):
    idem = key()
    r = await save(http, cecilia, coaching.full.id, idem=idem)
    assert r.status_code == 201
    session.rollback()
    row = session.scalar(select(IdempotencyKey))
    row.expires_at = row.created_at  # as if its time ran out
    session.commit()
    r = await save(http, cecilia, coaching.full.id, idem=idem)
    assert r.status_code == 201 and "idempotent-replayed" not in r.headers
    assert count(session, CoachingMeeting) == 2 and count(session, IdempotencyKey) == 1


async def test_a_save_without_a_key_is_refused(http, coaching, cecilia, session):
    before = audit_count(session)
    r = await http.post(
        f"/coaching/participants/{coaching.full.id}/meetings", json=meeting_body(), headers=cecilia
    )
    assert (r.status_code, r.json()["code"]) == (422, "invalid_request")
    assert "idempotency-key" in r.json()["params"]["fields"]
    r = await save(http, cecilia, coaching.full.id, idem={"Idempotency-Key": "short"})
    assert r.status_code == 422
    assert audit_count(session) == before + 2 and count(session, CoachingMeeting) == 0


# --------------------------------------------------------------------------- rectification


async def correct(http, headers, meeting_id, changes, *, expected=1, reason="Typed the wrong value"):
    return await http.post(
        f"/coaching/meetings/{meeting_id}/corrections",
        json={"expected_revision": expected, "reason": reason, "changes": changes},
        headers=headers,
    )


async def test_a_correction_is_a_new_version_with_derived_values_recomputed(http, coaching, cecilia, session):
    r = await save(http, cecilia, coaching.full.id)
    first = r.json()
    mid = first["id"]
    before = audit_count(session)
    r = await correct(
        http,
        cecilia,
        mid,
        [{"field": "measurements.weight_kg", "value": 88.0}],
        reason="Scale read 88, not 82",
    )
    assert r.status_code == 200, r.text
    m = r.json()
    assert m["current_revision"] == 2
    cur, [old] = m["current"], m["earlier"]
    assert (cur["revision"], cur["current"], old["revision"], old["current"]) == (2, True, 1, False)
    # the earlier version is exactly what was saved, and stays readable
    assert old == {**first["current"], "current": False}
    assert values(cur)["weight_kg"] == 88.0 and values(old)["weight_kg"] == 82.0
    # BMI, the relative VO2max (the test used the measured weight) and the assessment follow
    assert values(cur)["bmi"] == 27.8 and values(old)["bmi"] == 25.9
    assert cur["fitness_test"]["inputs"]["weight_kg"] == 88.0
    assert cur["fitness_test"]["vo2max_l_min"] == old["fitness_test"]["vo2max_l_min"]
    assert cur["fitness_test"]["vo2max_ml_kg_min"] == pytest.approx(
        old["fitness_test"]["vo2max_l_min"] * 1000 / 88
    )
    bmi_now = next(c for c in cur["assessment"]["conclusions"] if c["code"] == "bmi.category")
    assert bmi_now["explanation"]["params"] == {"weight_kg": 88.0, "height_cm": 178.0, "bmi": 27.8}
    assert cur["questionnaire"] == old["questionnaire"] and cur["notes"] == old["notes"]
    rev = m["revisions"][1]
    assert (rev["number"], rev["author"], rev["reason"], rev["redacted"]) == (
        2,
        "Cecilia",
        "Scale read 88, not 82",
        False,
    )
    assert rev["categories"] == ["vitals"]
    assert rev["changes"] == [
        "measurements.bmi",
        "measurements.weight_kg",
        "fitness_test.vo2max_ml_kg_min",
        "fitness_test.weight_kg",
        "assessment",
    ]
    assert audit_count(session) == before + 1
    rec = last_audit(session)
    assert (rec.action, rec.outcome, rec.resource_id, rec.details["revision"]) == (
        "correct",
        "allowed",
        mid,
        2,
    )
    assert "88.0" not in str(rec.details) and "Scale" not in str(rec.details)

    # a second correction (of the test's stage) goes on top; the history keeps all three
    r = await correct(http, cecilia, mid, [{"field": "fitness_test.hr_high", "value": 140}], expected=2)
    assert r.status_code == 200, r.text
    m = r.json()
    assert [v["revision"] for v in [m["current"], *m["earlier"]]] == [3, 2, 1]
    assert m["current"]["fitness_test"]["vo2max_l_min"] < old["fitness_test"]["vo2max_l_min"]
    h = (await http.get(f"/coaching/participants/{coaching.full.id}/meetings", headers=cecilia)).json()
    assert h["meetings"][0] == m
    assert h["weight_kg"][0]["value"] == 88.0  # the chart shows current values only
    assert h["vo2max_ml_kg_min"][0]["value"] == pytest.approx(
        m["current"]["fitness_test"]["vo2max_ml_kg_min"]
    )


async def test_corrections_of_each_part_and_clearing_values(http, coaching, cecilia):
    mid = (await save(http, cecilia, coaching.full.id)).json()["id"]
    r = await correct(
        http,
        cecilia,
        mid,
        [
            {"field": "questionnaire.tobacco.snus", "value": "never"},
            {"field": "questionnaire.symptoms.stomach", "value": None},
            {"field": "measurements.waist_cm", "value": None},
            {"field": "notes", "value": "  Prefers walking.  "},
        ],
    )
    assert r.status_code == 200, r.text
    cur = r.json()["current"]
    assert cur["questionnaire"]["answers"]["tobacco.snus"] == "never"
    assert "symptoms.stomach" not in cur["questionnaire"]["answers"]
    assert "waist_cm" not in values(cur)
    assert cur["notes"] == "Prefers walking."
    conclusions = {c["code"]: c for c in cur["assessment"]["conclusions"]}
    assert conclusions["lifestyle.tobacco_use"]["value"] == "not_flagged"
    assert conclusions["waist.category"]["value"] is None
    assert conclusions["waist.category"]["explanation"] == {
        "key": "missing_inputs",
        "params": {"missing": "waist_cm"},
    }
    assert conclusions["lifestyle.frequent_symptoms"]["value"] is None
    # no measured weight: no relative value, no fitness category, until the test gets its own
    r = await correct(http, cecilia, mid, [{"field": "measurements.weight_kg", "value": None}], expected=2)
    assert r.status_code == 200, r.text
    test = r.json()["current"]["fitness_test"]
    assert (test["weight_source"], test["inputs"]["weight_kg"], test["vo2max_ml_kg_min"]) == (
        None,
        None,
        None,
    )
    r = await correct(http, cecilia, mid, [{"field": "fitness_test.weight_kg", "value": 80.0}], expected=3)
    test = r.json()["current"]["fitness_test"]
    assert (test["weight_source"], test["inputs"]["weight_kg"]) == ("test", 80.0)
    # a measured weight beside it must be the same one ...
    r = await correct(http, cecilia, mid, [{"field": "measurements.weight_kg", "value": 81.0}], expected=4)
    assert [(p["field"], p["code"]) for p in r.json()["problems"]] == [
        ("fitness_test.weight_kg", "meeting.weight_differs")
    ]
    assert r.json()["problems"][0]["params"] == {"weight_kg": 80.0, "measured": 81.0}
    r = await correct(http, cecilia, mid, [{"field": "measurements.weight_kg", "value": 80.0}], expected=4)
    assert r.status_code == 200, r.text
    # ... and then a correction of the measured weight corrects the test's with it
    r = await correct(http, cecilia, mid, [{"field": "measurements.weight_kg", "value": 81.0}], expected=5)
    assert r.status_code == 200, r.text
    test = r.json()["current"]["fitness_test"]
    assert (test["weight_source"], test["inputs"]["weight_kg"]) == ("measurements", 81.0)
    assert [v["revision"] for v in [r.json()["current"], *r.json()["earlier"]]] == [6, 5, 4, 3, 2, 1]


async def test_a_bad_correction_changes_nothing(http, coaching, cecilia, session):
    mid = (await save(http, cecilia, coaching.full.id)).json()["id"]
    revisions = count(session, CoachingRevision)
    cases = [
        ([{"field": "measurements.weight_kg", "value": 800}], "value.out_of_range", "measurements.weight_kg"),
        (
            [{"field": "measurements.weight_kg", "value": "heavy"}],
            "value.not_a_number",
            "measurements.weight_kg",
        ),
        (
            [{"field": "fitness_test.hr_high", "value": 90}],
            "fitness.hr_high_below_minimum",
            "fitness_test.hr_high",
        ),
        ([{"field": "fitness_test.hr_low", "value": None}], "value.missing", "fitness_test.hr_low"),
        (
            [{"field": "questionnaire.sleep.duration", "value": "h_99"}],
            "questionnaire.unknown_answer",
            "questionnaire.sleep.duration",
        ),
        ([{"field": "measurements.bmi", "value": 20}], "correction.unknown_field", "measurements.bmi"),
        ([{"field": "held_on", "value": "2020-01-01"}], "correction.unknown_field", "held_on"),
        (
            [{"field": "measurements.weight_kg", "value": 82.0}],
            "correction.no_change",
            "measurements.weight_kg",
        ),
        (
            [{"field": "notes", "value": "a"}, {"field": "notes", "value": "b"}],
            "correction.repeated_field",
            "notes",
        ),
    ]
    for changes, code, field in cases:
        before = audit_count(session)
        r = await correct(http, cecilia, mid, changes)
        assert (r.status_code, r.json()["code"]) == (422, "invalid_values"), (changes, r.text)
        assert (field, code) in [(p["field"], p["code"]) for p in r.json()["problems"]], r.text
        assert audit_count(session) == before + 1 and last_audit(session).outcome == "denied"
    # a reason is required
    r = await correct(http, cecilia, mid, [{"field": "notes", "value": "x"}], reason="")
    assert (r.status_code, r.json()["code"]) == (422, "invalid_request")
    assert count(session, CoachingRevision) == revisions
    r = await http.get(f"/coaching/meetings/{mid}", headers=cecilia)
    assert r.json()["current_revision"] == 1


async def test_a_correction_of_an_older_version_is_refused(http, coaching, cecilia, session):
    mid = (await save(http, cecilia, coaching.full.id)).json()["id"]
    assert (await correct(http, cecilia, mid, [{"field": "notes", "value": "one"}])).status_code == 200
    r = await correct(http, cecilia, mid, [{"field": "notes", "value": "two"}], expected=1)
    assert (r.status_code, r.json()["code"], r.json()["params"]) == (409, "conflict", {"current_revision": 2})
    # two coaches' corrections at once: one wins, the other is told to reload
    results = await asyncio.gather(
        *(correct(http, cecilia, mid, [{"field": "notes", "value": f"v{i}"}], expected=2) for i in range(4))
    )
    assert sorted(r.status_code for r in results) == [200, 409, 409, 409]
    assert count(session, CoachingRevision) == 3


async def test_a_correction_needs_consent_for_everything_it_rewrites(http, coaching, cecilia, session):
    mid = (await save(http, cecilia, coaching.full.id)).json()["id"]
    consent = session.scalar(select(Consent).where(Consent.person_id == coaching.full.id))
    consent.categories = ["vitals", "profiling", "questionnaires"]
    session.commit()
    # the cycle test used the measured weight: correcting it rewrites the test too
    r = await correct(http, cecilia, mid, [{"field": "measurements.weight_kg", "value": 85.0}])
    assert (r.status_code, r.json()["params"]) == (403, {"missing": "fitness_tests"})
    r = await correct(http, cecilia, mid, [{"field": "fitness_test.hr_high", "value": 140}])
    assert (r.status_code, r.json()["params"]) == (403, {"missing": "fitness_tests"})
    assert count(session, CoachingRevision) == 1
    # the height is the measurements' own: allowed, and the new assessment leaves the test out
    r = await correct(http, cecilia, mid, [{"field": "measurements.height_cm", "value": 180.0}])
    assert r.status_code == 200, r.text
    cur = r.json()["current"]
    assert cur["fitness_test"] is None and r.json()["withheld"] == ["fitness_tests"]
    h = (await http.get(f"/coaching/participants/{coaching.full.id}/meetings", headers=cecilia)).json()
    assert (h["test_sex"], h["test_age"], h["vo2max_ml_kg_min"]) == (None, None, [])
    session.rollback()
    stored = session.scalar(
        select(CoachingAssessment).where(
            CoachingAssessment.meeting_id == mid, CoachingAssessment.revision == 2
        )
    )
    fitness = next(c for c in stored.conclusions if c["code"] == "fitness.category")
    assert fitness["value"] is None and fitness["explanation"]["params"] == {"missing": "fitness_test"}


# --------------------------------------------------------------------------- objection to profiling


async def test_an_objection_stops_the_automated_assessment(http, coaching, cecilia, session):
    pid = coaching.full.id
    before_objection = (await save(http, cecilia, pid, meeting_body(held_on="2025-05-05"))).json()
    assert before_objection["current"]["assessment"]["status"] == "assessed"
    before = audit_count(session)
    r = await http.put(f"/coaching/participants/{pid}/objection", headers=cecilia)
    assert r.status_code == 200, r.text
    objection = r.json()
    assert (objection["active"], objection["recorded_by"]) == (True, "Cecilia")
    assert audit_count(session) == before + 1
    rec = last_audit(session)
    assert (rec.action, rec.resource_type, rec.person_id, rec.outcome) == (
        "objection_record",
        "profiling_objection",
        pid,
        "allowed",
    )
    # recorded again: the same objection, nothing new
    r = await http.put(f"/coaching/participants/{pid}/objection", headers=cecilia)
    assert r.json()["recorded_at"] == objection["recorded_at"]

    during = (await save(http, cecilia, pid)).json()
    assert during["current"]["assessment"] is None
    assert during["current"]["notes"] is not None  # the coach's notes are hers, not profiling by rule
    session.rollback()
    stored = session.scalar(select(CoachingAssessment).where(CoachingAssessment.meeting_id == during["id"]))
    assert (stored.status, stored.conclusions) == ("objected", [])
    h = (await http.get(f"/coaching/participants/{pid}/meetings", headers=cecilia)).json()
    assert h["objected_to_profiling"] is True
    assert [m["current"]["assessment"] for m in h["meetings"]] == [None, None]
    rows = {r["id"]: r for r in (await http.get("/coaching/participants", headers=cecilia)).json()["items"]}
    assert rows[pid]["objected_to_profiling"] is True
    # a correction while it stands makes no assessment either
    r = await correct(http, cecilia, during["id"], [{"field": "measurements.weight_kg", "value": 84.0}])
    assert r.status_code == 200 and r.json()["current"]["assessment"] is None

    # withdrawn: the earlier assessment shows again, the meetings saved meanwhile stay unassessed
    r = await http.delete(f"/coaching/participants/{pid}/objection", headers=cecilia)
    assert r.status_code == 200 and r.json()["active"] is False and r.json()["withdrawn_by"] == "Cecilia"
    h = (await http.get(f"/coaching/participants/{pid}/meetings", headers=cecilia)).json()
    assert [m["current"]["assessment"]["status"] for m in h["meetings"]] == ["assessed", "objected"]
    r = await http.delete(f"/coaching/participants/{pid}/objection", headers=cecilia)
    assert (r.status_code, r.json()["code"]) == (409, "already_withdrawn")


async def test_an_objection_needs_no_consent(http, coaching, cecilia, world, session):
    r = await http.put(f"/coaching/participants/{coaching.legit.id}/objection", headers=cecilia)
    assert r.status_code == 200 and r.json()["active"] is True
    # seen on no meeting category at all (only goals, the contract ended): on her list, may
    # object, and told what a meeting would need
    imr = session.scalar(select(Consent.organization_id).where(Consent.person_id == coaching.full.id))
    goals = world.person("Gun", "Goal", employer=None)
    world.s.add(
        Consent(
            person_id=goals.id,
            organization_id=imr,
            categories=["goals"],
            purpose="coaching",
            valid_from=coaching.full.created_at,
            status="active",
        )
    )
    world.assign(coaching.cecilia, goals)
    session.commit()
    rows = {
        row["id"]: row for row in (await http.get("/coaching/participants", headers=cecilia)).json()["items"]
    }
    assert rows[goals.id]["consented"] == [] and rows[goals.id]["shared"] == ["goals"]
    r = await http.put(f"/coaching/participants/{goals.id}/objection", headers=cecilia)
    assert r.status_code == 200, r.text
    r = await save(http, cecilia, goals.id, meeting_body(measurements=None, questionnaire=None, notes=None))
    assert (r.status_code, r.json()["params"]) == (403, {"missing": "fitness_tests"})


# --------------------------------------------------------------------------- invalid input


INVALID = [
    (
        {
            "fitness_test": {
                "protocol": "ekblom-bak-2016",
                "watts_low": 30.0,
                "hr_low": 95.0,
                "watts_high": 150.0,
                "hr_high": 110.0,
            }
        },
        [("fitness_test.hr_high", "fitness.hr_high_below_minimum")],
    ),
    (
        {
            "fitness_test": {
                "protocol": "ekblom-bak-2016",
                "watts_low": 30.0,
                "hr_low": 130.0,
                "watts_high": 30.0,
                "hr_high": 125.0,
            }
        },
        [
            ("fitness_test.watts_high", "fitness.work_rate_not_increasing"),
            ("fitness_test.hr_high", "fitness.hr_high_not_above_low"),
        ],
    ),
    (
        {"fitness_test": {"protocol": "astrand-ryhming", "watts": 100.0, "hr": 230.0}},
        [("fitness_test.hr", "value.out_of_range")],
    ),
    ({"measurements": {"weight_kg": 500.0}}, [("measurements.weight_kg", "value.out_of_range")]),
    ({"measurements": {"systolic": 120.0}}, [("measurements.diastolic", "value.missing")]),
    (
        {"measurements": {"systolic": 80.0, "diastolic": 90.0}},
        [("measurements.diastolic", "bp.diastolic_not_below_systolic")],
    ),
    (
        {
            "questionnaire": {
                "questionnaire_id": "imr-health-profile",
                "version": 1,
                "answers": {"sleep.duration": "h_99"},
            }
        },
        [("questionnaire.sleep.duration", "questionnaire.unknown_answer")],
    ),
    (
        {
            "questionnaire": {
                "questionnaire_id": "imr-health-profile",
                "version": 1,
                "answers": {"alcohol.frequency": "never", "alcohol.heavy_episodes": "weekly"},
            }
        },
        [("questionnaire.alcohol.heavy_episodes", "questionnaire.not_applicable")],
    ),
    (
        {
            "questionnaire": {
                "questionnaire_id": "imr-health-profile",
                "version": 7,
                "answers": {"sleep.duration": "h_6"},
            }
        },
        [("questionnaire", "questionnaire.unknown_version")],
    ),
    ({"held_on": "2999-01-01"}, [("held_on", "meeting.date_in_future")]),
    (
        {
            "fitness_test": {
                "protocol": "astrand-ryhming",
                "watts": 100.0,
                "hr": 140.0,
                "weight_kg": 90.0,
            }
        },
        [("fitness_test.weight_kg", "meeting.weight_differs")],
    ),
    (
        {"measurements": None, "questionnaire": None, "fitness_test": None, "notes": "   "},
        [(None, "meeting.empty")],
    ),
]


@pytest.mark.parametrize(("change", "expected"), INVALID, ids=[e[0][1] for _, e in INVALID])
async def test_invalid_values_are_refused_with_their_codes_and_nothing_is_stored(
    http, coaching, cecilia, session, change, expected
):
    before = audit_count(session)
    r = await save(http, cecilia, coaching.full.id, meeting_body(**change))
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "invalid_values"
    assert [(p.get("field"), p["code"]) for p in body["problems"]] == expected
    first_field, _ = expected[0]
    assert body["params"].get("field") == first_field
    assert audit_count(session) == before + 1 and last_audit(session).outcome == "denied"
    assert count(session, CoachingMeeting) == 0 and count(session, IdempotencyKey) == 0
    assert count(session, AuditEvent) == before + 1


async def test_every_problem_is_reported_at_once_with_its_params(http, coaching, cecilia):
    body = meeting_body(
        held_on="2999-01-01", measurements={"weight_kg": 20.0, "systolic": 150.0, "diastolic": 95.0}
    )
    body["fitness_test"]["hr_high"] = 100.0
    r = await save(http, cecilia, coaching.full.id, body)
    problems = r.json()["problems"]
    assert [(p["field"], p["code"]) for p in problems] == [
        ("held_on", "meeting.date_in_future"),
        ("measurements.weight_kg", "value.out_of_range"),
        ("fitness_test.hr_high", "fitness.hr_high_below_minimum"),
    ]
    assert problems[1]["params"] == {"value": 20.0, "min": 30, "max": 300, "unit": "kg"}
    assert problems[2]["params"] == {"value": 100.0, "min": 120}


async def test_wrong_types_are_refused_before_anything_runs(http, coaching, cecilia, session):
    for body in (
        meeting_body(measurements={"weight_kg": "82"}),
        meeting_body(kind="yearly"),
        meeting_body(fitness_test={"protocol": "cooper", "meters": 2400}),
        {**meeting_body(), "extra": 1},
    ):
        r = await save(http, cecilia, coaching.full.id, body)
        assert (r.status_code, r.json()["code"]) == (422, "invalid_request"), r.text
    assert count(session, CoachingMeeting) == 0
