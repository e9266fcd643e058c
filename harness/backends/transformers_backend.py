"""The ``transformers`` backend: a local model (+ optional peft adapter), batched generation.

Prompts are rendered with the tokenizer's chat template, sorted by token length and generated
in left-padded batches (similar lengths waste little compute on padding), greedy or sampled
with a seed. CPU by default here; CUDA (bf16) when a GPU is present. Prompt-tuning adapters
decode with ``use_cache=False`` because peft's cached path drifts from the plain forward pass.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from harness.backends.base import (
    BackendCapabilities,
    BackendError,
    BackendSpec,
    Generation,
    GenerationRequest,
)
from harness.backends.fingerprint import model_fingerprint


def load_model_and_tokenizer(model: str, adapter: str | None, *, device: str, dtype: str | None) -> tuple[Any, Any, bool]:
    """Load the model (merging a LoRA adapter), its tokenizer; returns (model, tokenizer, use_cache).

    A thin wrapper over :func:`harness.models.loading.load_for_generation`, the one loader that
    training, merging and evaluation share; load failures become :class:`BackendError`.
    """
    from transformers.utils import logging as hf_logging

    from harness.errors import HarnessError
    from harness.models.loading import load_for_generation

    hf_logging.disable_progress_bar()  # the runner shows its own progress
    chosen = dtype or ("bfloat16" if device.startswith("cuda") else "float32")
    try:
        loaded, tokenizer = load_for_generation(adapter or model, base=model if adapter else None, device=device,
                                                dtype=chosen, merge=True)
    except HarnessError as exc:
        raise BackendError(exc.message, hint=exc.hint) from None
    return loaded, tokenizer, loaded.harness_use_cache


class TransformersBackend:
    """Batched local generation with transformers; see the module docstring."""

    name = "transformers"
    capabilities = BackendCapabilities()

    def __init__(self, spec: BackendSpec) -> None:
        self.spec = spec
        opts = dict(spec.options)
        self.batch_size = int(opts.pop("batch_size", 16))
        self.request_chunk = self.batch_size  # one model.generate batch per stored chunk
        # checked after every generated token: True stops the batch early (a caller that gave up, e.g.
        # the A/B gateway after a timeout, so the model is free for the next request)
        self.should_stop: Any = None
        self.device = str(opts.pop("device", "") or self._default_device())
        self.dtype = opts.pop("dtype", None)
        # torch CPU threads (process-wide): 1 is fastest for tiny models on a busy machine, where
        # OpenMP threads spinning against other processes made one forward pass 50x slower.
        self.threads = opts.pop("threads", None)
        self._fingerprint: str | None = None
        self._model = None
        self._tokenizer = None
        self._use_cache = True

    @staticmethod
    def _default_device() -> str:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    @classmethod
    def fingerprint_of(cls, spec: BackendSpec) -> str:
        """Fingerprint from the files, without loading the model."""
        return model_fingerprint(spec.model, spec.adapter, kind="hf")

    @property
    def fingerprint(self) -> str:
        """sha256 over the model and adapter files (see :mod:`harness.backends.fingerprint`)."""
        if self._fingerprint is None:
            self._fingerprint = self.fingerprint_of(self.spec)
        return self._fingerprint

    def _ensure_loaded(self) -> None:
        if self._model is None:
            if self.threads:
                import torch

                torch.set_num_threads(int(self.threads))
            self._model, self._tokenizer, self._use_cache = load_model_and_tokenizer(
                self.spec.model, self.spec.adapter, device=self.device, dtype=self.dtype)

    @property
    def tokenizer(self) -> Any:
        """The loaded tokenizer."""
        self._ensure_loaded()
        return self._tokenizer

    @property
    def model(self) -> Any:
        """The loaded (merged) model."""
        self._ensure_loaded()
        return self._model

    def render(self, messages: Sequence[dict[str, str]]) -> str:
        """The prompt text produced by the chat template (generation prompt appended)."""
        tok = self.tokenizer
        if getattr(tok, "chat_template", None):
            return tok.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
        # No template (a plain base model): a readable fallback, documented rather than silent.
        return "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant: "

    def encode(self, requests: Sequence[GenerationRequest]) -> list[list[int]]:
        """Token ids of each rendered prompt (special tokens come from the template only)."""
        texts = [self.render(r.messages) for r in requests]
        return self.tokenizer(texts, add_special_tokens=False)["input_ids"]

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Generate in length-sorted, left-padded batches; returns results in request order."""
        if not requests:
            return []
        ids = self.encode(requests)
        order = sorted(range(len(requests)), key=lambda i: (len(ids[i]), i))
        results: list[Generation | None] = [None] * len(requests)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            for index, gen in zip(chunk, self.generate_ids([ids[i] for i in chunk]), strict=True):
                results[index] = gen
        return [r for r in results if r is not None]

    def generate_ids(self, batch: list[list[int]]) -> list[Generation]:
        """One ``model.generate`` call on a left-padded batch of token-id lists."""
        import torch

        model, tok, settings = self.model, self.tokenizer, self.spec.settings
        width = max(len(x) for x in batch)
        pad = tok.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(x)) + x for x in batch], device=self.device)
        attention = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in batch], device=self.device)
        kwargs: dict[str, Any] = {"max_new_tokens": settings.max_new_tokens, "pad_token_id": pad,
                                  "use_cache": self._use_cache}
        if tok.eos_token_id is not None:
            kwargs["eos_token_id"] = tok.eos_token_id
        if settings.greedy:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        else:
            kwargs.update(do_sample=True, temperature=settings.temperature, top_p=settings.top_p, top_k=0)
            torch.manual_seed(settings.seed)
        if self.should_stop is not None:
            kwargs["stopping_criteria"] = _stop_when(self.should_stop)
        started = time.perf_counter()
        with torch.inference_mode():
            output = model.generate(input_ids=input_ids, attention_mask=attention, **kwargs)
        elapsed = time.perf_counter() - started
        new_tokens = output[:, width:].tolist()
        results = []
        for row, prompt in zip(new_tokens, batch, strict=True):
            results.append(self._decode(row, len(prompt), elapsed / len(batch)))
        return results

    def _decode(self, row: list[int], prompt_len: int, latency: float) -> Generation:
        tok = self.tokenizer
        eos, pad = tok.eos_token_id, tok.pad_token_id
        finish = "length"
        if eos in row:
            row = row[:row.index(eos)]
            finish = "stop"
        while row and row[-1] == pad and pad != eos:
            row = row[:-1]
        text = tok.decode(row, skip_special_tokens=True)
        for stop in self.spec.settings.stop:
            if stop and stop in text:
                text, finish = text[:text.index(stop)], "stop"
        # latency_s is the batch's wall time shared equally by its members (amortized per example).
        return Generation(text=text, latency_s=latency, prompt_tokens=prompt_len,
                          completion_tokens=len(row) + (1 if finish == "stop" else 0), finish_reason=finish,
                          model=os.path.basename(str(self.spec.model).rstrip("/")))

    def close(self) -> None:
        """Drop the model so its memory can be reclaimed."""
        self._model = None
        self._tokenizer = None


def _stop_when(should_stop: Any) -> Any:
    """A ``StoppingCriteriaList`` that ends every sequence once ``should_stop()`` returns True."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _Stop(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            return torch.full((input_ids.shape[0],), bool(should_stop()), dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([_Stop()])
