"""harness: evaluate, compare and A/B-test fine-tuned LLMs against prompted baselines.

Heavy libraries (torch, transformers, vllm) are imported lazily by the modules that need them,
so importing :mod:`harness` and running ``harness --help`` stay fast.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
