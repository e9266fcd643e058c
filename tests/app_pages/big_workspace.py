"""A large synthetic workspace (runs x candidates x examples) in the formats ``harness eval`` writes.

:func:`build_big_workspace` writes, for each run, the run folder of :mod:`harness.runs.folder`
(``suite.json``, ``manifest.json``, ``predictions/<cand>/<set>.jsonl``, ``scores/<cand>/<set>.jsonl``,
``summary.json`` with :func:`harness.stats.summary.metric_summary` intervals) and the store rows of
:mod:`harness.store.runs` (``eval_runs`` and ``run_examples``), without a model: the scores are planted.
10 runs x 5 candidates x 1,000 examples take a few seconds. Used by the leaderboard tests and by the
browser test's time-to-first-paint measurement.

Planted values (the tests check them): on ``test``, example ``i`` is in category ``CATEGORIES[i % 5]``
and candidate ``c`` of run ``r`` matches exactly the first ``round(rate * n_category)`` examples of each
category (in id order), ``rate = TEST_RATE[c] + CATEGORY_SHIFT[category] + RUN_STEP * r``; on ``general``
every candidate matches the first ``round(GENERAL_RATE[c] * n)`` examples. A query costs ``COST[c]``.
"""

from __future__ import annotations

import datetime as _dt
import json
import random
from pathlib import Path
from typing import Any

SUITE = "support-big"
CANDIDATES = ("base-zero-shot", "base-few-shot", "lora-r8", "lora-r16", "full-ft")
PROMPTED = ("base-zero-shot", "base-few-shot")  # the others are workspace models (models/<name>)
TEST_RATE = {"base-zero-shot": 0.30, "base-few-shot": 0.40, "lora-r8": 0.55, "lora-r16": 0.65, "full-ft": 0.60}
GENERAL_RATE = {"base-zero-shot": 0.50, "base-few-shot": 0.50, "lora-r8": 0.50, "lora-r16": 0.50, "full-ft": 0.30}
CATEGORIES = ("billing", "shipping", "account", "returns", "other")
CATEGORY_SHIFT = {"billing": 0.20, "shipping": -0.10, "account": 0.0, "returns": 0.10, "other": -0.20}
RUN_STEP = 0.01
COST = {"base-zero-shot": 0.0010, "base-few-shot": 0.0030, "lora-r8": 0.0005, "lora-r16": 0.0005, "full-ft": 0.0008}
LATENCY = {"base-zero-shot": 0.20, "base-few-shot": 0.35, "lora-r8": 0.15, "lora-r16": 0.15, "full-ft": 0.25}
METRICS = ("exact_match", "rougeL", "latency", "cost")
WORDS = "refund order account billing password shipping delay invoice card reset email plan cancel".split()


def run_id(index: int) -> str:
    """The id of run ``index`` (ids sort by time like the runner's)."""
    return f"202611{index + 1:02d}-120000-{SUITE}-{index:04x}"


def exact_count(candidate: str, category: str, run: int, n_category: int) -> int:
    """How many examples of ``category`` candidate matches exactly on ``test`` in run ``run``."""
    rate = TEST_RATE[candidate] + CATEGORY_SHIFT[category] + RUN_STEP * run
    return round(min(1.0, max(0.0, rate)) * n_category)


def _rows(run: int, cand: str, dataset: str, n: int, rng: random.Random) -> tuple[list[dict], list[dict]]:
    """Predictions lines and scores lines of one candidate x dataset."""
    predictions, scores = [], []
    general_hits = round(GENERAL_RATE[cand] * n)
    for i in range(n):
        category = CATEGORIES[i % len(CATEGORIES)]
        if dataset == "test":
            hit = i // len(CATEGORIES) < exact_count(cand, category, run, (n - i % 5 + 4) // 5)
        else:
            hit = i < general_hits
        reference = " ".join(WORDS[(i + k) % len(WORDS)] for k in range(8))
        prediction = reference if hit else " ".join(rng.choice(WORDS) for _ in range(8))
        latency = round(LATENCY[cand] + rng.expovariate(20.0), 4)
        predictions.append({"id": f"{dataset}-{i:05d}", "prediction": prediction, "reference": reference,
                            "metadata": {"category": category, "difficulty": ("easy", "hard")[i % 2]},
                            "latency_s": latency, "prompt_tokens": 60, "completion_tokens": 20,
                            "cost": COST[cand], "finish_reason": "stop", "model": cand})
        scores.append({"id": f"{dataset}-{i:05d}", "exact_match": 1.0 if hit else 0.0,
                       "rougeL": 1.0 if hit else round(rng.uniform(0.2, 0.8), 4), "latency": latency,
                       "cost": COST[cand]})
    return predictions, scores


