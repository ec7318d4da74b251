"""Schemathesis over the OpenAPI document: every operation, as every role, on the real app in-process.

Valid and invalid requests generated from the document (bounded: a few examples per operation and
role, so the whole run stays within a few minutes on CI's two cores) must never get a 5xx, and
every answer must match the schema the document gives for its status. The world behind it has
people of each kind of consent, alerts and a device, so requests reach the services, not only the
validation; each role calls with a session of its own.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from clinic_server.api.app import create_app
from clinic_server.settings import Settings
from tests.conftest import access_token
from tests.dbutil import fresh_database
from tests.factories import World
from tests.vitals_util import clinic

pytestmark = pytest.mark.api

ROLES = {"nurse": "anna", "supervisor": "david", "coach": "cecilia", "privacy_officer": "paula"}
EXAMPLES = int(os.environ.get("CLINIC_FUZZ_EXAMPLES", "6"))


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory):
    url = fresh_database(tmp_path_factory.mktemp("fuzz"))
    app = create_app(Settings(database_url=url, secret_key="fuzz-secret-" + "z" * 40, slow_seconds=0.0))
    with app.state.sessionmaker() as session:
        world = World(session)
        c = clinic(world, session)
        imr = world.org("IMR", kind="imr")
        coach = world.user("cecilia", "coach", imr)
        world.user("paula", "privacy_officer", c.north)
        world.assign(coach, c.people["nora"])
        world.consent(c.people["nora"], imr, purpose="coaching")
        session.commit()
        app.state.fuzz_people = {name: p.id for name, p in c.people.items()}
    yield app
    app.state.engine.dispose()


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_app):
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", fuzz_app)


schema = schemathesis.pytest.from_fixture("fuzz_schema")


@pytest.fixture(scope="module")
def role_headers(fuzz_app):
    """A bearer token per role, each of a session of its own."""
    from sqlalchemy import select

    from clinic_server.db.models import User

    out = {}
    with fuzz_app.state.sessionmaker() as session:
        for role, name in ROLES.items():
            user = session.scalar(select(User).where(User.username == name))
            token = access_token(session, user, fuzz_app.state.settings.secret_key, minutes=60)
            out[role] = {"Authorization": f"Bearer {token}"}
    return out


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_error_and_answers_match_the_document(case, role_headers):
    # logging out would end the role's session for every later case: it is tested on its own
    if case.path == "/api/v1/auth/logout":
        case.headers = None
        case.call_and_validate(checks=CHECKS)
        return
    for headers in role_headers.values():
        case.call_and_validate(headers=headers, checks=CHECKS)
    case.call_and_validate(checks=CHECKS)  # and without a token


CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
