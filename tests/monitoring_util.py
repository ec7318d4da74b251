"""A small world for privacy-monitoring tests, and running the findings scan on it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic_server.audit.chain import RequestInfo, Who, append
from clinic_server.db import utcnow
from clinic_server.db.models import Consent, Finding, Organization, Person, User
from clinic_server.jobs.findings import ScanRun, scan_findings
from clinic_server.services.findings.identity import IdentityKey, link_user
from tests.factories import World

KEY = IdentityKey(b"test-identity-key-" + b"k" * 30)


@dataclass
class Watch:
    north: Organization
    south: Organization
    imr: Organization
    users: dict[str, User]
    people: dict[str, Person]


def watch_world(world: World, session: Session) -> Watch:
    """Norra (anna, agnes, supervisor david), Söder (bertil, supervisor sigrid), IMR (cecilia,
    supervisor fiona); patients whose consents date from two months ago (so no consent change
    explains a visit). agnes is also a patient at Norra."""
    north = world.org("Norra")
    south = world.org("Söder")
    imr = world.org("IMR", kind="imr")
    users = {
        "anna": world.user("anna", "nurse", north),
        "agnes": world.user("agnes", "nurse", north),
        "bertil": world.user("bertil", "nurse", south),
        "david": world.user("david", "supervisor", north),
        "sigrid": world.user("sigrid", "supervisor", south),
        "cecilia": world.user("cecilia", "coach", imr),
        "fiona": world.user("fiona", "supervisor", imr),
    }
    people = {
        "nora": world.person("Nora", "Norrman"),
        "olle": world.person("Olle", "Lind"),
        "agnes": world.person("Agnes", "Ahl"),
        "sune": world.person("Sune", "Södergren"),
        "stina": world.person("Stina", "Stranger"),
    }
    for name in ("nora", "olle", "agnes"):
        world.consent(people[name], north)
    world.consent(people["sune"], south)
    for c in session.scalars(select(Consent)):
        c.valid_from = c.created_at = utcnow() - timedelta(days=60)
    session.commit()
    return Watch(north, south, imr, users, people)


def link(session: Session, user: User, *, person: Person | None = None, surname=None, address=None) -> None:
    link_user(
        session,
        KEY,
        user.id,
        personnummer_value=person.personnummer if person else None,
        family_name=surname or (person.family_name if person else None),
        address=address or (person.address if person else None),
    )
    session.commit()


def past(session: Session, user: User | None, at: datetime, action: str, resource_type: str, **kw) -> int:
    """Append a record with a past time (test setup: history the scan must know)."""
    who = (
        Who(user.id, user.username, user.role, user.organization_id) if user else Who(None, None, None, None)
    )
    seq = append(
        session,
        who=who,
        request=RequestInfo("setup", "test", None),
        action=action,
        resource_type=resource_type,
        outcome=kw.pop("outcome", "allowed"),
        reason=kw.pop("reason", "setup"),
        purpose=kw.pop("purpose", "care"),
        at=at,
        **kw,
    )
    session.commit()
    return seq


def scan(app, *, now: datetime | None = None, key: IdentityKey | None = KEY, **kw) -> ScanRun:
    """Run the scan as the job does, late enough that every record so far has settled."""
    run = scan_findings(app.state.sessionmaker, key, now=now or utcnow() + timedelta(minutes=20), **kw)
    assert run.ran, run.reason
    return run


def findings(session: Session, rule: str | None = None) -> list[Finding]:
    session.rollback()
    session.expire_all()
    stmt = select(Finding).order_by(Finding.id)
    if rule:
        stmt = stmt.where(Finding.rule_id == rule)
    return list(session.scalars(stmt))
