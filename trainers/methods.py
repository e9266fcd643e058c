"""The training-method plug-in point: one registered record per method.

A method is a module with a ``prepare_model(base_path, config, tokenizer) -> model`` function
decorated with :func:`training_method`, which records everything the rest of the trainer needs to
know about it: its name, its settings class and the config key they are read from, its default
learning rate, whether it saves an adapter (or full weights), and whether generation from what it
trains may use the KV cache. Adding a method is one new module (built-ins are listed in
:data:`BUILTIN` and imported when first needed; others register when their module is imported).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.errors import ConfigError

PrepareModel = Callable[[str, Any, Any], Any]

BUILTIN = ("trainers.full", "trainers.lora", "trainers.qlora", "trainers.prompt_tuning")


@dataclass(frozen=True)
class TrainingMethod:
    """What the trainer knows about one method (see the module docstring)."""

    name: str
    prepare_model: PrepareModel
    default_lr: float
    is_adapter: bool
    settings_key: str | None = None  # the config key holding the method's settings (e.g. "lora")
    settings: type | None = None  # the settings dataclass read from that key
    generation_use_cache: bool = True  # False: decode without the KV cache (peft prompt learning drifts)
    check_available: Callable[[], None] | None = None  # raises DependencyError when it cannot run here


_REGISTRY: dict[str, TrainingMethod] = {}


def training_method(name: str, *, default_lr: float, is_adapter: bool, settings_key: str | None = None,
                    settings: type | None = None, generation_use_cache: bool = True,
                    check_available: Callable[[], None] | None = None) -> Callable[[PrepareModel], PrepareModel]:
    """Register the decorated ``prepare_model`` function as the training method ``name``."""

    def register(prepare_model: PrepareModel) -> PrepareModel:
        record = TrainingMethod(name, prepare_model, default_lr, is_adapter, settings_key, settings,
                                generation_use_cache, check_available)
        if name in _REGISTRY and _REGISTRY[name].prepare_model is not prepare_model:
            raise ValueError(f"training method {name!r} is registered twice")
        _REGISTRY[name] = record
        return prepare_model

    return register


def _load_builtins() -> None:
    for module in BUILTIN:
        importlib.import_module(module)


# The built-ins register first (light modules: torch and peft load inside prepare_model), so they
# lead every listing whatever else registers.
_load_builtins()


def available_methods() -> list[str]:
    """Names of every registered training method (built-ins first)."""
    _load_builtins()
    return list(_REGISTRY)


def get_method(name: str) -> TrainingMethod:
    """The record of method ``name``; an unknown name is a :class:`ConfigError` listing the choices."""
    _load_builtins()
    if name not in _REGISTRY:
        raise ConfigError(f"config field `method`: unknown method {name!r}",
                          hint=f"use one of {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def settings_keys() -> dict[str, TrainingMethod]:
    """``{config key: method}`` for every method with a settings class (several methods may share one)."""
    _load_builtins()
    return {m.settings_key: m for m in _REGISTRY.values() if m.settings_key and m.settings is not None}
