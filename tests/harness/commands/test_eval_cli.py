"""``harness eval`` through the real CLI entry point: table, --json, --limit, --candidates, errors."""

from __future__ import annotations

import json
from pathlib import Path

from tests.harness.backends._support import write_eval_set, write_suite


def _suite(tmp_path: Path, tiny: Path) -> Path:
    write_eval_set(tmp_path, n_test=6)
    return write_suite(tmp_path, (
        "name: cli-test\ndatasets: {test: test.jsonl}\ngeneration: {max_new_tokens: 8}\n"
        f"candidates:\n  - {{name: zero, model: {tiny}}}\n"
        f"  - {{name: few, model: {tiny}, prompt: {{few_shot: 1}}}}\n"
        "metrics: [exact_match, json_valid]\n"))


def test_eval_json_table_limit_and_candidates(cli, tmp_path: Path, tiny_model_dir: Path, workspace_dir: Path) -> None:
    suite = _suite(tmp_path, tiny_model_dir)
    result = cli("eval", suite, "--limit", "3", "--candidates", "zero", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["generated"] == {"zero": 3}
    assert data["summary"]["candidates"]["zero"]["test"]["exact_match"]["n"] == 3
    assert Path(data["run_dir"]).parent == workspace_dir / "runs"

    table = cli("eval", suite, "--limit", "3")
    assert table.exit_code == 0, table.stderr
    assert "exact_match" in table.stdout and "few" in table.stdout and "zero" in table.stdout
    assert "generated 3, reused 3 cached" in table.stdout


def test_eval_errors_are_clear(cli, tmp_path: Path, tiny_model_dir: Path) -> None:
    bad = write_suite(tmp_path, "name: bad\ndatasets: {test: test.jsonl}\ncandidates:\n  - {name: a}\n", "bad.yaml")
    result = cli("eval", bad)
    assert result.exit_code == 2
    assert "bad.yaml: candidates[0].model: required" in result.stderr and "Traceback" not in result.stderr
    missing = cli("eval", tmp_path / "nope.yaml")
    assert missing.exit_code == 2 and "suite file not found" in missing.stderr
    suite = _suite(tmp_path, tiny_model_dir)
    unknown = cli("eval", suite, "--candidates", "zero,ghost")
    assert unknown.exit_code == 2 and "unknown candidate(s) ghost" in unknown.stderr
    no_data = write_suite(tmp_path, f"name: nd\ndatasets: {{test: gone.jsonl}}\ncandidates: [{{name: a, model: {tiny_model_dir}}}]\n",
                          "nd.yaml")
    gone = cli("eval", no_data)
    assert gone.exit_code == 2 and "datasets.test: file not found: gone.jsonl" in gone.stderr


def test_bad_dataset_line_names_file_and_line(cli, tmp_path: Path, tiny_model_dir: Path) -> None:
    suite = _suite(tmp_path, tiny_model_dir)
    lines = (tmp_path / "test.jsonl").read_text().splitlines()
    lines[2] = json.dumps({"id": "x", "messages": [{"role": "user", "content": "no answer"}]})
    (tmp_path / "test.jsonl").write_text("\n".join(lines) + "\n")
    result = cli("eval", suite)
    assert result.exit_code == 2
    assert "test.jsonl:3: the last message must be the assistant's reference answer" in result.stderr
