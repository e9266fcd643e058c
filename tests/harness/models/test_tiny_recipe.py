"""The tiny model's recipe: the cache key follows it, pretraining packs rows on one thread and learns."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

import harness.models.tiny as tiny
from harness.errors import HarnessError


def test_the_cache_key_covers_defaults_version_and_pretraining(monkeypatch) -> None:
    corpus = ["default", "extract"]
    key = tiny.recipe_key(corpus)
    assert key == tiny.recipe_key(corpus, pretrain_steps=200, seed=0)  # a default spelled out is the same recipe
    assert key != tiny.recipe_key(corpus, pretrain_steps=201)
    assert key != tiny.recipe_key(["default", "extract", "classify"])
    monkeypatch.setattr(tiny, "PRETRAIN", dataclasses.replace(tiny.PRETRAIN, lr=1e-3))
    assert key != tiny.recipe_key(corpus)  # a changed pretraining default rebuilds: no stale cache reused
    monkeypatch.undo()
    monkeypatch.setattr(tiny, "TINY_VERSION", tiny.TINY_VERSION + 1)
    assert key != tiny.recipe_key(corpus)
    with pytest.raises(TypeError, match="hidden"):
        tiny.recipe_key(corpus, hidden=64)


def test_cached_model_folder_is_named_by_the_recipe_key(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path))
    built: list[dict] = []

    def fake_build(folder, **kwargs):
        built.append(kwargs)
        folder.mkdir(parents=True)
        (folder / "config.json").write_text("{}")
        (folder / "tokenizer.json").write_text("{}")

    monkeypatch.setattr(tiny, "build_tiny_model", fake_build)
    path = tiny.cached_tiny_model(texts=["hello world"], pretrain_steps=5)
    assert path.name == f"tiny-{tiny.recipe_key(['hello world'], pretrain_steps=5)}"
    assert tiny.cached_tiny_model(texts=["hello world"], pretrain_steps=5) == path and len(built) == 1


class _Tokenizer:
    """Word ids by position in a fixed vocabulary, in the shape a fast tokenizer returns."""

    def __call__(self, texts, add_special_tokens=True):
        assert add_special_tokens is False
        return {"input_ids": [[len(word) for word in text.split()] for text in texts]}


def test_rows_are_the_token_stream_cut_without_padding() -> None:
    rows = tiny._packed_rows(_Tokenizer(), ["a bb ccc", "dddd eeeee", "f gg"], seq_len=3)
    assert rows.tolist() == [[1, 2, 3], [4, 5, 1]]  # texts run on across rows; the 7th token is dropped
    short = tiny._packed_rows(_Tokenizer(), ["a bb"], seq_len=128)
    assert short.tolist() == [[1, 2]]  # a corpus shorter than a row is one shorter row


def test_pretraining_runs_on_one_thread_restores_it_and_lowers_the_loss(tiny_model_dir: Path) -> None:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    corpus = tiny.default_corpus(limit=64)
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2))
    seen_threads: set[int] = set()
    model.register_forward_pre_hook(lambda *_: seen_threads.add(torch.get_num_threads()))
    rows = tiny._packed_rows(tokenizer, corpus, 64)

    def loss() -> float:
        with torch.no_grad():
            return model(input_ids=rows[:16], labels=rows[:16]).loss.item()

    before, threads = loss(), torch.get_num_threads()
    seen_threads.clear()
    tiny._pretrain(model, tokenizer, corpus, steps=30, seed=0,
                   recipe=dataclasses.replace(tiny.PRETRAIN, seq_len=64, batch_size=4))
    assert seen_threads == {tiny.PRETRAIN.threads} == {1}
    assert torch.get_num_threads() == threads and not model.training
    assert loss() < before - 1.0


def test_an_empty_corpus_is_a_named_error(tmp_path) -> None:
    with pytest.raises(HarnessError, match="needs some text"):
        tiny.build_tiny_model(tmp_path / "m", texts=["", "  "])


def test_the_cached_model_knows_chat_text(tiny_model_dir: Path) -> None:
    """What LoRA and the demo build on: a held-out loss well below chance, and replies that end."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    rows = [json.loads(line) for line in (tiny._evalsets_root() / "extract" / "test.jsonl").open()][:16]
    texts = [tiny.render_chatml(row["messages"]) for row in rows]
    tokenizer.padding_side = "right"
    batch = tokenizer(texts, return_tensors="pt", padding=True)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    with torch.no_grad():
        loss = model(**batch, labels=labels).loss.item()
    assert loss < 2.0  # chance is ln(1028) = 6.9; the recipe reaches ~1.7 on the held-out extract split
    prompts = [tokenizer.apply_chat_template(row["messages"][:-1], tokenize=False, add_generation_prompt=True)
               for row in rows[:8]]
    tokenizer.padding_side = "left"
    batch = tokenizer(prompts, return_tensors="pt", padding=True)
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=96, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    ended = sum(tokenizer.eos_token_id in row.tolist() for row in out[:, batch["input_ids"].shape[1]:])
    assert ended >= 6  # answers stop by themselves (the demo generates up to 96 tokens per answer)
