import pytest

from clinic_tui.domain.personnummer import format_display
from tests.conftest import bearer, last_audit, login

pytestmark = pytest.mark.api

REASON = "Unconscious at the ED, no relatives reachable"


@pytest.fixture
def setup(world, session):
    north = world.org("Norra")
    world.user("anna", "nurse", north)
    world.user("cecilia", "coach", world.org("IMR", kind="imr"))
    ulla = world.person("Ulla", "Utan")
    nora = world.person("Nora", "Norrman")
    world.consent(nora, north)
    session.commit()
    return {"ulla": ulla, "nora": nora}


async def test_nurse_opens_a_record_by_personnummer_with_a_reason(http, setup, session):
    tokens = await login(http, "anna")
    ulla = setup["ulla"]
    r = await http.post(
        "/break-glass",
        json={"personnummer": format_display(ulla.personnummer), "reason": REASON},
        headers=bearer(tokens),
    )
    assert r.status_code == 201, r.text
    assert r.json()["person_id"] == ulla.id
    rec = last_audit(session)
    assert (rec.action, rec.outcome, rec.purpose, rec.person_id) == (
        "break_glass",
        "allowed",
        "emergency",
        ulla.id,
    )
    detail = await http.get(f"/patients/{ulla.id}", headers=bearer(tokens))
    assert detail.status_code == 200 and detail.json()["access_basis"] == "break_glass"


@pytest.mark.parametrize(
    ("pnr", "status", "code"),
    [("19121212-1213", 422, "invalid_personnummer"), ("19121212-1212", 404, "not_found")],
)
async def test_bad_or_unknown_numbers_are_refused_and_audited(http, setup, session, pnr, status, code):
    tokens = await login(http, "anna")
    r = await http.post("/break-glass", json={"personnummer": pnr, "reason": REASON}, headers=bearer(tokens))
    assert r.status_code == status and r.json()["code"] == code
    rec = last_audit(session)
    assert (rec.action, rec.outcome) == ("break_glass", "denied")


async def test_short_reason_and_non_nurses_are_refused(http, setup):
    pnr = setup["ulla"].personnummer
    tokens = await login(http, "anna")
    r = await http.post(
        "/break-glass", json={"personnummer": pnr, "reason": "urgent"}, headers=bearer(tokens)
    )
    assert r.status_code == 422
    coach = await login(http, "cecilia")
    r = await http.post("/break-glass", json={"personnummer": pnr, "reason": REASON}, headers=bearer(coach))
    assert r.status_code == 403


async def test_consent_access_is_409(http, setup):
    tokens = await login(http, "anna")
    r = await http.post(
        "/break-glass",
        json={"personnummer": setup["nora"].personnummer, "reason": REASON},
        headers=bearer(tokens),
    )
    assert r.status_code == 409
