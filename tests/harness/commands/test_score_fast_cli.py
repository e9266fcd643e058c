"""``harness score`` with ROUGE: the scores file format, and that the score path stays light to start."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np

from harness.commands.score import _write_outputs
from harness.io import json_safe
from harness.metrics import MetricOutput


def test_scores_file_is_json_dumps_of_each_row(tmp_path: Path) -> None:
    ids = ["a", 'quote " and ü', "3"]
    outputs = {
        "rougeL": MetricOutput("rougeL", "continuous", (0.1 + 0.2, 1.0, 1 / 3)),
        "odd": MetricOutput("odd", "continuous", (math.nan, None, np.float64(0.25))),
        "inf": MetricOutput("inf", "continuous", (math.inf, -math.inf, 0.0)),
        "binary": MetricOutput("binary", "binary", (1, 0, True)),
    }
    _write_outputs(tmp_path, ids, outputs, {"n": 3})
    lines = (tmp_path / "scores.jsonl").read_text(encoding="utf-8").splitlines()
    expected = [json.dumps(json_safe({"id": example_id, **{n: o.per_example[i] for n, o in outputs.items()}}),
                           ensure_ascii=False) for i, example_id in enumerate(ids)]
    assert lines == expected
    assert json.loads(lines[0])["rougeL"] == 0.1 + 0.2 and json.loads(lines[0])["odd"] is None
    assert json.loads((tmp_path / "summary.json").read_text()) == {"n": 3}


def test_rouge_scores_match_rouge_score_and_the_path_imports_no_nltk(tmp_path: Path) -> None:
    from rouge_score.rouge_scorer import RougeScorer

    lines = [{"id": f"x{i}", "prediction": f"Refunds were issued {i} times, happily!",
              "reference": f"The refund is issued on day {i % 7}; organizations happy."} for i in range(300)]
    lines.append({"id": "empty", "prediction": "", "reference": "Ships Thursday"})
    data = tmp_path / "preds.jsonl"
    data.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    script = ("import sys, json\nfrom harness.cli import run\n"
              f"code = run(['score', {str(data)!r}, '--metrics', 'rouge1,rouge2,rougeL', '--out', {str(tmp_path / 'out')!r}])\n"
              "print(json.dumps({'code': code, 'modules': sorted(sys.modules)}))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path)
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["code"] == 0
    loaded = {name.split(".")[0] for name in report["modules"]}
    assert not loaded & {"nltk", "rouge_score", "sklearn", "pandas", "torch", "sqlalchemy", "multiprocessing"}
    assert not [name for name in report["modules"] if name.startswith("scipy.stats")]
    scorer = RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    rows = [json.loads(line) for line in (tmp_path / "out" / "scores.jsonl").read_text().splitlines()]
    assert [row["id"] for row in rows] == [line["id"] for line in lines]
    for row, line in zip(rows, lines, strict=True):
        want = scorer.score(line["reference"], line["prediction"])
        assert {k: row[k] for k in want} == {k: v.fmeasure for k, v in want.items()}
