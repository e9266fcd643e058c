"""Training config: defaults, validation messages that name the field, overrides and sweeps."""

from __future__ import annotations

import json

import pytest

from harness.errors import ConfigError
from trainers.config import (
    apply_overrides,
    config_from_dict,
    load_config,
    parse_sweep,
    sweep_configs,
)

BASE = {"name": "m", "base_model": "tiny", "train_file": "train.jsonl"}


def test_defaults_follow_the_article():
    lora = config_from_dict({**BASE, "method": "lora"})
    full = config_from_dict({**BASE, "method": "full"})
    assert lora.learning_rate == 2e-4 and full.learning_rate == 2e-5
    assert lora.effective_batch_size == 16 and lora.epochs == 3 and lora.weight_decay == 0.01
    assert (lora.lora.r, lora.lora.alpha, lora.lora.dropout) == (16, 32, 0.05)
    assert lora.lora.target_modules == ["q_proj", "v_proj"]
    assert lora.to_dict()["lr"] == 2e-4


@pytest.mark.parametrize(("data", "field", "words"), [
    ({"lora": {"rr": 8}}, "lora.rr", "did you mean `lora.r`"),
    ({"learning_rate": 1e-4}, "learning_rate", "unknown key"),
    ({"lora": {"r": "eight"}}, "lora.r", "expected an integer"),
    ({"epochs": "many"}, "epochs", "expected a number"),
    ({"method": "dpo"}, "method", "full, lora, qlora, prompt_tuning"),
    ({"overlength": "squash"}, "overlength", "drop, truncate, error"),
    ({"lora": {"dropout": 1.5}}, "lora.dropout", "[0, 1)"),
    ({"lr": 3}, "lr", "lr=2e-4"),
    ({"eval_steps": 10, "save_steps": 15}, "save_steps", "multiple of eval_steps"),
    ({"name": "a/b"}, "name", "folder name"),
    ({"progress": "maybe"}, "progress", "true or false"),
    ({"lora": {"top_layers": 0}}, "lora.top_layers", "lora.top_layers=10"),
    ({"lora": {"plus_ratio": 0.5}}, "lora.plus_ratio", "lora.plus_ratio=16"),
    ({"lr_scheduler": "cosine_annealing"}, "lr_scheduler", "constant_with_warmup"),
])
def test_bad_values_name_the_field_and_the_fix(data, field, words):
    with pytest.raises(ConfigError) as info:
        config_from_dict({**BASE, **data})
    text = str(info.value)
    assert f"`{field}`" in text and words in text


def test_missing_required_field_is_named():
    with pytest.raises(ConfigError, match="`train_file`: required"):
        config_from_dict({"name": "m", "base_model": "tiny"})


def test_overrides_are_coerced_and_unknown_keys_rejected():
    data = apply_overrides(BASE, ["lora.r=32", "lr=1e-4", "lora.target_modules=q_proj,k_proj", "resume=true"])
    config = config_from_dict(data)
    assert config.lora.r == 32 and config.lr == 1e-4 and config.resume is True
    assert config.lora.target_modules == ["q_proj", "k_proj"]
    assert config_from_dict(apply_overrides(BASE, ["lora.target_modules=all-linear"])).lora.target_modules == "all-linear"
    with pytest.raises(ConfigError, match="unknown key `lora.rank`"):
        apply_overrides(BASE, ["lora.rank=8"])
    with pytest.raises(ConfigError, match="key=value"):
        apply_overrides(BASE, ["lora.r"])
    with pytest.raises(ConfigError, match="no sub-keys"):
        apply_overrides(BASE, ["lr.x=1"])


def test_sweep_expands_one_named_candidate_per_value():
    assert parse_sweep(["lora.r=8,16,32"]) == [("r8", ["lora.r=8"]), ("r16", ["lora.r=16"]),
                                               ("r32", ["lora.r=32"])]
    configs = sweep_configs(BASE, ["lr=1e-4"], ["lora.r=8,16", "lora.alpha=16,32"])
    assert [c.name for c in configs] == ["m-r8-alpha16", "m-r8-alpha32", "m-r16-alpha16", "m-r16-alpha32"]
    assert [(c.lora.r, c.lora.alpha) for c in configs] == [(8, 16), (8, 32), (16, 16), (16, 32)]
    assert all(c.lr == 1e-4 for c in configs)
    with pytest.raises(ConfigError, match="unknown key"):
        parse_sweep(["lora.rank=8,16"])


def test_yaml_paths_are_relative_to_the_file_and_errors_name_it(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.jsonl").write_text("{}\n")
    path = tmp_path / "run.yaml"
    path.write_text("name: m\nbase_model: tiny\ntrain_file: data/train.jsonl\nlora:\n  r: 4\n")
    config = load_config(path, ["lora.alpha=8"])
    assert config.train_file == str((tmp_path / "data" / "train.jsonl").resolve())
    assert (config.lora.r, config.lora.alpha) == (4, 8)
    saved = json.loads(json.dumps(config.to_dict(), sort_keys=True))  # resolved config is JSON-able
    assert config_from_dict(saved).to_dict() == config.to_dict()  # and rebuilds the same config
    path.write_text("name: m\nbase_model: tiny\ntrain_file: x\nlora: {r: -1}\n")
    with pytest.raises(ConfigError, match=r"run\.yaml: config field `lora.r`"):
        load_config(path)
