"""No endpoint can skip the guard or the audit record.

- every route of the app but the public facts is an audited route;
- a route module never decides, audits, compares roles or touches the database itself;
- a new personal-data endpoint, written the way docs/architecture.md says (a service function and
  a thin route), is guarded and leaves exactly one record whatever happens.
"""

from __future__ import annotations

import ast
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute

from clinic_server.access.guard import Guard
from clinic_server.access.policy import Action
from clinic_server.api.deps import GuardDep
from clinic_server.api.routing import AUDITED, AuditedRouter, audited
from clinic_tui.domain.categories import Category
from tests.conftest import audit_count, bearer, last_audit, login

pytestmark = pytest.mark.api

ROUTES = Path(__file__).resolve().parents[2] / "clinic_server" / "api" / "routes"
PUBLIC = {"/health", "/info"}


def _api_routes(routes) -> list[APIRoute]:
    """Every API route, also inside included routers (FastAPI >= 0.16x keeps them as routers)."""
    out = []
    for route in routes:
        if isinstance(route, APIRoute):
            out.append(route)
        elif getattr(route, "original_router", None) is not None:
            out += _api_routes(route.original_router.routes)
    return out


def test_every_route_but_the_public_facts_is_audited(app):
    routes = _api_routes(app.routes)
    assert len(routes) > 15
    unaudited = sorted(r.path for r in routes if not getattr(r.endpoint, AUDITED, False))
    assert set(unaudited) == PUBLIC, f"routes without the audit wrapper: {set(unaudited) - PUBLIC}"


def test_an_endpoint_without_a_scope_cannot_be_registered():
    router = AuditedRouter()

    def sneaky(person_id: str) -> dict:
        return {"id": person_id}

    with pytest.raises(TypeError, match="exactly one of GuardDep"):
        router.add_api_route("/sneaky/{person_id}", sneaky)
    with pytest.raises(TypeError, match="exactly one of GuardDep"):
        audited(sneaky)


FORBIDDEN_CALLS = {
    "decide",
    "authorize",
    "append",
    "close",
    "close_and_commit",
    "fail",
    "load_facts",
    "commit",
}
FORBIDDEN_IMPORTS = ("sqlalchemy", "clinic_server.db", "clinic_server.audit", "clinic_server.access.policy")


@pytest.mark.parametrize("path", sorted(ROUTES.glob("*.py")), ids=lambda p: p.name)
def test_a_route_module_only_parses_calls_a_service_and_returns(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            assert not node.module.startswith(FORBIDDEN_IMPORTS), f"{path.name} imports {node.module}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                assert not alias.name.startswith(FORBIDDEN_IMPORTS), f"{path.name} imports {alias.name}"
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            assert name not in FORBIDDEN_CALLS, f"{path.name} calls {name}() itself"
        if isinstance(node, ast.Compare):
            # role checks belong to the action table beside decide
            text = ast.unparse(node)
            assert "role" not in text and "Role." not in text, f"{path.name} compares roles: {text}"
        if isinstance(node, ast.Constant) and node.value in {"nurse", "coach", "supervisor"}:
            raise AssertionError(f"{path.name} spells a role: {node.value!r}")


# --------------------------------------------------------------------------- a new endpoint


def _contact_card(guard: Guard, person_id: str) -> dict:
    """A service a newcomer might write: one person's contact details, nothing else."""
    access = guard.person(person_id, Action.READ_RECORD, verb="read", resource_type="contact_card")
    if not access.may(Category.CONTACT):
        return {"person_id": access.person.id, "phone": None}
    guard.scope.returned({Category.CONTACT})
    return {"person_id": access.person.id, "phone": access.person.phone}


def _failing(guard: Guard, person_id: str) -> dict:
    guard.person(person_id, Action.READ_RECORD, verb="read", resource_type="contact_card")
    raise RuntimeError("a bug after the guard allowed it")


@pytest.fixture
def with_new_endpoint(app):
    router = AuditedRouter(prefix="/example", tags=["example"])

    @router.get("/{person_id}/contact-card")
    def contact_card(person_id: str, guard: GuardDep) -> dict:
        return _contact_card(guard, person_id)

    @router.get("/{person_id}/broken")
    def broken(person_id: str, guard: GuardDep) -> dict:
        return _failing(guard, person_id)

    app.include_router(router, prefix="/api/v1")
    return app


@pytest.fixture
def people(world, session):
    north = world.org("Vårdcentralen Norra")
    south = world.org("Hjärtmottagningen Söder")
    world.user("anna", "nurse", north)
    world.user("bertil", "nurse", south)
    world.user("david", "supervisor", north)
    nora = world.person("Nora", "Norrman")
    vera = world.person("Vera", "Vitalsonly")
    world.consent(nora, north)
    world.consent(vera, north, categories=["vitals"])
    session.commit()
    return {"nora": nora, "vera": vera}


@pytest.fixture
async def http_500(with_new_endpoint):
    """A client that gets the app's 500 answer instead of the exception (as a real client would)."""
    transport = httpx.ASGITransport(app=with_new_endpoint, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver/api/v1") as client:
        yield client


async def test_a_new_endpoint_is_guarded_and_leaves_one_record_each_time(http_500, people, session):
    http = http_500
    anna = bearer(await login(http, "anna"))
    nora, vera = people["nora"], people["vera"]

    before = audit_count(session)
    r = await http.get(f"/example/{nora.id}/contact-card", headers=anna)
    assert r.status_code == 200 and r.json()["phone"] == nora.phone
    rec = last_audit(session)
    assert audit_count(session) == before + 1
    assert (rec.outcome, rec.action, rec.resource_type, rec.person_id, rec.username, rec.purpose) == (
        "allowed",
        "read",
        "contact_card",
        nora.id,
        "anna",
        "care",
    )
    assert rec.categories == ["contact"]

    # a category the consent does not cover is not shown, and the record says nothing was disclosed
    r = await http.get(f"/example/{vera.id}/contact-card", headers=anna)
    assert r.status_code == 200 and r.json()["phone"] is None
    assert audit_count(session) == before + 2 and last_audit(session).categories == []

    # another organization's nurse, a supervisor, an unknown id: the same refusal, one record each
    bertil = bearer(await login(http, "bertil"))
    david = bearer(await login(http, "david"))
    for headers, pid in ((bertil, nora.id), (david, nora.id), (anna, "f" * 32)):
        before = audit_count(session)
        r = await http.get(f"/example/{pid}/contact-card", headers=headers)
        assert r.status_code == 403 and r.json()["code"] == "not_permitted"
        assert r.json()["message"] == "You do not have access to this."
        assert audit_count(session) == before + 1
        assert last_audit(session).outcome == "denied" and last_audit(session).categories == []

    # a failure after the guard: rolled back, one record with the outcome "error"
    before = audit_count(session)
    r = await http.get(f"/example/{nora.id}/broken", headers=anna)
    assert r.status_code == 500 and r.json()["code"] == "server_error"
    assert audit_count(session) == before + 1
    rec = last_audit(session)
    assert (rec.outcome, rec.person_id) == ("error", nora.id) and "RuntimeError" in rec.reason


def test_a_public_router_is_plain():
    from clinic_server.api.routes import info

    assert type(info.router) is APIRouter
