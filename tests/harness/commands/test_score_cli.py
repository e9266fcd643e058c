"""``harness score`` and ``harness compare`` from the CLI, including errors for bad input."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from statsmodels.stats.proportion import proportion_confint

sys.path.insert(0, str(Path(__file__).parents[1]))
from runfolder import make_run  # noqa: E402

LINES = [
    {"id": "1", "prediction": "The refund was issued.", "reference": "Your refund was issued.", "metadata": {"area": "billing"}},
    {"id": "2", "prediction": "Reset it in Settings", "reference": "reset it in settings.", "metadata": {"area": "account"}},
    {"id": "3", "prediction": "", "reference": "Ships Thursday", "metadata": {"area": "shipping"}},
    {"id": "4", "prediction": '```json\n{"b": 1, "a": "ü"}\n```', "reference": '{"a": "ü", "b": 1}',
     "schema": {"type": "object", "required": ["a"]}, "metadata": {"area": "billing"}},
]


@pytest.fixture
def predictions(tmp_path: Path) -> Path:
    path = tmp_path / "preds.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in LINES), encoding="utf-8")
    return path


def test_score_json_shape(cli, predictions: Path) -> None:
    result = cli("score", predictions, "--metrics", "exact_match,rougeL,json_schema", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["n"] == 4 and set(data["metrics"]) == {"exact_match", "rougeL", "json_schema"}
    em = data["metrics"]["exact_match"]
    assert em["mean"] == pytest.approx(0.5)
    assert em["ci"] == pytest.approx(list(proportion_confint(2, 4, method="wilson")), abs=1e-9)
    assert data["metrics"]["json_schema"]["n"] == 1 and data["metrics"]["json_schema"]["mean"] == 1.0
    from rouge_score.rouge_scorer import RougeScorer
    from scipy import stats

    scorer = RougeScorer(["rougeL"], use_stemmer=True)
    rouge = [scorer.score(line["reference"], line["prediction"])["rougeL"].fmeasure for line in LINES]
    low, high = stats.t.interval(0.95, 3, loc=sum(rouge) / 4, scale=stats.sem(rouge))
    entry = data["metrics"]["rougeL"]  # a t interval, clipped to rougeL's range [0, 1]
    assert entry["mean"] == pytest.approx(sum(rouge) / 4, abs=1e-12) and entry["method"] == "t"
    assert entry["ci"] == pytest.approx([max(low, 0.0), min(high, 1.0)], abs=1e-9)


def test_score_out_and_table(cli, predictions: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = cli("score", predictions, "--metrics", "exact_match,length_ratio", "--out", out, "--slice", "area")
    assert result.exit_code == 0, result.stderr
    assert "exact_match" in result.stdout and "area=billing" in result.stdout
    rows = [json.loads(line) for line in (out / "scores.jsonl").read_text().splitlines()]
    assert rows[0] == {"id": "1", "exact_match": 0.0, "length_ratio": 1.0}
    assert [r["exact_match"] for r in rows] == [0.0, 1.0, 0.0, 1.0]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n"] == 4
    by_area = summary["slices"]["exact_match"]  # ids 1 and 4 are billing, 2 account, 3 shipping
    assert [(s["value"], s["mean"], s["n"]) for s in by_area] == [("account", 1.0, 1), ("billing", 0.5, 2),
                                                                   ("shipping", 0.0, 1)]
    assert by_area[1]["ci"] == pytest.approx(list(proportion_confint(1, 2, method="wilson")), abs=1e-9)


@pytest.mark.parametrize(("content", "message"), [
    ('{"id": "1", "prediction": "a", "reference": "b"}\n{not json\n', r"preds\.jsonl:2: invalid JSON"),
    ('{"id": "1", "reference": "b"}\n', r"preds\.jsonl:1: missing field 'prediction'"),
    ('{"id": "1", "prediction": "a"}\n', r"preds\.jsonl:1: missing field 'reference'"),
    ('["a list"]\n', r"preds\.jsonl:1: expected a JSON object"),
])
def test_score_bad_files(cli, tmp_path: Path, content: str, message: str) -> None:
    import re

    path = tmp_path / "preds.jsonl"
    path.write_text(content, encoding="utf-8")
    result = cli("score", path, "--metrics", "exact_match")
    assert result.exit_code == 1  # bad data (a missing file would be a bad argument: 2)
    assert re.search(message, result.stderr), result.stderr
    assert "Traceback" not in result.stderr


def test_score_missing_file_and_unknown_metric(cli, predictions: Path, tmp_path: Path) -> None:
    missing = cli("score", tmp_path / "nope.jsonl", "--metrics", "exact_match")
    assert missing.exit_code == 2 and "not found" in missing.stderr
    unknown = cli("score", predictions, "--metrics", "exact_match,bluert")
    assert unknown.exit_code == 2 and "unknown metric 'bluert'" in unknown.stderr
    assert "rougeL" in unknown.stderr  # lists the choices


def test_compare_cli(cli, workspace_dir: Path) -> None:
    make_run(workspace_dir)
    result = cli("compare", "latest", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["baseline"] == "base-few-shot" and data["correction"] == "holm"
    assert data["headline"].startswith("lora-r16 beats base-few-shot")
    assert {f["candidate"] for f in data["forgetting"]} == {"lora-r16"}
    table = cli("compare", "latest", "--metric", "rougeL", "--correction", "bh")
    assert table.exit_code == 0, table.stderr
    assert "lora-r16 beats base-few-shot on rougeL" in " ".join(table.stdout.split())
    assert "forgetting check" in table.stdout


def test_compare_cli_errors(cli, workspace_dir: Path, tmp_path: Path) -> None:
    none = cli("compare", "latest")
    assert none.exit_code == 2 and "no runs" in none.stderr
    make_run(workspace_dir)
    bad = cli("compare", "latest", "--correction", "fdr")
    assert bad.exit_code == 2 and "holm or" in bad.stderr
    ghost = cli("compare", "20990101-ghost")
    assert ghost.exit_code == 2 and "no run or predictions file" in ghost.stderr
    metric = cli("compare", "latest", "--metric", "nope")
    assert metric.exit_code == 2 and "unknown metric 'nope'" in metric.stderr


def test_score_bca_interval(cli, predictions: Path) -> None:
    result = cli("score", predictions, "--metrics", "rougeL,exact_match", "--interval", "bca", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)["metrics"]
    assert data["rougeL"]["method"] == "bca" and data["exact_match"]["method"] == "wilson"
    bad = cli("score", predictions, "--interval", "normal")
    assert bad.exit_code == 2 and "unknown --interval" in bad.stderr
