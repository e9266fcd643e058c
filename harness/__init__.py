"""harness: evaluate, compare and A/B-test fine-tuned LLMs against prompted baselines.

Heavy libraries (torch, transformers, vllm) are imported lazily by the modules that need them,
so importing :mod:`harness` and running ``harness --help`` stay fast.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["Suite", "__version__"]


def __getattr__(name: str):  # lazy exports keep `import harness` light
    if name == "Suite":
        from harness.runs.suite import Suite

        return Suite
    raise AttributeError(f"module 'harness' has no attribute {name!r}")
