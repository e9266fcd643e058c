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
        url = os.environ.get(ENV_DATABASE_URL) or settings.get("database_url") or f"sqlite:///{root / 'harness.db'}"
        return cls(root=root, database_url=str(url))

    # folders -------------------------------------------------------------------------------
    def folder(self, *parts: str) -> Path:
        """Return ``<root>/<parts...>``, creating it."""
        path = self.root.joinpath(*parts)
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
        """The SQLAlchemy engine. On first use the database is brought to the current schema revision.

        A new database is created, one written by an older harness is upgraded in place; one written by a
        newer harness raises :class:`harness.store.migrations.SchemaTooNewError` (a ``HarnessError``).
        """
        if self._engine is None:
            from harness.store import create_engine_for

            self._engine = create_engine_for(self.database_url)
        return self._engine

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
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}",
                          hint="fix the file or delete it to use the defaults") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object like {{\"database_url\": \"sqlite:///...\"}}")
    return data