def _summary(scores: list[dict]) -> dict[str, Any]:
    from harness.metrics.base import get_metric, metric_info
    from harness.stats.summary import metric_summary

    return {m: metric_summary([s[m] for s in scores], get_metric(m).kind, bounds=metric_info(m).bounds)
            for m in METRICS}


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def _suite_json(datasets: dict[str, int]) -> dict[str, Any]:
    candidates = [{"adapter": None, "backend": "transformers", "base_url": None, "fallback_model": None,
                   "model": "hub/chat-model" if name in PROMPTED else name, "name": name, "options": {},
                   "prompt": {"few_shot": 3 if name == "base-few-shot" else 0, "from": None, "seed": None,
                              "system": None}} for name in CANDIDATES]
    return {"candidates": candidates, "datasets": {d: f"evalsets/{d}.jsonl" for d in datasets},
            "generation": {"max_new_tokens": 64, "seed": 0, "stop": [], "temperature": 0.0, "top_p": 1.0},
            "metrics": list(METRICS), "name": SUITE, "pricing": {},
            "resolved": {"candidates": {c["name"]: dict(c) for c in candidates},
                         "datasets": {d: {"n": n, "path": f"evalsets/{d}.jsonl", "sha256": "0" * 64}
                                      for d, n in datasets.items()},
                         "limit": None, "selected": list(CANDIDATES), "source": None}}


def build_big_workspace(path: Path, runs: int = 10, candidates: int = 5, examples: int = 1000) -> Path:
    """Write a workspace at ``path`` with ``runs`` completed runs of the first ``candidates`` of
    :data:`CANDIDATES` on ``test`` (``examples`` items) and ``general`` (a fifth as many); returns ``path``."""
    from sqlalchemy import insert

    from harness.store.base import transaction
    from harness.store.runs import EvalRun, RunExample
    from harness.workspace import Workspace

    if not 1 <= candidates <= len(CANDIDATES):
        raise ValueError(f"candidates must be 1..{len(CANDIDATES)}")
    names = CANDIDATES[:candidates]
    ws = Workspace.open(path)
    for name in names:
        if name not in PROMPTED:
            (ws.models_dir / name).mkdir(parents=True, exist_ok=True)
    datasets = {"test": examples, "general": max(2, examples // 5)}
    started = _dt.datetime(2026, 11, 1, 12, 0, tzinfo=_dt.UTC)
    suite_json = _suite_json(datasets)
    suite_json["candidates"] = [c for c in suite_json["candidates"] if c["name"] in names]
    for run in range(runs):
        rid, rng = run_id(run), random.Random(run)
        run_dir = ws.runs_dir / rid
        summary: dict[str, Any] = {"candidates": {}}
        db_rows: list[dict[str, Any]] = []
        for cand in names:
            summary["candidates"][cand] = {}
            for dataset, n in datasets.items():
                predictions, scores = _rows(run, cand, dataset, n, rng)
                _write_jsonl(run_dir / "predictions" / cand / f"{dataset}.jsonl", predictions)
                _write_jsonl(run_dir / "scores" / cand / f"{dataset}.jsonl", scores)
                summary["candidates"][cand][dataset] = _summary(scores)
                db_rows.extend({"run_id": rid, "candidate": cand, "dataset": dataset, "example_id": p["id"],
                                "generation_id": None, "prediction": p["prediction"], "reference": p["reference"],
                                "cost": p["cost"], "scores": {k: v for k, v in s.items() if k != "id"},
                                "metadata_json": p["metadata"]} for p, s in zip(predictions, scores, strict=True))
        summary.update({"run_id": rid, "suite": SUITE, "metrics": list(METRICS), "skipped_metrics": []})
        when = started + _dt.timedelta(days=run)
        (run_dir / "suite.json").write_text(json.dumps(suite_json, indent=2, sort_keys=True), encoding="utf-8")
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True), encoding="utf-8")
        manifest = {"run_id": rid, "suite": SUITE, "status": "completed", "started": when.isoformat(),
                    "finished": (when + _dt.timedelta(minutes=5)).isoformat(), "resumed_at": [], "packages": {},
                    "git_commit": None, "seeds": {"generation": 0, "few_shot": {}},
                    "datasets": suite_json["resolved"]["datasets"], "candidates": suite_json["resolved"]["candidates"],
                    "generated": {c: sum(datasets.values()) for c in names}, "cached": {c: 0 for c in names}}
        (run_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
        with transaction(ws.engine) as session:
            session.add(EvalRun(id=rid, suite_name=SUITE, suite_hash=f"{run:064x}", status="completed",
                                run_dir=str(run_dir), suite_json=suite_json, summary_json=summary,
                                started_at=when, finished_at=when + _dt.timedelta(minutes=5)))
            session.flush()
            session.execute(insert(RunExample), db_rows)
    ws.close()
    return Path(path)


if __name__ == "__main__":  # python tests/app_pages/big_workspace.py DIR: a workspace for trying the app by hand
    import sys
    import time

    start = time.perf_counter()
    print(build_big_workspace(Path(sys.argv[1])), f"built in {time.perf_counter() - start:.1f} s")
