"""The alert queue's page query walks the queue index (SQLite's planner; PostgreSQL has its own)."""

import random
from datetime import date, timedelta

import pytest
from sqlalchemy import insert, select, update

from clinic_server.access.policy import Actor
from clinic_server.access.visible_sql import allows
from clinic_server.db import make_engine
from clinic_server.db.migrate import upgrade
from clinic_server.db.models import Alert, Consent, Organization, Person
from clinic_tui.domain.categories import Category
from tests.api.test_alerts import _bulk_alerts, c  # noqa: F401, F811 - c is the world fixture
from tests.vitals_util import now

pytestmark = pytest.mark.api


@pytest.fixture
def db_url(tmp_path) -> str:
    """Always SQLite here, also in the PostgreSQL pass: the plan under test is SQLite's."""
    url = f"sqlite:///{tmp_path / 'plan.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.mark.parametrize("state", ["open", "active"])
async def test_the_page_query_walks_the_queue_index(c, session, state):  # noqa: F811
    """Each state's part of the page query walks ix_alert_queue in order: never a fetch-and-sort of
    every open alert of the visible people (even with statistics that favour the person index)."""
    from sqlalchemy import text

    from clinic_server.db.queries import keyset_page
    from clinic_server.services.alerts import QUEUE_KEY, Visible, state_parts

    CATS = (Category.VITALS, Category.CONDITIONS, Category.IDENTITY)

    # many people with few alerts each: the statistics then favour the person index
    t = now()
    session.execute(
        insert(Person),
        [
            {"id": f"{i:032x}", "personnummer": f"{i:012d}", "given_name": "G", "family_name": "F",
             "birth_date": date(1950, 1, 1), "sex": "female", "restricted": False, "sends_daily": True,
             "created_at": t}
            for i in range(400)
        ],
    )  # fmt: skip
    _bulk_alerts(session, list(session.scalars(select(Person))), 1600, random.Random(3))
    # as the queue filters them: half the people consent to the nurse's organization (vitals, and
    # some of them conditions and identity)
    org = session.scalar(select(Organization.id).order_by(Organization.id).limit(1))
    visible = [f"{i:032x}" for i in range(0, 400, 2)]
    session.execute(
        insert(Consent),
        [
            {"id": f"c{i:031x}", "person_id": pid, "organization_id": org, "purpose": "care",
             "categories": ["vitals", "identity", "conditions"] if i % 3 == 0 else ["vitals"],
             "valid_from": t - timedelta(days=30), "valid_until": None, "status": "active", "created_at": t}
            for i, pid in enumerate(visible)
        ],
    )  # fmt: skip
    session.execute(update(Alert).values(state="open"))  # a queue of open alerts: state selects nothing
    session.execute(text("ANALYZE"))
    session.commit()
    captured = []

    class Spy:
        def execute(self, stmt):
            captured.append(stmt)
            return []

    # as the queue builds it: the visible people (SQL), some of whom withhold their conditions
    nurse = Actor("n", "nurse", "nurse", org, "care_provider")
    shown = Visible(*(allows(session, nurse, now(), c, consent_only=True) for c in CATS))
    keyset_page(
        Spy(),
        key=QUEUE_KEY,
        parts=state_parts(state, now()),
        filters=[shown.shown(session, drive_index=False)],
        after=None if state == "open" else (1, now(), 5),
        limit=50,
    )
    sql = str(captured[0].compile(session.bind, compile_kwargs={"literal_binds": True}))
    plan = [str(r[-1]) for r in session.execute(text("EXPLAIN QUERY PLAN " + sql))]
    scans = [line for line in plan if " alert " in f" {line} "]
    assert scans and all("USING INDEX ix_alert_queue (state=?" in line for line in scans), plan
