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
- The people's own requests (GDPR chapter III: extract, export, rectification, erasure, ...) rest
  on the request itself, not on ``decide``: the privacy officer acts on anyone the service holds,
  and a restriction or an age does not stop a request (art. 18(2) keeps what the person asks for).
- An organization's system (the patient app's backend, IMR's onboarding) calls with its own
  credential as an actor of role ``INTEGRATION_ROLE``; a row's ``integrations`` says which kinds of
  organization may do it, and on a person only where the person has a relationship with it.
- ``may_aggregate(actor, request, populations, issued, k, today)`` answers "may this actor be given
  this aggregate?" for the employer reports: never one person, so not ``decide`` but the rules of
  population size and differencing against reports already issued (docs/reports.md).

**What a refusal may tell the caller.** A refusal normally names nothing (a uniform 403: the reason
goes to the audit record only), because the reason is a policy fact about the person: a
restriction, an age, a consent to someone else, a withdrawal. The coach's meeting actions
(``explain_missing``) are the one exception, and a narrow one: when the coach may see the person
at all (assigned, on some basis) and the refusal is only that the action needs categories her
basis does not cover, the refusal carries those categories (``Decision.missing``), so the meeting
screen can say "no consent to fitness tests" instead of a bare "not permitted". She learns nothing
she could not already see: the same person's record and her participant list already show which
categories are shared with her and which are withheld (``shared``/``withheld``); the missing ones
are only the needed ones among those withheld. She does not learn why they are missing (never
given, withdrawn, expired, or given to another organization all read alike), nor anything about
categories the action does not need. Where ``decide`` refuses the person outright (not assigned to
her, another coach's participant, a restriction, under 18, no consent and no running contract), the
refusal stays uniform: that participant is not on her list either, and a refusal that differed
would tell her why.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from clinic_tui.domain.categories import ALL_CATEGORIES, HEALTH_CATEGORIES, Category
from clinic_tui.domain.meeting import COACHING_CATEGORIES
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

#: the role an organization's system acts under (``api/deps.py``: ``X-Client-Key``); not a user role
INTEGRATION_ROLE = "integration"

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
    #: the organization that restricted processing (GDPR art. 18), when it is known and matters
    restricted_by: str | None = None


@dataclass(frozen=True)
class Decision:
    allowed: frozenset[Category]
    withheld: frozenset[Category]
    basis: Basis
    reason: str
    purpose: Purpose
    break_glass_until: datetime | None = None
    extra: dict = field(default_factory=dict)
    #: a refusal only for want of these categories, of a person the actor may otherwise see
    #: (what ``explain_missing`` actions may tell the caller, see the module docstring)
    missing: frozenset[Category] = frozenset()

    @property
    def permitted(self) -> bool:
        return self.basis is not Basis.NONE


def purpose_for(actor: Actor) -> Purpose:
    return ROLE_PURPOSE.get(actor.role, Purpose.UNKNOWN)


def _deny(
    reason: str,
    requested: frozenset[Category],
    purpose: Purpose,
    missing: frozenset[Category] = frozenset(),
) -> Decision:
    return Decision(frozenset(), requested, Basis.NONE, reason, purpose, missing=missing)


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
    LIFT_RESTRICTION = "lift_restriction"
    BREAK_GLASS = "break_glass"
    READ_AUDIT = "read_audit"
    VERIFY_AUDIT = "verify_audit"
    REVIEW_BREAK_GLASS = "review_break_glass"
    READ_FINDINGS = "read_findings"
    JUDGE_FINDING = "judge_finding"
    AUDIT_IDENTITY = "audit_identity"
    ISSUE_REPORT = "issue_report"
    OWN_ACCOUNT = "own_account"
    # how people and consents get in (the patient app, IMR onboarding)
    REGISTER_PERSON = "register_person"
    IMPORT_PARTICIPANTS = "import_participants"
    LIST_ORGANIZATIONS = "list_organizations"
    CHANGE_CONSENT = "change_consent"
    CLOSE_ACCOUNT = "close_account"
    # the people's rights, handled by the privacy officer
    SUBJECT_LOOKUP = "subject_lookup"
    SUBJECT_EXTRACT = "subject_extract"
    SUBJECT_EXPORT = "subject_export"
    SUBJECT_RECTIFY = "subject_rectify"
    SUBJECT_RESTRICTION = "subject_restriction"
    SUBJECT_OBJECTION = "subject_objection"
    SUBJECT_REQUEST = "subject_request"
    SUBJECT_ERASE = "subject_erase"
    LEGAL_HOLD = "legal_hold"
    RETENTION_PREVIEW = "retention_preview"
    # the coach's work (services/coaching.py)
    COACH_PARTICIPANTS = "coach_participants"
    READ_MEETINGS = "read_meetings"
    RECORD_MEETING = "record_meeting"
    CORRECT_MEETING = "correct_meeting"
    RECORD_OBJECTION = "record_objection"


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
    #: roles that may act on a restriction only where their own organization set it
    own_restriction_only: frozenset[Role] = frozenset()
    #: the person's own request (GDPR chapter III): any person the service holds, ``decide`` is not
    #: asked, and the decision allows ``reads`` (values only where the request needs them: an export)
    subject: bool = False
    #: an organization of one of these kinds may do it through its integration credential (on a
    #: person only where the person has a relationship with that organization)
    integrations: frozenset[OrganizationKind] = frozenset()
    #: at least one of these must be allowed (the action is about any of them), else refused
    needs_any: frozenset[Category] = frozenset()
    #: a refusal for want of needed categories names them to the caller (module docstring)
    explain_missing: bool = False

    @property
    def requested(self) -> frozenset[Category]:
        return self.needs | self.reads | self.needs_any


_NURSE = frozenset({Role.NURSE})
_CLINICAL = frozenset({Role.NURSE, Role.COACH})
_SUPERVISOR = frozenset({Role.SUPERVISOR})
_RESTRICTERS = frozenset({Role.SUPERVISOR, Role.PRIVACY_OFFICER})
_VITALS = frozenset({Category.VITALS})
_CONSENT_ONLY = frozenset({Basis.CONSENT})
_OFFICER = frozenset({Role.PRIVACY_OFFICER})
_DSR = Purpose.DATA_SUBJECT_REQUEST
_APP = frozenset({OrganizationKind.IMAGINECARE})
_IMR = frozenset({OrganizationKind.IMR})
_APPS = _APP | _IMR
_IDENTITY_CONTACT = frozenset({Category.IDENTITY, Category.CONTACT})
_COACH = frozenset({Role.COACH})
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
    # restricting processing (GDPR art. 18): a supervisor or the privacy officer of an organization
    # the person has a relationship with; lifting it: the organization that set it, or the
    # privacy officer (who answers the person's requests for every organization's processing)
    Action.SET_RESTRICTION: Requires(_RESTRICTERS, related=True, purpose=Purpose.AUDIT),
    Action.LIFT_RESTRICTION: Requires(
        _RESTRICTERS, related=True, purpose=Purpose.AUDIT, own_restriction_only=_SUPERVISOR
    ),
    # break-the-glass is decided by the guard with the prospective grant (deny still overrides)
    Action.BREAK_GLASS: Requires(_NURSE, reads=ALL_CATEGORIES, purpose=Purpose.EMERGENCY),
    Action.READ_AUDIT: Requires(_SUPERVISOR, per_person=False, purpose=Purpose.AUDIT),
    Action.VERIFY_AUDIT: Requires(_SUPERVISOR, per_person=False, purpose=Purpose.AUDIT),
    Action.REVIEW_BREAK_GLASS: Requires(_SUPERVISOR, per_person=False, purpose=Purpose.AUDIT),
    # privacy monitoring: the findings about the organization's users, and verdicts on them
    Action.READ_FINDINGS: Requires(_SUPERVISOR, per_person=False, purpose=Purpose.AUDIT),
    Action.JUDGE_FINDING: Requires(_SUPERVISOR, per_person=False, purpose=Purpose.AUDIT),
    # a person's identity (name, personnummer) to judge a relation with a user; only for someone
    # the organization's own records or findings name (services/monitoring.identity checks that)
    Action.AUDIT_IDENTITY: Requires(_SUPERVISOR, per_person=False, purpose=Purpose.AUDIT),
    # an employer report: aggregates only, a duty that reads no one (``may_aggregate`` decides the rest)
    Action.ISSUE_REPORT: Requires(_REPORT_ANALYST, per_person=False, purpose=Purpose.REPORTING),
    Action.OWN_ACCOUNT: Requires(frozenset(Role), per_person=False, purpose=Purpose.AUTHENTICATION),
    # registration in the patient app (ImagineCare) and IMR's roster of an employer's participants:
    # a new person is nobody's yet; an existing one is attached to, never overwritten
    Action.REGISTER_PERSON: Requires(frozenset(), per_person=False, integrations=_APP, purpose=Purpose.CARE),
    Action.IMPORT_PARTICIPANTS: Requires(
        frozenset(), per_person=False, integrations=_IMR, purpose=Purpose.COACHING
    ),
    Action.LIST_ORGANIZATIONS: Requires(
        frozenset(), per_person=False, integrations=_APP, purpose=Purpose.CARE
    ),
    # consents are the person's to give, change and withdraw: through the app or the officer
    Action.CHANGE_CONSENT: Requires(_OFFICER, subject=True, integrations=_APPS, purpose=_DSR),
    Action.CLOSE_ACCOUNT: Requires(_OFFICER, subject=True, integrations=_APP, purpose=_DSR),
    # the privacy officer: what is held and why, never the values, except inside an export
    Action.SUBJECT_LOOKUP: Requires(_OFFICER, subject=True, purpose=_DSR),
    Action.SUBJECT_EXTRACT: Requires(_OFFICER, subject=True, purpose=_DSR),
    Action.SUBJECT_EXPORT: Requires(_OFFICER, subject=True, reads=ALL_CATEGORIES, purpose=_DSR),
    # a correction returns the corrected fields' new values (what the officer typed)
    Action.SUBJECT_RECTIFY: Requires(_OFFICER, subject=True, reads=_IDENTITY_CONTACT, purpose=_DSR),
    Action.SUBJECT_RESTRICTION: Requires(_OFFICER, subject=True, purpose=_DSR),
    Action.SUBJECT_OBJECTION: Requires(_OFFICER, subject=True, integrations=_APPS, purpose=_DSR),
    Action.SUBJECT_REQUEST: Requires(_OFFICER, subject=True, integrations=_IMR, purpose=_DSR),
    Action.SUBJECT_ERASE: Requires(_OFFICER, subject=True, purpose=_DSR),
    Action.LEGAL_HOLD: Requires(_OFFICER, subject=True, purpose=_DSR),
    Action.RETENTION_PREVIEW: Requires(_OFFICER, per_person=False, purpose=_DSR),
    # the coach's participants, on any basis (the list shows name and employer, meetings, tests
    # due where fitness tests are shared, and which meeting categories each consent covers); every
    # coach action decides on all categories, so a participant on her list is the same person to
    # each of them (a refusal for want of a meeting category is then always consent_missing)
    Action.COACH_PARTICIPANTS: Requires(_COACH, reads=ALL_CATEGORIES),
    # meetings: at least one meeting category must be covered; a write needs every category it
    # records (the service names them to ``guard.person(needs=...)``), reads show what is covered
    Action.READ_MEETINGS: Requires(
        _COACH, needs_any=COACHING_CATEGORIES, reads=ALL_CATEGORIES, explain_missing=True
    ),
    Action.RECORD_MEETING: Requires(
        _COACH, needs_any=COACHING_CATEGORIES, reads=ALL_CATEGORIES, explain_missing=True
    ),
    Action.CORRECT_MEETING: Requires(
        _COACH, needs_any=COACHING_CATEGORIES, reads=ALL_CATEGORIES, explain_missing=True
    ),
    # an objection to profiling is the person's right, never conditional on a consent: any basis
    # on which the coach sees the participant (legitimate interest included) lets her record it
    Action.RECORD_OBJECTION: Requires(_COACH, reads=ALL_CATEGORIES),
}


