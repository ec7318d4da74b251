"""Issued reports and the populations they rest on: kept, and read back for ``may_aggregate``.

A population's contribution is kept only as a keyed hash: HMAC-SHA-256 (RFC 2104) of the person's
id, the table and the value, with the **report key**. ``may_aggregate`` compares two reports'
contributions of the same person by equality, which the hash keeps; a copy of the database alone
gives no value away (a category has a handful of possible values, so a plain hash would hide
nothing), and the person's id in the message makes equal values of different people unequal.

The key comes from ``CLINIC_REPORT_KEY`` (shared by every API process), else from the OS keyring,
where it is created on first use (as the identity key is: ``services/findings/identity.py``); a
demo server without a working keyring uses a published demo key (its data is fictional). Each
report records the id of its key (a hash of it): a comparison with another key would take everyone
for changed and so see no differencing at all, so a report is refused while any earlier report of
the employer was hashed with another key (``KeyChanged``), never compared wrongly.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic_server.access.policy import AggregatePopulation, IssuedAggregate
from clinic_server.db.models import IssuedReport, ReportPopulation
from clinic_server.settings import Settings
from clinic_tui.api.schemas.reports import EmployerReport

__all__ = [
    "KeyChanged",
    "KeyMissing",
    "ReportKey",
    "issued_for",
    "previous_report",
    "report_key",
    "save",
    "tokenized",
]

KEYRING_SERVICE = "clinic-server"
#: the demo's report key where no keyring works: public on purpose, for the fictional demo data only
DEMO_SECRET = b"clinic-tui demo report key: public, for the fictional demo data only"


class KeyMissing(RuntimeError):
    """No report key: neither configured nor in a working keyring."""


class KeyChanged(RuntimeError):
    """An earlier report of the employer was hashed with another key: no comparison is possible."""


@dataclass(frozen=True)
class ReportKey:
    secret: bytes

    @property
    def key_id(self) -> str:
        return hashlib.sha256(b"clinic report key id\x00" + self.secret).hexdigest()[:16]

    def contribution(self, person_id: str, table: str, value: Hashable) -> str | None:
        if value is None:
            return None
        message = f"{person_id}\x00{table}\x00{type(value).__name__}:{value!r}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()


def _keyring_entry(settings: Settings) -> str:
    url = settings.database_url.split("@")[-1]  # the credentials are not part of the name
    return "report-key:" + hashlib.sha256(url.encode()).hexdigest()[:16]


def report_key(settings: Settings) -> ReportKey:
    """The deployment's report key: ``CLINIC_REPORT_KEY``, else the OS keyring (created there on
    first use). Raises ``KeyMissing`` if neither can give one."""
    if settings.report_key is not None:
        return ReportKey(settings.report_key.get_secret_value().encode())
    import keyring
    from keyring.errors import KeyringError

    entry = _keyring_entry(settings)
    try:
        stored = keyring.get_password(KEYRING_SERVICE, entry)
        if stored is None:
            stored = secrets.token_urlsafe(48)
            keyring.set_password(KEYRING_SERVICE, entry, stored)
    except KeyringError as exc:
        if settings.demo:
            # the demo's data is fictional: its published key is enough where no keyring works
            return ReportKey(DEMO_SECRET)
        raise KeyMissing(str(exc)) from exc
    if not stored:
        raise KeyMissing("the keyring gave an empty report key")
    return ReportKey(stored.encode())


def tokenized(key: ReportKey, populations: Sequence[AggregatePopulation]) -> tuple[AggregatePopulation, ...]:
    """The populations with each contribution replaced by its keyed hash (as stored)."""
    return tuple(
        AggregatePopulation(
            pop.table,
            {p: (a, key.contribution(p, pop.table, v)) for p, (a, v) in pop.members.items()},
            pop.groups,
        )
        for pop in populations
    )


def issued_for(session: Session, employer_id: str, key: ReportKey) -> list[IssuedAggregate]:
    """Every report issued for the employer, with its populations (as stored: hashed)."""
    reports = list(
        session.scalars(
            select(IssuedReport).where(IssuedReport.employer_id == employer_id).order_by(IssuedReport.period)
        )
    )
    if any(r.key_id != key.key_id for r in reports):
        raise KeyChanged(f"an issued report of employer {employer_id} was hashed with another key")
    if not reports:
        return []
    members: dict[str, dict[str, dict[str, tuple[str, str | None]]]] = defaultdict(lambda: defaultdict(dict))
    for row in session.execute(
        select(
            ReportPopulation.report_id,
            ReportPopulation.table_id,
            ReportPopulation.person_id,
            ReportPopulation.atom,
            ReportPopulation.contribution,
        ).where(ReportPopulation.report_id.in_([r.id for r in reports]))
    ):
        members[row.report_id][row.table_id][row.person_id] = (row.atom, row.contribution)
    out = []
    for r in reports:
        tables = set(r.groups) | set(members[r.id])
        pops = [
            AggregatePopulation(
                t,
                dict(members[r.id].get(t, {})),
                frozenset(frozenset(g) for g in r.groups.get(t, [])),
            )
            for t in sorted(tables)
        ]
        out.append(IssuedAggregate(r.id, r.employer_id, r.period, pops))
    return out


def previous_report(session: Session, employer_id: str, period: int) -> EmployerReport | None:
    """The issued report of the year before, for the changes."""
    row = session.scalar(
        select(IssuedReport).where(IssuedReport.employer_id == employer_id, IssuedReport.period == period - 1)
    )
    return EmployerReport.model_validate(row.report) if row is not None else None


def save(
    session: Session,
    *,
    employer_id: str,
    report: EmployerReport,
    populations: Sequence[AggregatePopulation],
    key: ReportKey,
    issued_by_id: str,
    now: datetime,
) -> IssuedReport:
    """Keep an issued report and its populations (``populations`` already ``tokenized``)."""
    row = IssuedReport(
        employer_id=employer_id,
        period=report.period,
        min_cell=report.min_cell,
        report_rule=report.report_rule,
        disclosure_rule=report.disclosure_rule,
        key_id=key.key_id,
        issued_by_id=issued_by_id,
        issued_at=now,
        report=report.model_dump(mode="json"),
        groups={pop.table: sorted(sorted(g) for g in pop.groups) for pop in populations},
    )
    session.add(row)
    session.flush()
    for pop in populations:
        for person_id, (atom_, contribution) in pop.members.items():
            session.add(
                ReportPopulation(
                    report_id=row.id,
                    table_id=pop.table,
                    person_id=person_id,
                    atom=atom_,
                    contribution=contribution,
                    created_at=now,
                )
            )
    session.flush()
    return row
