"""harness.compare: loading run folders / predictions files, baselines, verdicts, the demo stage."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from harness.compare import (
    build_comparison,
    demo_stage,
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


class _Ctx:
    def __init__(self, root: Path, out: Path, run_id: str | None) -> None:
        from rich.console import Console

        self.workspace = type("W", (), {"root": root})()
        self.out_dir = out
        self.console = Console(record=True, width=160)
        self.fast = True
        self.artifacts = {"run_id": run_id} if run_id else {}
        self.summary: list[tuple[str, str]] = []

    def report(self, label: str, value: str) -> None:
        self.summary.append((label, value))


def test_demo_stage(ws: Path, tmp_path: Path) -> None:
    out = tmp_path / "demo"
    out.mkdir()
    ctx = _Ctx(ws, out, "20261128-163000-support-v1-ab12")
    demo_stage(ctx)
    text = ctx.console.export_text()
    assert "paired comparisons vs base-few-shot" in text and "lora-r16 beats base-few-shot" in text
    assert ctx.summary[0][0] == "comparison" and ctx.summary[0][1].startswith("lora-r16 beats base-few-shot")
    assert any(label.startswith("forgetting check lora-r16") for label, _ in ctx.summary)
    assert json.loads((out / "comparison.json").read_text())["baseline"] == "base-few-shot"
    skipped = _Ctx(ws, out, None)
    demo_stage(skipped)
    assert skipped.summary == [("comparison", "skipped (no run)")]


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
    from harness.backends.base import Generation, register_backend
    from harness.runs.suite import Suite
    from harness.workspace import Workspace

    repo = Path(__file__).resolve().parents[2]

    class Oracle:
        name = "oracle-test"

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
    suite = Suite(name="integ", datasets={"test": str(repo / "evalsets/classify/test.jsonl"),
                                          "general": str(repo / "evalsets/general/test.jsonl")},
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