def authorize(
    actor: Actor,
    action: Action,
    person: PersonFacts | None,
    now: datetime,
    needs: frozenset[Category] = frozenset(),
) -> Decision:
    """May ``actor`` perform ``action`` (on ``person``, for per-person actions) at ``now``?

    ``needs``: categories this particular request cannot do without, besides the action's own
    (a meeting records the categories of the parts it holds). The answer's ``allowed`` categories
    are what the response may carry; its ``reason`` is for the audit record only.
    """
    req = ACTIONS[action]
    purpose = req.purpose or purpose_for(actor)
    requested = req.requested | needs
    integration = actor.role == INTEGRATION_ROLE
    if integration:
        if actor.organization_kind not in req.integrations:
            return _deny(
                f"an integration of a {actor.organization_kind!r} may not {action}", requested, purpose
            )
    elif actor.role not in req.roles:
        return _deny(f"role {actor.role!r} may not {action}", requested, purpose)
    if not req.per_person:
        return Decision(frozenset(), frozenset(), Basis.DUTY, f"{actor.role} duty: {action}", purpose)
    if person is None:
        return _deny("no such person", requested, purpose)
    if integration and actor.organization_id not in person.related_organizations:
        return _deny("person has no relationship with the organization", requested, purpose)
    if req.subject:
        return Decision(
            req.reads, frozenset(), Basis.DATA_SUBJECT_REQUEST, f"{action}: the person's request", purpose
        )
    if req.related:
        if actor.role == Role.PRIVACY_OFFICER:
            # the privacy officer answers the person's requests for every organization's processing
            reason = f"{action}: the privacy officer"
            return Decision(frozenset(), frozenset(), Basis.DATA_SUBJECT_REQUEST, reason, purpose)
        if actor.organization_id not in person.related_organizations:
            return _deny("person has no relationship with the organization", requested, purpose)
        if (
            actor.role in req.own_restriction_only
            and person.restricted
            and person.restricted_by != actor.organization_id
        ):
            return _deny(
                "the restriction was set by another organization (or before it was recorded who set it)",
                requested,
                purpose,
            )
        return Decision(frozenset(), frozenset(), Basis.DUTY, f"{action}: related organization", purpose)
    decision = decide(actor, person, now, requested)
    if not decision.permitted:
        return decision
    missing = (req.needs | needs) - decision.allowed
    if not missing and req.needs_any and not req.needs_any & decision.allowed:
        # nothing in particular is needed, but something of these is: each would do
        missing = req.needs_any
    if missing:
        return _deny(
            f"{', '.join(sorted(missing))} not shared with this user",
            requested,
            decision.purpose,
            missing=frozenset(missing),
        )
    if req.bases is not None and decision.basis not in req.bases:
        return _deny(
            f"{action} needs a basis of {', '.join(sorted(req.bases))}, not {decision.basis}",
            requested,
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


class AggregateRefusal(StrEnum):
    """Why ``may_aggregate`` refused (``Decision.extra["refusal"]``): the API's error code follows
    from it; the reason's facts (which report, table, group) stay in the audit record."""

    MIN_CELL = "min_cell"
    PERIOD_OPEN = "period_open"
    TOO_FEW = "too_few"
    ALREADY_ISSUED = "already_issued"
    DIFFERENCING = "differencing"


def _refuse(kind: AggregateRefusal, reason: str) -> Decision:
    return Decision(frozenset(), frozenset(), Basis.NONE, reason, Purpose.REPORTING, extra={"refusal": kind})


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
        return _refuse(AggregateRefusal.MIN_CELL, f"minimum cell {k} is below the floor of {MIN_CELL_FLOOR}")
    if date(request.period, 12, 31) >= today:
        return _refuse(AggregateRefusal.PERIOD_OPEN, f"period {request.period} is not over")
    participants = {p for pop in populations for p in pop.members}
    if len(participants) < k:
        return _refuse(AggregateRefusal.TOO_FEW, f"fewer than {k} took part")
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
            return _refuse(
                AggregateRefusal.ALREADY_ISSUED,
                f"report {report.report_id} was issued for {request.period} and its populations differ",
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
                    return _refuse(
                        AggregateRefusal.DIFFERENCING,
                        f"{table} differs from issued report {report.report_id} ({report.period}) by {d} "
                        f"people in group {'+'.join(sorted(group))}",
                    )
    return Decision(frozenset(), frozenset(), Basis.DUTY, "aggregate of predefined groups", purpose)
