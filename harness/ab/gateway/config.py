"""The gateway config (``harness ab serve CONFIG.yaml``), validated on load.

The public contract (keys may be added, these stay)::

    experiment: extract-lora          # created in the workspace store if new
    control: base
    variants:
      base: {model: smollm2-135m-instruct, weight: 0.5}
      candidate: {model: lora-extract, weight: 0.5, timeout_s: 10}   # or {base_url: ..., model: ...}

Extra keys: ``api_key_env`` (clients must send that key), ``salt`` (assignment salt, default the
experiment name), ``prompt: {system, few_shot}`` (prepended to every request of a variant),
``generation: {max_new_tokens, temperature}`` (defaults when the request sets none),
``circuit_breaker: {failures, cooldown_s}``, ``pricing: {prompt, completion}`` (cost per 1000
tokens, per variant), ``allow_client_time`` (honour the ``X-Harness-Time`` header, for replay).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from harness.config_files import format_validation_error, read_yaml
from harness.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Generation(_Strict):
    """Default decoding settings (a request's own ``max_tokens``/``temperature`` win)."""

    max_new_tokens: int = Field(256, ge=1, le=32768)
    temperature: float = Field(0.0, ge=0.0, le=2.0)


class Prompt(_Strict):
    """Messages put before the client's: an optional system prompt and few-shot pairs."""

    system: str | None = None
    few_shot: list[dict[str, str]] = Field(default_factory=list)


class Pricing(_Strict):
    """Cost per 1000 prompt and completion tokens."""

    prompt: float = Field(0.0, ge=0.0)
    completion: float = Field(0.0, ge=0.0)


class Variant(_Strict):
    """One arm: an in-process ``model`` (alias, folder, registry name) or an upstream ``base_url`` + ``model``."""

    model: str = Field(min_length=1)
    base_url: str | None = None
    weight: float = Field(ge=0.0, le=1.0)
    timeout_s: float | None = Field(None, gt=0.0)
    api_key_env: str | None = None  # key for the upstream (base_url) server
    prompt: Prompt | None = None
    generation: Generation | None = None
    pricing: Pricing | None = None
    device: str | None = None  # in-process backends: cpu, cuda, ...

    @property
    def upstream(self) -> bool:
        """True when the variant is served by an OpenAI-compatible server at ``base_url``."""
        return self.base_url is not None


class CircuitBreaker(_Strict):
    """After ``failures`` consecutive failures a non-control variant is skipped for ``cooldown_s``."""

    failures: int = Field(5, ge=1)
    cooldown_s: float = Field(30.0, ge=0.0)


class GatewayConfig(_Strict):
    """The whole gateway config (see the module docstring)."""

    experiment: str = Field(min_length=1, max_length=200)
    control: str = Field(min_length=1)
    variants: dict[str, Variant]
    salt: str | None = None
    api_key_env: str | None = None
    prompt: Prompt | None = None
    generation: Generation = Generation()
    circuit_breaker: CircuitBreaker = CircuitBreaker()
    allow_client_time: bool = True
    description: str = ""
    base_dir: str | None = Field(None, exclude=True)

    @model_validator(mode="after")
    def _check(self) -> GatewayConfig:
        if len(self.variants) < 2:
            raise ValueError(f"needs at least two variants, got {list(self.variants)}")
        if self.control not in self.variants:
            raise ValueError(f"control {self.control!r} is not one of the variants {list(self.variants)}")
        total = sum(v.weight for v in self.variants.values())
        if total > 1.0 + 1e-9:
            raise ValueError(f"variant weights sum to {total:g}; they must sum to at most 1")
        if any(len(name) > 200 or not name for name in self.variants):
            raise ValueError("variant names must be 1-200 characters")
        return self

    @property
    def weights(self) -> dict[str, float]:
        """Configured weight per variant."""
        return {name: v.weight for name, v in self.variants.items()}

    @property
    def assignment_salt(self) -> str:
        """The salt of the sticky assignment (``salt`` or the experiment name)."""
        return self.salt or self.experiment

    def api_key(self) -> str | None:
        """The key clients must send (from the ``api_key_env`` variable), or None when none is required.

        Raises :class:`ConfigError` when ``api_key_env`` names an unset variable.
        """
        if not self.api_key_env:
            return None
        key = os.environ.get(self.api_key_env)
        if not key:
            raise ConfigError(f"api_key_env: the environment variable {self.api_key_env} is not set",
                              hint=f"export {self.api_key_env}=<key>, or remove api_key_env to serve without a key")
        return key


def build_config(data: Any, *, source: str = "gateway config", base_dir: str | Path | None = None) -> GatewayConfig:
    """Validate ``data`` (a mapping) into a :class:`GatewayConfig`; raises :class:`ConfigError` naming each field."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping with experiment, control, variants",
                          hint="see harness/ab/gateway/config.py for an example")
    try:
        return GatewayConfig(**{str(k): v for k, v in data.items()},
                             base_dir=str(Path(base_dir).resolve()) if base_dir else None)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source),
                          hint="keys: experiment, control, variants: {name: {model | base_url+model, weight}}") from None


def load_config(path: str | os.PathLike[str]) -> GatewayConfig:
    """Read and validate a gateway YAML (or JSON) file; returns the :class:`GatewayConfig`."""
    data = read_yaml(path, kind="gateway config")
    return build_config(data, source=str(path), base_dir=Path(path).parent)
