"""Database tables and queries shared by every part of the harness (one store for all).

Each domain keeps its tables in its own module here (``runs``, ``models``, ``ab`` ...), all on the
one :class:`harness.store.base.Base`, and its query functions take a SQLAlchemy ``Engine`` as their
first argument (``workspace.engine``). The schema is versioned: :func:`create_engine_for` brings the
database to the newest revision of :mod:`harness.store.migrations` (creating a new one, upgrading an
older one in place) and refuses one written by a newer harness.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

#: Modules of this package that hold no tables.
_NOT_TABLE_MODULES = frozenset({"base", "migrations"})


def load_table_modules() -> None:
    """Import every table module of :mod:`harness.store` so their tables register on ``Base.metadata``."""
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_") and info.name not in _NOT_TABLE_MODULES:
            importlib.import_module(f"{__name__}.{info.name}")


def _use_wal(cursor, attempts: int = 300) -> None:  # type: ignore[no-untyped-def]
    """Put the SQLite database in WAL mode (persistent in the file), waiting while another process holds it.

    Switching the journal mode needs the database to itself and SQLite's busy handler does not wait
    for it: when several processes open one new workspace together (the ranks of a distributed
    training run), one migrates while the others' switch fails with "database is locked". The mode
    is stored in the file, so a database already in WAL mode needs no switch at all.
    """
    import sqlite3
    import time

    for attempt in range(attempts):
        try:
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.1)


def create_engine_for(url: str) -> Engine:
    """Return an engine for ``url`` whose database is at the current schema revision.

    Raises :class:`harness.store.migrations.SchemaTooNewError` when a newer harness wrote the database.
    """
    from sqlalchemy import create_engine, event

    from harness.store.migrations import upgrade_schema

    load_table_modules()
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            # WAL lets readers (the app) work while a run writes; synchronous=NORMAL is safe with WAL.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout=30000")
            _use_wal(cursor)
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
    else:
        engine = create_engine(url, pool_pre_ping=True)
    try:
        upgrade_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine
