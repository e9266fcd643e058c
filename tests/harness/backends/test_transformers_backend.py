"""The transformers backend on the tiny model: batching must not change greedy outputs."""

from __future__ import annotations

import random
from pathlib import Path

from harness.backends.base import BackendSpec, GenerationRequest, GenerationSettings
from harness.backends.transformers_backend import TransformersBackend
from tests.harness.backends._support import extract_example


def _requests(n: int) -> list[GenerationRequest]:
    rng = random.Random(3)
    return [GenerationRequest(id=str(i), messages=tuple(extract_example(i, rng)["messages"][:-1])) for i in range(n)]


def test_batched_greedy_equals_one_by_one(tiny_model_dir: Path) -> None:
    settings = GenerationSettings(max_new_tokens=20)
    batched = TransformersBackend(BackendSpec(model=str(tiny_model_dir), settings=settings, options={"batch_size": 8}))
    single = TransformersBackend(BackendSpec(model=str(tiny_model_dir), settings=settings, options={"batch_size": 1}))
    requests = _requests(16)
    lengths = {len(ids) for ids in batched.encode(requests)}
    assert len(lengths) > 4, "prompts must have mixed lengths so that batches are padded"
    got_batched = batched.generate(requests)
    got_single = single.generate(requests)
    assert [g.text for g in got_batched] == [g.text for g in got_single]
    assert [g.prompt_tokens for g in got_batched] == [len(ids) for ids in batched.encode(requests)]
    # The reference: a plain greedy ``model.generate`` per prompt. An EOS among the new tokens means
    # "stop" and counts as a completion token; no EOS within max_new_tokens means "length".
    import torch

    tok = batched.tokenizer
    expected = []
    for ids in batched.encode(requests):
        with torch.inference_mode():
            out = batched.model.generate(input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids)).long(),
                                         max_new_tokens=20, do_sample=False, pad_token_id=tok.pad_token_id,
                                         eos_token_id=tok.eos_token_id)[0, len(ids):].tolist()
        expected.append(("stop", out.index(tok.eos_token_id) + 1) if tok.eos_token_id in out else ("length", 20))
    assert [(g.finish_reason, g.completion_tokens) for g in got_batched] == expected
    assert {reason for reason, _ in expected} == {"stop", "length"}  # both paths are exercised
    assert all(g.text for g in got_batched)


def test_sampling_is_seeded(tiny_model_dir: Path) -> None:
    requests = _requests(4)

    def run(seed: int) -> list[str]:
        spec = BackendSpec(model=str(tiny_model_dir), options={"batch_size": 4},
                           settings=GenerationSettings(max_new_tokens=12, temperature=1.0, seed=seed))
        return [g.text for g in TransformersBackend(spec).generate(requests)]

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_fingerprint_tracks_weights_and_adapter(tiny_model_dir: Path, tiny_lora_dir: Path, tmp_path: Path) -> None:
    import shutil

    base = TransformersBackend.fingerprint_of(BackendSpec(model=str(tiny_model_dir)))
    assert base == TransformersBackend.fingerprint_of(BackendSpec(model=str(tiny_model_dir)))
    with_lora = TransformersBackend.fingerprint_of(BackendSpec(model=str(tiny_model_dir), adapter=str(tiny_lora_dir)))
    assert with_lora != base
    copy = shutil.copytree(tiny_lora_dir, tmp_path / "copy")
    assert TransformersBackend.fingerprint_of(BackendSpec(model=str(tiny_model_dir), adapter=str(copy))) == with_lora
    weights = next(copy.glob("*.safetensors"))
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    assert TransformersBackend.fingerprint_of(BackendSpec(model=str(tiny_model_dir), adapter=str(copy))) != with_lora


def test_lora_adapter_changes_outputs(tiny_model_dir: Path, tiny_lora_dir: Path) -> None:
    requests = _requests(6)
    settings = GenerationSettings(max_new_tokens=16)
    base = TransformersBackend(BackendSpec(model=str(tiny_model_dir), settings=settings)).generate(requests)
    lora = TransformersBackend(BackendSpec(model=str(tiny_model_dir), adapter=str(tiny_lora_dir),
                                           settings=settings)).generate(requests)
    assert [g.text for g in base] != [g.text for g in lora]
