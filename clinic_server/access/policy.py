"""The single access decision point: ``decide`` and, beside it, the table of actions.

Default deny, deny overrides. Both functions are pure: they take the facts about one person and one
actor at one instant (``access/facts.py`` loads them) and return a ``Decision``: which categories
may be read, which are withheld, on what basis, for what purpose, and a reason that goes into the
audit record and never to the caller.

- ``decide(actor, person, now, requested)`` answers "which of these categories may this actor read
  about this person now?" from consent, coach assignment, the employer contract and break-the-glass.
- ``ACTIONS`` says, for each thing a user can do, which roles may do it, which categories it needs
  and may return, and on which bases; ``authorize(actor, action, person, now)`` applies it (via
  ``decide`` for actions on a person). Routes and services never compare roles themselves: they name
  an ``Action`` and the guard (``access/guard.py``) asks ``authorize``.
- ``may_aggregate(actor, request, populations, issued, k, today)`` answers "may this actor be given
  this aggregate?" for the employer reports: never one person, so not ``decide`` but the rules of
  population size and differencing against reports already issued (docs/reports.md).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from clinic_tui.domain.categories import ALL_CATEGORIES, HEALTH_CATEGORIES, Category
from clinic_tui.domain.personnummer import age_years
from clinic_tui.domain.roles import Basis, OrganizationKind, Purpose, Role

#: what IMR may process on its legitimate interest while the employer's contract runs
#: (IMR policy, "Kontakt- och identitetsuppgifter" and "Sysselsättning")
LEGITIMATE_INTEREST_CATEGORIES: frozenset[Category] = frozenset(
    {Category.IDENTITY, Category.CONTACT, Category.OCCUPATION}
)

#: what a time-boxed break-the-glass grant opens (vital interests: what care needs in an emergency)
BREAK_GLASS_CATEGORIES: frozenset[Category] = frozenset(
    {
        Category.IDENTITY,
        Category.CONTACT,
        Category.CONDITIONS,
        Category.VITALS,
        Category.MEDICATIONS,
        Category.HISTORY,
        Category.QUESTIONNAIRES,
    }
)

ADULT_AGE = 18

#: the purpose of use a role's ordinary work is recorded under
ROLE_PURPOSE: dict[Role, Purpose] = {
    Role.NURSE: Purpose.CARE,
    Role.COACH: Purpose.COACHING,
    Role.SUPERVISOR: Purpose.AUDIT,
    Role.PRIVACY_OFFICER: Purpose.DATA_SUBJECT_REQUEST,
    Role.REPORT_ANALYST: Purpose.REPORTING,
}


@dataclass(frozen=True)
class Actor:
    user_id: str
    username: str
    role: str
    organization_id: str
    organization_kind: str


@dataclass(frozen=True)
class ConsentFact:
    organization_id: str
    categories: frozenset[str]
    purpose: str
    valid_from: datetime
    valid_until: datetime | None
    status: str

    def active_at(self, now: datetime) -> bool:
        return (
            self.status == "active"
            and self.valid_from <= now
            and (self.valid_until is None or now < self.valid_until)
        )


@dataclass(frozen=True)
class PersonFacts:
    person_id: str
    birth_date: date
    restricted: bool
    consents: tuple[ConsentFact, ...] = ()
    #: coaches with an active assignment to this person
    coach_ids: frozenset[str] = frozenset()
    employer_contract_start: date | None = None
    employer_contract_end: date | None = None
    #: expiry of the actor's own active break-the-glass grant on this person, if any
    break_glass_until: datetime | None = None
    #: organizations the person has a relationship with: a consent (any state) or an assigned coach
    related_organizations: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Decision:
    allowed: frozenset[Category]
    withheld: frozenset[Category]
    basis: Basis
    reason: str
    purpose: Purpose
    break_glass_until: datetime | None = None
    extra: dict = field(default_factory=dict)

    @property
    def permitted(self) -> bool:
        return self.basis is not Basis.NONE


def purpose_for(actor: Actor) -> Purpose:
    return ROLE_PURPOSE.get(actor.role, Purpose.UNKNOWN)


def _deny(reason: str, requested: frozenset[Category], purpose: Purpose) -> Decision:
    return Decision(frozenset(), requested, Basis.NONE, reason, purpose)


def _granted(
    allowed: frozenset[Category],
    requested: frozenset[Category],
    basis: Basis,
    reason: str,
    purpose: Purpose,
    **kw,
) -> Decision:
    """A grant that opens none of the requested categories opens nothing: it is a denial."""
    if not allowed:
        return _deny(f"{reason}, but none of the requested categories", requested, purpose)
    return Decision(allowed, requested - allowed, basis, reason, purpose, **kw)


def decide(
    actor: Actor,
    person: PersonFacts,
    now: datetime,
    requested: frozenset[Category] = ALL_CATEGORIES,
) -> Decision:
    """May ``actor`` read the ``requested`` categories of ``person`` at ``now``?"""
    purpose = purpose_for(actor)
    if actor.role not in (Role.NURSE, Role.COACH):
        return _deny(f"role {actor.role!r} reads no personal categories", requested, purpose)
    # deny overrides, whatever the basis
    if person.restricted:
        return _deny("processing restricted (GDPR art. 18)", requested, purpose)
    if age_years(person.birth_date, now.date()) < ADULT_AGE:
        return _deny("person is under 18", requested, purpose)

    if actor.role == Role.NURSE:
        granted: set[Category] = set()
        for c in person.consents:
            if c.organization_id == actor.organization_id and c.purpose == Purpose.CARE and c.active_at(now):
                granted |= {Category(x) for x in c.categories if x in Category._value2member_map_}
        if granted:
            return _granted(
                frozenset(granted) & requested,
                requested,
                Basis.CONSENT,
                "active consent names the care organization",
                purpose,
            )
        if person.break_glass_until is not None and now < person.break_glass_until:
            return _granted(
                BREAK_GLASS_CATEGORIES & requested,
                requested,
                Basis.BREAK_GLASS,
                "active break-the-glass grant (vital interests)",
                Purpose.EMERGENCY,
                break_glass_until=person.break_glass_until,
            )
        return _deny("no active consent names the care organization", requested, purpose)

    # coach
    if actor.organization_kind != OrganizationKind.IMR:
        return _deny("coach is not employed by IMR", requested, purpose)
    if actor.user_id not in person.coach_ids:
        return _deny("person is not assigned to this coach", requested, purpose)
    granted = set()
    for c in person.consents:
        if c.organization_id == actor.organization_id and c.purpose == Purpose.COACHING and c.active_at(now):
            granted |= {Category(x) for x in c.categories if x in HEALTH_CATEGORIES}
    today = now.date()
    contract_runs = (
        person.employer_contract_start is not None
        and person.employer_contract_start <= today
        and (person.employer_contract_end is None or today <= person.employer_contract_end)
    )
    if contract_runs:
        granted |= LEGITIMATE_INTEREST_CATEGORIES
    allowed = frozenset(granted) & requested
    if not allowed:
        return _deny("no consent to IMR and no running employer contract", requested, purpose)
    basis = Basis.CONSENT if allowed & HEALTH_CATEGORIES else Basis.LEGITIMATE_INTEREST
    return Decision(allowed, requested - allowed, basis, f"assigned participant ({basis})", purpose)


# --------------------------------------------------------------------------- the action table


class Action(StrEnum):
    """Everything a user can do through the API; each has one row in ``ACTIONS``."""

    LIST_PEOPLE = "list_people"
    READ_RECORD = "read_record"
    ALERT_QUEUE = "alert_queue"
    READ_SERIES = "read_series"
    READ_PATIENT_ALERTS = "read_patient_alerts"
    ACT_ON_ALERT = "act_on_alert"
    READ_THRESHOLDS = "read_thresholds"
    SET_THRESHOLDS = "set_thresholds"
    READ_CONSENTS = "read_consents"
    WITHDRAW_CONSENT = "withdraw_consent"
    SET_RESTRICTION = "set_restriction"
    BREAK_GLASS = "break_glass"
    READ_AUDIT = "read_audit"
    VERIFY_AUDIT = "verify_audit"
    REVIEW_BREAK_GLASS = "review_break_glass"
    ISSUE_REPORT = "issue_report"
    OWN_ACCOUNT = "own_account"


@dataclass(frozen=True)
class Requires:
    """Who may perform an action, and what it needs of ``decide``."""

    roles: frozenset[Role]
    #: about one person (``decide`` applies) or a duty of the role (audit, account)
    per_person: bool = True
    #: categories the action cannot do without: if any is withheld, it is refused
    needs: frozenset[Category] = frozenset()
    #: further categories it returns where they are allowed (projected away where not)
    reads: frozenset[Category] = frozenset()
    #: the access bases it may rest on (None: any basis ``decide`` grants)
    bases: frozenset[Basis] | None = None
    #: instead of ``decide``: the person must have a relationship with the actor's organization
    related: bool = False
    #: the purpose of use recorded, when it is the action's own rather than the role's
    purpose: Purpose | None = None

    @property
    def requested(self) -> frozenset[Category]:
        return self.needs | self.reads


_NURSE = frozenset({Role.NURSE})
_CLINICAL = frozenset({Role.NURSE, Role.COACH})
_SUPERVISOR = frozenset({Role.SUPERVISOR})
_VITALS = frozenset({Category.VITALS})
_CONSENT_ONLY = frozenset({Basis.CONSENT})
_REPORT_ANALYST = frozenset({Role.REPORT_ANALYST})

ACTIONS: dict[Action, Requires] = {
    # the people on a user's list, and one person's record, projected to what each allows
    # (anyone may ask for their list; ``decide`` leaves it empty for roles that read no one)
    Action.LIST_PEOPLE: Requires(frozenset(Role), reads=ALL_CATEGORIES),
    Action.READ_RECORD: Requires(_CLINICAL, reads=ALL_CATEGORIES),
    # the alert queue covers the people whose consent names the nurse's organization (not a
    # break-the-glass patient: that opens one record, not a queue)
    Action.ALERT_QUEUE: Requires(
        _NURSE, needs=_VITALS, reads=frozenset({Category.IDENTITY, Category.CONDITIONS}), bases=_CONSENT_ONLY
    ),
    # a measurement trend: any clinical role that may read vitals
    Action.READ_SERIES: Requires(_CLINICAL, needs=_VITALS, reads=frozenset({Category.CONDITIONS})),
    Action.READ_PATIENT_ALERTS: Requires(
        _NURSE, needs=_VITALS, reads=frozenset({Category.IDENTITY, Category.CONDITIONS})
    ),
    # acting on alerts and thresholds changes care: a consent naming the organization, never the glass
    Action.ACT_ON_ALERT: Requires(
        _NURSE, needs=_VITALS, reads=frozenset({Category.IDENTITY, Category.CONDITIONS}), bases=_CONSENT_ONLY
    ),
    Action.READ_THRESHOLDS: Requires(_NURSE, needs=_VITALS),
    Action.SET_THRESHOLDS: Requires(_NURSE, needs=_VITALS, bases=_CONSENT_ONLY),
    # consents to the nurse's own organization, for a person she may see at all
    Action.READ_CONSENTS: Requires(_NURSE, reads=ALL_CATEGORIES),
    Action.WITHDRAW_CONSENT: Requires(_NURSE, reads=ALL_CATEGORIES),
    Action.SET_RESTRICTION: Requires(_SUPERVISOR, related=True, purpose=Purpose.AUDIT),
    # break-the-glass is decided by the guard with the prospective grant (deny still overrides)
    Action.BREAK_GLASS: Requires(_NURSE, reads=ALL_CATEGORIES, purpose=Purpose.EMERGENCY),
    Action.READ_AUDIT: Requires(_SUPERVISOR, per_person=False, purpose=Purpose.AUDIT),
    Action.VERIFY_AUDIT: Requires(_SUPERVISOR, per_person=False, purpose=Purpose.AUDIT),
    Action.REVIEW_BREAK_GLASS: Requires(_SUPERVISOR, per_person=False, purpose=Purpose.AUDIT),
    # an employer report: aggregates only, a duty that reads no one (``may_aggregate`` decides the rest)
    Action.ISSUE_REPORT: Requires(_REPORT_ANALYST, per_person=False, purpose=Purpose.REPORTING),
    Action.OWN_ACCOUNT: Requires(frozenset(Role), per_person=False, purpose=Purpose.AUTHENTICATION),
}


def authorize(actor: Actor, action: Action, person: PersonFacts | None, now: datetime) -> Decision:
    """May ``actor`` perform ``action`` (on ``person``, for per-person actions) at ``now``?

    The answer's ``allowed`` categories are what the response may carry; its ``reason`` is for the
    audit record only.
    """
    req = ACTIONS[action]
    purpose = req.purpose or purpose_for(actor)
    if actor.role not in req.roles:
        return _deny(f"role {actor.role!r} may not {action}", req.requested, purpose)
    if not req.per_person:
        return Decision(frozenset(), frozenset(), Basis.DUTY, f"{actor.role} duty: {action}", purpose)
    if person is None:
        return _deny("no such person", req.requested, purpose)
    if req.related:
        if actor.organization_id not in person.related_organizations:
            return _deny("person has no relationship with the organization", req.requested, purpose)
        return Decision(frozenset(), frozenset(), Basis.DUTY, f"{action}: related organization", purpose)
    decision = decide(actor, person, now, req.requested)
    if not decision.permitted:
        return decision
    missing = req.needs - decision.allowed
    if missing:
        return _deny(
            f"{', '.join(sorted(missing))} not shared with this user", req.requested, decision.purpose
        )
    if req.bases is not None and decision.basis not in req.bases:
        return _deny(
            f"{action} needs a basis of {', '.join(sorted(req.bases))}, not {decision.basis}",
            req.requested,
            decision.purpose,
        )
    return decision


# --------------------------------------------------------------------------- aggregates (reports)

#: no published number of a report rests on fewer people than this, whatever the setting says
#: (DESIGN.md: "every published number rests on at least 5 people")
MIN_CELL_FLOOR = 5


@dataclass(frozen=True)
class AggregateRequest:
    """A predefined group: one employer and one calendar year. Nothing else can be asked for."""

    employer_id: str
    period: int


@dataclass(frozen=True)
class AggregatePopulation:
    """Who one table of a report rests on, in the terms the differencing rule needs.

    ``members``: person id -> (atom, contribution). The atom is the finest group the table breaks
    down by (a sex; a sex and age band); the contribution is what the person adds to it (a category
    code, a value), or an opaque token of it: two reports are compared only by equality.
    ``groups``: the sets of atoms whose totals a reader can work out from the report (published, or
    derivable from what is). An empty ``groups`` means the table is not checked for differencing:
    participation, which the employer may know anyway (IMR policy: whether someone used the
    services may be shared with the employer)."""

    table: str
    members: Mapping[str, tuple[str, Hashable]]
    groups: frozenset[frozenset[str]] = frozenset()


@dataclass(frozen=True)
class IssuedAggregate:
    """A report already given out, with the populations it rested on."""

    report_id: str
    employer_id: str
    period: int
    populations: Sequence[AggregatePopulation]


def differing(a: AggregatePopulation, b: AggregatePopulation, group: frozenset[str]) -> int:
    """How many people the difference between two reports' totals of ``group`` rests on: those in
    the group in either report whose membership or contribution is not the same in both."""
    count = 0
    for person in a.members.keys() | b.members.keys():
        in_a = a.members.get(person)
        in_b = b.members.get(person)
        side_a = in_a if in_a is not None and in_a[0] in group else None
        side_b = in_b if in_b is not None and in_b[0] in group else None
        if (side_a is not None or side_b is not None) and (
            side_a is None or side_b is None or side_a[1] != side_b[1]
        ):
            count += 1
    return count


def may_aggregate(
    actor: Actor,
    request: AggregateRequest,
    populations: Sequence[AggregatePopulation],
    issued: Sequence[IssuedAggregate],
    *,
    k: int,
    today: date,
) -> Decision:
    """May ``actor`` be given the report of ``request`` resting on ``populations``?

    In order: the role's duty (``ACTIONS``); k not below ``MIN_CELL_FLOOR``; a period that is over
    (a report is final, so one made before its period ends would freeze half a year); at least k
    participants; then against the reports already issued for the same employer:

    - the same period: an issued report is final. The same populations give it again
      (``extra["reuse"]`` names it: the caller hands out the stored report, never a recomputed
      one, whose suppression could differ); any difference is refused, however large, since the
      difference of two reports of the same people is a table of the people who changed and could
      show them all alike;
    - another period: for every group a reader can total in both reports, the people whose
      membership or contribution differs must be none or at least k. Fewer would let a subtraction
      of the two reports isolate them (a newcomer's values, by differencing consecutive years).

    The reason names the facts (which report, table, how many people) for the audit record only."""
    purpose = Purpose.REPORTING
    duty = authorize(actor, Action.ISSUE_REPORT, None, datetime.combine(today, datetime.min.time()))
    if not duty.permitted:
        return duty
    if k < MIN_CELL_FLOOR:
        return _deny(f"minimum cell {k} is below the floor of {MIN_CELL_FLOOR}", frozenset(), purpose)
    if date(request.period, 12, 31) >= today:
        return _deny(f"period {request.period} is not over", frozenset(), purpose)
    participants = {p for pop in populations for p in pop.members}
    if len(participants) < k:
        return _deny(f"fewer than {k} took part", frozenset(), purpose)
    mine = {pop.table: pop for pop in populations}
    ours = [r for r in issued if r.employer_id == request.employer_id]
    for report in ours:
        if report.period != request.period:
            continue
        theirs = {pop.table: pop for pop in report.populations}
        same = mine.keys() == theirs.keys() and all(
            dict(mine[t].members) == dict(theirs[t].members) for t in mine
        )
        if not same:
            return _deny(
                f"report {report.report_id} was issued for {request.period} and its populations differ",
                frozenset(),
                purpose,
            )
        return Decision(
            frozenset(),
            frozenset(),
            Basis.DUTY,
            f"the same populations as issued report {report.report_id}",
            purpose,
            extra={"reuse": report.report_id},
        )
    for report in ours:
        theirs = {pop.table: pop for pop in report.populations}
        for table in sorted(mine.keys() & theirs.keys()):
            a, b = theirs[table], mine[table]
            for group in sorted(a.groups & b.groups, key=sorted):
                d = differing(a, b, group)
                if 0 < d < k:
                    return _deny(
                        f"{table} differs from issued report {report.report_id} ({report.period}) by {d} "
                        f"people in group {'+'.join(sorted(group))}",
                        frozenset(),
                        purpose,
                    )
    return Decision(frozenset(), frozenset(), Basis.DUTY, "aggregate of predefined groups", purpose)
