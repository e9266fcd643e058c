"""The training-method registry: one record per method, read by config, trainer and loader."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from harness.errors import ConfigError
from trainers.config import LoraSettings, PromptTuningSettings, config_from_dict
from trainers.methods import available_methods, get_method, training_method

BASE = {"name": "m", "base_model": "tiny", "train_file": "train.jsonl"}


def test_builtin_records() -> None:
    assert available_methods()[:4] == ["full", "lora", "qlora", "prompt_tuning"]
    expected = {"full": (2e-5, False, None, True), "lora": (2e-4, True, LoraSettings, True),
                "qlora": (2e-4, True, LoraSettings, True), "prompt_tuning": (3e-2, True, PromptTuningSettings, False)}
    for name, (lr, adapter, settings, cache) in expected.items():
        m = get_method(name)
        assert (m.default_lr, m.is_adapter, m.settings, m.generation_use_cache) == (lr, adapter, settings, cache)
    assert get_method("qlora").check_available is not None and get_method("lora").check_available is None
    assert config_from_dict({**BASE, "method": "full"}).learning_rate == 2e-5
    assert config_from_dict({**BASE, "method": "prompt_tuning"}).settings_for_method().num_virtual_tokens == 16


def test_unknown_method_lists_the_registered_ones() -> None:
    with pytest.raises(ConfigError, match="unknown method 'lorra'") as info:
        config_from_dict({**BASE, "method": "lorra"})
    assert "full, lora, qlora, prompt_tuning" in info.value.hint


@dataclass
class _WidthSettings:
    width: int = 3


@training_method("test_width", default_lr=1e-3, is_adapter=True, settings_key="width_opts",
                 settings=_WidthSettings, generation_use_cache=False)
def _prepare(base_path, config, tokenizer):  # pragma: no cover - only the record is used here
    raise AssertionError("not trained in this test")


def test_a_plugin_method_is_configured_through_its_own_key() -> None:
    config = config_from_dict({**BASE, "method": "test_width", "width_opts": {"width": 7}})
    assert config.learning_rate == 1e-3 and config.settings_for_method() == _WidthSettings(7)
    assert config.to_dict()["width_opts"] == {"width": 7} and "method_settings" not in config.to_dict()
    assert config_from_dict({**BASE, "method": "test_width"}).settings_for_method() == _WidthSettings(3)
    with pytest.raises(ConfigError, match=r"width_opts.widht"):
        config_from_dict({**BASE, "method": "test_width", "width_opts": {"widht": 7}})
    reloaded = config_from_dict(config.to_dict(), strict=False)
    assert reloaded.settings_for_method() == _WidthSettings(7)


def test_registering_a_second_function_under_a_name_is_an_error() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        training_method("lora", default_lr=1.0, is_adapter=True)(lambda *a: None)
