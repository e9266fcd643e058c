"""Model backends behind one Protocol (transformers, vllm, openai), imported lazily by name."""

from harness.backends.base import (
    Backend,
    BackendCapabilities,
    BackendError,
    BackendSpec,
    Generation,
    GenerationRequest,
    GenerationSettings,
    available_backends,
    backend_capabilities,
    create_backend,
    register_backend,
)

__all__ = ["Backend", "BackendCapabilities", "BackendError", "BackendSpec", "Generation", "GenerationRequest", "GenerationSettings",
           "available_backends", "backend_capabilities", "create_backend", "register_backend"]
