"""Model backends behind one Protocol (transformers, vllm, openai), imported lazily by name."""

from harness.backends.base import (
    Backend,
    BackendError,
    BackendSpec,
    Generation,
    GenerationRequest,
    GenerationSettings,
    available_backends,
    create_backend,
    register_backend,
)

__all__ = ["Backend", "BackendError", "BackendSpec", "Generation", "GenerationRequest", "GenerationSettings",
           "available_backends", "create_backend", "register_backend"]
