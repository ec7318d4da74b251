"""Billing records: that a participant used an IMR service, kept for bookkeeping.

IMR §4 row 1: "Om du använder vår tjänster genom din arbetsgivare kan vi, i samband med
fakturering, behandla uppgifter om ditt namn och att du har använt våra tjänster." The record holds
exactly that (name, service, day, the employer billed) and its bookkeeping dates: the end of IMR's
fiscal year containing the day, and the last day it is kept (31 December of the seventh year after
the calendar year in which that fiscal year ended; ``clinic_tui/domain/rights.py``). An erasure
unlinks it from the person and keeps it until then; the retention job removes it after.

The coach's meetings call ``bill`` when a meeting is held (in the meeting's transaction).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from clinic_server.db.models import BillingRecord, Person
from clinic_tui.domain.rights import bookkeeping_keep_until, fiscal_year_end


def bill(
    session: Session, person: Person, service: str, served_on: date, fiscal_year_end_month: int = 12
) -> BillingRecord:
    """Record that ``person`` used ``service`` on ``served_on``, billed to their employer."""
    if person.employer_id is None:
        raise ValueError("only a participant with an employer is billed (through the employer)")
    fiscal = fiscal_year_end(served_on, fiscal_year_end_month)
    row = BillingRecord(
        person_id=person.id,
        employer_id=person.employer_id,
        service=service,
        service_date=served_on,
        name=f"{person.given_name} {person.family_name}",
        fiscal_year_end=fiscal,
        keep_until=bookkeeping_keep_until(fiscal),
    )
    session.add(row)
    session.flush()
    return row
