"""The demo's privacy-monitoring story: four weeks of routine audit traffic with a few improper
accesses planted among it, for the findings rules to find and the supervisors to judge.

``seed_monitoring`` runs once after ``prepare_demo``, on an empty audit log, and adds:

- the staff's identity links (keyed hashes, with the published demo key: ``identity.demo_key``):
  `david` is also a patient at his own care centre, `bertil` lives at a patient's address;
- the employers `cecilia` serves (Nordbygg AB; Solgruppen AB until its contract ended);
- the routine work of the last ``ROUTINE_DAYS`` days as the audit log would have recorded it:
  logins and logouts, the screens' polling (thinned: ``POLL_EVERY``), searches, nurses opening
  patients and acting on the alerts that ``prepare_demo`` closed (moved into their working
  hours), follow-ups, the coach's participants, the supervisors' log reviews, an emergency access
  reviewed the same day, a refused request, and two patients a nurse opened because they phoned in
  (unexplained by the log, so the browsing rule flags them);
- the planted cases: browsing, a colleague's record, a namesake, a neighbour, a
  sweep through many patients, a night visit, a coach reading another employer's participants,
  two rounds of trying doors, an emergency access nobody reviewed, and one pretext the rules
  cannot see.

Every access is decided by the real policy (``policy.authorize`` on the people's real consents),
so outcomes, categories and purposes are what the server would have recorded. Records are
appended to the hash chain in time order with their past times (``chain.append(at=...)``). The
return value names each planted case with its audit sequence numbers: that is the ground truth
``bench/bench_findings_quality.py`` measures the rules against; nothing in the database says
which accesses were planted.
"""

from __future__ import annotations

import dataclasses
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clinic_server.access.facts import load_facts
from clinic_server.access.policy import Action, Actor, Decision, PersonFacts, authorize
from clinic_server.audit.chain import RequestInfo, Who, append
from clinic_server.db.models import (
    Alert,
    AlertEvent,
    AuditEvent,
    BreakGlassGrant,
    BreakGlassVerdict,
    CoachAssignment,
    CoachEmployer,
    Condition,
    Consent,
    Employer,
    Organization,
    Person,
    PersonNotice,
    User,
)
from clinic_server.demo.accounts import NORRA, SODER
from clinic_server.demo.seed import DEFAULT_SEED
from clinic_server.services.findings.identity import demo_key, link_user
from clinic_server.services.findings.rules import local_day_hour
from clinic_tui.domain import personnummer
from clinic_tui.domain.categories import Category
from clinic_tui.domain.codes import LOINC_SYSTOLIC, LOINC_WEIGHT
from clinic_tui.domain.findings import RuleId, Verdict
from clinic_tui.domain.roles import Outcome, Purpose, Role

__all__ = ["PlantedCase", "MonitoringDemo", "seed_monitoring"]

ROUTINE_DAYS = 28
#: nurses' working hours (local): remote monitoring is staffed every day
NURSE_HOURS = (7, 16)
#: the coach works weekdays
COACH_HOURS = (8, 17)
#: the app polls the alert changes every 5 s, the list every 30 s and renews its token every 10
#: minutes; the demo keeps one of each per 20, 60 and 60 minutes (enough for the log to look like a
#: working day, few enough to seed in a second)
POLL_EVERY = timedelta(minutes=20)
LIST_EVERY = timedelta(minutes=60)
REFRESH_EVERY = timedelta(minutes=60)
CLIENT = ("clinic-tui", "0.1.0")


@dataclass(frozen=True)
class PlantedCase:
    """One improper access (or a few of one kind), and the rules expected to find it."""

    name: str
    username: str
    person_id: str | None
    #: the rules that should find it; empty: no rule can (a known miss, reported as such)
    rules: tuple[RuleId, ...]
    seqs: tuple[int, ...]
    description: str


@dataclass
class MonitoringDemo:
    records: int
    routine: int
    planted: list[PlantedCase]
    #: alert events moved into working hours / left where they were (their next morning was after now)
    moved_events: int = 0
    kept_events: int = 0


