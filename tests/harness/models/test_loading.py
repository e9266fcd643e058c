"""The one loader's rules: where the tokenizer comes from, the pad token, the cache rule, merging."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.errors import ConfigError, HarnessError
from harness.models.loading import (
    ensure_pad_token,
    folder_disables_cache,
    load_for_generation,
    load_tokenizer,
    merge_adapter,
    tokenizer_source,
)


def test_tokenizer_comes_from_the_folder_when_it_has_one_else_the_base(tmp_path: Path, tiny_model_dir: Path) -> None:
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    assert tokenizer_source(adapter, str(tiny_model_dir)) == (str(tiny_model_dir), {})
    shutil.copy(tiny_model_dir / "tokenizer.json", adapter / "tokenizer.json")
    assert tokenizer_source(adapter, str(tiny_model_dir)) == (str(adapter), {})
    gguf_only = tmp_path / "gguf"
    gguf_only.mkdir()
    (gguf_only / "m.Q4.gguf").write_bytes(b"")
    assert tokenizer_source(tmp_path / "adapter2", str(gguf_only)) == (str(gguf_only), {"gguf_file": "m.Q4.gguf"})


def test_pad_token_defaults_to_eos() -> None:
    class Tok:
        pad_token = None
        eos_token = "</s>"

    assert ensure_pad_token(Tok()).pad_token == "</s>"
    tok = Tok()
    tok.pad_token = "<pad>"
    assert ensure_pad_token(tok).pad_token == "<pad>"


def test_training_tokenizer_requires_a_chat_template(tmp_path: Path, tiny_model_dir: Path) -> None:
    copy = tmp_path / "no-template"
    shutil.copytree(tiny_model_dir, copy)
    config = json.loads((copy / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (copy / "tokenizer_config.json").write_text(json.dumps(config))
    for extra in copy.glob("chat_template.*"):
        extra.unlink()
    plain = load_tokenizer(copy)  # loads without a template unless one is required; keeps the folder's pad token
    assert plain.chat_template is None and plain.pad_token == "<|pad|>"
    with pytest.raises(ConfigError, match="has no chat template"):
        load_tokenizer(copy, require_chat_template=True)


def test_generation_loader_sets_left_padding_and_the_cache_rule(tmp_path: Path, tiny_model_dir: Path) -> None:
    from tests.harness.backends._support import make_lora_adapter

    model, tokenizer = load_for_generation(tiny_model_dir)
    assert tokenizer.padding_side == "left" and model.harness_use_cache is True
    assert model.generation_config.pad_token_id == tokenizer.pad_token_id and not model.training
    adapter = make_lora_adapter(tiny_model_dir, tmp_path / "adapter", steps=1)
    assert not folder_disables_cache(adapter)
    (adapter / "generation_config.json").write_text('{"use_cache": false}')
    assert folder_disables_cache(adapter)
    loaded, _ = load_for_generation(adapter)
    assert loaded.harness_use_cache is False and loaded.generation_config.use_cache is False


def test_merge_matches_the_adapter_and_refuses_non_lora(tmp_path: Path, tiny_model_dir: Path) -> None:
    torch = pytest.importorskip("torch")
    from tests.harness.backends._support import make_lora_adapter

    adapter = make_lora_adapter(tiny_model_dir, tmp_path / "adapter", steps=2)
    merged_dir = merge_adapter(adapter, tmp_path / "merged")
    assert (merged_dir / "config.json").exists() and (merged_dir / "tokenizer.json").exists()
    assert not (tmp_path / ".merged.merging").exists()
    with_adapter, tokenizer = load_for_generation(adapter)
    merged, _ = load_for_generation(merged_dir)
    ids = tokenizer("an order of two lamps", return_tensors="pt")
    with torch.no_grad():
        gap = (with_adapter(**ids).logits - merged(**ids).logits).abs().max().item()
    assert gap < 1e-4
    config = json.loads((adapter / "adapter_config.json").read_text())
    (adapter / "adapter_config.json").write_text(json.dumps({**config, "peft_type": "PROMPT_TUNING"}))
    with pytest.raises(HarnessError, match="cannot be merged"):
        merge_adapter(adapter, tmp_path / "merged2")


def test_a_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="cannot load model") as info:
        load_for_generation(tmp_path / "does-not-exist")
    assert "alias" in (info.value.hint or "")
