"""The findings rules' query layer: audit records by sequence range, and the facts around them.

``read_records`` reads one range of the audit log as ``rules.Rec`` tuples straight from the
database driver (the time as epoch seconds computed by the database, "returned" as a flag): a full
scan reads a million records, and the ORM would cost more than the rules. Records are read by their
fields (who, what, when, person, purpose, outcome); the hash chain's own columns are not touched.

``Memory`` lives for one scan run. It loads, once per person or user and only as needed, what the
rules ask about (alerts, care actions and consents before the run, identity digests, employers,
users' active days) and carries what the run has read forward from batch to batch (care actions,
active hours, the last hour of accesses), so a full scan asks the database little beyond the
records themselves. ``facts`` puts one batch's ``rules.Facts`` together.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import and_, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from clinic_server.db.models import (
    Alert,
    AuditEvent,
    BreakGlassGrant,
    BreakGlassVerdict,
    CoachEmployer,
    Consent,
    Finding,
    Person,
    User,
    UserActivity,
    UserLink,
)
from clinic_server.db.queries import chunks
from clinic_server.services.findings import rules
from clinic_server.services.findings.identity import IdentityKey
from clinic_tui.domain.alert_lifecycle import CLOSED_STATES
from clinic_tui.domain.findings import ROUTINE_ACTIONS, RuleId
from clinic_tui.domain.roles import Outcome, Role

_COLUMNS = (
    "seq, {ts}, user_id, username, role, organization_id, action, resource_type, "
    "person_id, purpose, outcome, {returned}"
)
_DIALECT_EXPR = {
    "sqlite": {"ts": "(julianday(ts) - 2440587.5) * 86400.0", "returned": "categories <> '[]'"},
    "postgresql": {"ts": "extract(epoch from ts)::float8", "returned": "categories::text <> '[]'"},
}


def _epoch(value: datetime | None) -> float | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


#: routine records (polling, token refreshes, device writes, jobs) matter to no rule: the database
#: leaves them out (``clinic_tui.domain.findings.is_routine``, as SQL)
_NOT_ROUTINE = "NOT (outcome = 'allowed' AND action IN ({}))".format(
    ", ".join(f"'{a}'" for a in sorted(ROUTINE_ACTIONS))
)


def read_records(session: Session, lo: int, hi: int) -> list[rules.Rec]:
    """The audit records with ``lo <= seq <= hi`` that are not routine, in sequence order (through
    the driver's own cursor, on the session's connection and transaction)."""
    conn = session.connection()
    dialect = conn.dialect.name
    cols = _COLUMNS.format(**_DIALECT_EXPR.get(dialect, _DIALECT_EXPR["postgresql"]))
    sql = (
        f"SELECT {cols} FROM audit_event WHERE seq >= {int(lo)} AND seq <= {int(hi)} "  # noqa: S608
        f"AND {_NOT_ROUTINE} ORDER BY seq"
    )
    cur = conn.connection.dbapi_connection.cursor()
    try:
        cur.execute(sql)
        return list(map(rules.Rec._make, cur.fetchall()))
    finally:
        cur.close()


def head_seq(session: Session, settled_before: datetime) -> int:
    """The last sequence number a scan may read: just before the first record that has not settled
    (younger than ``settled_before``), or the last record (0 if none)."""
    young = session.scalar(select(func.min(AuditEvent.seq)).where(AuditEvent.ts >= settled_before))
    if young is not None:
        return int(young) - 1
    return int(session.scalar(select(func.max(AuditEvent.seq))) or 0)


def _care_rows(session: Session, where) -> Iterable[tuple[str, str, float]]:
    care = sorted(rules.CARE_ACTIONS)
    for pid, org, ts in session.execute(
        select(AuditEvent.person_id, AuditEvent.organization_id, AuditEvent.ts).where(
            where, AuditEvent.action.in_(care), AuditEvent.outcome == Outcome.ALLOWED
        )
    ):
        if pid is not None and org is not None:
            yield pid, org, _epoch(ts)


class Memory:
    """What one scan run knows beyond the batch it is reading (see the module docstring)."""

    def __init__(self, session: Session, *, first_seq: int, first_ts: float | None, key: IdentityKey | None):
        self.session = session
        #: the run reads records from here on; anything before comes from the database
        self.first_seq = first_seq
        self.first_ts = first_ts
        self.key = key
        self.alerts: dict[str, list[tuple[float, float]]] = {}
        self.care: dict[tuple[str, str], list[float]] = defaultdict(list)
        self._care_loaded: set[str] = set()
        self.consent_changes: dict[tuple[str, str], list[float]] = {}
        self._consents_loaded: set[str] = set()
        self.people: dict[str, rules.PersonDigests] = {}
        self.person_employer: dict[str, str | None] = {}
        self.activity: dict[str, dict[date, int]] = {}
        #: (user, day) whose mask the run changed: written back after each batch
        self.dirty: set[tuple[str, date]] = set()
        self.tail: list[rules.Rec] = []
        self.user_org: dict[str, str] = dict(session.execute(select(User.id, User.organization_id)).all())
        self.links: dict[str, rules.PersonDigests] = {}
        self.links_skipped = 0
        if key is not None:
            for link in session.scalars(select(UserLink)):
                if link.key_id != key.key_id:
                    self.links_skipped += 1
                    continue
                self.links[link.user_id] = rules.PersonDigests(
                    link.personnummer_hmac, frozenset(link.surname_hmacs or ()), link.address_hmac
                )
        else:
            self.links_skipped = len(session.scalars(select(UserLink.user_id)).all())
        self.served: dict[str, list[rules.Served]] = defaultdict(list)
        for row in session.scalars(select(CoachEmployer)):
            self.served[row.coach_id].append(rules.Served(row.employer_id, row.valid_from, row.valid_until))
        if first_ts is not None and first_seq > 1:
            window = max(rules.VOLUME_MINUTES, rules.PROBING_MINUTES) * 60
            self._keep_tail(_records_before(session, first_ts - window, first_seq), first_ts - window)

    # ------------------------------------------------------------------ loading on first need

    def _load_alerts(self, people: set[str]) -> None:
        new = sorted(people - self.alerts.keys())
        for pid in new:
            self.alerts[pid] = []
        for chunk in chunks(new):
            for pid, opened, state, updated in self.session.execute(
                select(Alert.person_id, Alert.opened_at, Alert.state, Alert.updated_at).where(
                    Alert.person_id.in_(chunk)
                )
            ):
                closed = _epoch(updated) if state in CLOSED_STATES else rules.INF
                self.alerts[pid].append((_epoch(opened), closed))
        for pid in new:
            self.alerts[pid].sort()

    def _load_care_history(self, people: set[str]) -> None:
        """Care actions before the run (the run's own are added as it reads them)."""
        new = sorted(people - self._care_loaded)
        self._care_loaded.update(new)
        if not new or self.first_ts is None or self.first_seq <= 1:
            return
        since = datetime.fromtimestamp(self.first_ts - rules.CARE_DAYS * rules.DAY, UTC)
        for chunk in chunks(new):
            where = and_(
                AuditEvent.person_id.in_(chunk), AuditEvent.ts >= since, AuditEvent.seq < self.first_seq
            )
            for pid, org, ts in _care_rows(self.session, where):
                bisect.insort(self.care[(pid, org)], ts)

    def _load_consents(self, people: set[str]) -> None:
        new = sorted(people - self._consents_loaded)
        self._consents_loaded.update(new)
        for chunk in chunks(new):
            for pid, org, created, start, withdrawn in self.session.execute(
                select(
                    Consent.person_id,
                    Consent.organization_id,
                    Consent.created_at,
                    Consent.valid_from,
                    Consent.withdrawn_at,
                ).where(Consent.person_id.in_(chunk))
            ):
                times = self.consent_changes.setdefault((pid, org), [])
                times.extend(t for t in (_epoch(created), _epoch(start), _epoch(withdrawn)) if t is not None)
        for k in self.consent_changes:
            self.consent_changes[k].sort()

    def _load_people(self, people: set[str]) -> None:
        new = sorted(people - self.people.keys() - self.person_employer.keys())
        for chunk in chunks(new):
            for pid, pnr, family, address, employer in self.session.execute(
                select(
                    Person.id, Person.personnummer, Person.family_name, Person.address, Person.employer_id
                ).where(Person.id.in_(chunk))
            ):
                self.person_employer[pid] = employer
                if self.key is not None and self.links:
                    k = self.key
                    digests = rules.PersonDigests(k.personnummer(pnr), k.surnames(family), k.address(address))
                    self.people[pid] = digests
        for pid in new:  # an erased person: nothing to compare
            self.person_employer.setdefault(pid, None)

    def _load_activity(self, users: set[str], since: date) -> None:
        new = sorted(users - self.activity.keys())
        for uid in new:
            self.activity[uid] = {}
        for chunk in chunks(new):
            for uid, day, hours in self.session.execute(
                select(UserActivity.user_id, UserActivity.day, UserActivity.hours).where(
                    UserActivity.user_id.in_(chunk), UserActivity.day >= since
                )
            ):
                self.activity[uid][day] = hours

    # ------------------------------------------------------------------ one batch

    def facts(self, records: Sequence[rules.Rec]) -> rules.Facts:
        """The facts of one batch (read in sequence order). Call ``advance`` after evaluating it."""
        people: set[str] = set()
        nurse_people: set[str] = set()
        users: set[str] = set()
        care_actions = []
        for r in records:
            if r.person_id is not None:
                people.add(r.person_id)
                if r.role == Role.NURSE:
                    nurse_people.add(r.person_id)
                if r.org is not None and r.action in rules.CARE_ACTIONS and r.outcome == Outcome.ALLOWED:
                    care_actions.append(r)
            if r.user_id is not None:
                users.add(r.user_id)
        self._load_alerts(nurse_people)
        self._load_care_history(nurse_people)
        self._load_consents(nurse_people)
        self._load_people(people)
        if records:
            first_day = rules.local_day_hour(records[0].ts)[0]
            self._load_activity(users, first_day - timedelta(days=rules.BASELINE_DAYS + 1))
        # what the batch itself adds: its care actions and its users' active hours
        for r in care_actions:
            times = self.care[(r.person_id, r.org)]
            if not times or times[-1] <= r.ts:
                times.append(r.ts)
            else:
                bisect.insort(times, r.ts)
        local = rules.local_day_hour
        activity, dirty = self.activity, self.dirty
        for r in records:
            # the records read are not routine (the database left those out): all are activity
            if r.user_id is not None:
                day, hour = local(r.ts)
                days = activity[r.user_id]
                mask = days.get(day, 0)
                if not mask >> hour & 1:
                    days[day] = mask | 1 << hour
                    dirty.add((r.user_id, day))
        care = self.care
        if records:
            ahead = self._care_ahead(records)
            if ahead:
                care = {**self.care}
                for k, times in ahead.items():
                    care[k] = sorted([*self.care.get(k, ()), *times])
        return rules.Facts(
            records=records,
            tail=self.tail,
            alerts=self.alerts,
            care=care,
            consent_changes=self.consent_changes,
            links=self.links,
            user_org=self.user_org,
            people=self.people,
            person_employer=self.person_employer,
            served=self.served,
            activity=self.activity,
        )

    def _care_ahead(self, records: Sequence[rules.Rec]) -> dict[tuple[str, str], list[float]]:
        """Care actions just after the batch (an access is explained by an action soon after it)."""
        last = records[-1]
        lo = datetime.fromtimestamp(last.ts - 60, UTC)
        hi = datetime.fromtimestamp(last.ts + rules.AFTER_SECONDS, UTC)
        out: dict[tuple[str, str], list[float]] = defaultdict(list)
        where = and_(AuditEvent.ts >= lo, AuditEvent.ts <= hi, AuditEvent.seq > last.seq)
        for pid, org, ts in _care_rows(self.session, where):
            out[(pid, org)].append(ts)
        return out

    def advance(self, records: Sequence[rules.Rec]) -> None:
        """Keep the last hour of what the window rules look back on."""
        if not records:
            return
        window = max(rules.VOLUME_MINUTES, rules.PROBING_MINUTES) * 60
        self._keep_tail([*self.tail, *records], records[-1].ts - window)

    def _keep_tail(self, records: Iterable[rules.Rec], since: float) -> None:
        self.tail = [
            r
            for r in records
            if r.ts >= since
            and r.user_id is not None
            and (r.person_id is not None or r.outcome == Outcome.DENIED)
        ]

    def save_activity(self) -> None:
        """Write the active hours the batch added (bits are only ever added)."""
        if not self.dirty:
            return
        keys = sorted(self.dirty)
        self.dirty.clear()
        existing: set[tuple[str, date]] = set()
        users = sorted({u for u, _ in keys})
        for chunk in chunks(users):
            existing.update(
                self.session.execute(
                    select(UserActivity.user_id, UserActivity.day).where(
                        UserActivity.user_id.in_(chunk), UserActivity.day >= min(d for _, d in keys)
                    )
                ).all()
            )
        table = UserActivity.__table__
        updates = [{"uid": u, "d": d, "bits": self.activity[u][d]} for u, d in keys if (u, d) in existing]
        inserts = [
            {"user_id": u, "day": d, "hours": self.activity[u][d]} for u, d in keys if (u, d) not in existing
        ]
        if updates:
            self.session.execute(
                update(table)
                .where(table.c.user_id == bindparam("uid"), table.c.day == bindparam("d"))
                .values(hours=table.c.hours.op("|")(bindparam("bits"))),
                updates,
            )
        if inserts:
            self.session.execute(insert(table), inserts)


def _records_before(session: Session, since: float, first_seq: int) -> list[rules.Rec]:
    """Records from ``since`` (epoch) on that come before ``first_seq``, in sequence order (the hour
    before a run's first batch)."""
    lo = session.scalar(
        select(func.min(AuditEvent.seq)).where(AuditEvent.ts >= datetime.fromtimestamp(since, UTC))
    )
    if lo is None or lo >= first_seq:
        return []
    return [r for r in read_records(session, lo, first_seq - 1) if r.ts >= since]


# --------------------------------------------------------------------------- break-the-glass


def grants(session: Session, now: datetime, *, days: int = 90) -> list[rules.GrantFact]:
    """Grants of the last ``days`` whose review time is up and that have no finding yet."""
    deadline = now - timedelta(hours=rules.REVIEW_HOURS)
    found = set(session.scalars(select(Finding.key).where(Finding.rule_id == RuleId.EMERGENCY_UNREVIEWED)))
    out = []
    for grant, user in session.execute(
        select(BreakGlassGrant, User)
        .join(User, User.id == BreakGlassGrant.user_id)
        .where(
            BreakGlassGrant.created_at <= deadline,
            BreakGlassGrant.created_at >= now - timedelta(days=days),
        )
        .order_by(BreakGlassGrant.created_at)
    ).all():
        if grant.id in found:
            continue
        first_verdict = session.scalar(
            select(func.min(BreakGlassVerdict.at)).where(BreakGlassVerdict.grant_id == grant.id)
        )
        reviews = [t for t in (grant.reviewed_at, first_verdict) if t is not None]
        evidence = session.scalars(
            select(AuditEvent.seq).where(
                AuditEvent.person_id == grant.person_id,
                AuditEvent.user_id == grant.user_id,
                AuditEvent.ts >= grant.created_at - timedelta(seconds=5),
                AuditEvent.ts <= grant.expires_at,
                (AuditEvent.action == "break_glass") | (AuditEvent.purpose == "emergency"),
            )
        ).all()
        out.append(
            rules.GrantFact(
                grant_id=grant.id,
                user_id=user.id,
                username=user.username,
                organization_id=user.organization_id,
                person_id=grant.person_id,
                created=_epoch(grant.created_at),
                first_review=_epoch(min(reviews)) if reviews else None,
                evidence=tuple(evidence),
            )
        )
    return out
