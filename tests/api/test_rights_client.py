"""The officer's typed client against the real app: the issue's "done when", step by step, as elsa
on the demo data set: find a person, show the extract with who accessed their data, write the FHIR
export and validate it, correct a value, erase a second person after the preview, verify the audit
chain, find nothing of the erased person anywhere, and list who a retention dry run would remove."""

from __future__ import annotations

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import select

from clinic_server.audit.chain import verify
from clinic_server.db.models import Person
from clinic_server.demo.accounts import DEMO_PASSWORD
from clinic_server.demo.seed import seed_demo
from clinic_tui.api.client import ApiError, ClinicClient
from clinic_tui.api.rights import RightsClient
from clinic_tui.domain.rights import ErasureMode
from tests.rights_util import scan

pytestmark = pytest.mark.api


@pytest.fixture
async def elsa(app, session):
    seed_demo(session, patients=30, participants=12, days=10)
    client = ClinicClient("http://127.0.0.1:1", transport=httpx.ASGITransport(app=app))
    await client.login("elsa", DEMO_PASSWORD)
    yield RightsClient(client)
    await client.aclose()


async def test_the_privacy_officers_walk_through(elsa, session, http):
    patients = session.scalars(select(Person).where(Person.employer_id.is_(None)).order_by(Person.id)).all()
    first, second = patients[0], patients[1]
    # a nurse of the person's care provider reads the record: the extract shows it
    anna = (await http.post("/auth/login", json={"username": "anna", "password": DEMO_PASSWORD})).json()
    await http.get(f"/patients/{first.id}", headers={"Authorization": f"Bearer {anna['access_token']}"})

    ref = await elsa.lookup(first.personnummer)
    assert ref.person_id == first.id and ref.account_active
    extract = await elsa.extract(ref.person_id)
    assert extract.categories and extract.consents
    assert any(a.username == "elsa" and a.action == "lookup" for a in extract.accesses)
    doc = await elsa.extract_document(ref.person_id, "en")
    assert doc.text.startswith("# Register extract")

    export = await elsa.export(ref.person_id)
    Bundle.model_validate(export.bundle)
    assert export.resource_counts["Patient"] == 1 and export.resource_counts["Observation"] > 0

    corrected = await elsa.rectify(ref.person_id, {"phone": "070-000 00 01"}, "new number")
    assert corrected.current == {"phone": "070-000 00 01"}

    marks = [second.personnummer, second.given_name + " " + second.family_name, second.email, second.phone]
    target = (await elsa.lookup(second.personnummer)).person_id
    preview = await elsa.erasure_preview(target)
    assert preview.deleted["person"] == 1
    assert preview.kept == ["audit_event", "finding", "finding_verdict"]
    with pytest.raises(ApiError) as stale:
        await elsa.erase(target, ErasureMode.DELETE, "0" * 32)
    assert stale.value.code == "confirmation_stale"
    done = await elsa.erase(target, ErasureMode.DELETE, preview.confirmation)
    assert done.deleted["person"] == 1
    assert scan(session, [m for m in marks if m]) == []
    # the chain still verifies (the supervisor's check; elsa has no audit duty)
    session.rollback()
    assert verify(session.connection()).ok

    due = await elsa.retention_preview()
    assert due.as_of and all(i.rule_id.startswith(("imr.", "imaginecare.")) for i in due.items)
    later = await elsa.retention_preview(due.as_of.replace(year=due.as_of.year + 2))
    assert len(later.items) >= len(due.items) and later.by_rule
