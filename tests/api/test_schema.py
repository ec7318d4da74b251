"""The migrations build exactly the schema the models describe (on SQLite and, in the PostgreSQL
pass, on PostgreSQL): a model change without its migration, or the reverse, fails here."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from clinic_server.db import make_engine
from clinic_server.db.models import Base

pytestmark = pytest.mark.api


def test_migrations_match_the_models(db_url):
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_the_per_user_audit_query_walks_its_index(tmp_path):
    """SQLite's plan for the audit log's ``user:NAME`` filter (the query routes/audit.py builds)."""
    from sqlalchemy import or_, select

    from clinic_server.db.migrate import upgrade
    from clinic_server.db.models import AuditEvent

    engine = make_engine(f"sqlite:///{tmp_path / 'plan.sqlite3'}")
    upgrade(engine)
    stmt = (
        select(AuditEvent)
        .where(or_(AuditEvent.organization_id == "org", AuditEvent.organization_id.is_(None)))
        .where(AuditEvent.username == "anna")
        .order_by(AuditEvent.seq.desc())
        .limit(51)
    )
    sql = str(stmt.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        plan = [str(r[-1]) for r in conn.execute(text("EXPLAIN QUERY PLAN " + sql))]
    engine.dispose()
    assert any("ix_audit_event_username_seq" in line for line in plan), plan
    assert not any("TEMP B-TREE" in line for line in plan), plan  # no sort of all her records
