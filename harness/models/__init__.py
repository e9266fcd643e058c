"""The model layer: what a model name means, the one loader, and base models without a hub.

- :mod:`harness.models.names`: :func:`resolve_model` (path, registered model, alias, hub id) and
  :func:`load_model`;
- :mod:`harness.models.loading`: the one loader for generation, training and merging (one pad-token
  rule, one tokenizer-file rule);
- :mod:`harness.models.aliases`: aliases (``smollm2-135m-instruct``, ``tiny``), the per-user model
  cache and ``pull``; :mod:`harness.models.tiny`: the tiny offline model.

The registry's records and queries live beside its table in :mod:`harness.store.models`.
Backends, data, runs and trainers import downward from here; nothing here imports them.
Exports are lazy so that ``import harness.models`` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ModelRef": "harness.models.names",
    "resolve_model": "harness.models.names",
    "resolve_adapter": "harness.models.names",
    "load_model": "harness.models.names",
    "load_for_generation": "harness.models.loading",
    "load_causal_lm": "harness.models.loading",
    "load_tokenizer": "harness.models.loading",
    "merge_adapter": "harness.models.loading",
    "needs_no_cache": "harness.models.loading",
    "ALIASES": "harness.models.aliases",
    "model_cache_dir": "harness.models.aliases",
    "pull": "harness.models.aliases",
    "resolve_base_model": "harness.models.aliases",
    "build_tiny_model": "harness.models.tiny",
    "cached_tiny_model": "harness.models.tiny",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'harness.models' has no attribute {name!r}")
