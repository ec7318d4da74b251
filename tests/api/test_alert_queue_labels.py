"""The queue's labels are the same whichever page a person is on: a name is told apart from every
other person the queue names (issue 13.11), not only from those on the same page, and never from
someone the queue does not name (no consent to the nurse's organization, or one without identity)."""

from datetime import date, timedelta

import pytest

from clinic_tui.domain.categories import Category
from tests.conftest import bearer, login
from tests.vitals_util import clinic, device, now, obs, post

pytestmark = pytest.mark.api


@pytest.fixture
def c(world, session):
    return clinic(world, session)


async def test_a_label_is_qualified_by_namesakes_on_other_pages_only_where_named(c, http, world, session):
    twins = [
        world.person("Johanna", "Hansson", birth=date(1957, 1, 3)),
        world.person("Johanna", "Hansson", birth=date(1984, 7, 13)),
    ]
    for person in twins:
        world.consent(person, c.north)
    # namesakes the queue does not name: no consent to the north; a consent without identity
    elsewhere = world.person("Kerstin", "Lund", birth=date(1950, 2, 2))
    world.consent(elsewhere, c.south)
    unnamed = world.person("Kerstin", "Lund", birth=date(1951, 3, 3))
    world.consent(unnamed, c.north, categories=sorted({Category.VITALS, Category.CONDITIONS}))
    kerstin = world.person("Kerstin", "Lund", birth=date(1952, 4, 4))
    world.consent(kerstin, c.north)
    session.commit()
    for i, person in enumerate([*twins, elsewhere, unnamed, kerstin]):
        await post(http, device(session, person), obs("8480-6", 186 + i, now() - timedelta(minutes=5 + i)))
    anna = bearer(await login(http, "anna"))
    labels: dict[str, str] = {}
    after = None
    while True:  # one alert per page: every namesake is on another page
        params = {"state": "all", "limit": 1, **({"after": after} if after else {})}
        r = await http.get("/alerts", headers=anna, params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        for item in body["items"]:
            labels.setdefault(item["person_id"], item["label"])
        after = body["next_cursor"]
        if not after:
            break
    assert labels[twins[0].id] == "Johanna Hansson (1957-01-03)"
    assert labels[twins[1].id] == "Johanna Hansson (1984-07-13)"
    assert labels[kerstin.id] == "Kerstin Lund"
    assert elsewhere.id not in labels
    assert "Kerstin" not in labels[unnamed.id]
    # the whole queue on one page says the same
    r = await http.get("/alerts", headers=anna, params={"state": "all", "limit": 500})
    whole = {item["person_id"]: item["label"] for item in r.json()["items"]}
    assert {pid: whole[pid] for pid in labels} == labels
