"""The ``transformers`` backend: a local model (+ optional peft adapter), batched generation.

Prompts are rendered with the tokenizer's chat template. Greedy decoding runs through
:mod:`harness.backends.continuous`: continuous batching (a finished answer frees its row for the next
prompt) with the prompts' shared prefix (system prompt, few-shot turns) prefilled once; outputs are
the same as plain ``model.generate``. Sampling, prompt-tuning adapters (which decode with
``use_cache=False`` because peft's cached path drifts from the plain forward pass) and models that
path cannot drive use length-sorted, left-padded ``model.generate`` batches.

Options (a suite candidate's ``options``, or ``harness eval --batch-size/--threads/--device/--dtype``):

- ``batch_size``: rows decoded together (default 16), or ``"auto"``: on CUDA the most rows whose KV
  cache fits in half the free GPU memory (at most 256); on CPU 64 rows, fewer if the KV cache would
  take more than a quarter of the available RAM. On a CPU a decoding step is compute-bound long
  before 64 rows, so what counts is the number of row-steps, which continuous batching keeps at the
  sum of the answers' lengths; more rows only add KV memory (see :func:`auto_batch_size`).
- ``threads``: torch CPU threads (process-wide). Default: the number of CPUs this process may use,
  at most 8 (torch's own default can count CPUs the process is not allowed to run on, and more
  threads than cores makes OpenMP threads spin against each other); 1 for models under 20M
  parameters, whose matmuls are too small to split (on a busy machine spinning threads made the
  tiny model's forward pass many times slower).
- ``device``: ``cpu``, ``cuda`` (``cuda:N``) or ``auto`` (CUDA when available; the default).
- ``dtype``: ``float32``, ``bfloat16``, ``float16`` or ``auto`` (the default: float32 on CPU, bfloat16 on CUDA).
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
        batch = opts.pop("batch_size", None) or DEFAULT_BATCH_SIZE
        self.auto_batch = str(batch).strip().lower() == "auto"
        self.batch_size = DEFAULT_BATCH_SIZE if self.auto_batch else _positive_int(batch, "batch_size")
        # The runner stores each chunk in one transaction; continuous batching wants several batches'
        # worth of prompts per call so that freed rows find a next prompt (a killed run loses one chunk).
        self.request_chunk = max(CHUNK_MIN, CHUNK_BATCHES * (AUTO_CPU_ROWS if self.auto_batch else self.batch_size))
        # checked before every decoding step: True stops early (a caller that gave up, e.g. the A/B
        # gateway after a timeout, so the model is free for the next request)
        self.should_stop: Any = None
        # set by a caller that shows progress: called with n as n more answers of a generate() call are done
        self.on_answer: Any = None
        device = str(opts.pop("device", "") or "auto").strip().lower()
        self.device = self._default_device() if device == "auto" else device
        dtype = str(opts.pop("dtype", None) or "").strip()
        self.dtype = None if dtype.lower() in ("", "auto") else dtype  # None: float32 on CPU, bfloat16 on CUDA
        threads = opts.pop("threads", None)
        self.threads_given = threads not in (None, "", 0)
        self.threads = _positive_int(threads, "threads") if self.threads_given else default_threads()
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
            import torch

            if not self.device.startswith("cuda") and torch.get_num_threads() != self.threads:
                torch.set_num_threads(self.threads)
            self._model, self._tokenizer, self._use_cache = load_model_and_tokenizer(
                self.spec.model, self.spec.adapter, device=self.device, dtype=self.dtype)
            if not self.threads_given and not self.device.startswith("cuda") and \
                    sum(p.numel() for p in self._model.parameters()) < TINY_MODEL_PARAMS:
                self.threads = 1  # a tiny model's matmuls are too small to split; extra threads only spin
                torch.set_num_threads(1)

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
        """Answers to ``requests``, in request order (continuous batching when greedy, else ``model.generate``)."""
        if not requests:
            return []
        ids = self.encode(requests)
        if self.continuous_applies():
            return self.generate_continuous(ids)
        order = sorted(range(len(requests)), key=lambda i: (len(ids[i]), i))
        results: list[Generation | None] = [None] * len(requests)
        rows = self.rows_for(ids)
        for start in range(0, len(order), rows):
            chunk = order[start:start + rows]
            for index, gen in zip(chunk, self.generate_ids([ids[i] for i in chunk]), strict=True):
                results[index] = gen
            if self.on_answer is not None:
                self.on_answer(len(chunk))
        return [r for r in results if r is not None]

    def continuous_applies(self) -> bool:
        """True when greedy decoding can run through :mod:`harness.backends.continuous` for this model."""
        from harness.backends.continuous import supports_continuous

        return self.spec.settings.greedy and self._use_cache_loaded() and supports_continuous(self.model)

    def _use_cache_loaded(self) -> bool:
        self._ensure_loaded()
        return self._use_cache

    def rows_for(self, ids: Sequence[Sequence[int]]) -> int:
        """Rows decoded together: ``batch_size``, or :func:`auto_batch_size` for ``"auto"``."""
        if not self.auto_batch:
            return self.batch_size
        longest = max(len(x) for x in ids) + self.spec.settings.max_new_tokens
        return auto_batch_size(self.model, longest, self.device)

    def generate_continuous(self, ids: list[list[int]]) -> list[Generation]:
        """Greedy answers for token-id prompts with continuous batching; latency measured per answer."""
        from harness.backends.continuous import greedy_continuous

        tok = self.tokenizer
        eos = {tok.eos_token_id} if tok.eos_token_id is not None else set()
        pad = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)
        rows = greedy_continuous(self.model, ids, slots=self.rows_for(ids),
                                 max_new_tokens=self.spec.settings.max_new_tokens, eos_ids=eos, pad_id=pad,
                                 should_stop=self.should_stop,
                                 on_done=(lambda _i: self.on_answer(1)) if self.on_answer is not None else None)
        out = []
        for row, prompt in zip(rows, ids, strict=True):
            tokens = row.tokens + ([tok.eos_token_id] if row.finish == "stop" else [])
            out.append(self._decode(tokens, len(prompt), row.latency_s, measured=True))
        return out

    def generate_ids(self, batch: list[list[int]]) -> list[Generation]:
        """One ``model.generate`` call on a left-padded batch of token-id lists.

        ``latency_s`` here is the batch's wall time split evenly over its rows (an average: one
        ``model.generate`` call gives no per-row finish times).
        """
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
            results.append(self._decode(row, len(prompt), elapsed / len(batch), measured=False))
        return results

    def _decode(self, row: list[int], prompt_len: int, latency: float, *, measured: bool) -> Generation:
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
        # latency_s: measured per answer (continuous batching) or the batch's wall time split evenly
        # (model.generate path); extra["latency"] says which.
        return Generation(text=text, latency_s=latency, prompt_tokens=prompt_len,
                          completion_tokens=len(row) + (1 if finish == "stop" else 0), finish_reason=finish,
                          model=os.path.basename(str(self.spec.model).rstrip("/")),
                          extra={"latency": "measured" if measured else "batch_average"})

    def close(self) -> None:
        """Drop the model so its memory can be reclaimed."""
        self._model = None
        self._tokenizer = None


DEFAULT_BATCH_SIZE = 16
AUTO_CPU_ROWS = 64  # on CPU a decoding step is compute-bound well before: more rows stop paying off
AUTO_GPU_MAX_ROWS = 256
CHUNK_BATCHES, CHUNK_MIN = 4, 64
TINY_MODEL_PARAMS = 20_000_000


def _positive_int(value: Any, name: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1 or (isinstance(value, float) and not value.is_integer()):
        raise BackendError(f"transformers backend: {name} must be a positive integer, got {value!r}",
                           hint=f"set {name} to 1 or more" + (" or 'auto'" if name == "batch_size" else ""))
    return number


def default_threads() -> int:
    """torch CPU threads when none are given: the CPUs this process may run on, at most 8.

    ``os.sched_getaffinity`` counts the CPUs a container or ``taskset`` actually grants (torch's
    own default may count the whole host); more threads than cores makes OpenMP threads spin
    against each other, and beyond ~8 a small model's matmuls stop scaling.
    """
    try:
        available = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        available = os.cpu_count() or 1
    return max(1, min(8, available))


def kv_bytes_per_row(model: Any, tokens: int) -> int:
    """Bytes of KV cache one row of ``tokens`` tokens takes in ``model`` (keys and values, all layers)."""
    config = model.config
    heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    itemsize = next(model.parameters()).element_size()
    return 2 * config.num_hidden_layers * heads * head_dim * itemsize * tokens


def auto_batch_size(model: Any, tokens_per_row: int, device: str) -> int:
    """Rows for ``batch_size: auto``: the most that fit memory and still help (see the module docstring).

    CUDA: half the free GPU memory divided by one row's KV cache (plus its activations, counted as
    another KV cache), at most 256. CPU: 64 rows, fewer when their KV cache would take over a quarter
    of the available RAM. Never below 1.
    """
    per_row = max(1, 2 * kv_bytes_per_row(model, tokens_per_row))
    if device.startswith("cuda"):
        import torch

        free, _total = torch.cuda.mem_get_info(torch.device(device))
        return max(1, min(AUTO_GPU_MAX_ROWS, int(free * 0.5 // per_row)))
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        available = 4 << 30
    return max(1, min(AUTO_CPU_ROWS, int(available * 0.25 // per_row)))


def _stop_when(should_stop: Any) -> Any:
    """A ``StoppingCriteriaList`` that ends every sequence once ``should_stop()`` returns True."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _Stop(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            return torch.full((input_ids.shape[0],), bool(should_stop()), dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([_Stop()])
