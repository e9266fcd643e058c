"""Database tables and queries shared by every part of the harness (one store for all).

Each domain keeps its tables in its own module here (``runs``, ``models``, ``ab`` ...), all on the
one :class:`harness.store.base.Base`. :func:`create_engine_for` imports every module of this package
so that ``create_all`` sees every table, whichever command opened the workspace first.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


def load_table_modules() -> None:
    """Import every module of :mod:`harness.store` so their tables register on ``Base.metadata``."""
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


def create_engine_for(url: str) -> Engine:
    """Create an engine for ``url`` and the tables of every store module (idempotent)."""
    from sqlalchemy import create_engine, event

    from harness.store.base import Base

    load_table_modules()
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            # WAL lets readers (the app) work while a run writes; synchronous=NORMAL is safe with WAL.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
    else:
        engine = create_engine(url, pool_pre_ping=True)
    _create_tables(engine, Base.metadata)
    return engine


def _create_tables(engine: Engine, metadata, attempts: int = 5) -> None:
    """``create_all``, tolerating another process creating the same tables at the same moment.

    Several processes (e.g. the ranks of a distributed training run) may open one new workspace
    together; the loser of a CREATE TABLE race sees "already exists" and simply checks again.
    """
    import time

    from sqlalchemy.exc import OperationalError, ProgrammingError

    for attempt in range(attempts):
        try:
            metadata.create_all(engine)
            return
        except (OperationalError, ProgrammingError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
