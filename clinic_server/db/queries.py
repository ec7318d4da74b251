"""Query helpers shared by services: membership in large id sets, keyset cursors and pages."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    String,
    any_,
    bindparam,
    func,
    literal,
    literal_column,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from clinic_server.db.session import UTCDateTime

#: ids are bound in chunks of this many where a plain IN list is used
CHUNK = 500
#: bounds of what a cursor may name (anything else is not a cursor this server gave out)
MAX_RANK = 100
MAX_ID = 2**31 - 1


def member_of(
    session: Session, column, ids: Iterable[str], *, drive_index: bool = True
) -> ColumnElement[bool]:
    """``column IN ids`` as one bound parameter, however many ids (thousands for a nurse's queue).

    A plain ``IN (?, ?, ...)`` list costs SQLAlchemy a coercion and a placeholder per id on every
    query; here PostgreSQL gets ``= ANY(array)`` and SQLite ``IN (SELECT value FROM json_each(?))``.
    With ``drive_index=False`` SQLite may not pick an index on ``column`` for this term (``x || ''``
    is the documented way to say so), so an ordered index walk with a LIMIT stays the plan.
    """
    ids = list(ids)
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return column == any_(bindparam(None, ids, type_=postgresql.ARRAY(String)))
    if dialect == "sqlite":
        target = column if drive_index else column.concat(literal_column("''"))
        return target.in_(select(literal_column("value")).select_from(func.json_each(json.dumps(ids))))
    return column.in_(ids)


def chunks(ids: Iterable[str]) -> Iterable[list[str]]:
    ids = list(dict.fromkeys(ids))
    for i in range(0, len(ids), CHUNK):
        yield ids[i : i + CHUNK]


# --------------------------------------------------------------------------- keyset cursors


def encode_cursor(rank: int, at: datetime, row_id: int) -> str:
    raw = json.dumps([rank, at.isoformat(), row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, datetime, int]:
    """The (rank, time, id) a cursor names; ValueError for anything this server did not give out."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        rank, at, row_id = json.loads(raw)
        opened = datetime.fromisoformat(at)
    except (ValueError, TypeError, binascii.Error, RecursionError):
        raise ValueError("invalid cursor") from None
    if (
        type(rank) is not int  # (bool is an int subclass)
        or type(row_id) is not int
        or not 0 <= rank <= MAX_RANK
        or not 0 < row_id <= MAX_ID
        or opened.tzinfo is None
    ):
        raise ValueError("invalid cursor")
    return rank, opened, row_id


def keyset_page(
    session: Session,
    *,
    key: tuple,
    parts: list[ColumnElement[bool]],
    filters: list[ColumnElement[bool]],
    after: tuple | None,
    limit: int,
) -> list[tuple]:
    """The next ``limit`` + 1 rows in ``key`` order after ``after``, merging one index range per part.

    Each part walks its index in order and stops at the limit, so a page never sorts the table.
    """
    labels = [f"k{i}" for i in range(len(key))]
    selects = []
    for part in parts:
        stmt = select(*(col.label(lbl) for col, lbl in zip(key, labels, strict=True))).where(part, *filters)
        if after is not None:
            bound = [literal(v, UTCDateTime()) if isinstance(v, datetime) else literal(v) for v in after]
            stmt = stmt.where(tuple_(*key) > tuple_(*bound))
        selects.append(stmt.order_by(*key).limit(limit + 1))
    if len(selects) == 1:
        return [tuple(r) for r in session.execute(selects[0])]
    merged = union_all(*(select(s.subquery()) for s in selects)).subquery()
    cols = [merged.c[lbl] for lbl in labels]
    return [tuple(r) for r in session.execute(select(*cols).order_by(*cols).limit(limit + 1))]
