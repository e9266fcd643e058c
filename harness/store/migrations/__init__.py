"""Versions of the workspace schema: Alembic revisions in ``versions/``, applied when a workspace opens.

:func:`upgrade_schema` brings a database to :data:`HEAD`: a new database gets every revision; a
database written before migrations (tables, no version row) keeps its tables and rows, the baseline
revision adds what is missing and records itself; a database whose revision this code does not know
was written by a newer harness and raises :class:`SchemaTooNewError`. One process migrates at a time
(a lock file next to a SQLite database, an advisory lock on PostgreSQL); the others wait, then find
the schema current. A database already at ``HEAD`` costs one small query and no Alembic import.

Changing a table: edit its model in ``harness/store/<module>.py``, then write the revision with
``python -c "from harness.store.migrations import new_revision; new_revision('add x to y')"``, review
the generated file, and set :data:`HEAD` to its id (``tests/harness/store/test_migrations.py`` fails
when the models and the revisions disagree).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection, Engine

#: The newest revision in ``versions/`` (checked against the scripts by the tests).
HEAD = "0004"
#: The revision that describes the schema harness made before migrations existed.
BASELINE = "0001"
#: Where the revision is stored (not Alembic's default name, so a shared PostgreSQL database that
#: another Alembic project also uses keeps the two apart).
VERSION_TABLE = "harness_alembic_version"
_PG_LOCK_KEY = 0x68_61_72_6E  # "harn": pg_advisory_xact_lock key serialising harness migrations


class SchemaTooNewError(HarnessError):
    """The workspace database was written by a newer harness (its schema revision is unknown here)."""


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config for the revisions in this package, running on ``connection`` (no ini file)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def current_revision(connection: Connection) -> str | None:
    """The schema revision stored in the database, or None when it has no version table (or row)."""
    from sqlalchemy import inspect, text

    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def known_revisions() -> set[str]:
    """Ids of every revision script shipped with this harness."""
    from alembic.script import ScriptDirectory

    return {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def upgrade_schema(engine: Engine) -> None:
    """Bring the database of ``engine`` to :data:`HEAD` (see the module docstring); returns nothing.

    Raises :class:`SchemaTooNewError` when the database holds a revision this harness does not know.
    """
    with engine.connect() as conn:
        if current_revision(conn) == HEAD:
            return
    with _migration_lock(engine) as conn:
        revision = current_revision(conn)  # again: another process may have migrated while we waited
        if revision == HEAD:
            return
        if revision is not None and revision not in known_revisions():
            url = engine.url.render_as_string(hide_password=True)
            raise SchemaTooNewError(
                f"the workspace database {url} was written by a newer version of harness "
                f"(schema revision {revision!r}; this harness knows revisions up to {HEAD!r})",
                hint="upgrade harness (pip install -U harness) and run the command again")
        from alembic import command

        command.upgrade(alembic_config(conn), "head")


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that only one process at a time holds, for one database."""
    if engine.dialect.name == "postgresql":
        from sqlalchemy import text

        with engine.begin() as conn:  # the lock ends with the transaction, which also holds the DDL
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
            yield conn
        return
    with _file_lock(engine), engine.begin() as conn:
        yield conn


@contextlib.contextmanager
def _file_lock(engine: Engine) -> Iterator[None]:
    """An exclusive lock on ``<database file>-migrate.lock`` (nothing to lock for in-memory databases)."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no flock; a lost race fails with "already exists"
        fcntl = None  # type: ignore[assignment]
    if not database or database == ":memory:" or database.startswith("file:") or fcntl is None:
        yield
        return
    with open(f"{database}-migrate.lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def new_revision(message: str, **options: Any) -> Path:
    """Write a revision script for the difference between the models and :data:`HEAD`; returns its path.

    The script is autogenerated against an in-memory SQLite database at head; read it before use
    (renames show up as a drop plus an add). ``options`` go to ``alembic.command.revision``.
    """
    from alembic import command
    from sqlalchemy import create_engine

    engine = create_engine("sqlite://")
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
        rev_id = f"{len(known_revisions()) + 1:04d}"
        script = command.revision(alembic_config(conn), message, autogenerate=True, rev_id=rev_id, **options)
    return Path(script.path)  # type: ignore[union-attr]
