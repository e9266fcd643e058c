"""What a model name means, in one place: a path, a registered model, an alias or a hub id.

:func:`resolve_model` turns what a user wrote (a suite's ``model``, a training config's
``base_model``, ``--tokenizer``) into a :class:`ModelRef`, trying in order:

1. an existing local path (relative to ``base_dir`` first, then the working directory): as it is
   (a full model, a peft adapter folder, or a GGUF-only folder);
2. a model registered in the workspace (:mod:`harness.store.models`): its folder, and for an
   adapter the base it was trained on (``base_model_path`` when that folder still exists);
3. an alias (:data:`harness.models.aliases.ALIASES`): the per-user model cache folder, pulled or
   built once;
4. a hub id (``owner/name``): returned as it is, for machines that can reach a hub; a name that is
   none of these (``./my-model`` that does not exist) is a :class:`~harness.models.aliases.ModelNotFoundError`.

:func:`load_model` resolves and loads in one call (:func:`harness.models.loading.load_for_generation`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from harness.models.aliases import (
    ModelNotFoundError,
    Progress,
    model_not_found,
    path_exists,
    resolve_base_model,
)

if TYPE_CHECKING:
    from harness.store.models import ModelRecord
    from harness.workspace import Workspace

Source = Literal["path", "registry", "alias", "hub"]


@dataclass(frozen=True)
class ModelRef:
    """A resolved model: the weights to load, an optional adapter over them, and where they came from."""

    model: str
    adapter: str | None = None
    source: Source = "path"
    record: ModelRecord | None = None

    @property
    def is_adapter(self) -> bool:
        """True when an adapter loads over ``model``."""
        return self.adapter is not None


def local_path(value: str, base_dir: str | Path | None = None) -> Path | None:
    """The existing path ``value`` names (absolute, under ``base_dir``, or under the cwd), else None."""
    path = Path(str(value)).expanduser()
    if path.is_absolute():
        return path if path_exists(path) else None
    for base in ([Path(base_dir)] if base_dir else []) + [Path.cwd()]:
        if path_exists(base / path):
            return (base / path).resolve()
    return None


def registered(workspace: Workspace | None, name: str) -> ModelRecord | None:
    """The model registered as ``name`` in ``workspace`` (None without a workspace or such a model)."""
    if workspace is None:
        return None
    from harness.store.models import find_model

    return find_model(workspace.engine, name)


def resolve_model(name: str, *, workspace: Workspace | None = None, base_dir: str | Path | None = None,
                  progress: Progress | None = None) -> ModelRef:
    """Resolve ``name`` as the module docstring says; returns a :class:`ModelRef`."""
    local = local_path(name, base_dir)
    if local is not None:
        return ModelRef(model=str(local), source="path")
    record = registered(workspace, name)
    if record is not None:
        if not record.adapter:
            return ModelRef(model=record.path, source="registry", record=record)
        base_path = record.base_model_path
        if not base_path or not Path(base_path).exists():
            base_path = resolve_base_model(record.base_model, progress=progress)
        return ModelRef(model=str(base_path), adapter=record.path, source="registry", record=record)
    try:
        resolved = resolve_base_model(name, progress=progress)
    except ModelNotFoundError:
        raise model_not_found(name, looked_in=_tried(name, base_dir), registry=workspace is not None) from None
    if resolved != name or Path(resolved).exists():
        return ModelRef(model=str(resolved), source="alias")
    return ModelRef(model=name, source="hub")


def _tried(value: str, base_dir: str | Path | None) -> list[Path]:
    """The folders :func:`local_path` looks at for ``value`` (for the error when none exists)."""
    path = Path(str(value)).expanduser()
    if path.is_absolute():
        return [path]
    return [(base / path) for base in ([Path(base_dir)] if base_dir else []) + [Path.cwd()]]


def resolve_adapter(name: str, *, workspace: Workspace | None = None, base_dir: str | Path | None = None) -> str | None:
    """An adapter folder for ``name`` (a folder, or a registered model's folder); None when neither."""
    local = local_path(name, base_dir)
    if local is not None:
        return str(local)
    record = registered(workspace, name)
    return record.path if record is not None else None


def load_model(name: str, *, workspace: Workspace | None = None, **kwargs: Any) -> tuple[Any, Any]:
    """``(model, tokenizer)`` for generation from any model name (see :func:`resolve_model`).

    ``kwargs`` go to :func:`harness.models.loading.load_for_generation` (``device``, ``dtype``, ``merge``).
    """
    from harness.models.loading import load_for_generation

    ref = resolve_model(name, workspace=workspace)
    if ref.adapter:
        return load_for_generation(ref.adapter, base=ref.model, **kwargs)
    return load_for_generation(ref.model, **kwargs)
