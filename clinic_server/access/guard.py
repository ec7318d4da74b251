"""The one guard every personal-data request goes through.

A route's ``Guard`` (built per request by ``api/deps.py``) holds the caller, the request's
database session and its audit scope. A service asks it for what it needs by naming an ``Action``
(``policy.ACTIONS``):

- ``guard.person(person_id, Action.X, ...)`` loads the person and the facts, asks
  ``policy.authorize``, and returns an ``Access`` (the person and the decision: which categories
  the response may carry) or raises a uniform 403 that names nothing (the policy's reason goes to
  the audit record only, and an unknown id is refused exactly like a hidden one); the one
  exception is an ``explain_missing`` action refused only for want of categories the caller's
  basis does not cover, whose 403 ``consent_missing`` names them (``policy.py`` explains why);
- ``guard.people(Action.X)`` does the same for everyone the caller might see (lists, the queue);
- ``guard.duty(Action.X, ...)`` for actions that are a role's own duty (the audit log).

Each call also tells the audit scope what the request is about; the response's categories and
people are recorded with ``disclose``. The scope's one record is written when the request ends
(allowed, denied or error), in the same transaction as the request's writes: by the audited route
wrapper (``api/routing.py``) on success and by the exception handlers on failure. Nothing else in
the server writes audit records for requests, decides access, or compares roles.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from clinic_server.access import facts as facts_
from clinic_server.access.policy import ACTIONS, Action, Actor, Decision, PersonFacts, authorize, purpose_for
from clinic_server.audit.scope import AuditScope
from clinic_server.db.models import Person, User
from clinic_server.errors import consent_missing, denied
from clinic_server.settings import Settings
from clinic_tui.domain.categories import Category
from clinic_tui.domain.roles import Basis, Purpose

#: ids are 32 hex characters; anything longer is refused without a query
MAX_ID = 32


@dataclass(frozen=True)
class Access:
    """What the guard allowed for one person: the row, the facts and the decision."""

    person: Person
    facts: PersonFacts
    decision: Decision

    @property
    def allowed(self) -> frozenset[Category]:
        return self.decision.allowed

    def may(self, category: Category) -> bool:
        return category in self.decision.allowed


@dataclass
class Guard:
    session: Session
    scope: AuditScope
    #: the logged-in user; None for an organization's integration (``api/deps.py``) or the CLI
    user: User | None
    actor: Actor
    settings: Settings
    now: datetime
    #: the caller's session (the access token's ``sid``): logout ends it
    session_id: str | None = None

    # ------------------------------------------------------------------ the three questions

    def person(
        self,
        person_id: str,
        action: Action,
        *,
        verb: str,
        resource_type: str,
        resource_id: str | None = None,
        needs: frozenset[Category] = frozenset(),
    ) -> Access:
        """May the caller perform ``action`` on this person? The ``Access``, or an audited 403.

        ``needs``: categories this request cannot do without besides the action's own (what a
        write records)."""
        self.about(action, verb=verb, resource_type=resource_type, resource_id=resource_id or person_id)
        # the person and the facts in one statement (``facts.load_person``)
        found = None
        if len(person_id) <= MAX_ID:
            found = facts_.load_person(self.session, self.actor, person_id, self.now)
        if found is None:
            raise denied("no such person")
        return self.access(found[0], action, found[1], needs=needs)

    def access(
        self,
        person: Person,
        action: Action,
        facts: PersonFacts | None = None,
        *,
        needs: frozenset[Category] = frozenset(),
    ) -> Access:
        """As ``person``, for a person row the service already found (by personnummer, by an alert);
        call ``about`` first. ``facts``: decide on these instead (a prospective grant)."""
        self.scope.about(person_id=person.id)
        facts = facts or self.facts_for(person)
        decision = authorize(self.actor, action, facts, self.now, needs)
        self.scope.about(purpose=decision.purpose)
        self.scope.reason = decision.reason
        if not decision.permitted:
            if decision.missing and ACTIONS[action].explain_missing:
                self.scope.note(missing=sorted(decision.missing))
                raise consent_missing(decision.missing, decision.reason)
            raise denied(decision.reason)
        return Access(person, facts, decision)

    def people(self, action: Action, *, verb: str, resource_type: str) -> dict[str, Decision]:
        """Everyone the caller may perform ``action`` on now, with each decision."""
        self.about(action, verb=verb, resource_type=resource_type)
        self.require_role(action)
        ids = facts_.candidate_person_ids(self.session, self.actor, self.now)
        loaded = facts_.load_facts(self.session, self.actor, ids, self.now)
        out = {}
        for pid, f in loaded.items():
            d = authorize(self.actor, action, f, self.now)
            if d.permitted:
                out[pid] = d
        return out

    def duty(
        self, action: Action, *, verb: str, resource_type: str, resource_id: str | None = None
    ) -> Decision:
        """A role's own duty (the audit log, reviews): the decision, or an audited 403."""
        self.about(action, verb=verb, resource_type=resource_type, resource_id=resource_id)
        decision = authorize(self.actor, action, None, self.now)
        self.scope.reason = decision.reason
        if not decision.permitted:
            raise denied(decision.reason)
        return decision

    def require_role(self, action: Action) -> None:
        """Refuse (audited) at once if the caller's role may never perform ``action``."""
        if self.actor.role not in ACTIONS[action].roles:
            reason = f"role {self.actor.role!r} may not {action}"
            self.scope.reason = reason
            raise denied(reason)

    def facts_for(self, person: Person) -> PersonFacts:
        return facts_.load_facts(self.session, self.actor, [person.id], self.now)[person.id]

    def would(self, action: Action, facts: PersonFacts) -> Decision:
        """What ``authorize`` would answer, without refusing or recording anything (to decide what
        else a response may carry, e.g. a trend's alerts)."""
        return authorize(self.actor, action, facts, self.now)

    # ------------------------------------------------------------------ what the response carries

    def disclose(self, returned: Mapping[str, Iterable[Category]], decisions: Mapping[str, Decision]) -> None:
        """The response carries these categories of these people (for a list or a queue).

        People reached through break-the-glass are named apart (``emergency_person_ids``), and a
        response that shows any of them is recorded with the purpose ``emergency``: one record has
        one purpose, and a disclosure on the emergency basis is what a supervisor reviews (filtering
        the log by ``emergency`` must find it); the others shown are the rest of ``person_ids``.
        """
        people = sorted(returned)
        for pid in people:
            self.scope.returned(returned[pid])
        self.scope.note(person_ids=people)
        emergency = sorted(pid for pid in people if decisions[pid].basis == Basis.BREAK_GLASS)
        if emergency:
            self.scope.note(emergency_person_ids=emergency)
            self.scope.about(purpose=Purpose.EMERGENCY)

    # ------------------------------------------------------------------ helpers

    def about(self, action: Action, *, verb: str, resource_type: str, resource_id: str | None = None) -> None:
        """Tell the audit scope what the request is about, before anything is looked up."""
        self.scope.about(
            action=verb,
            resource_type=resource_type,
            resource_id=resource_id,
            purpose=ACTIONS[action].purpose or purpose_for(self.actor),
        )
