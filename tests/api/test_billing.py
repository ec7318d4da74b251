"""A billed service keeps the participant's name and that the service was used, with its
bookkeeping dates; the person's erasure unlinks it and keeps it until then."""

from datetime import date

import pytest

from clinic_server.services.billing import bill
from tests.rights_util import organizations

pytestmark = pytest.mark.api


def test_a_bill_holds_the_name_the_service_and_its_bookkeeping_dates(session, world):
    orgs = organizations(world, session)
    person = world.person("Ada", "Ek", employer=orgs.employer)
    row = bill(session, person, "health_profile_meeting", date(2026, 7, 3), fiscal_year_end_month=6)
    assert (row.name, row.employer_id, row.service) == ("Ada Ek", orgs.employer.id, "health_profile_meeting")
    assert row.fiscal_year_end == date(2027, 6, 30) and row.keep_until == date(2034, 12, 31)
    patient = world.person("Pat", "Ient")
    with pytest.raises(ValueError, match="employer"):
        bill(session, patient, "health_profile_meeting", date(2026, 7, 3))
