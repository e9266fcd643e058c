"""Training candidates: full fine-tuning, LoRA, QLoRA and prompt tuning, registered in the workspace.

Public entry points (imported lazily so that ``import trainers`` stays light):
``train(config, workspace=None) -> ModelRecord``, ``load_config(path, overrides)``,
``config_from_dict(data)``, and the method plug-in point ``training_method`` / ``available_methods``
(:mod:`trainers.methods`). Loading models, aliases and the registry's records are the model
layer's: :mod:`harness.models` and :mod:`harness.store.models`. See ``trainers/README.md``.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "train": "trainers.api",
    "TrainConfig": "trainers.config",
    "load_config": "trainers.config",
    "config_from_dict": "trainers.config",
    "training_method": "trainers.methods",
    "available_methods": "trainers.methods",
    "get_method": "trainers.methods",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'trainers' has no attribute {name!r}")
