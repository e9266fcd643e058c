"""Helpers of the review tests: a workspace engine, small batches, hand-written run folders."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.review.queue import BatchInfo, create_batch
from harness.review.rubric import DEFAULT_RUBRIC

GOOD = {"helpfulness": 4, "policy_compliance": "yes", "factual_accuracy": "yes", "tone_appropriate": "yes"}
STORED_GOOD = {"helpfulness": 4, "policy_compliance": True, "factual_accuracy": True, "tone_appropriate": True}


def rubric_batch(engine: Any, n: int = 3, *, overlap: int = 1, lease_s: int = 900,
                 candidate: str = "tuned") -> BatchInfo:
    """A rubric batch of ``n`` items (example ``ex-i``, output ``answer i``) rating ``candidate``."""
    items = [{"example_id": f"ex-{i}", "messages": [{"role": "user", "content": f"question {i}"}],
              "reference": f"reference {i}", "candidates": [candidate], "outputs": [f"answer {i}"],
              "metadata": {"area": "billing"}, "scores": {candidate: {"exact_match": 0.0}}} for i in range(n)]
    return create_batch(engine, run_id="run-1", dataset="test", kind="rubric", strategy="random", overlap=overlap,
                        candidates=(candidate,), rubric=DEFAULT_RUBRIC, items=items, lease_s=lease_s)


def pairwise_batch(engine: Any, n: int = 2, *, overlap: int = 1) -> BatchInfo:
    """A pairwise batch of ``n`` items; item i shows (base, tuned) when i is even, (tuned, base) when odd."""
    items = []
    for i in range(n):
        shown = ["base", "tuned"] if i % 2 == 0 else ["tuned", "base"]
        items.append({"example_id": f"ex-{i}", "messages": [{"role": "user", "content": f"q{i}"}],
                      "reference": f"ref {i}", "candidates": shown, "outputs": [f"{c} says {i}" for c in shown],
                      "metadata": {}, "scores": {}})
    return create_batch(engine, run_id="run-1", dataset="test", kind="pairwise", strategy="random",
                        overlap=overlap, candidates=("base", "tuned"), rubric=None, items=items)


def write_run(workspace: Path, run_id: str, rows: Mapping[str, Sequence[Mapping[str, Any]]], *,
              dataset: str = "test", summary_metrics: Sequence[str] | None = None,
              messages: Mapping[str, Sequence[Mapping[str, str]]] | None = None) -> Path:
    """A run folder as the runner writes it: ``rows[candidate]`` = ``[{id, prediction, reference, metadata,
    scores}]`` into ``predictions/`` and ``scores/``; with ``messages``, the eval set the run read."""
    run = workspace / "runs" / run_id
    suite: dict[str, Any] = {"name": "suite", "datasets": {dataset: f"{dataset}.jsonl"},
                             "candidates": [{"name": c} for c in rows], "metrics": ["exact_match"]}
    if messages is not None:
        eval_set = workspace / f"{dataset}.jsonl"
        reference = {r["id"]: r["reference"] for r in next(iter(rows.values()))}
        eval_set.write_text("".join(json.dumps({"id": i, "messages": [*m, {"role": "assistant",
                                                                          "content": reference[i]}]}) + "\n"
                                    for i, m in messages.items()), encoding="utf-8")
        suite["resolved"] = {"datasets": {dataset: {"path": str(eval_set), "sha256": "x", "n": len(messages)}}}
    for cand, lines in rows.items():
        (run / "predictions" / cand).mkdir(parents=True, exist_ok=True)
        (run / "scores" / cand).mkdir(parents=True, exist_ok=True)
        (run / "predictions" / cand / f"{dataset}.jsonl").write_text("".join(json.dumps(
            {"id": r["id"], "prediction": r["prediction"], "reference": r["reference"],
             "metadata": r.get("metadata", {})}) + "\n" for r in lines), encoding="utf-8")
        (run / "scores" / cand / f"{dataset}.jsonl").write_text("".join(json.dumps(
            {"id": r["id"], **r.get("scores", {})}) + "\n" for r in lines), encoding="utf-8")
    (run / "suite.json").write_text(json.dumps(suite), encoding="utf-8")
    if summary_metrics is not None:
        (run / "summary.json").write_text(json.dumps({"metrics": list(summary_metrics), "candidates": {}}),
                                          encoding="utf-8")
    return run
