"""The findings rules: pure functions from facts about audit records to candidate findings.

Each rule has an id and a version (``clinic_tui.domain.findings``), says why it fired as a reason
key with params (counts, windows, kinds; never a personal value), and names its evidence by audit
sequence number. The facts (the records of one batch, the hour before it, alerts, care actions,
consents, identity hashes, employers, users' usual hours) are loaded by ``facts.py``; nothing here
reads the database or the clock.

The rules follow the access-monitoring patterns of the trade (Protenus, FairWarning: unexplained
access, relationship, volume and time anomalies, repeated denials) and the Swedish duty of regular
log review at care providers (Patientdatalagen 2008:355 4 kap. 3 §; HSLF-FS 2016:40 4 kap. 9 §).
Their thresholds are ours, chosen for the demo's traffic and recorded with every finding (the rule
version); ``docs/performance.md`` has their precision and recall on the demo's planted cases.

Times are UTC seconds since the epoch; "local" is Europe/Stockholm (the service's zone).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache, cached_property
from typing import NamedTuple

from clinic_tui.domain.alert_lifecycle import AlertAction
from clinic_tui.domain.findings import RULE_VERSIONS, Relation, RuleId
from clinic_tui.domain.roles import Outcome, Purpose, Role

HOUR = 3600.0
DAY = 86400.0
INF = float("inf")

# --------------------------------------------------------------------------- thresholds (version 1)

#: browsing: an alert on the person this close before (or still open at) the access explains it
ALERT_DAYS = 7
#: ... as does a care action by the user's organization on the person within this many days before
CARE_DAYS = 30
#: ... or a consent of the person to the organization given, started or withdrawn this recently
CONSENT_DAYS = 14
#: an alert raised or a care action taken this soon after the access explains it too (the nurse
#: opened the record and then acted); the scan leaves records this young for its next run
AFTER_SECONDS = 10 * 60
#: volume: distinct people opened within the window
VOLUME_PEOPLE = 20
VOLUME_MINUTES = 60
#: out of hours: the user's usual hours are those of the previous BASELINE_DAYS in which the user
#: was active on at least USUAL_MIN_DAYS days (an hour next to a usual one counts as usual)
BASELINE_DAYS = 28
USUAL_MIN_DAYS = 2
#: ... and a user seen on fewer days than this has no baseline yet (the rule stays quiet)
MIN_BASELINE_DAYS = 10
#: probing: denied requests within the window
PROBING_DENIED = 5
PROBING_MINUTES = 60
#: emergency access must be reviewed within this many hours
REVIEW_HOURS = 24

#: accesses of one rule, user and person this close together are one finding
MERGE_GAP: dict[RuleId, float] = {
    RuleId.BROWSING: 12 * HOUR,
    RuleId.RELATION: DAY,
    RuleId.EMERGENCY_UNREVIEWED: INF,
    RuleId.VOLUME: 0.0,
    RuleId.OUT_OF_HOURS: 3 * HOUR,
    RuleId.PROBING: 0.0,
    RuleId.COACH_EMPLOYER: DAY,
}

#: what each rule's thresholds are, for the supervisor's screen (GET /audit/findings/rules)
THRESHOLDS: dict[RuleId, dict[str, int]] = {
    RuleId.BROWSING: {
        "alert_days": ALERT_DAYS,
        "care_days": CARE_DAYS,
        "consent_days": CONSENT_DAYS,
        "after_minutes": AFTER_SECONDS // 60,
    },
    RuleId.RELATION: {},
    RuleId.EMERGENCY_UNREVIEWED: {"hours": REVIEW_HOURS},
    RuleId.VOLUME: {"people": VOLUME_PEOPLE, "minutes": VOLUME_MINUTES},
    RuleId.OUT_OF_HOURS: {
        "baseline_days": BASELINE_DAYS,
        "usual_min_days": USUAL_MIN_DAYS,
        "min_baseline_days": MIN_BASELINE_DAYS,
    },
    RuleId.PROBING: {"denied": PROBING_DENIED, "minutes": PROBING_MINUTES},
    RuleId.COACH_EMPLOYER: {},
}

#: purposes of clinical work: what the volume, hours and relation rules look at (a supervisor's
#: audit look-ups and a privacy officer's requests are judged elsewhere)
CLINICAL = frozenset({Purpose.CARE, Purpose.COACHING, Purpose.EMERGENCY})
#: audit actions that are care of the person (acting on an alert, its thresholds, a consent);
#: "transition" is how alert actions were recorded before they were named
CARE_ACTIONS = frozenset({*(str(a) for a in AlertAction), "transition", "update", "consent_change"})
#: resource types of logging in and out: failed logins are the lockout's business, not probing
SESSION_RESOURCES = frozenset({"session"})

# --------------------------------------------------------------------------- facts


class Rec(NamedTuple):
    """One audit record, as the rules see it."""

    seq: int
    ts: float
    user_id: str | None
    username: str | None
    role: str | None
    org: str | None
    action: str
    resource_type: str
    person_id: str | None
    purpose: str
    outcome: str
    #: the response carried data categories
    returned: bool


class PersonDigests(NamedTuple):
    """Keyed hashes of a person's personnummer, surname parts and address (``identity.py``)."""

    personnummer: str | None
    surnames: frozenset[str]
    address: str | None


