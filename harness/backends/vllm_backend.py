"""The ``vllm`` backend: offline ``vllm.LLM`` with LoRA adapters sharing one base model.

Candidates on the same base model (and engine settings) reuse one ``LLM`` engine held in a
process-wide cache; each adapter is served as a ``LoRARequest`` (``enable_lora=True``), so a
suite with several LoRA candidates loads the base weights once. Engine options pass through
from the candidate's ``options``: ``tensor_parallel_size``, ``data_parallel_size``, ``dtype``,
``gpu_memory_utilization``, ``max_model_len``, ``max_lora_rank``, ``max_loras``, ``enforce_eager``.
``vllm`` is imported only when this backend is built.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.backends.base import BackendCapabilities, BackendSpec, Generation, GenerationRequest
from harness.backends.fingerprint import model_fingerprint
from harness.errors import DependencyError

ENGINE_OPTIONS = ("tensor_parallel_size", "data_parallel_size", "pipeline_parallel_size", "dtype",
                  "gpu_memory_utilization", "max_model_len", "max_lora_rank", "max_loras", "enforce_eager",
                  "seed", "swap_space", "quantization")
_ENGINES: dict[str, Any] = {}
_ENGINE_LOCK = threading.Lock()
_LORA_IDS: dict[str, int] = {}


def _engine(model: str, options: dict[str, Any]) -> Any:
    key = json.dumps([model, sorted(options.items())], default=str)
    with _ENGINE_LOCK:
        if key not in _ENGINES:
            try:
                from vllm import LLM
            except ImportError as exc:
                raise DependencyError(f"the vllm backend needs the vllm package ({exc})",
                                      hint="pip install 'harness[gpu]' on a CUDA machine, or use backend: openai "
                                           "against a vLLM server") from None
            _ENGINES[key] = LLM(model=model, enable_lora=True, **options)
        return _ENGINES[key]


def release_engines() -> None:
    """Drop every cached engine (frees GPU memory between suites)."""
    with _ENGINE_LOCK:
        _ENGINES.clear()


class VLLMBackend:
    """Offline vLLM generation; see the module docstring."""

    name = "vllm"
    capabilities = BackendCapabilities()

    def __init__(self, spec: BackendSpec) -> None:
        self.spec = spec
        self.engine_options = {k: v for k, v in spec.options.items() if k in ENGINE_OPTIONS}
        self.request_chunk = int(spec.options.get("chunk_size", 256))  # one transaction per chunk
        self._fingerprint: str | None = None

    @classmethod
    def fingerprint_of(cls, spec: BackendSpec) -> str:
        """sha256 over the model and adapter files."""
        return model_fingerprint(spec.model, spec.adapter, kind="vllm")

    @property
    def fingerprint(self) -> str:
        """See :meth:`fingerprint_of`."""
        if self._fingerprint is None:
            self._fingerprint = self.fingerprint_of(self.spec)
        return self._fingerprint

    def _lora_request(self) -> Any:
        if not self.spec.adapter:
            return None
        from vllm.lora.request import LoRARequest

        path = str(Path(self.spec.adapter).resolve())
        with _ENGINE_LOCK:
            lora_id = _LORA_IDS.setdefault(path, len(_LORA_IDS) + 1)
        return LoRARequest(f"adapter-{lora_id}", lora_id, path)

    def sampling_params(self) -> Any:
        """vLLM ``SamplingParams`` for the suite's generation settings."""
        from vllm import SamplingParams

        s = self.spec.settings
        kwargs: dict[str, Any] = {"max_tokens": s.max_new_tokens, "temperature": s.temperature}
        if not s.greedy:
            kwargs.update(top_p=s.top_p, seed=s.seed)
        if s.stop:
            kwargs["stop"] = list(s.stop)
        return SamplingParams(**kwargs)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Generate all requests in one ``LLM.chat`` call (vLLM batches internally)."""
        if not requests:
            return []
        llm = _engine(self.spec.model, self.engine_options)
        started = time.perf_counter()
        outputs = llm.chat([list(r.messages) for r in requests], self.sampling_params(),
                           lora_request=self._lora_request(), use_tqdm=False)
        per_example = (time.perf_counter() - started) / len(requests)
        results = []
        for out in outputs:
            completion = out.outputs[0]
            results.append(Generation(text=completion.text, latency_s=per_example,
                                      prompt_tokens=len(out.prompt_token_ids or []),
                                      completion_tokens=len(completion.token_ids), finish_reason=completion.finish_reason,
                                      model=Path(self.spec.adapter or self.spec.model).name))
        return results

    def close(self) -> None:
        """Engines stay cached for the next candidate on the same base; see :func:`release_engines`."""
