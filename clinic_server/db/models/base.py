"""The declarative base and id helper shared by every model module."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import DeclarativeBase


def new_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    pass
