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
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
    else:
        engine = create_engine(url, pool_pre_ping=True)
    try:
        upgrade_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine
