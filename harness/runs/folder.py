"""The run folder contract (read by ``harness compare``), every file written atomically.

``<workspace>/runs/<run_id>/``: ``suite.json`` (resolved suite), ``manifest.json`` (versions, git
commit, seeds, dataset hashes, times, status), ``predictions/<candidate>/<dataset>.jsonl`` (the
``harness score`` input format, plus ``prompt_hash`` and ``few_shot_ids``), ``prompts.jsonl`` (each
distinct prompt's messages by hash, see :mod:`harness.runs.samples`), ``scores/<candidate>/<dataset>.jsonl``
(``{"id", metric: value}``) and ``summary.json`` (``{"candidates": {cand: {dataset: {metric: {"mean", "ci",
"n", "method"}}}}}``, intervals by :func:`harness.stats.summary.metric_summary`, the rule ``harness score``
uses). The finished manifest adds ``generated``, ``cached`` and ``timing`` (see :mod:`harness.runs.timing`).
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.io import json_safe, write_json, write_jsonl
from harness.provenance import git_commit, package_versions

if TYPE_CHECKING:
    from collections.abc import Mapping

    from harness.metrics.base import Metric
    from harness.runs.resolve import ResolvedCandidate
    from harness.runs.runner import RunResult
    from harness.runs.suite import Suite
    from harness.workspace import Workspace

def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def write_suite(run_dir: Path, suite_json: dict[str, Any]) -> None:
    """Write ``suite.json`` (the resolved suite)."""
    write_json(run_dir / "suite.json", suite_json)


def start_manifest(run_dir: Path, run_id: str, suite: Suite, dataset_info: dict[str, Any],
                   resolved: list[ResolvedCandidate], *, resumed: bool,
                   extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write ``manifest.json`` with status ``running`` (``extra`` keys added); returns it (kept for the
    final write)."""
    previous: dict[str, Any] = {}
    if resumed and (run_dir / "manifest.json").exists():
        previous = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    manifest = {
        "run_id": run_id, "suite": suite.name, "status": "running",
        "started": previous.get("started") or _now(), "finished": None,
        "resumed_at": [*previous.get("resumed_at", []), _now()] if resumed else [],
        "packages": package_versions(), "git_commit": git_commit(),
        "seeds": {"generation": suite.generation.seed,
                  "few_shot": {c.name: (c.prompt.seed if c.prompt.seed is not None else suite.generation.seed)
                               for c in suite.candidates if c.prompt.few_shot}},
        "datasets": dataset_info,
        "candidates": {r.name: r.describe() for r in resolved},
        **(extra or {}),
    }
    write_json(run_dir / "manifest.json", manifest)
    return manifest


def finish_manifest(run_dir: Path, manifest: dict[str, Any], status: str, result: RunResult) -> None:
    """Rewrite ``manifest.json`` with the final status, finish time, generation counts and timing."""
    manifest = dict(manifest, status=status, finished=_now(),
                    generated=dict(result.generated), cached=dict(result.cached), timing=result.timing.as_dict())
    write_json(run_dir / "manifest.json", manifest)


def write_summary(run_dir: Path, summary: dict[str, Any]) -> None:
    """Write ``summary.json``."""
    write_json(run_dir / "summary.json", summary)


def score_and_write(workspace: Workspace, run_id: str, run_dir: Path, candidate: str, dataset: str,
                    rows: list[tuple[Any, Any, float | None]], metrics: Mapping[str, Metric], *,
                    extra: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """Score one candidate x dataset, write its predictions/scores files and DB rows.

    ``rows`` are ``(EvalItem, cached generation, cost)``; ``metrics`` the suite's metrics built once,
    by name; ``extra`` more fields for an example's predictions line, by example id (``prompt_hash``,
    ``few_shot_ids``). Returns ``{metric: {"mean", "ci", "n", "method", ...}}``.
    """
    from harness.metrics.base import Example, metric_info
    from harness.stats.summary import metric_summary
    from harness.store.runs import replace_run_examples

    examples = [Example(id=item.id, prediction=gen.text, reference=item.reference, schema=item.schema,
                        label=item.label, metadata=item.metadata, latency_s=gen.latency_s,
                        prompt_tokens=gen.prompt_tokens, completion_tokens=gen.completion_tokens, cost=cost)
                for item, gen, cost in rows]
    outputs = {name: built.compute(examples) for name, built in metrics.items()}
    per_metric = {name: out.per_example for name, out in outputs.items()}
    predictions, scores, db_rows = [], [], []
    for i, (item, gen, cost) in enumerate(rows):
        line: dict[str, Any] = {"id": item.id, "prediction": gen.text, "reference": item.reference}
        if item.schema is not None:
            line["schema"] = item.schema
        if item.label is not None:
            line["label"] = item.label
        line.update({"metadata": item.metadata, "latency_s": gen.latency_s, "prompt_tokens": gen.prompt_tokens,
                     "completion_tokens": gen.completion_tokens, "cost": cost,
                     "finish_reason": gen.finish_reason, "model": gen.model})
        line.update((extra or {}).get(item.id, {}))
        predictions.append(line)
        values = {name: json_safe(vals[i]) for name, vals in per_metric.items()}
        scores.append({"id": item.id, **values})
        db_rows.append({"example_id": item.id, "generation_id": gen.id, "prediction": gen.text,
                        "reference": item.reference, "cost": cost, "scores": values,
                        "metadata_json": json.loads(json.dumps(item.metadata, default=str))})
    write_jsonl(run_dir / "predictions" / candidate / f"{dataset}.jsonl", predictions)
    write_jsonl(run_dir / "scores" / candidate / f"{dataset}.jsonl", scores)
    replace_run_examples(workspace.engine, run_id, candidate, dataset, db_rows)
    summary: dict[str, Any] = {}
    for name, out in outputs.items():
        entry = metric_summary(out.per_example, out.kind, out.corpus, bounds=metric_info(name).bounds)
        if "corpus" in entry:  # stored in the database too: anything not JSON becomes its string
            entry["corpus"] = json.loads(json.dumps(entry["corpus"], default=str))
        summary[name] = entry
    return summary
