"""The coach's typed client (``CoachApi``) against the real app: the idempotency key travels as a
header and a retry returns the same meeting; refusals arrive as typed errors carrying what the
screens need (the missing consents, each problem with its field)."""

from __future__ import annotations

import httpx
import pytest

from clinic_tui.api.client import ClinicClient, Forbidden
from clinic_tui.api.coach import (
    CoachApi,
    ConsentMissing,
    InvalidValues,
    KeyReused,
    StaleMeeting,
    new_idempotency_key,
)
from clinic_tui.api.schemas.coach import (
    AstrandRyhmingIn,
    Change,
    CorrectionIn,
    EkblomBakIn,
    MeasurementsIn,
    MeetingIn,
)
from clinic_tui.domain.meeting import MeetingKind
from tests.coaching_util import build_coaching, yesterday
from tests.factories import PASSWORD

pytestmark = pytest.mark.api


@pytest.fixture
def coaching(world):
    return build_coaching(world)


@pytest.fixture
async def api(app, coaching):
    client = ClinicClient("http://127.0.0.1", transport=httpx.ASGITransport(app=app))
    await client.login("cecilia", PASSWORD)
    yield CoachApi(client)
    await client.aclose()


def meeting(**kw) -> MeetingIn:
    return MeetingIn(
        held_on=yesterday(),
        kind=MeetingKind.FIRST,
        measurements=MeasurementsIn(height_cm=170, weight_kg=70, systolic=118, diastolic=76),
        fitness_test=EkblomBakIn(watts_low=30, hr_low=100, watts_high=105, hr_high=140),
        **kw,
    )


async def test_a_draft_saved_twice_with_its_key_is_one_meeting(api, coaching):
    draft_key = new_idempotency_key()
    first = await api.save_meeting(coaching.full.id, meeting(), idempotency_key=draft_key)
    again = await api.save_meeting(coaching.full.id, meeting(), idempotency_key=draft_key)
    assert again == first
    history = await api.history(coaching.full.id)
    assert [m.id for m in history.meetings] == [first.id]
    assert history.vo2max_ml_kg_min[0].value == pytest.approx(first.current.fitness_test.vo2max_ml_kg_min)
    with pytest.raises(KeyReused):
        await api.save_meeting(coaching.full.id, meeting(notes="other"), idempotency_key=draft_key)
    assert (await api.meeting(first.id)) == first


async def test_a_missing_consent_is_named(api, coaching):
    with pytest.raises(ConsentMissing) as err:
        await api.save_meeting(coaching.fitness_only.id, meeting(), idempotency_key=new_idempotency_key())
    assert err.value.missing == ["vitals"] and err.value.status == 403
    assert isinstance(err.value, Forbidden)
    with pytest.raises(ConsentMissing) as err:
        await api.history(coaching.legit.id)
    assert err.value.missing == ["fitness_tests", "profiling", "questionnaires", "vitals"]
    # another coach's participant: a plain refusal that names nothing
    with pytest.raises(Forbidden) as plain:
        await api.history(coaching.olofs.id)
    assert not isinstance(plain.value, ConsentMissing) and plain.value.params == {}


async def test_problems_arrive_per_field(api, coaching):
    bad = meeting().model_copy(update={"fitness_test": AstrandRyhmingIn(watts=100, hr=100)})
    with pytest.raises(InvalidValues) as err:
        await api.save_meeting(coaching.full.id, bad, idempotency_key=new_idempotency_key())
    [problem] = err.value.for_field("fitness_test.hr")
    assert (problem.code, problem.params) == ("fitness.hr_high_below_minimum", {"value": 100.0, "min": 120})


async def test_correct_and_object(api, coaching):
    saved = await api.save_meeting(coaching.full.id, meeting(), idempotency_key=new_idempotency_key())
    fixed = await api.correct(
        saved.id,
        CorrectionIn(
            expected_revision=1,
            reason="Wrong weight",
            changes=[Change(field="measurements.weight_kg", value=72.5)],
        ),
    )
    assert fixed.current_revision == 2 and fixed.earlier[0].current is False
    assert fixed.revisions[-1].changes[:2] == ["measurements.bmi", "measurements.weight_kg"]
    with pytest.raises(StaleMeeting) as err:
        await api.correct(
            saved.id,
            CorrectionIn(expected_revision=1, reason="again", changes=[Change(field="notes", value="x")]),
        )
    assert err.value.current_revision == 2
    objection = await api.object_to_profiling(coaching.full.id)
    assert objection.active
    rows = {row.id: row for row in (await api.participants()).items}
    assert rows[coaching.full.id].objected_to_profiling is True
    assert rows[coaching.fitness_only.id].objected_to_profiling is False
    assert (await api.withdraw_objection(coaching.full.id)).active is False
