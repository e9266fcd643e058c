"""``harness data validate | split | report``: exit codes, --json keys, no tracebacks on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FIXTURE = Path(__file__).parents[1] / "data" / "fixtures" / "broken.jsonl"


def good_file(path: Path, n: int = 50, area=lambda i: ["billing", "technical"][i % 2]) -> Path:
    with open(path, "w") as handle:
        for i in range(n):
            handle.write(json.dumps({"id": f"e{i}", "messages": [
                {"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": f"answer {i}"}],
                "metadata": {"area": area(i)}}) + "\n")
    return path


def no_traceback(result) -> None:
    assert "Traceback" not in result.stdout + result.stderr
    assert "internal error" not in result.stderr


def test_validate_ok_exits_0_with_json_keys(cli, tmp_path):
    result = cli("data", "validate", good_file(tmp_path / "ok.jsonl"), "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert {"examples", "valid", "errors", "warnings", "counts"} <= set(data)
    assert data["examples"] == 50 and data["valid"] == 50 and data["errors"] == [] and data["counts"] == {}
    assert data["warnings"] == []


def test_validate_errors_exit_1_with_lines_and_codes(cli):
    result = cli("data", "validate", FIXTURE, "--json", "--max-tokens", "30")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert all(set(e) >= {"line", "code", "message"} for e in data["errors"] + data["warnings"])
    from tests.harness.data.test_validate import PLANTED

    assert {(e["line"], e["code"]) for e in data["errors"] + data["warnings"]} == PLANTED
    assert {"line": 2, "code": "invalid_json"} == {k: data["errors"][0][k] for k in ("line", "code")}
    assert data["counts"]["duplicate"] == 1 and data["counts"]["unknown_key"] == 1
    assert any(w["code"] == "mixed_key_style" and w["line"] == 19 for w in data["warnings"])


def test_validate_human_output_lists_counts_and_problems(cli):
    result = cli("data", "validate", FIXTURE, "--show", "3")
    assert result.exit_code == 1
    assert "problems by code" in result.stdout and "invalid_json" in result.stdout
    assert "first 3 of" in result.stdout and "FAILED" in result.stdout


def test_warnings_only_exit_0(cli, tmp_path):
    path = tmp_path / "w.jsonl"
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
                                "extra": 1}) + "\n")
    result = cli("data", "validate", path)
    assert result.exit_code == 0 and "unknown_key" in result.stdout and "OK" in result.stdout


@pytest.mark.parametrize("command", ["validate", "report"])
def test_unusable_arguments_exit_2(cli, tmp_path, command):
    for target in (tmp_path / "missing.jsonl", tmp_path):
        result = cli("data", command, target)
        assert result.exit_code == 2, result
        assert "error:" in result.stderr and str(target) in result.stderr
        no_traceback(result)
    result = cli("data", command, FIXTURE, "--no-such-flag")
    assert result.exit_code == 2
    no_traceback(result)


def test_bad_max_tokens_exit_2(cli):
    assert cli("data", "validate", FIXTURE, "--max-tokens", "0").exit_code == 2
    assert cli("data", "validate", FIXTURE, "--max-tokens", "many").exit_code == 2


def test_missing_tokenizer_is_a_clear_error(cli, tmp_path):
    result = cli("data", "validate", FIXTURE, "--tokenizer", tmp_path / "no-model", "--max-tokens", "10")
    assert result.exit_code == 2 and "cannot load tokenizer" in result.stderr
    no_traceback(result)


def test_binary_and_huge_input_never_traceback(cli, tmp_path):
    binary = tmp_path / "bin.jsonl"
    binary.write_bytes(bytes(range(256)) * 50)
    result = cli("data", "validate", binary, "--json")
    assert result.exit_code == 1
    # 51 lines (50 newline bytes): every line but the last holds a NUL byte, the last is not UTF-8
    assert json.loads(result.stdout)["counts"] == {"binary_line": 50, "not_utf8": 1}
    huge = tmp_path / "huge.jsonl"
    huge.write_text('{"messages": "' + "x" * 3000 + '"}\n')
    result = cli("data", "validate", huge, "--max-line-bytes", "1000", "--json")
    assert result.exit_code == 1 and json.loads(result.stdout)["errors"][0]["code"] == "line_too_long"
    report = cli("data", "report", binary)
    no_traceback(report)
    assert report.exit_code == 0 and "0 examples, 51 unreadable lines" in " ".join(report.stdout.split())
    split = cli("data", "split", binary, "--out", tmp_path / "o")
    no_traceback(split)
    assert split.exit_code == 1 and "51 validation error(s); refusing to split" in split.stderr
    assert not (tmp_path / "o").exists()


def test_split_writes_files_and_reports_zero_leakage(cli, tmp_path):
    source = good_file(tmp_path / "all.jsonl", n=100)
    result = cli("data", "split", source, "--out", tmp_path / "out", "--seed", "3", "--stratify", "area", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["leakage"] == 0 and sum(data["sizes"].values()) == 100
    assert data["balance"]["train"] == {"billing": 40, "technical": 40}
    assert {name: len(Path(p).read_text().splitlines()) for name, p in data["paths"].items()} == data["sizes"]
    human = cli("data", "split", source, "--out", tmp_path / "out2", "--seed", "3", "--stratify", "area")
    assert human.exit_code == 0 and "leakage: 0" in human.stdout and "class balance" in human.stdout
    for name in ("train", "val", "test"):
        assert (tmp_path / "out" / f"{name}.jsonl").read_bytes() == (tmp_path / "out2" / f"{name}.jsonl").read_bytes()


def test_split_refuses_invalid_input_exit_1(cli, tmp_path):
    result = cli("data", "split", FIXTURE, "--out", tmp_path / "out")
    assert result.exit_code == 1
    assert "refusing to split" in result.stderr and "broken.jsonl:2: invalid_json" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("ratios", ["0.8,0.1", "x,y,z", "0.9,0.9,0.1"])
def test_split_bad_ratios_exit_2(cli, tmp_path, ratios):
    result = cli("data", "split", good_file(tmp_path / "a.jsonl"), "--out", tmp_path / "o", "--ratios", ratios)
    assert result.exit_code == 2 and "ratios" in result.stderr
    no_traceback(result)


def test_report_json_and_against(cli, tmp_path):
    train = good_file(tmp_path / "train.jsonl", n=400, area=lambda i: "billing" if i % 20 == 0 else "technical")
    prod = good_file(tmp_path / "prod.jsonl", n=200, area=lambda i: "billing" if i % 5 == 0 else "technical")
    result = cli("data", "report", train, "--against", prod, "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["fields"]["area"]["counts"] == {"technical": 380, "billing": 20}
    # every user message is "question <i>": two approximate tokens; no two examples are alike
    assert {k: data["lengths"]["user_tokens"][k] for k in ("n", "min", "median", "p95", "max")} == {
        "n": 400, "min": 2, "median": 2, "p95": 2, "max": 2}
    assert (data["duplicates"]["exact"], data["duplicates"]["near"]) == (0, 0)
    flags = data["against"]["flags"]
    assert [(f["field"], f["value"], f["flag"]) for f in flags] == [("area", "billing", "under")]
    human = cli("data", "report", train, "--against", prod)
    assert human.exit_code == 0 and "under-covered" in human.stdout and "billing" in human.stdout


def test_write_valid_drops_broken_lines(cli, tmp_path):
    out = tmp_path / "clean.jsonl"
    result = cli("data", "validate", FIXTURE, "--write-valid", out, "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["written"]["lines"] == data["valid"] == len(out.read_text().splitlines())
    again = cli("data", "validate", out, "--json")
    assert again.exit_code == 0 and json.loads(again.stdout)["errors"] == []
    assert cli("data", "validate", FIXTURE, "--write-valid", FIXTURE).exit_code == 2


def test_codes_lists_every_code(cli):
    from harness.data.schema import CODES

    result = cli("data", "codes", "--json")
    assert result.exit_code == 0 and set(json.loads(result.stdout)) == set(CODES)


def test_split_unknown_stratify_field_exit_2(cli, tmp_path):
    result = cli("data", "split", good_file(tmp_path / "a.jsonl"), "--out", tmp_path / "o", "--stratify", "nope")
    assert result.exit_code == 2 and "nope" in result.stderr and "area" in result.stderr
    no_traceback(result)


def test_split_stratify_on_an_id_warns_on_stderr_and_in_json(cli, tmp_path):
    source = good_file(tmp_path / "all.jsonl", n=30, area=lambda i: f"id-{i}")
    result = cli("data", "split", source, "--out", tmp_path / "out", "--stratify", "area", "--json")
    assert result.exit_code == 0, result.stderr
    warnings = json.loads(result.stdout)["warnings"]
    assert len(warnings) == 1 and "cannot be stratified" in warnings[0]
    assert f"warning: {warnings[0]}" in result.stderr
    assert "cannot be stratified" in json.loads((tmp_path / "out" / "split.json").read_text())["warnings"][0]
    plain = cli("data", "split", source, "--out", tmp_path / "o2", "--stratify", "area")
    assert plain.exit_code == 0 and "warning: --stratify 'area'" in plain.stderr
    fine = cli("data", "split", good_file(tmp_path / "b.jsonl", n=30), "--out", tmp_path / "o3", "--stratify", "area")
    assert fine.exit_code == 0 and "warning" not in fine.stderr
