"""Run a suite: render prompts, reuse cached generations, generate the misses, score, store.

For each candidate the runner looks every (model fingerprint, prompt, settings) key up in the
generation cache, generates only the misses (in length-sorted batches, each committed in its own
transaction as it finishes, with a progress bar), then scores every candidate x dataset with the
suite's metrics and writes the run folder (see :mod:`harness.runs.folder`) and the database rows.
A killed run is continued with ``resume=True``: the same run id, and only the missing generations.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigError

if TYPE_CHECKING:
    from harness.runs.resolve import ResolvedCandidate
    from harness.runs.suite import Suite
    from harness.workspace import Workspace


@dataclass
class RunResult:
    """What a finished run produced."""

    run_id: str
    run_dir: Path
    summary: dict[str, Any]
    generated: dict[str, int] = field(default_factory=dict)  # candidate -> new generations
    cached: dict[str, int] = field(default_factory=dict)  # candidate -> cache hits
    skipped_metrics: list[str] = field(default_factory=list)  # always empty: an unknown metric is a ConfigError
    resumed: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (``harness eval --json``)."""
        return {"run_id": self.run_id, "run_dir": str(self.run_dir), "summary": self.summary,
                "generated": self.generated, "cached": self.cached, "skipped_metrics": self.skipped_metrics,
                "resumed": self.resumed}


def new_run_id(suite_name: str) -> str:
    """A run id that sorts by time: ``20261128-163000-extract-v1-ab12``."""
    return f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{suite_name}-{secrets.token_hex(2)}"


def _build_metrics(suite: Suite) -> dict[str, Any]:
    """Each suite metric built once with its settings, by name; an unknown metric or setting is a
    :class:`ConfigError` naming the suite file and ``metrics[i]`` (raised before any generation)."""
    return {spec.name: spec.build() for spec in suite.metric_specs()}


def run_suite(suite: Suite, workspace: Workspace, *, candidates: list[str] | None = None, limit: int | None = None,
              resume: bool = False, console: Any = None, show_progress: bool = True) -> RunResult:
    """Run ``suite`` in ``workspace``; returns the :class:`RunResult` (run id, summary, counts)."""
    from harness.io import file_sha256
    from harness.runs import folder
    from harness.runs.prompts import load_dataset
    from harness.runs.resolve import resolve_candidate
    from harness.store import runs as store

    say = console.print if console is not None else (lambda *_a, **_k: None)
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be at least 1 (got {limit})")
    metrics = _build_metrics(suite)  # before any dataset is read or backend created
    selected = suite.select(candidates)
    paths = suite.dataset_paths()
    datasets = {name: load_dataset(path, limit=limit) for name, path in paths.items()}
    dataset_info = {name: {"path": str(path), "sha256": file_sha256(path), "n": len(datasets[name])}
                    for name, path in paths.items()}
    index_of = {c.name: i for i, c in enumerate(suite.candidates)}
    resolved = [resolve_candidate(suite, cand, workspace, index_of[cand.name]) for cand in selected]

    suite_json = suite.to_json()
    suite_json["resolved"] = {
        "candidates": {r.name: r.describe() for r in resolved}, "datasets": dataset_info,
        "limit": limit, "selected": [c.name for c in selected], "source": suite.source}
    suite_hash = hashlib.sha256(json.dumps({k: v for k, v in suite_json.items() if k != "resolved"} | {
        "datasets_sha": {k: v["sha256"] for k, v in dataset_info.items()}, "limit": limit,
        "selected": suite_json["resolved"]["selected"]}, sort_keys=True, default=str).encode()).hexdigest()

    run_id, resumed = None, False
    if resume:
        previous = store.find_resumable_run(workspace.engine, suite.name)
        if previous is not None and previous.suite_hash != suite_hash:
            raise ConfigError(f"run {previous.id} of suite {suite.name} was started with different settings "
                              "(suite file, datasets, --limit or --candidates changed)",
                              hint="rerun without --resume to start a new run (cached generations are still reused)")
        if previous is not None:
            run_id, resumed = previous.id, True
            say(f"resuming run {run_id}")
        else:
            say(f"no unfinished run of suite {suite.name}; starting a new one")
    if run_id is None:
        run_id = new_run_id(suite.name)
    run_dir = workspace.runs_dir / run_id
    manifest = folder.start_manifest(run_dir, run_id, suite, dataset_info, resolved, resumed=resumed)
    folder.write_suite(run_dir, suite_json)
    if not resumed:
        store.create_run(workspace.engine, run_id, suite.name, suite_hash, str(run_dir), suite_json)
    else:
        store.set_run_status(workspace.engine, run_id, "running")

    result = RunResult(run_id=run_id, run_dir=run_dir, summary={}, resumed=resumed)
    summary: dict[str, Any] = {"candidates": {}}
    try:
        for cand in resolved:
            summary["candidates"][cand.name] = _run_candidate(
                suite, workspace, cand, datasets, metrics, run_id, run_dir, result, console, show_progress)
    except BaseException:
        store.set_run_status(workspace.engine, run_id, "failed")
        folder.finish_manifest(run_dir, manifest, "failed", result)
        raise
    summary.update({"run_id": run_id, "suite": suite.name, "metrics": list(metrics), "skipped_metrics": []})
    result.summary = summary
    folder.write_summary(run_dir, summary)
    folder.finish_manifest(run_dir, manifest, "completed", result)
    store.set_run_status(workspace.engine, run_id, "completed", summary=summary)
    return result


