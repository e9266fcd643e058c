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

from harness.errors import HarnessError

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


class EmptyStoreError(HarnessError):
    """A read-only view found no harness database (or one no harness command has written yet)."""

    exit_code = 1


def _read_only_url(url: str) -> str:
    """Return the SQLite URL opening the same file read-only (``mode=ro``), or ``url`` unchanged."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite"):
        return url
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return url
    import os
    from pathlib import Path

    path = Path(database).resolve()
    if not path.exists():
        raise EmptyStoreError(f"no database at {path}", hint="run `harness demo` or any command that writes "
                              "results (harness eval, harness train) on this workspace first")
    # A WAL database needs its -shm file, which a reader creates when missing; in a folder nobody can
    # write to, nobody is writing either, so the file can be read as immutable (when no WAL content waits).
    wal = Path(f"{path}-wal")
    settled = not Path(f"{path}-shm").exists() and not (wal.exists() and wal.stat().st_size > 0)
    mode = "immutable=1" if settled and not os.access(path.parent, os.W_OK) else "mode=ro"
    return f"sqlite:///file:{path.as_posix()}?{mode}&uri=true"


def create_read_only_engine(url: str) -> Engine:
    """Return an engine for ``url`` that only reads: for viewers (the app) beside a writing run or gateway.

    SQLite opens the file with ``mode=ro`` and ``query_only`` (WAL lets it read while others write);
    PostgreSQL sessions default to read-only transactions. Nothing is created or migrated: raises
    :class:`EmptyStoreError` when there is no database or no schema yet, and a ``HarnessError`` (with the
    command that upgrades it) when its schema revision is not this harness's.
    """
    from sqlalchemy import create_engine, event

    from harness.store.base import Base
    from harness.store.migrations import HEAD, current_revision

    load_table_modules()
    ro_url = _read_only_url(url)
    if ro_url.startswith("sqlite"):
        engine = create_engine(ro_url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_read_only(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA query_only=ON")
            cursor.close()
    elif ro_url.startswith("postgresql"):
        engine = create_engine(ro_url, pool_pre_ping=True,
                               connect_args={"options": "-c default_transaction_read_only=on"})
    else:
        engine = create_engine(ro_url, pool_pre_ping=True)
    from sqlalchemy import inspect
    from sqlalchemy.exc import OperationalError

    try:
        with engine.connect() as conn:
            revision = current_revision(conn)
            tables = set(inspect(conn).get_table_names()) if revision is None else set()
    except OperationalError as exc:
        engine.dispose()
        shown = engine.url.render_as_string(hide_password=True)
        raise HarnessError(f"cannot read the workspace database {shown}: {exc.orig}",
                           hint="if its folder is read-only while a write-ahead log (-wal file) is pending, make "
                                "the folder writable or run any harness command there once") from None
    except BaseException:
        engine.dispose()
        raise
    if revision is None and not tables & set(Base.metadata.tables):
        engine.dispose()
        raise EmptyStoreError("the database has no harness tables yet",
                              hint="run `harness demo` or any command that writes results on this workspace")
    if revision != HEAD:
        engine.dispose()
        shown = engine.url.render_as_string(hide_password=True)
        raise HarnessError(f"the workspace database {shown} is at schema revision {revision or 'before versioning'!r}; "
                           f"this harness reads revision {HEAD!r}",
                           hint="run any harness command on the workspace once (for example "
                                "`harness models list`) to upgrade it, or upgrade harness if it is older")
    return engine
