"""The database layer: engine and session (``session``), models, migrations, shared query helpers."""

from clinic_server.db.session import UTCDateTime, make_engine, make_sessionmaker, utcnow

__all__ = ["UTCDateTime", "make_engine", "make_sessionmaker", "utcnow"]