def _run_candidate(suite: Suite, workspace: Workspace, cand: ResolvedCandidate, datasets: dict[str, list],
                   metrics: dict[str, Any], run_id: str, run_dir: Path, result: RunResult, console: Any,
                   show_progress: bool) -> dict[str, Any]:
    from harness.backends.base import GenerationRequest, fingerprint_for
    from harness.runs import folder
    from harness.runs.prompts import build_messages, prompt_hash
    from harness.store import runs as store

    prompts: dict[str, dict[str, tuple[str, list[dict[str, str]]]]] = {}
    for ds_name, items in datasets.items():
        prompts[ds_name] = {}
        for item in items:
            messages = build_messages(item, system=cand.system, shots=cand.shots)
            prompts[ds_name][item.id] = (prompt_hash(messages), messages)
    unique: dict[str, list[dict[str, str]]] = {}
    for per_ds in prompts.values():
        for key, messages in per_ds.values():
            unique.setdefault(key, messages)

    fingerprint = fingerprint_for(cand.backend, cand.spec)
    settings_hash = suite.generation.settings_hash(cand.backend)
    cache = store.lookup_generations(workspace.engine, fingerprint, settings_hash, unique)
    misses = [key for key in unique if key not in cache]
    result.cached[cand.name] = len(unique) - len(misses)
    result.generated[cand.name] = 0
    if misses:
        _generate_misses(workspace, cand, fingerprint, settings_hash, misses, unique, result, console, show_progress,
                         GenerationRequest)
        cache = store.lookup_generations(workspace.engine, fingerprint, settings_hash, unique)

    price = suite.price_for(next(c for c in suite.candidates if c.name == cand.name))
    out: dict[str, Any] = {}
    for ds_name, items in datasets.items():
        rows = []
        for item in items:
            gen = cache[prompts[ds_name][item.id][0]]
            cost = price.cost(gen.prompt_tokens, gen.completion_tokens) if price else None
            rows.append((item, gen, cost))
        out[ds_name] = folder.score_and_write(workspace, run_id, run_dir, cand.name, ds_name, rows, metrics)
    return out


def _generate_misses(workspace: Workspace, cand: ResolvedCandidate, fingerprint: str, settings_hash: str,
                     misses: list[str], unique: dict[str, list[dict[str, str]]], result: RunResult, console: Any,
                     show_progress: bool, request_type: Any) -> None:
    from harness.backends.base import create_backend
    from harness.runs.progress import generation_progress
    from harness.store import runs as store

    backend = create_backend(cand.backend, cand.spec)
    chunk = max(1, int(backend.request_chunk))
    # Similar lengths share a batch (less padding); each chunk is one batch and one transaction.
    ordered = sorted(misses, key=lambda k: (len(json.dumps(unique[k])), k))
    try:
        with generation_progress(console if show_progress else None, f"{cand.name}", len(ordered)) as advance:
            for start in range(0, len(ordered), chunk):
                keys = ordered[start:start + chunk]
                requests = [request_type(id=k[:12], messages=tuple(unique[k])) for k in keys]
                generations = backend.generate(requests)
                store.store_generations(workspace.engine, fingerprint, settings_hash,
                                        list(zip(keys, generations, strict=True)))
                result.generated[cand.name] += len(keys)
                advance(len(keys))
    finally:
        backend.close()