@dataclass(frozen=True)
class Served:
    employer_id: str
    valid_from: date
    valid_until: date | None

    def on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)


@dataclass(frozen=True)
class Facts:
    """What the record rules need for one batch. ``records`` are the batch (new, seq order);
    ``tail`` the hour before it, for the windows that reach back (volume, probing)."""

    records: Sequence[Rec]
    tail: Sequence[Rec] = ()
    #: person -> (opened, closed or INF), ordered by opened
    alerts: Mapping[str, Sequence[tuple[float, float]]] = field(default_factory=dict)
    #: (person, organization) -> times of care actions, ascending (history, batch and just after)
    care: Mapping[tuple[str, str], Sequence[float]] = field(default_factory=dict)
    #: (person, organization) -> times a consent was given, started or withdrawn, ascending
    consent_changes: Mapping[tuple[str, str], Sequence[float]] = field(default_factory=dict)
    #: user -> digests of the user's own identity (linked users only)
    links: Mapping[str, PersonDigests] = field(default_factory=dict)
    #: user -> organization (all users)
    user_org: Mapping[str, str] = field(default_factory=dict)
    #: person -> digests (the people the batch names, when identity links exist)
    people: Mapping[str, PersonDigests] = field(default_factory=dict)
    #: person -> employer
    person_employer: Mapping[str, str | None] = field(default_factory=dict)
    #: coach -> the employers served
    served: Mapping[str, Sequence[Served]] = field(default_factory=dict)
    #: user -> local day -> bit mask of the local hours active (the batch included)
    activity: Mapping[str, Mapping[date, int]] = field(default_factory=dict)

    # what several rules select, picked out once per batch

    @cached_property
    def accesses(self) -> list[Rec]:
        """The batch's person accesses (``_is_person_access``)."""
        return [r for r in self.records if _is_person_access(r)]

    @cached_property
    def tail_accesses(self) -> list[Rec]:
        return [r for r in self.tail if _is_person_access(r)]

    @cached_property
    def denied(self) -> list[Rec]:
        return [r for r in self.records if _is_denied(r)]

    @cached_property
    def tail_denied(self) -> list[Rec]:
        return [r for r in self.tail if _is_denied(r)]


@dataclass(frozen=True)
class GrantFact:
    """A break-the-glass grant, for the emergency review rule."""

    grant_id: str
    user_id: str
    username: str
    organization_id: str
    person_id: str
    created: float
    #: when it was first reviewed (a verdict or a note-only review), if ever
    first_review: float | None
    #: the grant's own audit record and the reads made under it
    evidence: tuple[int, ...]


@dataclass(frozen=True)
class Candidate:
    """A finding as a rule proposes it; the scan merges it with what is already stored."""

    rule: RuleId
    organization_id: str
    user_id: str
    username: str
    person_id: str | None
    key: str
    first_ts: float
    last_ts: float
    evidence: tuple[int, ...]
    params: Mapping[str, object]

    @property
    def version(self) -> int:
        return RULE_VERSIONS[self.rule]

    @property
    def reason_key(self) -> str:
        return f"finding.{self.rule}"


# --------------------------------------------------------------------------- local time


