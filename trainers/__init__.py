"""Training candidates: full fine-tuning, LoRA, QLoRA and prompt tuning, with a model registry.

Public entry points (imported lazily so that ``import trainers`` stays light):
``train(config, workspace=None) -> ModelRecord``, ``load_config(path, overrides)``,
``load_for_generation(path_or_record) -> (model, tokenizer)``, ``find_model(workspace, name)``,
``resolve_base_model(name_or_path)``. See ``trainers/README.md``.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "train": "trainers.api",
    "TrainConfig": "trainers.config",
    "load_config": "trainers.config",
    "config_from_dict": "trainers.config",
    "load_for_generation": "trainers.generation",
    "needs_no_cache": "trainers.generation",
    "merge_adapter": "trainers.generation",
    "find_model": "trainers.registry",
    "list_models": "trainers.registry",
    "ModelRecord": "trainers.registry",
    "resolve_base_model": "trainers.base_models",
    "pull": "trainers.base_models",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'trainers' has no attribute {name!r}")
