from __future__ import annotations

from pathlib import Path

import pytest

from harness.ab.gateway.config import build_config, load_config
from harness.errors import ConfigError

CONTRACT = """\
experiment: extract-lora          # created in the workspace store if new
control: base
variants:
  base: {model: smollm2-135m-instruct, weight: 0.5}
  candidate: {model: lora-extract, weight: 0.5, timeout_s: 10}
"""


def test_the_issue_yaml_is_a_valid_config(tmp_path: Path) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text(CONTRACT)
    config = load_config(path)
    assert config.experiment == "extract-lora"
    assert config.weights == {"base": 0.5, "candidate": 0.5}
    assert config.variants["candidate"].timeout_s == 10
    assert not config.variants["base"].upstream
    assert config.assignment_salt == "extract-lora"
    assert config.base_dir == str(tmp_path.resolve())


def test_upstream_variant_and_extra_blocks() -> None:
    config = build_config({"experiment": "e", "control": "a", "salt": "s1", "api_key_env": "GW_KEY",
                           "circuit_breaker": {"failures": 2, "cooldown_s": 5},
                           "variants": {"a": {"model": "m", "weight": 0.3},
                                        "b": {"base_url": "http://127.0.0.1:9/v1", "model": "x", "weight": 0.2,
                                              "pricing": {"prompt": 1.0, "completion": 2.0}}}})
    assert config.variants["b"].upstream and config.circuit_breaker.failures == 2
    assert config.assignment_salt == "s1"


@pytest.mark.parametrize(("data", "field"), [
    ({"control": "a", "variants": {"a": {"model": "m", "weight": 0.5}, "b": {"model": "m", "weight": 0.5}}},
     "experiment: required"),
    ({"experiment": "e", "control": "c", "variants": {"a": {"model": "m", "weight": 0.5},
                                                      "b": {"model": "m", "weight": 0.5}}}, "control 'c'"),
    ({"experiment": "e", "control": "a", "variants": {"a": {"model": "m", "weight": 0.8},
                                                      "b": {"model": "m", "weight": 0.5}}}, "sum to 1.3"),
    ({"experiment": "e", "control": "a", "variants": {"a": {"model": "m", "weight": 0.5},
                                                      "b": {"model": "m", "wieght": 0.5}}}, "variants.b.wieght"),
    ({"experiment": "e", "control": "a", "variants": {"a": {"model": "m", "weight": 0.5},
                                                      "b": {"model": "m", "weight": 0.5, "timeout_s": -1}}},
     "variants.b.timeout_s"),
    ({"experiment": "e", "control": "a", "variants": {"a": {"model": "m", "weight": 1.0}}}, "at least two"),
])
def test_errors_name_the_file_and_field(tmp_path: Path, data: dict, field: str) -> None:
    import yaml

    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in err.value.message and field in err.value.message


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("experiment: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(bad)


def test_api_key_env_must_be_set(monkeypatch: pytest.MonkeyPatch) -> None:
    config = build_config({"experiment": "e", "control": "a", "api_key_env": "GW_TEST_KEY",
                           "variants": {"a": {"model": "m", "weight": 0.5}, "b": {"model": "m", "weight": 0.5}}})
    monkeypatch.delenv("GW_TEST_KEY", raising=False)
    with pytest.raises(ConfigError, match="GW_TEST_KEY"):
        config.api_key()
    monkeypatch.setenv("GW_TEST_KEY", "sekrit")
    assert config.api_key() == "sekrit"
