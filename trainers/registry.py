"""The model registry: every trained candidate as a folder plus a row in the workspace database.

Folder ``<workspace>/models/<name>/``: the weights (a peft adapter or full weights, loadable with
``from_pretrained``) and tokenizer, ``train_config.json`` (the resolved training config, sorted),
``metrics.jsonl`` (the curves), ``lineage.json`` (data hashes, git commit, package versions) and
``checkpoints/``. The row (:class:`harness.store.models.TrainedModel`) carries the same facts for
queries; :class:`ModelRecord` is its frozen, database-free view.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import HarnessError

PACKAGES = ("torch", "transformers", "peft", "accelerate", "tokenizers", "harness")


@dataclass(frozen=True)
class ModelRecord:
    """A registered model: ``path`` loads with ``trainers.load_for_generation`` (adapter or full)."""

    name: str
    path: str
    base_model: str
    method: str
    adapter: bool
    base_model_path: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    dataset_hashes: dict[str, Any] = field(default_factory=dict)
    git_commit: str | None = None
    package_versions: dict[str, Any] = field(default_factory=dict)
    trainable_params: int = 0
    total_params: int = 0
    adapter_size_bytes: int | None = None
    wall_time_s: float = 0.0
    steps: int = 0
    final_train_loss: float | None = None
    final_val_loss: float | None = None
    best_val_loss: float | None = None
    curves_path: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    created_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-able data."""
        return asdict(self)


def _open(workspace):
    from harness.workspace import Workspace

    return workspace if isinstance(workspace, Workspace) else Workspace.open(workspace)


def _from_row(row) -> ModelRecord:
    names = ModelRecord.__dataclass_fields__
    import datetime as dt

    values = {name: getattr(row, name) for name in names if name != "created_at"}
    created = row.created_at
    if created is not None and created.tzinfo is None:  # SQLite drops the zone; the value is UTC
        created = created.replace(tzinfo=dt.UTC)
    return ModelRecord(**values, created_at=created.isoformat() if created else None)


def register(workspace, record: ModelRecord, *, overwrite: bool = False) -> ModelRecord:
    """Insert ``record`` (replacing a same-named one when ``overwrite``); returns it as stored."""
    from sqlalchemy import select

    from harness.store.models import TrainedModel

    ws = _open(workspace)
    with ws.session() as session:
        existing = session.scalars(select(TrainedModel).where(TrainedModel.name == record.name)).first()
        if existing is not None:
            if not overwrite:
                raise HarnessError(f"a model named {record.name!r} is already registered",
                                   hint="choose another `name`, or pass --force to replace it")
            session.delete(existing)
            session.flush()
        values = {k: v for k, v in record.to_dict().items() if k != "created_at"}
        row = TrainedModel(**values)
        session.add(row)
        session.flush()
        return _from_row(row)


def find_model(workspace, name: str) -> ModelRecord | None:
    """Return the registered model called ``name`` in ``workspace`` (a Workspace or path), or None."""
    from sqlalchemy import select

    from harness.store.models import TrainedModel

    ws = _open(workspace)
    with ws.session() as session:
        row = session.scalars(select(TrainedModel).where(TrainedModel.name == name)).first()
        return _from_row(row) if row is not None else None


def list_models(workspace) -> list[ModelRecord]:
    """Return every registered model, newest first."""
    from sqlalchemy import select

    from harness.store.models import TrainedModel

    ws = _open(workspace)
    with ws.session() as session:
        rows = session.scalars(select(TrainedModel).order_by(TrainedModel.created_at.desc())).all()
        return [_from_row(row) for row in rows]


def remove_model(workspace, name: str) -> bool:
    """Delete the registry row of ``name`` (the folder stays); returns whether one existed."""
    from sqlalchemy import select

    from harness.store.models import TrainedModel

    ws = _open(workspace)
    with ws.session() as session:
        row = session.scalars(select(TrainedModel).where(TrainedModel.name == name)).first()
        if row is None:
            return False
        session.delete(row)
        return True


# lineage helpers ---------------------------------------------------------------------------------

def git_commit(cwd: str | os.PathLike[str] | None = None) -> str | None:
    """The current git commit of the checkout holding this code (None outside a git checkout)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=cwd or Path(__file__).resolve().parent)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """Installed versions of the packages that shape a training run."""
    from importlib import metadata

    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def folder_size(path: Path, patterns: tuple[str, ...] = ("adapter_model.*",)) -> int:
    """Total bytes of the files in ``path`` matching ``patterns`` (the adapter weights)."""
    return sum(f.stat().st_size for pattern in patterns for f in path.glob(pattern) if f.is_file())
