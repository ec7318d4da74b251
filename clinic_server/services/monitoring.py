"""The supervisor's privacy monitoring: the findings queue, one finding with its evidence, verdicts
(kept as history), the rules, and a person's identity for judging a relation.

A supervisor sees the findings about her own organization's users (``finding.organization_id``).
Findings name the person by opaque id; the name and personnummer are one look-up away
(``identity``), allowed only for someone her organization's records or findings name, and each
look-up is its own audit record with the purpose ``audit``.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import Select, and_, exists, func, or_, select

from clinic_server.access.guard import Guard
from clinic_server.access.policy import Action
from clinic_server.db.models import AuditEvent, Finding, FindingVerdict, Person
from clinic_server.errors import denied, refused
from clinic_server.services import audit_log
from clinic_server.services.findings import rules
from clinic_tui.api.schemas import ErrorCode
from clinic_tui.api.schemas.monitoring import (
    FindingDetail,
    FindingPage,
    FindingSummary,
    PersonIdentityOut,
    ReasonOut,
    RuleInfo,
    RuleList,
    VerdictRequest,
)
from clinic_tui.domain.categories import Category
from clinic_tui.domain.findings import REASON_KEYS, RULE_VERSIONS, FindingState, RuleId
from clinic_tui.domain.roles import Outcome, Purpose

#: evidence records shown with one finding
EVIDENCE_SHOWN = 500
#: the queue's ``state`` values beyond the states themselves
QUEUE_STATES = ("waiting", "all", *(str(s) for s in FindingState))


def _latest_verdict():
    """The latest verdict of each finding, as a correlated scalar (None: no verdict yet)."""
    return (
        select(FindingVerdict.verdict)
        .where(FindingVerdict.finding_id == Finding.id)
        .order_by(FindingVerdict.ordinal.desc())
        .limit(1)
        .correlate(Finding)
        .scalar_subquery()
    )


def _state_clause(state: str):
    latest = _latest_verdict()
    if state == "all":
        return None
    if state == FindingState.NEW:
        return latest.is_(None)
    if state == "waiting":
        return or_(latest.is_(None), latest == FindingState.NEEDS_FOLLOW_UP)
    return latest == state


def _summary(f: Finding, verdicts: int, latest: str | None) -> FindingSummary:
    return FindingSummary(
        id=f.id,
        rule_id=f.rule_id,
        rule_version=f.rule_version,
        user_id=f.user_id,
        username=f.username,
        person_id=f.person_id,
        first_ts=f.first_ts,
        last_ts=f.last_ts,
        reason=ReasonOut(key=f.reason_key, params=f.params or {}),
        evidence_count=f.evidence_count,
        state=FindingState(latest) if latest else FindingState.NEW,
        version=verdicts,
        detected_at=f.created_at,
        updated_at=f.updated_at,
    )


def _own(guard: Guard) -> Select:
    return select(Finding).where(Finding.organization_id == guard.actor.organization_id)


def _verdict_counts(guard: Guard, ids: list[int]) -> dict[int, tuple[int, str | None]]:
    out: dict[int, tuple[int, str | None]] = {}
    for fid, ordinal, verdict in guard.session.execute(
        select(FindingVerdict.finding_id, FindingVerdict.ordinal, FindingVerdict.verdict)
        .where(FindingVerdict.finding_id.in_(ids))
        .order_by(FindingVerdict.finding_id, FindingVerdict.ordinal)
    ):
        out[fid] = (ordinal, verdict)
    return out


def queue(guard: Guard, *, state: str, rule: RuleId | None, before_id: int | None, limit: int) -> FindingPage:
    """The findings about the organization's users, newest first: by default those waiting for a
    supervisor (new, or judged "needs follow-up"); ``all``, or one state; one rule or all."""
    guard.duty(Action.READ_FINDINGS, verb="findings_list", resource_type="finding")
    stmt = _own(guard)
    clause = _state_clause(state)
    if clause is not None:
        stmt = stmt.where(clause)
    if rule is not None:
        stmt = stmt.where(Finding.rule_id == rule)
    if before_id is not None:
        stmt = stmt.where(Finding.id < before_id)
    rows = list(guard.session.scalars(stmt.order_by(Finding.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    latest = _verdict_counts(guard, [f.id for f in rows])
    items = [_summary(f, *latest.get(f.id, (0, None))) for f in rows]
    counts: dict[str, int] = defaultdict(int)
    latest_verdict = _latest_verdict().label("latest")
    for verdict, n in guard.session.execute(
        select(latest_verdict, func.count())
        .select_from(Finding)
        .where(Finding.organization_id == guard.actor.organization_id)
        .group_by(latest_verdict)
    ):
        counts[verdict or FindingState.NEW] += n
    guard.scope.note(state=state, rule=str(rule) if rule else None, finding_ids=[i.id for i in items])
    guard.scope.reason = f"findings queue: {len(items)} findings"
    return FindingPage(
        items=items,
        next_before_id=rows[-1].id if more else None,
        counts={str(s): counts.get(str(s), 0) for s in FindingState},
    )


def _own_finding(guard: Guard, finding_id: int) -> Finding:
    f = guard.session.scalars(_own(guard).where(Finding.id == finding_id)).first() if finding_id > 0 else None
    if f is None:
        raise refused(
            404,
            ErrorCode.NOT_FOUND,
            "No such finding about your organization's users.",
            outcome=Outcome.DENIED,
            resource="finding",
        )
    guard.scope.about(person_id=f.person_id)
    return f


def _detail(guard: Guard, f: Finding) -> FindingDetail:
    session = guard.session
    verdicts = list(
        session.scalars(
            select(FindingVerdict).where(FindingVerdict.finding_id == f.id).order_by(FindingVerdict.ordinal)
        )
    )
    names = audit_log.usernames(session, [v.user_id for v in verdicts])
    seqs = list(f.evidence or [])[:EVIDENCE_SHOWN]
    evidence = []
    for i in range(0, len(seqs), 500):
        evidence += session.scalars(
            select(AuditEvent).where(AuditEvent.seq.in_(seqs[i : i + 500])).order_by(AuditEvent.seq)
        ).all()
    summary = _summary(f, len(verdicts), verdicts[-1].verdict if verdicts else None)
    return FindingDetail(
        **summary.model_dump(),
        evidence=[audit_log.event_out(e) for e in evidence],
        verdicts=[audit_log.verdict_out(v, names) for v in verdicts],
    )


def finding(guard: Guard, finding_id: int) -> FindingDetail:
    """One finding with its evidence records and its verdicts."""
    guard.duty(
        Action.READ_FINDINGS, verb="finding_read", resource_type="finding", resource_id=str(finding_id)
    )
    f = _own_finding(guard, finding_id)
    out = _detail(guard, f)
    guard.scope.note(rule=f.rule_id, evidence=len(out.evidence))
    guard.scope.reason = "one finding with its evidence"
    return out


def judge(guard: Guard, finding_id: int, body: VerdictRequest) -> FindingDetail:
    """Record a verdict on a finding: a new row every time, never an overwrite."""
    guard.duty(
        Action.JUDGE_FINDING, verb="finding_verdict", resource_type="finding", resource_id=str(finding_id)
    )
    f = _own_finding(guard, finding_id)
    session = guard.session
    count = session.scalar(
        select(func.count()).select_from(FindingVerdict).where(FindingVerdict.finding_id == f.id)
    )
    if body.expected_version is not None and body.expected_version != count:
        raise audit_log.verdict_conflict(
            guard, FindingVerdict, FindingVerdict.finding_id == f.id, body.expected_version
        )
    audit_log.add_verdict(
        guard, FindingVerdict(finding_id=f.id, ordinal=count + 1, verdict=body.verdict, note=body.note), count
    )
    # the note stays with the verdict: free text may name the person; the audit record is kept for ever
    guard.scope.note(verdict=str(body.verdict), ordinal=count + 1, note_given=bool(body.note), rule=f.rule_id)
    guard.scope.reason = f"finding judged: {body.verdict}"
    return _detail(guard, f)


def rule_list(guard: Guard) -> RuleList:
    """The rules, their versions, the params of their reasons and their thresholds."""
    guard.duty(Action.READ_FINDINGS, verb="finding_rules", resource_type="finding")
    guard.scope.reason = "findings rules"
    return RuleList(
        items=[
            RuleInfo(
                id=r,
                version=RULE_VERSIONS[r],
                reason_key=f"finding.{r}",
                params=list(REASON_KEYS[f"finding.{r}"]),
                thresholds=rules.THRESHOLDS[r],
            )
            for r in RuleId
        ]
    )


def identity(guard: Guard, person_id: str) -> PersonIdentityOut:
    """A person's name, personnummer and birth date, for judging a relation between one of the
    organization's users and the person. Only for someone the organization's own records or
    findings name; refused (uniformly) for anyone else."""
    guard.duty(Action.AUDIT_IDENTITY, verb="identity_lookup", resource_type="person", resource_id=person_id)
    session = guard.session
    person = session.get(Person, person_id) if len(person_id) <= 32 else None
    if person is None:
        raise denied("no such person")
    guard.scope.about(person_id=person.id)
    org = guard.actor.organization_id
    named = session.scalar(
        select(
            or_(
                # the organization's users' work, not a supervisor's own look-ups (purpose audit)
                exists().where(
                    and_(
                        AuditEvent.person_id == person.id,
                        AuditEvent.organization_id == org,
                        AuditEvent.purpose != Purpose.AUDIT,
                    )
                ),
                exists().where(and_(Finding.person_id == person.id, Finding.organization_id == org)),
            )
        )
    )
    if not named:
        raise denied("the person appears in no record or finding of the supervisor's organization")
    guard.scope.returned({Category.IDENTITY})
    guard.scope.reason = "identity looked up to judge a relation (audit)"
    return PersonIdentityOut(
        person_id=person.id,
        given_name=person.given_name,
        family_name=person.family_name,
        personnummer=person.personnummer,
        birth_date=person.birth_date,
    )
