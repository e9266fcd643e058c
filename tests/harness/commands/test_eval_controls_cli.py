"""``harness eval`` controls through the real CLI on the tiny model: --datasets, --batch-size, --threads,
--device, --dtype, their errors, --help, and the timing in the last line and in --json."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.harness.backends._support import write_eval_set, write_suite


def _suite(tmp_path: Path, tiny: Path) -> Path:
    write_eval_set(tmp_path, n_test=4)
    (tmp_path / "other.jsonl").write_text((tmp_path / "test.jsonl").read_text())
    return write_suite(tmp_path, (
        "name: controls-cli\ndatasets: {test: test.jsonl, other: other.jsonl}\ngeneration: {max_new_tokens: 6}\n"
        f"candidates:\n  - {{name: zero, model: {tiny}, options: {{batch_size: 16}}}}\n"
        "metrics: [exact_match]\n"))


def test_flags_run_one_dataset_report_timing_and_reuse_the_cache(cli, tmp_path: Path, tiny_model_dir: Path) -> None:
    suite = _suite(tmp_path, tiny_model_dir)
    first = cli("eval", suite, "--datasets", "test", "--batch-size", "2", "--threads", "1", "--device", "cpu",
                "--limit", "3", "--json")
    assert first.exit_code == 0, first.stderr
    data = json.loads(first.stdout)
    assert list(data["summary"]["candidates"]["zero"]) == ["test"] and data["generated"] == {"zero": 3}
    timing = data["timing"]
    assert timing["generated"] == 3 and 3 <= timing["generated_tokens"] <= 3 * 7
    assert timing["examples_per_s"] > 0 and timing["tokens_per_s"] > 0 and timing["wall_s"] >= timing["generation_s"]
    manifest = json.loads((Path(data["run_dir"]) / "manifest.json").read_text())
    assert manifest["timing"] == timing and manifest["options"]["zero"] == {"batch_size": 2, "threads": 1,
                                                                            "device": "cpu"}
    assert "generating zero: 3/3 (100%)" in first.stderr and "-- ex/s" not in first.stderr
    line = json.loads((Path(data["run_dir"]) / "predictions" / "zero" / "test.jsonl").read_text().splitlines()[0])
    assert len(line["prompt_hash"]) == 64 and line["few_shot_ids"] == []

    # another batch size: same cache key, only the 4th example is new (both datasets hold the same
    # prompts); the last line gives the timing and the run folder
    table = cli("eval", suite, "--batch-size", "3", "--limit", "4")
    assert table.exit_code == 0, table.stderr
    last = table.stdout.strip().splitlines()[-1]
    assert re.match(r"generated 1, reused 3 cached; wall [0-9.]+ s, generation [0-9.]+ s \([0-9.]+ examples/s, "
                    r"[0-9.]+ tokens/s\); run folder: .*", last), last
    assert "test" in table.stdout and "other" in table.stdout  # both datasets by default


def test_bad_flags_are_clear_errors(cli, tmp_path: Path, tiny_model_dir: Path) -> None:
    suite = _suite(tmp_path, tiny_model_dir)
    for args, message in ((["--datasets", "test,ghost"], "unknown dataset(s) ghost in suite controls-cli"),
                          (["--batch-size", "0"], "--batch-size: 0 is not a batch size"),
                          (["--threads", "0"], "--threads: 0 is not a thread count"),
                          (["--device", "tpu"], "--device: 'tpu' is not a device"),
                          (["--dtype", "int8"], "--dtype: 'int8' is not a dtype"),
                          (["--device", "cuda:99"], "--device: cuda:99 asked for, but torch sees")):
        result = cli("eval", suite, *args)
        assert result.exit_code == 2, (args, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr
    assert "choose from" not in cli("eval", suite, "--datasets", "ghost").stderr
    assert "test, other" in cli("eval", suite, "--datasets", "ghost").stderr


def test_help_explains_limit_and_the_cache(cli) -> None:
    result = cli("eval", "--help")
    text = " ".join(result.stdout.replace("│", " ").split())
    assert "first N examples (in file order) of EACH dataset" in text
    assert "The generation cache ignores it" in text
    for flag in ("--datasets", "--batch-size", "--threads", "--device", "--dtype"):
        assert flag in text