@dataclass(order=True)
class _Pending:
    ts: datetime
    order: int
    who: Who = field(compare=False)
    action: str = field(compare=False)
    resource_type: str = field(compare=False)
    resource_id: str | None = field(compare=False, default=None)
    person_id: str | None = field(compare=False, default=None)
    categories: tuple[str, ...] = field(compare=False, default=())
    purpose: str = field(compare=False, default=Purpose.UNKNOWN)
    outcome: str = field(compare=False, default=Outcome.ALLOWED)
    reason: str = field(compare=False, default="allowed")
    details: dict = field(compare=False, default_factory=dict)
    case: str | None = field(compare=False, default=None)


def local_time(day: date, minutes: int) -> datetime:
    """UTC of ``day`` at ``minutes`` past local (Europe/Stockholm) midnight."""
    wall = datetime.combine(day, time(0), UTC) + timedelta(minutes=minutes)
    for offset in (1, 2):
        utc = wall - timedelta(hours=offset)
        if local_day_hour(utc.timestamp()) == (wall.date(), wall.hour):
            return utc
    return wall - timedelta(hours=1)  # the hour the clocks skip in spring


class _Story:
    def __init__(self, session: Session, now: datetime, seed: int):
        self.s = session
        self.now = now
        self.rng = random.Random(seed * 31 + 12)
        self.pending: list[_Pending] = []
        self.n = 0
        self.users = {u.username: u for u in session.scalars(select(User))}
        self.orgs = {o.name: o for o in session.scalars(select(Organization))}
        self.kinds = {o.id: o.kind for o in self.orgs.values()}
        self._facts: dict[tuple[str, str], PersonFacts] = {}
        self.grants: dict[tuple[str, str], datetime] = {}

    # ------------------------------------------------------------------ who and what

    def who(self, username: str) -> Who:
        u = self.users[username]
        return Who(u.id, u.username, u.role, u.organization_id)

    def actor(self, username: str) -> Actor:
        u = self.users[username]
        return Actor(u.id, u.username, u.role, u.organization_id, self.kinds[u.organization_id])

    def decide(
        self, username: str, person_id: str, at: datetime, action: Action = Action.READ_RECORD
    ) -> Decision:
        key = (username, person_id)
        facts = self._facts.get(key)
        if facts is None:
            facts = load_facts(self.s, self.actor(username), [person_id], self.now)[person_id]
            self._facts[key] = facts
        until = self.grants.get(key)
        if until is not None and at < until:
            facts = dataclasses.replace(facts, break_glass_until=until)
        return authorize(self.actor(username), action, facts, at)

    def emit(self, ts: datetime, username: str | None, action: str, resource_type: str, **kw) -> _Pending:
        self.n += 1
        who = self.who(username) if username else Who(None, None, None, None)
        p = _Pending(ts, self.n, who, action, resource_type, **kw)
        self.pending.append(p)
        return p

    # ------------------------------------------------------------------ screens

    def open_patient(self, at: datetime, username: str, person_id: str, case: str | None = None) -> bool:
        """Open one patient's record the way the app does (record, then trend and alerts)."""
        d = self.decide(username, person_id, at)
        if not d.permitted:
            self.emit(
                at,
                username,
                "read",
                "person",
                resource_id=person_id,
                person_id=person_id,
                purpose=d.purpose,
                outcome=Outcome.DENIED,
                reason=d.reason,
                case=case,
            )
            return False
        cats = tuple(sorted(str(c) for c in d.allowed))
        self.emit(
            at,
            username,
            "read",
            "person",
            resource_id=person_id,
            person_id=person_id,
            categories=cats,
            purpose=d.purpose,
            reason=d.reason,
            case=case,
        )
        if Category.VITALS in d.allowed:
            self.emit(
                at + timedelta(seconds=1),
                username,
                "read",
                "observation",
                resource_id=LOINC_SYSTOLIC if self.rng.random() < 0.6 else LOINC_WEIGHT,
                person_id=person_id,
                categories=(str(Category.VITALS),),
                purpose=d.purpose,
                reason=d.reason,
                details={"points": self.rng.randint(20, 90)},
                case=case,
            )
            if self.users[username].role == Role.NURSE:
                self.emit(
                    at + timedelta(seconds=2),
                    username,
                    "read",
                    "alert",
                    resource_id=person_id,
                    person_id=person_id,
                    categories=(str(Category.VITALS),),
                    purpose=d.purpose,
                    reason=d.reason,
                    case=case,
                )
        return True

    def session_day(self, username: str, day: date, hours: tuple[int, int], *, polls_alerts: bool) -> tuple:
        start = local_time(day, hours[0] * 60 + self.rng.randint(-12, 8))
        end = local_time(day, hours[1] * 60 + self.rng.randint(-10, 20))
        if end >= self.now:
            end = self.now - timedelta(minutes=5)
        if start >= end:
            return start, end
        purpose = Purpose.CARE if polls_alerts else Purpose.COACHING
        self.emit(start, username, "login", "session", purpose=Purpose.AUTHENTICATION, reason="password")
        t = start + timedelta(seconds=20)
        if polls_alerts:
            self.emit(
                t,
                username,
                "list",
                "alert",
                categories=("conditions", "identity", "vitals"),
                purpose=purpose,
                reason="alerts of people with a consent covering vitals",
                details={"state": "open", "filtered": False, "paged": False},
            )
        self.emit(
            t + timedelta(seconds=15),
            username,
            "list",
            "person",
            categories=("identity",),
            purpose=purpose,
            reason="people on the user's list",
        )
        poll, lst, refresh = t + POLL_EVERY, t + LIST_EVERY, start + timedelta(minutes=10)
        while min(poll, lst, refresh) < end:
            nxt = min(poll, lst, refresh)
            if nxt == poll:
                if polls_alerts:
                    self.emit(
                        poll,
                        username,
                        "list",
                        "alert",
                        categories=("conditions", "identity", "vitals"),
                        purpose=purpose,
                        reason="changed alerts of people with a consent covering vitals",
                        details={
                            "changes_since": (poll - timedelta(seconds=10)).isoformat(),
                            "truncated": False,
                        },
                    )
                poll += POLL_EVERY
            elif nxt == lst:
                self.emit(
                    lst,
                    username,
                    "list",
                    "person",
                    categories=("identity",),
                    purpose=purpose,
                    reason="people on the user's list",
                )
                lst += LIST_EVERY
            else:
                self.emit(refresh, username, "token_refresh", "session", purpose=Purpose.AUTHENTICATION)
                refresh += REFRESH_EVERY
        # a few deliberate searches of the list through the day (work the screens do not do by themselves)
        span = int((end - start).total_seconds() // 60)
        for _ in range(self.rng.randint(3, 6)):
            at = start + timedelta(minutes=self.rng.randint(15, max(16, span - 10)))
            self.emit(
                at,
                username,
                "search",
                "person",
                categories=("identity",),
                purpose=purpose,
                reason="people on the user's list matching the search",
                details={"filtered": True},
            )
        self.emit(end, username, "logout", "session", purpose=Purpose.AUTHENTICATION, reason="session ended")
        return start, end

    def transition(self, at: datetime, username: str, alert: Alert, ev: AlertEvent, version: int) -> None:
        d = self.decide(username, alert.person_id, at, Action.ACT_ON_ALERT)
        action = {"acknowledged": "acknowledge", "resolved": "resolve", "escalated": "escalate"}[ev.to_state]
        cats = sorted({str(Category.VITALS)} | ({str(Category.IDENTITY)} & {str(c) for c in d.allowed}))
        self.emit(
            at,
            username,
            action,
            "alert",
            resource_id=str(alert.id),
            person_id=alert.person_id,
            categories=tuple(cats),
            purpose=Purpose.CARE,
            reason=d.reason,
            details={
                "action": action,
                "from": ev.from_state,
                "to": ev.to_state,
                "version": version,
                "note": ev.note is not None,
            },
        )

    def break_glass(
        self, at: datetime, username: str, person: Person, reason: str, case: str | None
    ) -> BreakGlassGrant:
        user = self.users[username]
        grant = BreakGlassGrant(
            user_id=user.id,
            person_id=person.id,
            reason=reason,
            created_at=at,
            expires_at=at + timedelta(minutes=60),
        )
        self.s.add(grant)
        self.s.add(
            PersonNotice(
                person_id=person.id,
                kind="break_glass",
                text=(
                    f"{user.organization.name} opened your record without your consent in an emergency "
                    f"(break-the-glass) on {at:%Y-%m-%d} at {at:%H:%M} UTC. "
                    "The access is time-limited and reviewed by the organization's supervisor."
                ),
                created_at=at,
            )
        )
        self.s.flush()
        self.grants[(username, person.id)] = grant.expires_at
        self.emit(
            at,
            username,
            "break_glass",
            "break_glass_grant",
            resource_id=grant.id,
            person_id=person.id,
            purpose=Purpose.EMERGENCY,
            reason="break-the-glass grant created (vital interests); flagged for review",
            details={"reason": reason, "expires_at": grant.expires_at.isoformat()},
            case=case,
        )
        return grant

    def log_review(self, at: datetime, username: str) -> None:
        self.emit(at, username, "login", "session", purpose=Purpose.AUTHENTICATION, reason="password")
        for i, filters in enumerate(({}, {"outcome": "denied"}, {"action": "break_glass"})):
            self.emit(
                at + timedelta(minutes=1 + 3 * i),
                username,
                "audit_query",
                "audit_event",
                purpose=Purpose.AUDIT,
                reason="audit log query",
                details={"filters": filters},
            )
        self.emit(
            at + timedelta(minutes=11),
            username,
            "review_list",
            "break_glass_grant",
            purpose=Purpose.AUDIT,
            reason="break-the-glass grants awaiting review",
        )
        self.emit(at + timedelta(minutes=14), username, "logout", "session", purpose=Purpose.AUTHENTICATION)


def _days(now: datetime, n: int) -> list[date]:
    today = local_day_hour(now.timestamp())[0]
    return [today - timedelta(days=back) for back in range(n, 0, -1)]


def _shift_events(session: Session, now: datetime, rng: random.Random) -> tuple[int, int]:
    """Move the alert handling ``prepare_demo`` made outside the nurses' hours to their next shift
    (keeping each alert's order); an event whose next shift has not come yet stays where it is."""
    moved = kept = 0
    by_alert: dict[int, list[AlertEvent]] = defaultdict(list)
    for ev in session.scalars(select(AlertEvent).order_by(AlertEvent.alert_id, AlertEvent.at, AlertEvent.id)):
        by_alert[ev.alert_id].append(ev)
    for alert_id, events in by_alert.items():
        prev: datetime | None = None
        for ev in events:
            at = ev.at
            day, hour = local_day_hour(at.timestamp())
            if not NURSE_HOURS[0] <= hour < NURSE_HOURS[1]:
                target = day if hour < NURSE_HOURS[0] else day + timedelta(days=1)
                new = local_time(target, NURSE_HOURS[0] * 60 + rng.randint(5, 50))
                if new < now - timedelta(minutes=30):
                    at = new
                    moved += 1
                else:
                    kept += 1
            if prev is not None and at <= prev:
                at = prev + timedelta(minutes=rng.randint(8, 40))
            if at != ev.at:
                ev.at = at
            prev = at
        alert = session.get(Alert, alert_id)
        if alert is not None and events and alert.updated_at < events[-1].at:
            alert.updated_at = events[-1].at
    session.flush()
    return moved, kept


def seed_monitoring(
    session: Session, *, now: datetime | None = None, seed: int = DEFAULT_SEED
) -> MonitoringDemo:
    """Add the monitoring story to a freshly seeded and prepared demo database. Commits."""
    if session.scalar(select(func.count()).select_from(AuditEvent)):
        raise RuntimeError(
            "the audit log already has records; the demo's past traffic goes only into an empty one"
        )
    now = now or datetime.now(UTC)
    story = _Story(session, now, seed)
    rng = story.rng
    s = session
    users = story.users
    norra, soder = story.orgs[NORRA], story.orgs[SODER]

    # ---------------------------------------------------------------- who is who
    moved, kept = _shift_events(s, now, rng)
    people = {p.id: p for p in s.scalars(select(Person))}
    active = defaultdict(set)  # org id -> people with an active care consent
    for c in s.scalars(select(Consent).where(Consent.purpose == "care", Consent.status == "active")):
        if c.valid_until is None or c.valid_until > now:
            active[c.organization_id].add(c.person_id)
    with_alerts = set(s.scalars(select(Alert.person_id)))
    handled: dict[str, list[tuple[datetime, str]]] = defaultdict(list)  # person -> (time, nurse)
    events = s.execute(
        select(AlertEvent, Alert, User.username)
        .join(Alert, Alert.id == AlertEvent.alert_id)
        .join(User, User.id == AlertEvent.user_id)
        .order_by(AlertEvent.at, AlertEvent.id)
    ).all()
    for ev, alert, name in events:
        handled[alert.person_id].append((ev.at, name))

    def visible(username: str, pids) -> list[str]:
        mid = now - timedelta(days=7)
        return sorted(p for p in pids if story.decide(username, p, mid).permitted)

    norra_only = visible("anna", active[norra.id] - active[soder.id])
    soder_only = visible("bertil", active[soder.id] - active[norra.id])
    quiet_norra = [p for p in norra_only if p not in with_alerts]  # nothing in the log explains a visit
    quiet_soder = [p for p in soder_only if p not in with_alerts]

    # David Holm, supervisor at Norra, is also one of its patients
    key = demo_key()
    drng = random.Random(seed * 7 + 3)
    david_person = Person(
        personnummer=personnummer.generate(drng, date(1978, 3, 14), "male"),
        given_name="David",
        family_name="Holm",
        birth_date=date(1978, 3, 14),
        sex="male",
        phone="070-555 12 34",
        email="david.holm@example.org",
        address="Skolgatan 7, 753 11 Uppsala",
        created_at=now - timedelta(days=400),
    )
    s.add(david_person)
    s.flush()
    s.add(Condition(person_id=david_person.id, code="hypertension", onset=date(2019, 5, 1)))
    s.add(
        Consent(
            person_id=david_person.id,
            organization_id=norra.id,
            categories=[
                str(c) for c in (Category.IDENTITY, Category.CONTACT, Category.CONDITIONS, Category.VITALS)
            ],
            purpose="care",
            valid_from=now - timedelta(days=300),
            created_at=now - timedelta(days=300),
        )
    )
    s.flush()
    people[david_person.id] = david_person
    # (not the patient who phones in below: bertil has no routine reason to open the neighbour)
    neighbour = people[quiet_soder[1 + rng.randrange(len(quiet_soder) - 1)]]

    def pnr(birth: date, sex: str) -> str:
        return personnummer.generate(drng, birth, sex)

    identities = {
        "anna": (pnr(date(1984, 6, 2), "female"), "Lind", "Lärkvägen 14, 191 40 Sollentuna"),
        "bertil": (pnr(date(1969, 11, 23), "male"), "Ek", neighbour.address),
        "cecilia": (pnr(date(1990, 2, 9), "female"), "Berg", "Tallvägen 3, 722 14 Västerås"),
        "david": (david_person.personnummer, "Holm", david_person.address),
        "eva": (pnr(date(1975, 8, 30), "female"), "Dahl", "Vasagatan 21, 411 24 Göteborg"),
        "frida": (pnr(date(1988, 1, 17), "female"), "Nord", "Sjövägen 9, 903 25 Umeå"),
    }
    for name, (number, surname, address) in identities.items():
        if name in users:
            link_user(s, key, users[name].id, personnummer_value=number, family_name=surname, address=address)

    # the employers cecilia serves: Nordbygg, and Solgruppen until its contract ended
    employers = {e.name: e for e in s.scalars(select(Employer))}
    cecilia = users["cecilia"]
    for emp in employers.values():
        s.add(
            CoachEmployer(
                coach_id=cecilia.id,
                employer_id=emp.id,
                valid_from=emp.contract_start,
                valid_until=emp.contract_end,
            )
        )
    s.flush()

    # ---------------------------------------------------------------- routine work
    days = _days(now, ROUTINE_DAYS)
    for day in days:
        for nurse in ("anna", "bertil"):
            story.session_day(nurse, day, NURSE_HOURS, polls_alerts=True)
        if day.weekday() < 5:
            start, end = story.session_day("cecilia", day, COACH_HOURS, polls_alerts=False)
            assigned = _served_participants(s, cecilia.id, employers["Nordbygg AB"].id)
            for _ in range(rng.randint(2, 5)):
                at = start + timedelta(
                    minutes=rng.randint(30, max(31, int((end - start).total_seconds() // 60) - 20))
                )
                if at < end:
                    story.open_patient(at, "cecilia", rng.choice(assigned))
        if day.weekday() == 0:
            for sup in ("david", "eva", "frida"):
                if sup in users:
                    story.log_review(local_time(day, 10 * 60 + rng.randint(0, 40)), sup)

    # the alert handling prepare_demo recorded, with the visits around it
    versions: dict[int, int] = defaultdict(lambda: 1)
    for ev, alert, name in events:
        at = ev.at
        versions[alert.id] += 1
        if ev.to_state == "acknowledged":
            story.open_patient(at - timedelta(seconds=rng.randint(60, 240)), name, alert.person_id)
        else:
            story.open_patient(at - timedelta(seconds=rng.randint(40, 120)), name, alert.person_id)
        story.transition(at, name, alert, ev, versions[alert.id])
        if ev.to_state in ("resolved", "escalated") and rng.random() < 0.3:
            later = local_time(
                local_day_hour(at.timestamp())[0] + timedelta(days=rng.randint(1, 5)),
                NURSE_HOURS[0] * 60 + rng.randint(60, 7 * 60),
            )
            if later < now - timedelta(hours=1):
                story.open_patient(later, name, alert.person_id)

    # two patients who phoned in: opened with nothing in the log to explain it
    story.open_patient(local_time(days[-11], 10 * 60 + 40), "anna", quiet_norra[0])
    story.open_patient(local_time(days[-13], 13 * 60 + 15), "bertil", quiet_soder[0])
    # a stale list: a patient who withdrew their consent meanwhile (refused once)
    withdrawn = sorted(
        c.person_id
        for c in s.scalars(
            select(Consent).where(Consent.status == "withdrawn", Consent.organization_id == norra.id)
        )
    )
    if withdrawn:
        story.open_patient(local_time(days[-16], 9 * 60 + 5), "anna", withdrawn[0])
    # an emergency access, reviewed the same day (justified)
    glass_person = people[soder_only[1]]
    grant_at = local_time(days[-9], 10 * 60 + 12)
    grant = story.break_glass(
        grant_at, "anna", glass_person, "Patient collapsed at our clinic; medication list needed", None
    )
    story.open_patient(grant_at + timedelta(minutes=2), "anna", glass_person.id)
    story.open_patient(grant_at + timedelta(minutes=6), "anna", glass_person.id)
    review_at = grant_at + timedelta(hours=4, minutes=18)
    if "david" in users:
        _review(
            s,
            story,
            grant,
            "david",
            review_at,
            Verdict.JUSTIFIED,
            "Ambulance case, documented in the journal.",
        )

    # ---------------------------------------------------------------- planted cases
    plans: list[tuple[str, str, str | None, tuple[RuleId, ...], str]] = []

    def plant(name, username, person_id, rules_, description):
        plans.append((name, username, person_id, rules_, description))
        return name

    namesake_at = local_time(days[-9], 14 * 60 + 5)
    alerts_of = defaultdict(list)
    for a in s.scalars(select(Alert)):
        alerts_of[a.person_id].append(a)

    def unexplained(pid: str, at: datetime) -> bool:
        """Nothing in the log or the alerts explains a visit at ``at`` (what the browsing rule asks)."""
        if any(at - timedelta(days=30) <= t <= at + timedelta(minutes=10) for t, _ in handled.get(pid, ())):
            return False
        return not any(
            a.opened_at <= at + timedelta(minutes=10)
            and (a.state not in ("resolved", "escalated") or a.updated_at >= at - timedelta(days=7))
            for a in alerts_of.get(pid, ())
        )

    lind = [p for p in norra_only if people[p].family_name == "Lind" and unexplained(p, namesake_at)]
    browsed = [p for p in quiet_norra[1:] if p not in lind][:3]
    for i, pid in enumerate(browsed):
        plant(
            f"browsing-{i + 1}",
            "anna",
            pid,
            (RuleId.BROWSING,),
            "anna opens a patient nobody asked her to see",
        )
        story.open_patient(local_time(days[-6], 13 * 60 + 40 + 4 * i), "anna", pid, f"browsing-{i + 1}")
    plant(
        "colleague",
        "anna",
        david_person.id,
        (RuleId.RELATION, RuleId.BROWSING),
        "anna opens her supervisor's record",
    )
    story.open_patient(local_time(days[-4], 11 * 60 + 20), "anna", david_person.id, "colleague")
    if lind:
        plant(
            "namesake",
            "anna",
            lind[0],
            (RuleId.RELATION, RuleId.BROWSING),
            "anna opens a patient with her surname",
        )
        story.open_patient(namesake_at, "anna", lind[0], "namesake")
    plant(
        "neighbour",
        "bertil",
        neighbour.id,
        (RuleId.RELATION, RuleId.BROWSING),
        "bertil opens the patient at his address",
    )
    story.open_patient(local_time(days[-3], 9 * 60 + 30), "bertil", neighbour.id, "neighbour")
    sweep = [p for p in soder_only if p != neighbour.id][:24]
    plant("sweep", "bertil", None, (RuleId.VOLUME,), "bertil opens 24 patients in 45 minutes")
    for i, pid in enumerate(sweep):
        story.open_patient(local_time(days[-5], 14 * 60) + timedelta(seconds=110 * i), "bertil", pid, "sweep")
    night_at = local_time(days[-2], 2 * 60 + 10)
    night = _cared_for(handled, "bertil", night_at, soder_only)[:2]
    plant(
        "night",
        "bertil",
        None,
        (RuleId.OUT_OF_HOURS,),
        "bertil opens two of his patients at two in the night",
    )
    for i, pid in enumerate(night):
        story.open_patient(night_at + timedelta(minutes=7 * i), "bertil", pid, "night")
    solgruppen = _served_participants(s, cecilia.id, employers["Solgruppen AB"].id)
    for i, pid in enumerate(solgruppen[:2]):
        name = plant(
            f"other-employer-{i + 1}",
            "cecilia",
            pid,
            (RuleId.COACH_EMPLOYER,),
            "cecilia opens a participant of an employer whose contract has ended",
        )
        story.open_patient(local_time(days[-7], 10 * 60 + 15 + 6 * i), "cecilia", pid, name)
    unassigned = _unassigned_participants(s, cecilia.id)
    doors = (unassigned + [p for p in quiet_norra if p not in browsed])[:6]
    plant(
        "doors-coach", "cecilia", None, (RuleId.PROBING,), "cecilia tries six participants who are not hers"
    )
    for i, pid in enumerate(doors):
        story.open_patient(
            local_time(days[-1], 10 * 60) + timedelta(minutes=2 * i), "cecilia", pid, "doors-coach"
        )
    plant(
        "doors-nurse", "anna", None, (RuleId.PROBING,), "anna tries five patients of the other care provider"
    )
    for i, pid in enumerate(soder_only[2:7]):
        story.open_patient(
            local_time(days[-8], 15 * 60 + 10) + timedelta(minutes=3 * i), "anna", pid, "doors-nurse"
        )
    stranger = people[norra_only[-1]]
    plant(
        "unreviewed-glass",
        "bertil",
        stranger.id,
        (RuleId.EMERGENCY_UNREVIEWED,),
        "bertil's emergency access nobody reviewed",
    )
    glass_at = local_time(days[-3], 15 * 60 + 20)
    story.break_glass(
        glass_at, "bertil", stranger, "Unconscious patient brought in, no consent on file", "unreviewed-glass"
    )
    story.open_patient(glass_at + timedelta(minutes=1), "bertil", stranger.id, "unreviewed-glass")
    story.open_patient(glass_at + timedelta(minutes=4), "bertil", stranger.id, "unreviewed-glass")
    bergs = [p for p in sorted(people) if people[p].family_name == "Berg" and people[p].employer_id is None]
    if bergs:
        plant(
            "namesake-coach",
            "cecilia",
            bergs[0],
            (RuleId.RELATION,),
            "cecilia tries to open a patient with her surname",
        )
        story.open_patient(local_time(days[-12], 11 * 60 + 3), "cecilia", bergs[0], "namesake-coach")
    pretext_at = local_time(days[-2], 10 * 60 + 30)
    annas = _cared_for(handled, "anna", pretext_at, norra_only)
    pretext = [p for p in annas if p not in browsed and people[p].family_name != "Lind"][:1]
    for pid in pretext:
        plant(
            "pretext",
            "anna",
            pid,
            (),
            "anna opens her ex-partner's record while a recent alert gives her a reason (nothing links them)",
        )
        story.open_patient(pretext_at, "anna", pid, "pretext")

    # ---------------------------------------------------------------- into the chain, in time order
    story.pending.sort()
    seqs: dict[str, list[int]] = defaultdict(list)
    for p in story.pending:
        if p.ts >= now:
            continue
        rid = f"{rng.getrandbits(128):032x}"
        seq = append(
            s,
            who=p.who,
            request=RequestInfo(rid, *CLIENT) if p.who.user_id else RequestInfo(rid, None, None),
            action=p.action,
            resource_type=p.resource_type,
            resource_id=p.resource_id,
            person_id=p.person_id,
            categories=p.categories,
            purpose=p.purpose,
            outcome=p.outcome,
            reason=p.reason,
            details=p.details,
            at=p.ts,
        )
        if p.case:
            seqs[p.case].append(seq)
    s.commit()
    planted = [
        PlantedCase(name, username, pid, rules_, tuple(seqs.get(name, ())), desc)
        for name, username, pid, rules_, desc in plans
    ]
    total = len(story.pending)
    return MonitoringDemo(
        records=total,
        routine=total - sum(len(c.seqs) for c in planted),
        planted=planted,
        moved_events=moved,
        kept_events=kept,
    )


def _review(
    s: Session,
    story: _Story,
    grant: BreakGlassGrant,
    username: str,
    at: datetime,
    verdict: Verdict,
    note: str,
) -> None:
    user = story.users[username]
    grant.reviewed_by_id, grant.reviewed_at, grant.review_note = user.id, at, note
    s.add(BreakGlassVerdict(grant_id=grant.id, ordinal=1, verdict=verdict, note=note, user_id=user.id, at=at))
    s.flush()
    story.emit(
        at - timedelta(minutes=3),
        username,
        "login",
        "session",
        purpose=Purpose.AUTHENTICATION,
        reason="password",
    )
    story.emit(
        at,
        username,
        "review",
        "break_glass_grant",
        resource_id=grant.id,
        person_id=grant.person_id,
        purpose=Purpose.AUDIT,
        reason="break-the-glass grant reviewed",
        details={"note": note, "verdict": str(verdict), "ordinal": 1},
    )
    story.emit(at + timedelta(minutes=2), username, "logout", "session", purpose=Purpose.AUTHENTICATION)


def _served_participants(s: Session, coach_id: str, employer_id: str) -> list[str]:
    return sorted(
        s.scalars(
            select(CoachAssignment.person_id)
            .join(Person, Person.id == CoachAssignment.person_id)
            .where(
                CoachAssignment.coach_id == coach_id,
                CoachAssignment.active.is_(True),
                Person.employer_id == employer_id,
            )
        )
    )


def _unassigned_participants(s: Session, coach_id: str) -> list[str]:
    assigned = select(CoachAssignment.person_id).where(CoachAssignment.coach_id == coach_id)
    return sorted(
        s.scalars(select(Person.id).where(Person.employer_id.is_not(None), Person.id.not_in(assigned)))
    )


def _cared_for(handled: dict[str, list[tuple[datetime, str]]], nurse: str, at: datetime, among) -> list[str]:
    """People ``nurse`` acted on in the 20 days before ``at`` (so care explains a visit at ``at``)."""
    pool = set(among)
    return sorted(
        p
        for p, acts in handled.items()
        if p in pool
        and any(n == nurse and at - timedelta(days=20) < t < at - timedelta(hours=1) for t, n in acts)
    )
