"""``harness train``: config + overrides + sweep from the command line, errors without tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture
def config_file(tmp_path: Path, tiny_model_dir: Path) -> Path:
    import random

    rng = random.Random(0)
    rows = []
    for i in range(40):
        name, city = rng.choice(["Ada", "Bob", "Eve"]), rng.choice(["Rome", "Oslo", "Lima"])
        rows.append({"id": str(i), "messages": [
            {"role": "user", "content": f"Extract as JSON: {name} lives in {city}."},
            {"role": "assistant", "content": json.dumps({"name": name, "city": city})}]})
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    path = tmp_path / "run.yaml"
    path.write_text(
        f"name: cli-lora\nbase_model: {tiny_model_dir}\nmethod: lora\ntrain_file: train.jsonl\n"
        "val_fraction: 0.2\nbatch_size: 8\neffective_batch_size: 8\nmax_steps: 4\neval_steps: 2\n"
        "warmup_steps: 0\nmax_length: 96\nprogress: false\nlora: {r: 4, alpha: 8, target_modules: all-linear}\n")
    return path


def test_train_with_overrides_registers_the_model(cli, config_file, workspace_dir):
    result = cli("train", config_file, "lora.r=2", "max_steps=2", "--json")
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["name"] == "cli-lora" and record["config"]["lora"]["r"] == 2 and record["steps"] == 2
    assert Path(record["path"]).parent == workspace_dir / "models"
    listed = cli("models", "list", "--json")
    assert [r["name"] for r in json.loads(listed.stdout)] == ["cli-lora"]
    shown = cli("models", "show", "cli-lora")
    assert shown.exit_code == 0 and "method: lora" in shown.stdout and "dataset_hashes" in shown.stdout
    again = cli("train", config_file)
    assert again.exit_code == 2 and "already registered" in again.stderr and "--force" in again.stderr
    merged = cli("models", "merge", "cli-lora", "--json")
    assert merged.exit_code == 0, merged.stderr
    merged_record = json.loads(merged.stdout)
    assert merged_record["name"] == "cli-lora-merged" and merged_record["adapter"] is False
    assert (Path(merged_record["path"]) / "model.safetensors").exists()


def test_sweep_dry_run_lists_one_config_per_value(cli, config_file):
    result = cli("train", config_file, "--sweep", "lora.r=2,4,8", "lr=1e-3", "--dry-run")
    assert result.exit_code == 0, result.stderr
    configs = json.loads(result.stdout)
    assert [(c["name"], c["lora"]["r"], c["lr"]) for c in configs] == [
        ("cli-lora-r2", 2, 1e-3), ("cli-lora-r4", 4, 1e-3), ("cli-lora-r8", 8, 1e-3)]


@pytest.mark.parametrize(("args", "words"), [
    (["lora.rank=4"], "unknown key `lora.rank`"),
    (["lora.r=four"], "`lora.r`: expected an integer"),
    (["overlength=squash"], "`overlength`"),
])
def test_bad_overrides_are_clear_errors(cli, config_file, args, words):
    result = cli("train", config_file, *args, "--dry-run")
    assert result.exit_code == 2
    assert words in result.stderr and "Traceback" not in result.stderr
    assert str(config_file) in result.stderr


def test_missing_config_file_is_a_clear_error(cli, tmp_path):
    result = cli("train", tmp_path / "nope.yaml")
    assert result.exit_code == 2 and "config file not found" in result.stderr
