"""The alert queue reuses its policy answers across requests only while they hold.

Every test first shows that the second of two identical requests was answered from the cache (so
the invalidation that follows is what is being tested), then changes one fact the policy reads,
through the API, through SQL on another connection (as the CLI or an operator would), or by
letting the clock pass a consent's start or end, and checks the very next request.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, text, update

from clinic_server.db.models import Consent, Person, PolicyGeneration, User
from clinic_tui.domain.codes import LOINC_DIASTOLIC, LOINC_SYSTOLIC
from tests.conftest import bearer, login
from tests.vitals_util import clinic, now, obs, post

pytestmark = pytest.mark.api


@pytest.fixture
def c(world, session):
    return clinic(world, session)


async def _raise_bp(http, c, name: str) -> None:
    r = await post(http, c.keys[name], obs(LOINC_SYSTOLIC, 186), obs(LOINC_DIASTOLIC, 92))
    assert r.status_code == 200, r.text


async def _labels(http, headers) -> list[str]:
    r = await http.get("/alerts", headers=headers)
    assert r.status_code == 200, r.text
    return [a["label"] for a in r.json()["items"]]


async def _cached_twice(app, http, headers) -> list[str]:
    """Ask twice; the second answer must come from the cache, and say the same."""
    cache = app.state.visible_cache
    first = await _labels(http, headers)
    hits = cache.hits
    assert await _labels(http, headers) == first
    assert cache.hits == hits + 1, "the second request should have reused the policy answer"
    return first


def _raw(app, sql: str, **params) -> None:
    """A write on its own connection and transaction, as another process would make it."""
    with app.state.engine.begin() as conn:
        conn.execute(text(sql), params)


async def test_a_consent_withdrawn_through_the_api_applies_to_the_next_request(app, http, c, session):
    await _raise_bp(http, c, "nora")
    anna = bearer(await login(http, "anna"))
    assert "Nora Norrman" in await _cached_twice(app, http, anna)
    consent = session.scalar(
        select(Consent).where(Consent.person_id == c.people["nora"].id, Consent.organization_id == c.north.id)
    )
    r = await http.post(f"/patients/{consent.person_id}/consents/{consent.id}/withdraw", headers=anna)
    assert r.status_code == 200, r.text
    assert "Nora Norrman" not in await _labels(http, anna)


async def test_a_restriction_set_by_a_supervisor_applies_to_the_next_request(app, http, c):
    await _raise_bp(http, c, "nora")
    anna = bearer(await login(http, "anna"))
    david = bearer(await login(http, "david"))
    assert "Nora Norrman" in await _cached_twice(app, http, anna)
    nora = c.people["nora"].id
    r = await http.post(f"/patients/{nora}/restriction", headers=david, json={"restricted": True})
    assert r.status_code == 200, r.text
    assert "Nora Norrman" not in await _labels(http, anna)


async def test_writes_made_outside_the_api_apply_to_the_next_request(app, http, c):
    await _raise_bp(http, c, "nora")
    await _raise_bp(http, c, "bo")
    anna = bearer(await login(http, "anna"))
    nora, bo = c.people["nora"].id, c.people["bo"].id
    assert {"Nora Norrman", "Bo Bägge"} <= set(await _cached_twice(app, http, anna))

    # a consent ends by hand-run SQL
    _raw(app, "UPDATE consent SET status = 'withdrawn' WHERE person_id = :p AND organization_id = :o",
         p=bo, o=c.north.id)  # fmt: skip
    assert "Bo Bägge" not in await _cached_twice(app, http, anna)

    # identity leaves the consent: the name gives way to the pseudonym
    _raw(app, "DELETE FROM consent WHERE person_id = :p", p=nora)
    assert await _labels(http, anna) == []
    _raw(app, "INSERT INTO consent (id, person_id, organization_id, categories, purpose, valid_from, status, "
              "created_at) VALUES ('c-vitals-only', :p, :o, '[\"vitals\"]', 'care', :t, 'active', :t)",
         p=nora, o=c.north.id, t=(now() - timedelta(days=1)).replace(tzinfo=None))  # fmt: skip
    labels = await _cached_twice(app, http, anna)
    assert len(labels) == 1 and labels[0].startswith("Patient ") and "Nora" not in labels[0]

    # a name change reaches the queue's labels (they are kept with the answer)
    _raw(app, "UPDATE consent SET categories = '[\"vitals\", \"identity\"]' WHERE id = 'c-vitals-only'")
    assert await _cached_twice(app, http, anna) == ["Nora Norrman"]
    _raw(app, "UPDATE person SET family_name = 'Nyberg' WHERE id = :p", p=nora)
    assert await _labels(http, anna) == ["Nora Nyberg"]


async def test_the_clock_passing_a_consent_boundary_applies_without_any_write(app, http, c, session):
    await _raise_bp(http, c, "nora")
    await _raise_bp(http, c, "bo")
    anna = bearer(await login(http, "anna"))
    assert {"Nora Norrman", "Bo Bägge"} <= set(await _cached_twice(app, http, anna))
    # nora's consent to north runs out in a moment; bo's is replaced by one that starts a bit later
    ends, starts = now() + timedelta(seconds=1.5), now() + timedelta(seconds=2.5)
    session.execute(
        update(Consent)
        .where(Consent.person_id == c.people["nora"].id, Consent.organization_id == c.north.id)
        .values(valid_until=ends)
    )
    session.execute(
        update(Consent)
        .where(Consent.person_id == c.people["bo"].id, Consent.organization_id == c.north.id)
        .values(valid_from=starts)
    )
    session.commit()
    generation = session.scalar(select(PolicyGeneration.value))

    async def at(moment):
        await asyncio.sleep(max(0.0, (moment - now()).total_seconds()) + 0.1)

    labels = await _cached_twice(app, http, anna)
    assert "Nora Norrman" in labels and "Bo Bägge" not in labels
    await at(ends)
    labels = await _cached_twice(app, http, anna)
    assert "Nora Norrman" not in labels and "Bo Bägge" not in labels
    # bo was nobody's candidate a moment ago: his consent's start must still end the cached answer
    await at(starts)
    labels = await _labels(http, anna)
    assert "Nora Norrman" not in labels and "Bo Bägge" in labels
    session.rollback()
    assert session.scalar(select(PolicyGeneration.value)) == generation  # nothing was written


def test_every_watched_write_changes_the_generation(app, c, session):
    """The triggers of migration 0004 fire for each table and column the policy reads, not others."""

    def gen() -> int:
        session.rollback()
        return session.scalar(select(PolicyGeneration.value))

    nora = c.people["nora"].id
    anna = session.scalar(select(User.id).where(User.username == "anna"))
    t = (now() + timedelta(hours=1)).replace(tzinfo=None)
    writes = [
        ("UPDATE person SET restricted = restricted WHERE id = :p", True),
        ("UPDATE person SET birth_date = birth_date WHERE id = :p", True),
        ("UPDATE person SET given_name = 'Nore' WHERE id = :p", True),
        ("UPDATE person SET phone = '070-000 00 00' WHERE id = :p", False),
        ("UPDATE person SET sends_daily = sends_daily WHERE id = :p", False),
        ("UPDATE consent SET categories = categories WHERE person_id = :p", True),
        ("INSERT INTO break_glass_grant (id, user_id, person_id, reason, created_at, expires_at) "
         "VALUES ('g1', :u, :p, 'unconscious at home visit', :t, :t)", True),
        ("UPDATE break_glass_grant SET review_note = 'ok' WHERE person_id = :p", False),
        ("UPDATE break_glass_grant SET expires_at = :t WHERE person_id = :p", True),
        ("DELETE FROM break_glass_grant WHERE person_id = :p", True),
        ("DELETE FROM consent WHERE person_id = :p", True),
    ]  # fmt: skip
    for sql, changes in writes:
        before = gen()
        _raw(app, sql, p=nora, u=anna, t=t)
        assert (gen() != before) is changes, sql
    # and through the ORM, in the caller's own transaction
    before = gen()
    session.execute(update(Person).where(Person.id == nora).values(restricted=True))
    session.commit()
    assert gen() != before
