"""The backend plug-in point: a Protocol, the request/result records and a small registry.

A backend turns chat requests into :class:`Generation` records. Built-ins (``transformers``,
``vllm``, ``openai``) are registered by module path and imported only when a suite uses them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from harness.errors import ConfigError, HarnessError


class BackendError(HarnessError):
    """A backend could not produce a generation (server errors after retries, load failure)."""


@dataclass(frozen=True)
class GenerationSettings:
    """Decoding settings (the suite's ``generation`` block)."""

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    stop: tuple[str, ...] = ()

    @property
    def greedy(self) -> bool:
        """True when decoding is deterministic argmax."""
        return self.temperature <= 0.0


@dataclass(frozen=True)
class GenerationRequest:
    """One prompt: an id (for progress and errors) and the chat messages."""

    id: str
    messages: tuple[dict[str, str], ...]


@dataclass(frozen=True)
class Generation:
    """One model answer with its cost drivers."""

    text: str
    latency_s: float
    prompt_tokens: int | None
    completion_tokens: int | None
    finish_reason: str | None = None
    model: str | None = None  # the model that answered (differs when a fallback was used)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BackendCapabilities:
    """What a backend can do, declared on its class so the runner and suite validation need no name checks.

    ``local_models``: model names resolve to local folders (paths, registered models, aliases) before
    the backend sees them; False when a server resolves its own model names. ``adapters``: it can load
    a peft adapter over the model. ``needs_base_url``: it talks to a server at the candidate's ``base_url``.
    """

    local_models: bool = True
    adapters: bool = True
    needs_base_url: bool = False


@runtime_checkable
class Backend(Protocol):
    """What every backend provides.

    ``capabilities`` is a class attribute (read without building the backend); ``request_chunk`` is
    how many requests the runner hands to one :meth:`generate` call, each call's results being stored
    in one transaction (a killed run loses at most one chunk).
    """

    name: str
    capabilities: ClassVar[BackendCapabilities]
    request_chunk: int

    @property
    def fingerprint(self) -> str:
        """Identity of the model behind the backend (weights/adapter hash or served name + URL)."""
        ...

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Answer every request; returns generations aligned with ``requests``."""
        ...

    def close(self) -> None:
        """Release the model / connections."""
        ...


@dataclass(frozen=True)
class BackendSpec:
    """Everything a backend factory needs (built by the runner from a suite candidate)."""

    model: str
    adapter: str | None = None
    base_url: str | None = None
    fallback_model: str | None = None
    settings: GenerationSettings = GenerationSettings()
    options: dict[str, Any] = field(default_factory=dict)


BackendFactory = Callable[[BackendSpec], Backend]

_BUILTIN: dict[str, str] = {
    "transformers": "harness.backends.transformers_backend:TransformersBackend",
    "vllm": "harness.backends.vllm_backend:VLLMBackend",
    "openai": "harness.backends.openai_backend:OpenAIBackend",
}
_REGISTRY: dict[str, BackendFactory] = {}


def register_backend(name: str, factory: BackendFactory) -> None:
    """Register ``factory(spec) -> Backend`` under ``name`` (overrides a built-in of that name)."""
    _REGISTRY[name] = factory


def available_backends() -> list[str]:
    """Names of the built-in and registered backends."""
    return sorted(set(_BUILTIN) | set(_REGISTRY))


def get_backend_factory(name: str) -> BackendFactory:
    """The factory for ``name``, importing a built-in lazily; unknown names list the choices."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name not in _BUILTIN:
        raise ConfigError(f"unknown backend {name!r}", hint=f"choose from: {', '.join(available_backends())}")
    module_name, attr = _BUILTIN[name].split(":")
    return getattr(importlib.import_module(module_name), attr)


def backend_capabilities(name: str) -> BackendCapabilities:
    """The capabilities the backend ``name`` declares (defaults when it declares none)."""
    return getattr(get_backend_factory(name), "capabilities", None) or BackendCapabilities()


def check_backend_spec(name: str, spec: BackendSpec) -> None:
    """Run the backend's own checks of ``spec`` (its ``check_spec``, if it has one) without building it.

    The runner calls this for every candidate before any generation, so a spec the backend would
    refuse (an API key over plain http) stops a run before the first model answers.
    """
    check = getattr(get_backend_factory(name), "check_spec", None)
    if check is not None:
        check(spec)


def create_backend(name: str, spec: BackendSpec) -> Backend:
    """Build the backend ``name`` for ``spec``."""
    return get_backend_factory(name)(spec)


def fingerprint_for(name: str, spec: BackendSpec) -> str:
    """The model fingerprint without loading the model (a factory's ``fingerprint_of`` if it has one)."""
    factory = get_backend_factory(name)
    static = getattr(factory, "fingerprint_of", None)
    if static is None:
        backend = factory(spec)
        try:
            return backend.fingerprint
        finally:
            backend.close()
    return static(spec)
