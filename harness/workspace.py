"""The workspace: one folder holding the database, run folders, model folders and settings.

Resolution order for the folder: explicit argument (``--workspace DIR``), the ``HARNESS_WORKSPACE``
environment variable, then ``./harness-workspace``. The database URL comes from
``HARNESS_DATABASE_URL``, else ``database_url`` in ``<workspace>/settings.json``, else a SQLite file
``<workspace>/harness.db``; any SQLAlchemy URL works (PostgreSQL with the ``postgres`` extra). The
schema is versioned (:mod:`harness.store.migrations`): opening a workspace upgrades an older database.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

DEFAULT_WORKSPACE = "harness-workspace"
ENV_WORKSPACE = "HARNESS_WORKSPACE"
ENV_DATABASE_URL = "HARNESS_DATABASE_URL"


def resolve_workspace_path(path: str | os.PathLike[str] | None = None) -> Path:
    """Return the workspace folder for an explicit path, the environment, or the default."""
    if path:
        return Path(path).expanduser().resolve()
    env = os.environ.get(ENV_WORKSPACE)
    if env:
        return Path(env).expanduser().resolve()
    return (Path.cwd() / DEFAULT_WORKSPACE).resolve()


@dataclass
class Workspace:
    """A workspace folder and its database. Construct with :meth:`open`."""

    root: Path
    database_url: str
    read_only: bool = False
    #: Where :attr:`database_url` came from (``HARNESS_DATABASE_URL``, settings.json), "" for the default.
    database_url_source: str = ""
    _engine: Any = field(default=None, repr=False)

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, *, create: bool = True) -> Workspace:
        """Open (and by default create) the workspace at ``path`` or the resolved default."""
        root = resolve_workspace_path(path)
        if root.exists() and not root.is_dir():
            raise ConfigError(f"workspace path {root} exists and is not a folder",
                              hint="pass --workspace DIR with a folder path")
        if create:
            root.mkdir(parents=True, exist_ok=True)
        settings = _read_settings(root)
        if os.environ.get(ENV_DATABASE_URL):
            url, source = os.environ[ENV_DATABASE_URL], ENV_DATABASE_URL
        elif settings.get("database_url"):
            url, source = settings["database_url"], f"database_url in {root / 'settings.json'}"
        else:
            url, source = f"sqlite:///{root / 'harness.db'}", ""
        return cls(root=root, database_url=str(url), database_url_source=source)

    @classmethod
    def open_read_only(cls, path: str | os.PathLike[str] | None = None) -> Workspace:
        """Open the workspace at ``path`` for reading only: nothing is created, migrated or written.

        Its :attr:`engine` raises :class:`harness.store.EmptyStoreError` when no harness command has
        written a database there yet (viewers show an empty state then).
        """
        workspace = cls.open(path, create=False)
        workspace.read_only = True
        return workspace

    # folders -------------------------------------------------------------------------------
    def folder(self, *parts: str) -> Path:
        """Return ``<root>/<parts...>``, creating it (unless the workspace is read-only)."""
        path = self.root.joinpath(*parts)
        if not self.read_only:
            path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def runs_dir(self) -> Path:
        """Folder holding one sub-folder per evaluation run."""
        return self.folder("runs")

    @property
    def models_dir(self) -> Path:
        """Folder holding one sub-folder per trained model (adapters, merged weights, configs)."""
        return self.folder("models")

    # database ------------------------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine. On first use the database is brought to the current schema revision
        (a read-only workspace, :meth:`open_read_only`, only checks the revision and never writes).

        A new database is created, one written by an older harness is upgraded in place; one written by a
        newer harness raises :class:`harness.store.migrations.SchemaTooNewError` (a ``HarnessError``).
        """
        if self._engine is None:
            from harness.store import create_engine_for, create_read_only_engine

            make = create_read_only_engine if self.read_only else create_engine_for
            self._engine = self._open_database(make)
        return self._engine

    def _open_database(self, make: Any) -> Engine:
        """``make(self.database_url)``, with a malformed URL, a missing driver or an unreachable database
        reported as a :class:`ConfigError` that names the URL, where it came from and the fix."""
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

        from harness.errors import DependencyError

        where = f" (from {self.database_url_source})" if self.database_url_source else ""
        fix_url = (f"fix or unset {self.database_url_source}" if self.database_url_source == ENV_DATABASE_URL
                   else f"fix {self.database_url_source}" if self.database_url_source else "")
        from sqlalchemy.engine import make_url

        try:
            try:
                make_url(self.database_url)
            except ValueError as exc:  # a bad port ("host:nope") is a ValueError, not an ArgumentError
                raise ArgumentError(str(exc)) from None
            return make(self.database_url)
        except ArgumentError:
            raise ConfigError(f"the workspace database URL {self.database_url!r}{where} is not a database URL",
                              hint=f"{fix_url}: use e.g. sqlite:////path/to/harness.db or "
                                   "postgresql+psycopg://user@host/dbname") from None
        except (NoSuchModuleError, ModuleNotFoundError) as exc:
            raise DependencyError(f"the workspace database URL {_shown(self.database_url)}{where} needs a driver "
                                  f"that is not installed ({exc})",
                                  hint="install the driver (PostgreSQL: pip install 'harness[postgres]'), "
                                       f"or {fix_url or 'use the default SQLite database'}") from None
        except OperationalError as exc:
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            if self.database_url.startswith("sqlite") and not self.database_url_source:
                hint = (f"the workspace folder {self.root} must be writable (SQLite keeps its journal beside the "
                        "database): make it writable, or pass --workspace with a writable folder")
            elif self.database_url.startswith("sqlite"):
                hint = f"check that the database's folder exists and is writable, or {fix_url}"
            else:
                hint = f"check that the database server is running and reachable, or {fix_url}"
            raise ConfigError(f"cannot open the workspace database {_shown(self.database_url)}{where}: {reason}",
                              hint=hint) from None

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: commits when the block succeeds, rolls back on any exception."""
        from sqlalchemy.orm import Session

        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def close(self) -> None:
        """Dispose of the engine's connections."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def _read_settings(root: Path) -> dict[str, Any]:
    path = root / "settings.json"
    if not path.exists() and not path.is_symlink():
        return {}
    from harness.config_files import read_config_text

    try:
        data = json.loads(read_config_text(path, kind="workspace settings"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}",
                          hint="fix the file or delete it to use the defaults") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object like {{\"database_url\": \"sqlite:///...\"}}")
    return data


def _shown(url: str) -> str:
    """``url`` with its password hidden."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a URL that does not parse is shown as written
        return url
