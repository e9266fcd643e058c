"""Training refuses data that `harness data validate` rejects, or skips it and says so (issue 15)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.trainers.conftest import extraction_examples, write_jsonl

# Lines `harness data validate` rejects, each with the code it reports.
BAD_LINES = {
    "unknown_role": {"messages": [{"role": "usr", "content": "Extract: Ada lives in Rome."},
                                  {"role": "assistant", "content": "{}"}]},
    "last_not_assistant": {"messages": [{"role": "assistant", "content": "{}"},
                                        {"role": "user", "content": "Extract: Ada lives in Rome."}]},
    "system_not_first": {"messages": [{"role": "user", "content": "Extract: Bob lives in Oslo."},
                                      {"role": "system", "content": "be brief"},
                                      {"role": "assistant", "content": "{}"}]},
    "invalid_content": {"messages": [{"role": "user", "content": ["Extract: Eve lives in Lima."]},
                                     {"role": "assistant", "content": "{}"}]},
}


def _data_with(tmp_path: Path, bad: dict[str, dict], n_good: int = 30) -> Path:
    rows = extraction_examples(n_good, seed=7)
    path = write_jsonl(tmp_path / "train.jsonl", rows[:5])
    with path.open("a", encoding="utf-8") as handle:
        for row in bad.values():
            handle.write(json.dumps(row) + "\n")
        handle.write("{not json\n")
        for row in rows[5:]:
            handle.write(json.dumps(row) + "\n")
    return path


def _validator_codes(path: Path) -> set[str]:
    from harness.data.validate import validate_file

    return {e.code for e in validate_file(path).errors}


@pytest.mark.parametrize("code", sorted(BAD_LINES))
def test_each_line_the_validator_rejects_stops_training_data(tmp_path, code) -> None:
    from harness.errors import DataError
    from trainers.data import read_examples

    path = _data_with(tmp_path, {code: BAD_LINES[code]})
    assert code in _validator_codes(path)  # the same validator says no
    with pytest.raises(DataError) as info:
        read_examples(path)
    assert info.value.exit_code == 1
    assert f"{path} (`train_file`): 2 of 32 examples fail validation" in info.value.message
    assert code in info.value.message and "invalid_json" in info.value.message
    assert "--skip-invalid" in (info.value.hint or "") and "harness data validate" in (info.value.hint or "")


def test_skip_invalid_keeps_the_valid_lines_and_counts_the_rest(tmp_path) -> None:
    from trainers.data import read_examples

    path = _data_with(tmp_path, BAD_LINES)
    rows, skipped = read_examples(path, skip_invalid=True)
    assert [r["id"] for r in rows] == [r["id"] for r in extraction_examples(30, seed=7)]
    assert skipped is not None and skipped.count == len(BAD_LINES) + 1
    assert skipped.by_code == {**{code: 1 for code in BAD_LINES}, "invalid_json": 1}
    assert [entry["line"] for entry in skipped.first] == [6, 7, 8, 9, 10]


def test_valid_data_and_duplicates_pass(tmp_path) -> None:
    from trainers.data import read_examples

    rows = extraction_examples(10, seed=3)
    path = write_jsonl(tmp_path / "train.jsonl", rows + rows[:2])  # exact duplicates: usable for training
    read, skipped = read_examples(path)
    assert len(read) == 12 and skipped is None


def test_a_file_of_only_invalid_lines_is_refused_even_when_skipping(tmp_path) -> None:
    from harness.errors import DataError
    from trainers.data import read_examples

    path = write_jsonl(tmp_path / "train.jsonl", list(BAD_LINES.values()))
    with pytest.raises(DataError, match="no valid examples"):
        read_examples(path, skip_invalid=True)


def test_load_splits_reports_skips_of_every_file(make_config, tmp_path) -> None:
    from trainers.api import load_splits

    val = write_jsonl(tmp_path / "val.jsonl", [*extraction_examples(6, seed=9), BAD_LINES["unknown_role"]])
    config = make_config(train_file=str(_data_with(tmp_path, BAD_LINES)), val_file=str(val), skip_invalid=True)
    train, val_rows, info = load_splits(config)
    assert len(train) == 30 and len(val_rows) == 6
    assert info["skipped_invalid"]["train_file"]["count"] == 5
    assert info["skipped_invalid"]["val_file"]["by_code"] == {"unknown_role": 1}


# --- through `harness train` ---------------------------------------------------------------------------

@pytest.fixture
def bad_config(tmp_path: Path, tiny_model_dir: Path) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(
        f"name: bad-data\nbase_model: {tiny_model_dir}\nmethod: lora\ntrain_file: {_data_with(tmp_path, BAD_LINES)}\n"
        "val_fraction: 0.2\nbatch_size: 4\neffective_batch_size: 4\nmax_steps: 1\neval_steps: 1\n"
        "warmup_steps: 0\nmax_length: 96\nprogress: false\nlora: {r: 2, alpha: 4, target_modules: all-linear}\n")
    return path


def test_harness_train_refuses_invalid_data_and_registers_nothing(cli, bad_config, workspace_dir) -> None:
    result = cli("train", bad_config)
    assert result.exit_code == 1, result.stderr
    assert "5 of 35 examples fail validation" in result.stderr and "unknown_role" in result.stderr
    assert "--skip-invalid" in result.stderr and "internal error" not in result.stderr
    assert not (workspace_dir / "models" / "bad-data").exists()
    assert json.loads(cli("models", "list", "--json").stdout) == []
    dry = cli("train", bad_config, "--dry-run")
    assert dry.exit_code == 1 and "fail validation" in dry.stderr


def test_harness_train_skip_invalid_trains_and_reports_the_skipped(cli, bad_config) -> None:
    result = cli("train", bad_config, "--skip-invalid", "--json")
    assert result.exit_code == 0, result.stderr
    assert "skipped 5 invalid example(s)" in result.stderr and "first on line 6" in result.stderr
    record = json.loads(result.stdout)
    assert record["config"]["skip_invalid"] is True
    skipped = record["extra"]["data"]["skipped_invalid"]["train_file"]
    assert skipped["count"] == 5 and skipped["by_code"]["invalid_json"] == 1
    assert record["extra"]["data"]["train_examples_in_file"] == 30