@cache
def _summer_bounds(year: int) -> tuple[float, float]:
    """EU summer time (Directive 2000/84/EC): from 01:00 UTC on the last Sunday of March to
    01:00 UTC on the last Sunday of October."""

    def last_sunday(month: int) -> date:
        d = date(year, month, 31)
        return d - timedelta(days=(d.weekday() + 1) % 7)

    start = datetime.combine(last_sunday(3), datetime.min.time(), UTC) + timedelta(hours=1)
    end = datetime.combine(last_sunday(10), datetime.min.time(), UTC) + timedelta(hours=1)
    return start.timestamp(), end.timestamp()


@cache
def _local_hour_of(utc_hour: int) -> tuple[date, int]:
    ts = utc_hour * HOUR
    year = datetime.fromtimestamp(ts, UTC).year
    start, end = _summer_bounds(year)
    local = datetime.fromtimestamp(ts + (2 if start <= ts < end else 1) * HOUR, UTC)
    return local.date(), local.hour


def local_day_hour(ts: float) -> tuple[date, int]:
    """Europe/Stockholm date and hour of a UTC time."""
    return _local_hour_of(int(ts // HOUR))


# --------------------------------------------------------------------------- shared helpers


def _is_person_access(r: Rec) -> bool:
    """A user opened something of one person and was shown data, in clinical work."""
    return (
        r.user_id is not None
        and r.person_id is not None
        and r.outcome == Outcome.ALLOWED
        and r.returned
        and r.purpose in CLINICAL
    )


def _recent(times: Sequence[float], lo: float, hi: float) -> bool:
    """Is there a time in [lo, hi]?"""
    i = bisect_left(times, lo)
    return i < len(times) and times[i] <= hi


def care_context(f: Facts, person: str, org: str | None, ts: float) -> bool:
    """Does care explain a nurse's access at ``ts``: an alert on the person open at the time or
    within ``ALERT_DAYS`` before, a care action by the organization within ``CARE_DAYS`` before,
    or a consent change within ``CONSENT_DAYS`` before (each also up to ``AFTER_SECONDS`` after)?"""
    hi = ts + AFTER_SECONDS
    alerts = f.alerts.get(person)
    if alerts:
        lo = ts - ALERT_DAYS * DAY
        for _opened, closed in alerts[: bisect_right(alerts, (hi, INF))]:
            if closed >= lo:
                return True
    if org is None:
        return False
    care = f.care.get((person, org))
    if care and _recent(care, ts - CARE_DAYS * DAY, hi):
        return True
    changes = f.consent_changes.get((person, org))
    return bool(changes) and _recent(changes, ts - CONSENT_DAYS * DAY, hi)


def _merge_params(a: Mapping[str, object], b: Mapping[str, object]) -> dict[str, object]:
    """Numbers keep the larger, lists their union, booleans any; anything else the newer value."""
    out = dict(a)
    for k, v in b.items():
        old = out.get(k)
        if isinstance(v, bool) or isinstance(old, bool):
            out[k] = bool(old) or bool(v)
        elif isinstance(v, int | float) and isinstance(old, int | float):
            out[k] = max(old, v)
        elif isinstance(v, list) and isinstance(old, list):
            both = set(old) | set(v)
            try:
                out[k] = sorted(both)
            except TypeError:  # mixed kinds: a stable order all the same
                out[k] = sorted(both, key=str)
        else:
            out[k] = v
    return out


merge_params = _merge_params


@dataclass
class _Episode:
    first: float
    last: float
    seqs: set[int]
    params: dict[str, object]
    head: Rec


def _episodes(
    rule: RuleId,
    hits: Iterable[tuple[tuple, Rec, Iterable[int], Mapping[str, object]]],
    *,
    person: bool,
    key: Callable[[tuple], str] = lambda _k: "",
) -> list[Candidate]:
    """Group hits (group key, record, evidence, params), in time order, into one candidate per
    group and run of hits no further apart than the rule's merge gap."""
    gap = MERGE_GAP[rule]
    open_: dict[tuple, _Episode] = {}
    done: list[tuple[tuple, _Episode]] = []
    for group, rec, evidence, params in hits:
        ep = open_.get(group)
        if ep is not None and rec.ts - ep.last <= gap:
            ep.last = max(ep.last, rec.ts)
            ep.seqs.update(evidence)
            ep.params = _merge_params(ep.params, params)
            continue
        if ep is not None:
            done.append((group, ep))
        open_[group] = _Episode(rec.ts, rec.ts, set(evidence), dict(params), rec)
    done.extend(open_.items())
    out = []
    for group, ep in done:
        r = ep.head
        out.append(
            Candidate(
                rule=rule,
                organization_id=r.org or "",
                user_id=r.user_id or "",
                username=r.username or "",
                person_id=r.person_id if person else None,
                key=key(group),
                first_ts=ep.first,
                last_ts=ep.last,
                evidence=tuple(sorted(ep.seqs)),
                params=ep.params,
            )
        )
    return out


# --------------------------------------------------------------------------- the record rules


def browsing(f: Facts) -> list[Candidate]:
    """A nurse opened a record with no open alert, no recent care contact and no consent change."""
    hits = []
    for r in f.accesses:
        if r.role != Role.NURSE or r.purpose != Purpose.CARE:
            continue
        if care_context(f, r.person_id, r.org, r.ts):
            continue
        params = {
            "alert_days": ALERT_DAYS,
            "care_days": CARE_DAYS,
            "consent_days": CONSENT_DAYS,
            "accesses": 1,
        }
        hits.append(((r.user_id, r.person_id), r, (r.seq,), params))
    out = _episodes(RuleId.BROWSING, hits, person=True)
    return [_with_count(c) for c in out]


def _with_count(c: Candidate) -> Candidate:
    """Candidates whose "accesses" param counts the evidence."""
    return Candidate(**{**c.__dict__, "params": {**c.params, "accesses": len(c.evidence)}})


def _relations(f: Facts, r: Rec, staff: Mapping[str, list[tuple[str, str]]]) -> list[Relation]:
    person = f.people.get(r.person_id)
    if person is None:
        return []
    found: list[Relation] = []
    own = f.links.get(r.user_id)
    if person.personnummer is not None:
        if own is not None and own.personnummer == person.personnummer:
            found.append(Relation.SELF)
        elif any(uid != r.user_id and org == r.org for uid, org in staff.get(person.personnummer, ())):
            found.append(Relation.COLLEAGUE)
    if own is None:
        return found
    if own.address is not None and own.address == person.address:
        found.append(Relation.SAME_ADDRESS)
    if own.surnames & person.surnames:
        # a shared surname alone is common (Andersson, Johansson...): it counts where the work
        # does not explain the access (a nurse without care context, a coach refused)
        if r.role == Role.NURSE:
            explained = r.outcome == Outcome.ALLOWED and care_context(f, r.person_id, r.org, r.ts)
        elif r.role == Role.COACH:
            explained = r.outcome == Outcome.ALLOWED
        else:
            explained = True
        if not explained:
            found.append(Relation.SAME_SURNAME)
    return found


def relation(f: Facts) -> list[Candidate]:
    """A user read (or tried to read) their own record, a colleague's, or that of someone with the
    same surname or address."""
    if not f.people:
        return []
    staff: dict[str, list[tuple[str, str]]] = {}
    for uid, d in f.links.items():
        if d.personnummer is not None:
            staff.setdefault(d.personnummer, []).append((uid, f.user_org.get(uid, "")))
    # a person whose digests match no linked user's can be related to no one: skip them at once
    known = {d.personnummer for d in f.links.values()} | {d.address for d in f.links.values()}
    known |= {s for d in f.links.values() for s in d.surnames}
    known.discard(None)
    related: dict[str, bool] = {}
    hits = []
    cache: dict[tuple[str, str, bool], list[Relation]] = {}
    for r in f.records:
        pid = r.person_id
        if pid is None or r.user_id is None or r.purpose not in CLINICAL:
            continue
        maybe = related.get(pid)
        if maybe is None:
            d = f.people.get(pid)
            maybe = related[pid] = d is not None and bool(
                d.personnummer in known or d.address in known or d.surnames & known
            )
        if not maybe or r.outcome not in (Outcome.ALLOWED, Outcome.DENIED):
            continue
        if r.role == Role.NURSE:
            # the surname test depends on the care context at the time: no caching
            rels = _relations(f, r, staff)
        else:
            ck = (r.user_id, r.person_id, r.outcome == Outcome.ALLOWED)
            rels = cache.get(ck)
            if rels is None:
                rels = cache[ck] = _relations(f, r, staff)
        if rels:
            params = {"relations": sorted(str(x) for x in rels), "accesses": 1}
            hits.append(((r.user_id, r.person_id), r, (r.seq,), params))
    return [_with_count(c) for c in _episodes(RuleId.RELATION, hits, person=True)]


def _windows(
    rule: RuleId,
    tail: Sequence[Rec],
    records: Sequence[Rec],
    window: float,
    threshold: int,
    distinct: Callable[[Rec], object],
    params: Callable[[int, set], dict[str, object]],
) -> list[Candidate]:
    """Sliding windows per user over ``tail`` (already judged) and ``records`` (new): fires at each
    new record whose window (``window`` seconds ending at it) holds ``threshold`` or more distinct
    values of ``distinct``; overlapping windows are one episode whose evidence is every record of
    its windows."""
    # a window of ``window`` seconds lies within two neighbouring slots of that length: users whose
    # neighbouring slots never hold ``threshold`` distinct values together cannot fire (a cheap
    # pass that spares most users the sliding one)
    slots: dict[tuple[str, int], set] = {}
    for part in (tail, records):
        for r in part:
            slots.setdefault((r.user_id, int(r.ts // window)), set()).add(distinct(r))
    hot = {
        user
        for (user, slot), values in slots.items()
        if len(values) + len(slots.get((user, slot + 1), ())) >= threshold
    }
    if not hot:
        return []
    by_user: dict[str, list[tuple[Rec, bool]]] = {}
    for r in tail:
        if r.user_id in hot:
            by_user.setdefault(r.user_id, []).append((r, False))
    for r in records:
        if r.user_id in hot:
            by_user.setdefault(r.user_id, []).append((r, True))
    out: list[Candidate] = []
    for items in by_user.values():
        win: deque[Rec] = deque()
        counts: dict[object, int] = {}
        episode: _Episode | None = None
        for r, new in items:
            win.append(r)
            d = distinct(r)
            counts[d] = counts.get(d, 0) + 1
            while win[0].ts < r.ts - window:
                old = win.popleft()
                od = distinct(old)
                counts[od] -= 1
                if not counts[od]:
                    del counts[od]
            if not new or len(counts) < threshold:
                continue
            start = win[0].ts
            seqs = {x.seq for x in win}
            people = {x.person_id for x in win if x.person_id}
            p = params(len(counts), people)
            if episode is not None and start <= episode.last:
                episode.last = r.ts
                episode.seqs |= seqs
                episode.params = _merge_params(episode.params, p)
            else:
                if episode is not None:
                    out.append(_window_candidate(rule, episode))
                episode = _Episode(start, r.ts, seqs, p, r)
        if episode is not None:
            out.append(_window_candidate(rule, episode))
    return out


def _window_candidate(rule: RuleId, ep: _Episode) -> Candidate:
    r = ep.head
    return Candidate(
        rule=rule,
        organization_id=r.org or "",
        user_id=r.user_id or "",
        username=r.username or "",
        person_id=None,
        key="",
        first_ts=ep.first,
        last_ts=ep.last,
        evidence=tuple(sorted(ep.seqs)),
        params=ep.params,
    )


def volume(f: Facts) -> list[Candidate]:
    """Many distinct people opened within an hour."""
    return _windows(
        RuleId.VOLUME,
        f.tail_accesses,
        f.accesses,
        VOLUME_MINUTES * 60,
        VOLUME_PEOPLE,
        lambda r: r.person_id,
        lambda n, _people: {"people": n, "minutes": VOLUME_MINUTES, "threshold": VOLUME_PEOPLE},
    )


def _is_denied(r: Rec) -> bool:
    return r.user_id is not None and r.outcome == Outcome.DENIED and r.resource_type not in SESSION_RESOURCES


def probing(f: Facts) -> list[Candidate]:
    """Repeated denied requests within an hour."""
    return _windows(
        RuleId.PROBING,
        f.tail_denied,
        f.denied,
        PROBING_MINUTES * 60,
        PROBING_DENIED,
        lambda r: r.seq,
        lambda n, people: {
            "denied": n,
            "minutes": PROBING_MINUTES,
            "threshold": PROBING_DENIED,
            "people": len(people),
        },
    )


@cache
def _hours_of(mask: int) -> tuple[int, ...]:
    return tuple(h for h in range(24) if mask >> h & 1)


@cache
def _days_before(on: date) -> tuple[date, ...]:
    return tuple(on - timedelta(days=back) for back in range(1, BASELINE_DAYS + 1))


def usual_hours(days: Mapping[date, int], on: date) -> tuple[int, int]:
    """(mask of the usual local hours, days active) over the ``BASELINE_DAYS`` before ``on``."""
    counts = [0] * 24
    active = 0
    for day in _days_before(on):
        mask = days.get(day, 0)
        if not mask:
            continue
        active += 1
        for h in _hours_of(mask):
            counts[h] += 1
    usual = 0
    for h in range(24):
        if counts[h] >= USUAL_MIN_DAYS:
            # an hour next to a usual one is usual too (a shift that starts or ends a bit off)
            usual |= 1 << h | 1 << ((h + 1) % 24) | 1 << ((h - 1) % 24)
    return usual, active


def _hours_list(mask: int) -> list[int]:
    return [h for h in range(24) if mask >> h & 1]


def out_of_hours(f: Facts) -> list[Candidate]:
    """People opened at a local hour the user does not usually work (against the user's own hours
    of the previous four weeks)."""
    hits = []
    profiles: dict[tuple[str, date], tuple[int, int]] = {}
    for r in f.accesses:
        day, hour = local_day_hour(r.ts)
        pk = (r.user_id, day)
        prof = profiles.get(pk)
        if prof is None:
            prof = profiles[pk] = usual_hours(f.activity.get(r.user_id, {}), day)
        usual, active = prof
        if active < MIN_BASELINE_DAYS or usual >> hour & 1:
            continue
        params = {
            "hours": [hour],
            "usual_hours": _hours_list(usual),
            "baseline_days": active,
            "accesses": 1,
        }
        hits.append(((r.user_id,), r, (r.seq,), params))
    return [_with_count(c) for c in _episodes(RuleId.OUT_OF_HOURS, hits, person=False)]


def coach_other_employer(f: Facts) -> list[Candidate]:
    """A coach read (or tried to read) a participant of an employer the coach does not serve."""
    hits = []
    for r in f.records:
        if r.role != Role.COACH or r.user_id is None or r.person_id is None:
            continue
        if r.outcome not in (Outcome.ALLOWED, Outcome.DENIED) or r.purpose != Purpose.COACHING:
            continue
        served = f.served.get(r.user_id)
        employer = f.person_employer.get(r.person_id)
        if not served or employer is None:
            continue
        day = local_day_hour(r.ts)[0]
        if any(s.employer_id == employer and s.on(day) for s in served):
            continue
        params = {"accesses": 1, "allowed": r.outcome == Outcome.ALLOWED}
        hits.append(((r.user_id, r.person_id), r, (r.seq,), params))
    return [_with_count(c) for c in _episodes(RuleId.COACH_EMPLOYER, hits, person=True)]


RECORD_RULES: tuple[Callable[[Facts], list[Candidate]], ...] = (
    browsing,
    relation,
    volume,
    out_of_hours,
    probing,
    coach_other_employer,
)


def evaluate(f: Facts) -> list[Candidate]:
    """Every record rule over one batch."""
    out: list[Candidate] = []
    for rule in RECORD_RULES:
        out.extend(rule(f))
    return out


# --------------------------------------------------------------------------- the time rule


def emergency_unreviewed(grants: Iterable[GrantFact], now: float) -> list[Candidate]:
    """A break-the-glass access not reviewed within ``REVIEW_HOURS`` (fires once the time is up)."""
    out = []
    for g in grants:
        deadline = g.created + REVIEW_HOURS * HOUR
        if now < deadline or (g.first_review is not None and g.first_review <= deadline):
            continue
        after = None if g.first_review is None else round((g.first_review - g.created) / HOUR, 1)
        out.append(
            Candidate(
                rule=RuleId.EMERGENCY_UNREVIEWED,
                organization_id=g.organization_id,
                user_id=g.user_id,
                username=g.username,
                person_id=g.person_id,
                key=g.grant_id,
                first_ts=g.created,
                last_ts=g.created,
                evidence=tuple(sorted(g.evidence)),
                params={"hours": REVIEW_HOURS, "reviewed_after_hours": after},
            )
        )
    return out
