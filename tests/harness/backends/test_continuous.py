"""Continuous batching on the tiny model: the same greedy answers as one ``model.generate`` per prompt."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from harness.backends.base import BackendError, BackendSpec, GenerationRequest, GenerationSettings
from harness.backends.continuous import greedy_continuous, shared_prefix_length, supports_continuous
from harness.backends.transformers_backend import TransformersBackend, auto_batch_size, kv_bytes_per_row
from tests.harness.backends._support import extract_example

MAX_NEW = 24


def _backend(model_dir: Path, **options: object) -> TransformersBackend:
    return TransformersBackend(BackendSpec(model=str(model_dir), settings=GenerationSettings(max_new_tokens=MAX_NEW),
                                           options={"device": "cpu", **options}))


def _prompts(backend: TransformersBackend, n: int, *, shots: int = 0) -> list[list[int]]:
    rng = random.Random(5)
    turns = []
    for i in range(shots):
        ex = extract_example(100 + i, rng)["messages"]
        turns += [ex[1], ex[2]]
    requests = []
    for i in range(n):
        system, user, _answer = extract_example(i, rng)["messages"]
        requests.append(GenerationRequest(id=str(i), messages=(system, *turns, user)))
    return backend.encode(requests)


def _reference(backend: TransformersBackend, prompts: list[list[int]]) -> list[tuple[list[int], str]]:
    """One plain greedy ``model.generate`` per prompt: (new tokens without EOS, finish reason)."""
    import torch

    tok, out = backend.tokenizer, []
    for ids in prompts:
        with torch.inference_mode():
            new = backend.model.generate(input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids)).long(),
                                         max_new_tokens=MAX_NEW, do_sample=False, pad_token_id=tok.pad_token_id,
                                         eos_token_id=tok.eos_token_id)[0, len(ids):].tolist()
        if tok.eos_token_id in new:
            out.append((new[:new.index(tok.eos_token_id)], "stop"))
        else:
            out.append((new, "length"))
    return out


@pytest.mark.parametrize(("shots", "slots"), [(0, 3), (2, 4), (0, 16)])
def test_greedy_continuous_equals_one_prompt_generate(tiny_model_dir: Path, shots: int, slots: int) -> None:
    backend = _backend(tiny_model_dir)
    prompts = _prompts(backend, 14, shots=shots)
    assert len({len(p) for p in prompts}) > 4  # mixed lengths: rows join and leave at different steps
    assert shared_prefix_length(prompts) > 8  # the system prompt (and shots) are prefilled once
    tok = backend.tokenizer
    got = greedy_continuous(backend.model, prompts, slots=slots, max_new_tokens=MAX_NEW, eos_ids={tok.eos_token_id},
                            pad_id=tok.pad_token_id)
    expected = _reference(backend, prompts)
    assert [(r.tokens, r.finish) for r in got] == expected
    assert {finish for _, finish in expected} == {"stop", "length"}
    assert all(r.latency_s > 0 for r in got)
    assert len({round(r.latency_s, 6) for r in got}) > 1  # measured per row, not one batch time split


def test_no_shared_prefix_and_window_compaction(tiny_model_dir: Path) -> None:
    """Prompts with no common prefix, 2 slots: many joins, and the KV window is shifted back several times."""
    backend = _backend(tiny_model_dir)
    prompts = _prompts(backend, 10)
    rng = random.Random(1)
    prompts = [[rng.randrange(3, 200)] + p for p in prompts]  # a different first token each
    assert shared_prefix_length(prompts) == 0
    tok = backend.tokenizer
    got = greedy_continuous(backend.model, prompts, slots=2, max_new_tokens=MAX_NEW, eos_ids={tok.eos_token_id},
                            pad_id=tok.pad_token_id)
    assert [(r.tokens, r.finish) for r in got] == _reference(backend, prompts)


def test_shared_prefix_length() -> None:
    assert shared_prefix_length([list(range(20)) + [1], list(range(20)) + [2, 3]]) == 20
    assert shared_prefix_length([list(range(20)), list(range(30))]) == 19  # each keeps one token of its own
    assert shared_prefix_length([list(range(5)) + [1], list(range(5)) + [2]]) == 0  # too short to pay off
    assert shared_prefix_length([list(range(30))]) == 0


def test_should_stop_cancels_greedy_rows(tiny_model_dir: Path) -> None:
    backend = _backend(tiny_model_dir, batch_size=2)
    prompts = _prompts(backend, 5)
    calls = []

    def stop_after_three() -> bool:
        calls.append(1)
        return len(calls) > 3

    tok = backend.tokenizer
    got = greedy_continuous(backend.model, prompts, slots=2, max_new_tokens=MAX_NEW, eos_ids={tok.eos_token_id},
                            pad_id=tok.pad_token_id, should_stop=stop_after_three)
    started = [r for r in got if r.finish != "cancelled"]
    # checks 1-3 passed: the prefill's token plus three decoding steps, then nothing more
    assert len(started) == 2 and all(r.finish == "length" and len(r.tokens) == 4 for r in started)
    assert [r.finish for r in got].count("cancelled") == 3


def test_backend_uses_continuous_path_and_measures_latency(tiny_model_dir: Path) -> None:
    backend = _backend(tiny_model_dir, batch_size="auto")
    assert supports_continuous(backend.model) and backend.continuous_applies()
    rng = random.Random(2)
    requests = [GenerationRequest(id=str(i), messages=tuple(extract_example(i, rng)["messages"][:-1]))
                for i in range(6)]
    reported: list[int] = []
    backend.on_answer = reported.append
    gens = backend.generate(requests)
    assert all(g.extra["latency"] == "measured" for g in gens)
    assert reported == [1] * 6  # one progress report per finished answer
    sampled = TransformersBackend(BackendSpec(model=str(tiny_model_dir), options={"device": "cpu", "batch_size": 2},
                                              settings=GenerationSettings(max_new_tokens=8, temperature=1.0)))
    assert not sampled.continuous_applies()
    sampled.on_answer = reported.append
    assert all(g.extra["latency"] == "batch_average" for g in sampled.generate(requests[:3]))
    assert reported[6:] == [2, 1]  # the model.generate path reports per batch
    backend._use_cache = False  # what a prompt-tuning adapter sets: decode without a KV cache
    assert not backend.continuous_applies()


def test_options(tiny_model_dir: Path) -> None:
    auto = _backend(tiny_model_dir, batch_size="auto", device="auto", dtype="auto")
    assert auto.auto_batch and auto.device == "cpu" and auto.dtype is None
    assert auto.request_chunk >= 64
    rows = auto.rows_for([[1] * 50])
    assert 1 <= rows <= 64
    assert auto.threads >= 1
    fixed = _backend(tiny_model_dir, batch_size=3, threads=1)
    assert fixed.rows_for([[1] * 50]) == 3 and fixed.threads == 1
    with pytest.raises(BackendError, match="batch_size"):
        _backend(tiny_model_dir, batch_size="many")
    with pytest.raises(BackendError, match="threads"):
        _backend(tiny_model_dir, threads=-2)


def test_auto_batch_size_is_bounded_by_memory(tiny_model_dir: Path) -> None:
    model = _backend(tiny_model_dir).model
    config = model.config
    per_token = 2 * config.num_hidden_layers * config.num_key_value_heads * \
        (getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads) * 4
    assert kv_bytes_per_row(model, 10) == 10 * per_token
    assert auto_batch_size(model, 100, "cpu") == 64  # a tiny model: memory is no limit on CPU
    assert auto_batch_size(model, 10**9, "cpu") == 1  # a row larger than a quarter of RAM: one row
