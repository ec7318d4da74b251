"""Rows of the people's rights as wire models (shared by registration, the officer's services and
the retention preview)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from clinic_server.db.models import Consent, Organization
from clinic_server.services import erasure
from clinic_tui.api.schemas.rights import ErasureOut, ErasurePreview, RetainedRows, SubjectConsent


def subject_consent(c: Consent, org: Organization, now: datetime) -> SubjectConsent:
    return SubjectConsent(
        id=c.id,
        organization_id=org.id,
        organization_name=org.name,
        organization_kind=org.kind,
        purpose=c.purpose,
        categories=sorted(c.categories),
        valid_from=c.valid_from,
        valid_until=c.valid_until,
        status=c.status,
        withdrawn_at=c.withdrawn_at,
        active=c.status == "active"
        and c.valid_from <= now
        and (c.valid_until is None or now < c.valid_until),
    )


def _retained(outcome: erasure.Outcome) -> list[RetainedRows]:
    return [RetainedRows(source=t, rows=n, until=d) for t, (n, d) in sorted(outcome.retained.items())]


def preview_out(session: Session, person_id: str, outcome: erasure.Outcome, now: datetime) -> ErasurePreview:
    return ErasurePreview(
        person_id=person_id,
        mode=outcome.mode,
        deleted=dict(sorted(outcome.deleted.items())),
        anonymized=dict(sorted(outcome.anonymized.items())),
        retained=_retained(outcome),
        kept=sorted(outcome.kept),
        legal_hold=bool(erasure.held(session, [person_id], now.date())),
        confirmation=outcome.confirmation([person_id]),
    )


def erasure_out(person_id: str, outcome: erasure.Outcome, now: datetime) -> ErasureOut:
    return ErasureOut(
        person_id=person_id,
        mode=outcome.mode,
        deleted=dict(sorted(outcome.deleted.items())),
        anonymized=dict(sorted(outcome.anonymized.items())),
        retained=_retained(outcome),
        done_at=now,
    )
