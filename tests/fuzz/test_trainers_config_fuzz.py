"""Fuzz the training-config reader (trainers.config: configs_from_file, overrides, sweeps) and
`harness train --dry-run`.

Properties: arbitrary bytes, YAML/JSON configs of the right shape with wrong values, and arbitrary
`key=value` overrides and `--sweep` specs never raise anything but HarnessError; a config that loads
serialises to JSON; no file in the config's folder changes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.strategies import (
    YAML_SNIPPETS,
    dump_json,
    dump_yaml,
    files_unchanged,
    fuzz_settings,
    hostile_bytes,
    odd_text,
    only_harness_errors,
    run_cli,
    scratch,
    wrong_documents,
)
from trainers.config import configs_from_file

VALID: dict[str, Any] = {
    "name": "lora-fuzz", "base_model": "org/tiny-model", "method": "lora", "train_file": "train.jsonl",
    "val_file": "val.jsonl", "lr": 2e-3, "max_steps": 4, "batch_size": 2, "effective_batch_size": 4,
    "warmup_steps": 1, "weight_decay": 0.01, "eval_steps": 2, "save_total_limit": 1, "early_stopping_patience": 3,
    "max_length": 128, "max_train_examples": 8, "overlength": "drop", "seed": 0, "precision": "auto",
    "lora": {"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": "all-linear"},
    "mix": {"fraction": 0.0},
}
EXAMPLE = {"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}
KEYS = ("lr", "lora.r", "lora.alpha", "mix.fraction", "mix.file", "batch_size", "max_steps", "name", "method",
        "epochs", "lora.target_modules", "seed", "precision", "lora", "nope.deeper")
overrides = st.lists(st.one_of(
    st.tuples(st.sampled_from(KEYS), odd_text).map("=".join),
    st.tuples(st.sampled_from(KEYS), st.sampled_from(["nan", "inf", "-1", "0", "1e999", "[1, 2", "{a: 1}", "null",
                                                      "", "9" * 4400, "true", "'x'"])).map("=".join),
    odd_text), max_size=3)
sweeps = st.lists(st.one_of(st.tuples(st.sampled_from(KEYS), st.sampled_from(["4,8", "", ",", "a,b", "nan,1e999",
                                                                              "1,1"])).map("=".join),
                            odd_text), max_size=2)
documents = wrong_documents(VALID, max_mutations=4)
config_files = st.one_of(documents.map(dump_yaml), documents.map(dump_json),
                         hostile_bytes(st.one_of(documents.map(dump_yaml), st.sampled_from(YAML_SNIPPETS))))


def _folder_with_data(folder: Path) -> None:
    for name in ("train.jsonl", "val.jsonl"):
        (folder / name).write_text(json.dumps(EXAMPLE) + "\n", encoding="utf-8")


def use_config(path: Path, extra: list[str], sweep: list[str]) -> None:
    """Load every config (one per sweep value) and serialise each, as `harness train --dry-run` prints them."""
    for config in configs_from_file(path, extra, sweep):
        json.dumps(config.to_dict())
        assert config.learning_rate > 0
        config.settings_for_method()


@fuzz_settings(150)
@given(content=config_files, extra=overrides, sweep=sweeps)
def test_training_config_files(content: str | bytes, extra: list[str], sweep: list[str]) -> None:
    with scratch() as folder:
        path = folder / "train.yaml"
        path.write_bytes(content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content)
        _folder_with_data(folder)
        with files_unchanged(folder):
            only_harness_errors(lambda: use_config(path, extra, sweep))


@fuzz_settings(10)
@given(content=documents.map(dump_yaml), extra=overrides)
def test_train_dry_run_command(content: str, extra: list[str]) -> None:
    with scratch() as folder:
        path = folder / "train.yaml"
        path.write_bytes(content.encode("utf-8", "surrogatepass"))
        _folder_with_data(folder)
        with files_unchanged(folder):
            run_cli("--workspace", folder / "ws", "train", path, *extra, "--dry-run", "--json")


def _config_with(**changes: Any) -> str:
    return dump_yaml({**VALID, **changes})


@pytest.mark.parametrize(("text", "extra"), [
    pytest.param("name: " + "9" * 4400 + "\n", [], id="int-over-4300-digits"),
    pytest.param("name: " + "[" * 1100 + "]" * 1100 + "\n", [], id="nested-1100-deep"),
    pytest.param("a: &a [*a]\n", [], id="recursive-alias"),
    pytest.param("a: 2024-01-01\n", [], id="yaml-date"),
    pytest.param("a: !!set {x, y}\n", [], id="yaml-set"),
    pytest.param(_config_with(train_file="9" * 300), [], id="path-too-long"),
    pytest.param(_config_with(train_file="train.jsonl\ud800"), [], id="lone-surrogate-path"),
    pytest.param(_config_with(lora=4), ["lora.r=8"], id="override-into-a-number"),
    pytest.param(_config_with(), ["precision=" + "9" * 4400], id="override-int-over-4300-digits"),
])
def test_inputs_found_by_fuzzing(tmp_path: Path, text: str, extra: list[str]) -> None:
    path = tmp_path / "train.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    _folder_with_data(tmp_path)
    assert only_harness_errors(lambda: use_config(path, extra, [])) is not None
