"""Fresh, migrated databases for tests: SQLite always, PostgreSQL when CLINIC_TEST_DATABASE_URL is set."""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa

from clinic_server.db import make_engine
from clinic_server.db.migrate import upgrade

PG_URL = os.environ.get("CLINIC_TEST_DATABASE_URL")


def fresh_database(tmp_path: Path) -> str:
    """Return the URL of an empty database with the latest schema."""
    if PG_URL:
        engine = make_engine(PG_URL)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        upgrade(engine)
        engine.dispose()
        return PG_URL
    url = f"sqlite:///{tmp_path / 'test.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url
