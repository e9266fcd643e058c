"""The declarative base that every table of the harness store uses, and the session helper of queries."""

from __future__ import annotations

import contextlib
import datetime as _dt
from collections.abc import Iterator
from typing import TYPE_CHECKING

from sqlalchemy.orm import DeclarativeBase, Session

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


class Base(DeclarativeBase):
    """Declarative base for all harness tables."""


def utcnow() -> _dt.datetime:
    """Timezone-aware current UTC time (column default)."""
    return _dt.datetime.now(_dt.UTC)


@contextlib.contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """Yield a session in one transaction on ``engine``: committed when the block succeeds, else rolled back.

    Objects stay readable after the block (``expire_on_commit=False``), so queries can return them.
    """
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session
