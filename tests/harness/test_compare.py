"""harness.compare: loading run folders / predictions files, baselines, verdicts."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from harness.compare import (
    build_comparison,
    load_predictions,
    load_sources,
    resolve_run,
)
from harness.errors import DataError, HarnessError

sys.path.insert(0, str(Path(__file__).parent))
from runfolder import make_run  # noqa: E402


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    make_run(root, "20261128-100000-old-0000", n_test=20, n_general=10, seed=5)
    make_run(root)
    return root


def test_resolve_run_latest_and_errors(ws: Path) -> None:
    assert resolve_run(ws, "latest").name == "20261128-163000-support-v1-ab12"
    assert resolve_run(ws, "20261128-100000-old-0000").name == "20261128-100000-old-0000"
    with pytest.raises(HarnessError, match="no run or predictions file named 'nope'") as info:
        resolve_run(ws, "nope")
    assert "20261128-163000-support-v1-ab12" in (info.value.hint or "")
    with pytest.raises(HarnessError, match="no runs"):
        resolve_run(ws / "empty", "latest")


def test_run_comparison_picks_best_prompted_baseline(ws: Path) -> None:
    candidates, metrics = load_sources(["latest"], ws)
    assert metrics == ["exact_match", "rougeL"]  # from suite.json
    assert [c.name for c in candidates] == ["base-zero-shot", "base-few-shot", "lora-r16"]
    assert [c.prompted for c in candidates] == [True, True, False]
    report = build_comparison(candidates, metrics)
    assert report.baseline == "base-few-shot"
    lora = [r for r in report.ranking.comparisons if r.candidate == "lora-r16" and r.dataset == "test"]
    assert {r.direction for r in lora} == {"better"}
    pattern = r"lora-r16 beats base-few-shot on rougeL by \+0\.\d{3} \[\+0\.\d{3}, \+0\.\d{3}\], adjusted p=[\d.e+-]+"
    assert any(re.fullmatch(pattern, v) for v in report.verdicts()), report.verdicts()
    assert report.headline().startswith("lora-r16 beats base-few-shot")
    assert [(c, m) for c, m, _ in report.forgetting] == [("lora-r16", "exact_match"), ("lora-r16", "rougeL")]
    data = report.as_dict()
    assert json.loads(json.dumps(data)) == data  # JSON-ready (no NaN)
    assert {row["dataset"] for row in data["comparisons"]} == {"test", "general"}


def test_sources_run_candidate_and_files(ws: Path, tmp_path: Path) -> None:
    run = resolve_run(ws, "latest")
    candidates, _ = load_sources([f"{run.name}:lora-r16", "20261128-100000-old-0000:lora-r16"], ws, ["rougeL"])
    assert [c.name for c in candidates] == [f"{run.name}:lora-r16", "20261128-100000-old-0000:lora-r16"]
    report = build_comparison(candidates, ["rougeL"])
    assert report.dropped["test"] == 60  # only 20 test ids are shared
    assert all(r.result.n == 20 for r in report.ranking.comparisons if r.dataset == "test")
    new = run / "predictions" / "lora-r16" / "test.jsonl"
    old = run / "predictions" / "base-zero-shot" / "test.jsonl"
    candidates, metrics = load_sources([str(new), str(old)], ws)
    assert metrics == ["exact_match", "rougeL"]  # defaults for files
    report = build_comparison(candidates, metrics)
    # both files are named test.jsonl -> labelled folder/name; the last one listed is the baseline
    assert [c.name for c in candidates] == ["lora-r16/test", "base-zero-shot/test"]
    assert report.baseline == "base-zero-shot/test"
    with pytest.raises(HarnessError, match="has no candidate 'ghost'"):
        load_sources([f"{run.name}:ghost", "latest"], ws)
    with pytest.raises(HarnessError, match="at least two candidates"):
        load_sources([f"{run.name}:lora-r16"], ws)


def test_scores_files_are_used_when_present(tmp_path: Path) -> None:
    run = make_run(tmp_path / "ws", write_scores=True, n_test=30, n_general=10)
    scores = run / "scores" / "lora-r16" / "test.jsonl"
    rows = [json.loads(line) for line in scores.read_text().splitlines()]
    for row in rows:
        row["rougeL"] = 0.0  # a stored score differs from a recomputed one
    scores.write_text("".join(json.dumps(r) + "\n" for r in rows))
    candidates, _ = load_sources(["latest"], tmp_path / "ws", ["rougeL"])
    lora = next(c for c in candidates if c.name == "lora-r16")
    assert set(lora.datasets["test"][1]["rougeL"]) == {0.0}


def test_explicit_baseline_and_bad_correction(ws: Path) -> None:
    candidates, metrics = load_sources(["latest"], ws)
    report = build_comparison(candidates, metrics, baseline="base-zero-shot", correction="bh")
    assert report.baseline == "base-zero-shot" and report.correction == "bh"
    with pytest.raises(HarnessError, match="not one of the candidates"):
        build_comparison(candidates, metrics, baseline="ghost")
    with pytest.raises(HarnessError, match="unknown correction"):
        build_comparison(candidates, metrics, correction="fdr")


def test_load_predictions_errors(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"id": "a", "prediction": "x", "reference": "y"}\n{"id": "b", "prediction": "x"}\n')
    with pytest.raises(DataError, match=r"p\.jsonl:2: missing field 'reference'"):
        load_predictions(path)
    path.write_text('{"id": "a", "prediction": "x", "reference": "y"}\n{"id": "a", "prediction": "x", "reference": "y"}\n')
    with pytest.raises(DataError, match="duplicate id 'a'"):
        load_predictions(path)
    path.write_text('{"id": "a", "prediction": 3, "reference": "y"}\n')
    with pytest.raises(DataError, match="'prediction' must be a string"):
        load_predictions(path)
    path.write_text('{"id": "a", "prediction": "x", "reference": "y", "latency_s": "fast"}\n')
    with pytest.raises(DataError, match="'latency_s' must be a number"):
        load_predictions(path)
    path.write_text("\n")
    with pytest.raises(DataError, match="has no lines"):
        load_predictions(path)


def test_overfitting_from_the_trainers_log(ws: Path) -> None:
    val = {0: 2.0, 20: 1.6, 40: 1.5, 60: 1.56, 80: 1.62}
    rows = [{"step": s, "train_loss": 2.2 - s / 50} for s in range(0, 90, 10)]
    rows += [{"step": s, "val_loss": v} for s, v in val.items()]
    (ws / "models" / "lora-r16" / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    candidates, metrics = load_sources(["latest"], ws, ["rougeL"])
    report = build_comparison(candidates, metrics)
    ((name, result),) = report.overfitting
    assert name == "lora-r16" and result.flagged and result.best_step == 40
    assert report.as_dict()["overfitting"][0]["flagged"] is True


@pytest.mark.slow
def test_compare_reads_a_run_written_by_the_runner(tmp_path: Path) -> None:
    """End to end with the eval runner (a fake backend) instead of a fabricated folder."""
    runner = pytest.importorskip("harness.runs.runner")
    import evalsets
    from harness.backends.base import Generation, register_backend
    from harness.runs.suite import Suite
    from harness.workspace import Workspace

    class Oracle:
        name = "oracle-test"
        request_chunk = 16

        def __init__(self, spec) -> None:
            self.spec = spec

        @property
        def fingerprint(self) -> str:
            return f"oracle-{self.spec.model}"

        def generate(self, requests):
            # "good" answers "sales" three times in four, "bad" always "billing"
            return [Generation("sales" if self.spec.model == "good" and i % 4 else "billing", 0.01, 5, 1)
                    for i, _ in enumerate(requests)]

        def close(self) -> None:
            pass

    register_backend("oracle-test", Oracle)
    suite = Suite(name="integ", datasets={"test": str(evalsets.split_files("classify")["test"]),
                                          "general": str(evalsets.split_files("general")["test"])},
                  candidates=[{"name": "base-zero-shot", "model": "bad", "backend": "oracle-test"},
                              {"name": "tuned", "model": "good", "backend": "oracle-test"}],
                  metrics=["accuracy", "exact_match"])
    root = tmp_path / "ws"
    result = runner.run_suite(suite, Workspace.open(root), limit=30, show_progress=False)
    candidates, metrics = load_sources([result.run_id], root)
    assert metrics == ["accuracy", "exact_match"]
    report = build_comparison(candidates, metrics)
    assert report.baseline == "base-zero-shot"
    assert {(r.dataset, r.metric) for r in report.ranking.comparisons} == {
        ("test", "accuracy"), ("test", "exact_match"), ("general", "accuracy"), ("general", "exact_match")}
    assert all(r.result.n == 30 for r in report.ranking.comparisons)
    assert [f.status for _c, _m, f in report.forgetting] == ["PASS", "PASS"]  # identical answers on general


def test_metrics_the_runner_scored_win_over_the_suite_list(ws: Path) -> None:
    run = resolve_run(ws, "latest")
    (run / "summary.json").write_text(json.dumps({"candidates": {}, "metrics": ["rougeL"], "skipped_metrics": ["exact_match"]}))
    _candidates, metrics = load_sources(["latest"], ws)
    assert metrics == ["rougeL"]


def test_direction_comes_from_the_metric_registry(tmp_path: Path) -> None:
    # A metric registered as lower-is-better: the candidate with the lower scores "beats" the baseline,
    # and no name list in harness.compare needs to know the metric.
    from harness.compare.report import higher_is_better
    from harness.metrics import MetricOutput, metric

    class _Words:
        name, kind = "test_word_count", "continuous"

        def compute(self, examples):  # type: ignore[no-untyped-def]
            return MetricOutput(self.name, "continuous", tuple(float(len(e.prediction.split())) for e in examples))

    metric("test_word_count", higher_is_better=False)(lambda: _Words())
    assert (higher_is_better("test_word_count"), higher_is_better("latency"), higher_is_better("length_ratio"),
            higher_is_better("rougeL")) == (False, False, None, True)
    for name, words in (("base-verbose", 12), ("terse", 3)):
        lines = [{"id": str(i), "prediction": " ".join(["w"] * (words + i % 3)), "reference": "w"} for i in range(30)]
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    candidates, metrics = load_sources([str(tmp_path / "base-verbose.jsonl"), str(tmp_path / "terse.jsonl")], tmp_path,
                                       ["test_word_count"])
    report = build_comparison(candidates, metrics, baseline="base-verbose")
    (row,) = report.ranking.comparisons
    # same ids, same i % 3 extra words: terse uses exactly 9 words fewer on every example
    assert row.candidate == "terse" and row.direction == "better" and row.result.diff == pytest.approx(-9.0)


def test_unknown_metric_is_the_same_error_as_eval(ws: Path) -> None:
    from harness.compare import parse_metric_names
    from harness.errors import ConfigError

    assert parse_metric_names(["rougeL,exact_match", "rougeL"]) == ["rougeL", "exact_match"]
    with pytest.raises(ConfigError, match="unknown metric 'bluert'") as caught:
        parse_metric_names(["rougeL,bluert"])
    assert "exact_match" in (caught.value.hint or "")
    run = resolve_run(ws, "latest")
    (run / "summary.json").write_text(json.dumps({"candidates": {}, "metrics": ["rougeL", "gone_metric"]}))
    with pytest.raises(ConfigError, match="unknown metric 'gone_metric'"):
        load_sources(["latest"], ws)


def test_suite_metric_entries_with_settings_name_the_metric(ws: Path) -> None:
    from harness.compare.loading import recorded_metric_settings, suite_metrics

    run = resolve_run(ws, "latest")
    suite = json.loads((run / "suite.json").read_text())
    suite["metrics"] = ["exact_match", {"bleu": {"tokenize": "char"}}]
    (run / "suite.json").write_text(json.dumps(suite))
    (run / "summary.json").unlink(missing_ok=True)
    assert suite_metrics(run) == ["exact_match", "bleu"]
    assert recorded_metric_settings(suite) == {"bleu": {"tokenize": "char"}}
