"""One audit record per unit of work: the one scope users' requests, devices, logins and jobs share.

A scope is opened when the work starts (by the request's dependency, the device check, the login,
the job), learns what the work is about as it goes (``about``, ``returned``, ``note``), and is
closed exactly once with the outcome. Closing appends the record in the work's own transaction
(``close_and_commit``), so the writes and their audit record commit together or not at all; a
scope that fails is rolled back first and then records the failure (``fail``). A second close is a
bug and raises: "exactly one record per request" is kept here and nowhere else.

Work that fails before anyone is known (a login refused by the throttle, an unknown device key)
is not worth a record of its own and could flood the chain: ``aggregate`` closes such a scope by
counting it in the tally instead (``audit/tally.py``: one record per minute, whatever the traffic).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from clinic_server.audit import tally
from clinic_server.audit.chain import RequestInfo, Who, append
from clinic_server.db import utcnow
from clinic_tui.domain.roles import Outcome, Purpose


def who_of(user, username: str | None = None) -> Who:
    """The audit record's "who" for a user row (or only the name typed, for a failed login)."""
    if user is None:
        return Who(None, username, None, None)
    return Who(user.id, user.username, user.role, user.organization_id)


#: the fields ``about`` may set
ABOUT = frozenset({"action", "resource_type", "resource_id", "person_id", "purpose"})


class ScopeAlreadyClosed(RuntimeError):
    """A unit of work tried to write a second audit record."""


@dataclass
class AuditScope:
    session: Session
    who: Who
    request: RequestInfo
    action: str = "request"
    resource_type: str = "request"
    resource_id: str | None = None
    person_id: str | None = None
    purpose: str = Purpose.UNKNOWN
    categories: set[str] = field(default_factory=set)
    details: dict[str, Any] = field(default_factory=dict)
    #: the reason recorded if the work ends well (the policy's reason, a summary of what was done)
    reason: str | None = None
    closed: bool = False
    seq: int | None = None
    #: the address the request came from (what the tally counts by)
    source: str | None = None
    #: the tally kind this work was counted under, when it left no record of its own
    aggregated: str | None = None

    def about(self, **fields: str | None) -> AuditScope:
        """Say what the work is about (action, resource, person, purpose), as soon as it is known."""
        unknown = set(fields) - ABOUT
        if unknown:
            raise TypeError(f"an audit scope has no field {sorted(unknown)}")
        for name, value in fields.items():
            if name == "resource_id" and value is not None:
                value = str(value)[:64]
            setattr(self, name, value)
        return self

    def returned(self, categories) -> None:
        """The response carries these categories (what the record lists as disclosed)."""
        self.categories |= {str(c) for c in categories}

    def note(self, **details: Any) -> None:
        self.details.update(details)

    def close(self, outcome: Outcome, reason: str | None = None) -> int:
        """Append the one record, in the session's transaction (the caller commits)."""
        if self.closed:
            raise ScopeAlreadyClosed(f"{self.action} already has its audit record (seq {self.seq})")
        self.seq = append(
            self.session,
            who=self.who,
            request=self.request,
            action=self.action,
            resource_type=self.resource_type,
            resource_id=self.resource_id,
            person_id=self.person_id,
            categories=self.categories if outcome == Outcome.ALLOWED else (),
            outcome=outcome,
            reason=(reason or self.reason or str(outcome))[:500],
            purpose=self.purpose,
            details=self.details,
        )
        self.closed = True
        return self.seq

    def close_and_commit(self, outcome: Outcome = Outcome.ALLOWED, reason: str | None = None) -> int:
        seq = self.close(outcome, reason)
        self.session.commit()
        return seq

    def aggregate(self, kind: str) -> None:
        """Close the scope by counting it in the tally (no record of its own); drops the work's
        writes, and commits the count."""
        if self.closed:
            raise ScopeAlreadyClosed(f"{self.action} already has its audit record (seq {self.seq})")
        self.session.rollback()
        tally.count(self.session, kind, self.source, utcnow())
        self.session.commit()
        self.closed = True
        self.aggregated = kind

    def fail(self, outcome: Outcome, reason: str) -> int:
        """The work did not go through: drop its writes, then record why (and commit that)."""
        self.session.rollback()
        return self.close_and_commit(outcome, reason)
