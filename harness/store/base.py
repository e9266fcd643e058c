"""The declarative base that every table of the harness store uses."""

from __future__ import annotations

import datetime as _dt

from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base for all harness tables."""


def utcnow() -> _dt.datetime:
    """Timezone-aware current UTC time (column default)."""
    return _dt.datetime.now(_dt.UTC)
