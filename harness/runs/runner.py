"""Run a suite: render prompts, reuse cached generations, generate the misses, score, store.

For each candidate the runner looks every (model fingerprint, prompt, settings) key up in the
generation cache, generates only the misses (in length-sorted batches, each committed in its own
transaction as it finishes, with a progress bar), then scores every candidate x dataset with the
suite's metrics and writes the run folder (see :mod:`harness.runs.folder`) and the database rows.
A killed run is continued with ``resume=True``: the same run id, and only the missing generations.

``overrides`` (``harness eval --batch-size/--threads/--device/--dtype``) replace those options of
local candidates; batch size, threads and device change speed only, so they are neither in the
generation cache key nor in the hash that lets ``--resume`` continue a run; a set dtype is in both.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigError
from harness.runs.timing import RunTiming

if TYPE_CHECKING:
    from harness.runs.resolve import ResolvedCandidate
    from harness.runs.suite import RunOverrides, Suite
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
    timing: RunTiming = field(default_factory=RunTiming)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (``harness eval --json``)."""
        return {"run_id": self.run_id, "run_dir": str(self.run_dir), "summary": self.summary,
                "generated": self.generated, "cached": self.cached, "skipped_metrics": self.skipped_metrics,
                "resumed": self.resumed, "timing": self.timing.as_dict()}


def new_run_id(suite_name: str) -> str:
    """A run id that sorts by time: ``20261128-163000-extract-v1-ab12``."""
    return f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{suite_name}-{secrets.token_hex(2)}"


def _build_metrics(suite: Suite) -> dict[str, Any]:
    """Each suite metric built once with its settings, by name; an unknown metric or setting is a
    :class:`ConfigError` naming the suite file and ``metrics[i]`` (raised before any generation)."""
    return {spec.name: spec.build() for spec in suite.metric_specs()}


def _run_options(backend: str, options: dict[str, Any], overrides: RunOverrides) -> dict[str, Any]:
    """A candidate's options for this run: ``overrides`` applied when its backend runs models locally."""
    from harness.backends.base import backend_capabilities

    return overrides.apply(options) if backend_capabilities(backend).local_models else dict(options)


def _output_options(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` less those that change speed only (what the resume hash covers)."""
    from harness.runs.suite import RUNTIME_OPTIONS

    return {k: v for k, v in options.items() if k not in RUNTIME_OPTIONS}


def _suite_hash(suite_json: dict[str, Any], options: dict[str, dict[str, Any]]) -> str:
    """What must match for ``--resume`` to continue a run: the suite (each candidate's options as run,
    less batch size, threads and device), the datasets run and their contents, --limit and --candidates."""
    resolved = suite_json["resolved"]
    hashed = {k: v for k, v in suite_json.items() if k != "resolved"}
    hashed["candidates"] = [dict(c, options=_output_options(options[c["name"]])) for c in hashed["candidates"]]
    return hashlib.sha256(json.dumps(hashed | {
        "datasets_sha": {k: v["sha256"] for k, v in resolved["datasets"].items()}, "limit": resolved["limit"],
        "selected": resolved["selected"]}, sort_keys=True, default=str).encode()).hexdigest()


def _check_devices(resolved: list[ResolvedCandidate], overrides: RunOverrides, index_of: dict[str, int],
                   suite: Suite) -> None:
    """Stop before any model loads when a local candidate asks for a CUDA device that torch cannot see."""
    from harness.backends.base import backend_capabilities
    from harness.errors import DependencyError

    for cand in resolved:
        device = str(cand.spec.options.get("device") or "")
        if not device.startswith("cuda") or not backend_capabilities(cand.backend).local_models:
            continue
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(device.partition(":")[2] or 0)
        if index >= count:
            where = "--device" if overrides.device else \
                f"{suite.source or suite.name}: candidates[{index_of[cand.name]}].options.device"
            raise DependencyError(f"{where}: {device} asked for, but torch sees {count} CUDA device(s)",
                                  hint="use --device cpu, or --device auto to take a GPU only when one is visible")


def _what_changed(before: dict[str, Any], now: dict[str, Any]) -> str:
    """Which run settings differ between two ``suite.json`` documents, in flag terms, for the resume error."""
    old, new = before.get("resolved") or {}, now["resolved"]
    changes = []
    old_sets, new_sets = old.get("datasets") or {}, new["datasets"]
    if list(old_sets) != list(new_sets):
        changes.append(f"--datasets (was {', '.join(old_sets) or '?'}; now {', '.join(new_sets)})")
    elif any((old_sets[k] or {}).get("sha256") != v["sha256"] for k, v in new_sets.items()):
        changes.append("a dataset file's contents")
    if old.get("limit") != new["limit"]:
        changes.append(f"--limit (was {old.get('limit')}; now {new['limit']})")
    if old.get("selected") != new["selected"]:
        changes.append(f"--candidates (was {', '.join(old.get('selected') or [])}; now {', '.join(new['selected'])})")
    if "options" in old and {k: _output_options(v) for k, v in old["options"].items()} != {
            k: _output_options(v) for k, v in new["options"].items()}:
        changes.append("--dtype or a candidate's options")
    return ", ".join(changes) or "the suite file"


def run_suite(suite: Suite, workspace: Workspace, *, candidates: list[str] | None = None, limit: int | None = None,
              resume: bool = False, console: Any = None, show_progress: bool = True,
              datasets: list[str] | None = None, overrides: RunOverrides | None = None) -> RunResult:
    """Run ``suite`` in ``workspace``; returns the :class:`RunResult` (run id, summary, counts, timing).

    ``datasets`` runs only those of the suite's datasets (all when None); ``overrides`` replaces options
    of local candidates for this run (see the module docstring).
    """
    from harness.io import file_sha256
    from harness.runs import folder, samples
    from harness.runs.prompts import load_dataset
    from harness.runs.resolve import resolve_candidate
    from harness.runs.suite import RunOverrides
    from harness.store import runs as store

    started = time.perf_counter()
    overrides = overrides or RunOverrides()
    say = console.print if console is not None else (lambda *_a, **_k: None)
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be at least 1 (got {limit})")
    metrics = _build_metrics(suite)  # before any dataset is read or backend created
    selected = suite.select(candidates)
    paths = suite.dataset_paths(datasets)
    loaded = {name: load_dataset(path, limit=limit) for name, path in paths.items()}
    dataset_info = {name: {"path": str(path), "sha256": file_sha256(path), "n": len(loaded[name])}
                    for name, path in paths.items()}
    index_of = {c.name: i for i, c in enumerate(suite.candidates)}
    resolved = [resolve_candidate(suite, cand, workspace, index_of[cand.name]) for cand in selected]
    resolved = [replace(r, spec=replace(r.spec, options=_run_options(r.backend, r.spec.options, overrides)))
                for r in resolved]
    options = {c.name: _run_options(c.backend, c.options, overrides) for c in suite.candidates}
    _check_devices(resolved, overrides, index_of, suite)

    suite_json = suite.to_json()
    suite_json["resolved"] = {
        "candidates": {r.name: r.describe() for r in resolved}, "datasets": dataset_info,
        "limit": limit, "selected": [c.name for c in selected], "source": suite.source,
        "options": {r.name: r.spec.options for r in resolved}, "overrides": overrides.as_options()}
    suite_hash = _suite_hash(suite_json, options)

    run_id, resumed = None, False
    if resume:
        previous = store.find_resumable_run(workspace.engine, suite.name)
        if previous is not None and previous.suite_hash != suite_hash:
            raise ConfigError(f"run {previous.id} of suite {suite.name} was started with different settings: "
                              f"{_what_changed(previous.suite_json or {}, suite_json)} changed",
                              hint="rerun with the same settings to resume it, or without --resume to start a new "
                                   "run (cached generations are still reused)")
        if previous is not None:
            run_id, resumed = previous.id, True
            say(f"resuming run {run_id}")
        else:
            say(f"no unfinished run of suite {suite.name}; starting a new one")
    if run_id is None:
        run_id = new_run_id(suite.name)
    run_dir = workspace.runs_dir / run_id
    shot_ids = {r.name: r.shot_ids for r in resolved}
    manifest = folder.start_manifest(run_dir, run_id, suite, dataset_info, resolved, resumed=resumed, extra={
        "options": suite_json["resolved"]["options"], "overrides": overrides.as_options(),
        "few_shot_ids": {name: ids for name, ids in shot_ids.items() if ids}, "prompts": samples.PROMPTS_FILE})
    folder.write_suite(run_dir, suite_json)
    if not resumed:
        store.create_run(workspace.engine, run_id, suite.name, suite_hash, str(run_dir), suite_json)
    else:
        store.set_run_status(workspace.engine, run_id, "running")

    result = RunResult(run_id=run_id, run_dir=run_dir, summary={}, resumed=resumed)
    summary: dict[str, Any] = {"candidates": {}}
    prompts: dict[str, list[dict[str, str]]] = {}
    try:
        for cand in resolved:
            summary["candidates"][cand.name] = _run_candidate(
                suite, workspace, cand, loaded, metrics, run_id, run_dir, result, console, show_progress,
                prompts, shot_ids[cand.name])
        samples.write_prompts(run_dir, prompts)
    except BaseException:
        result.timing.wall_s = time.perf_counter() - started
        store.set_run_status(workspace.engine, run_id, "failed")
        folder.finish_manifest(run_dir, manifest, "failed", result)
        raise
    summary.update({"run_id": run_id, "suite": suite.name, "metrics": list(metrics), "skipped_metrics": []})
    result.summary = summary
    folder.write_summary(run_dir, summary)
    result.timing.wall_s = time.perf_counter() - started
    folder.finish_manifest(run_dir, manifest, "completed", result)
    store.set_run_status(workspace.engine, run_id, "completed", summary=summary)
    return result


def _run_candidate(suite: Suite, workspace: Workspace, cand: ResolvedCandidate, datasets: dict[str, list],
                   metrics: dict[str, Any], run_id: str, run_dir: Path, result: RunResult, console: Any,
                   show_progress: bool, all_prompts: dict[str, list[dict[str, str]]],
                   shot_ids: list[str]) -> dict[str, Any]:
    from harness.backends.base import GenerationRequest, fingerprint_for
    from harness.runs import folder
    from harness.runs.prompts import build_messages, prompt_hash
    from harness.runs.suite import output_dtype
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
    for key, messages in unique.items():
        all_prompts.setdefault(key, messages)

    fingerprint = fingerprint_for(cand.backend, cand.spec)
    settings_hash = suite.generation.settings_hash(cand.backend, dtype=output_dtype(cand.spec.options))
    cache = store.lookup_generations(workspace.engine, fingerprint, settings_hash, unique)
    misses = [key for key in unique if key not in cache]
    result.cached[cand.name] = len(unique) - len(misses)
    result.generated[cand.name] = 0
    timing = result.timing.candidate(cand.name)
    if misses:
        generation_started = time.perf_counter()
        try:
            _generate_misses(workspace, cand, fingerprint, settings_hash, misses, unique, result, console,
                             show_progress, GenerationRequest)
        finally:
            timing.generation_s += time.perf_counter() - generation_started
            timing.generated = result.generated[cand.name]
        cache = store.lookup_generations(workspace.engine, fingerprint, settings_hash, unique)
        timing.add_tokens([cache[k].completion_tokens for k in misses if k in cache])

    scoring_started = time.perf_counter()
    price = suite.price_for(next(c for c in suite.candidates if c.name == cand.name))
    out: dict[str, Any] = {}
    for ds_name, items in datasets.items():
        rows = []
        for item in items:
            gen = cache[prompts[ds_name][item.id][0]]
            cost = price.cost(gen.prompt_tokens, gen.completion_tokens) if price else None
            rows.append((item, gen, cost))
        extra = {item.id: {"prompt_hash": prompts[ds_name][item.id][0], "few_shot_ids": shot_ids} for item in items}
        out[ds_name] = folder.score_and_write(workspace, run_id, run_dir, cand.name, ds_name, rows, metrics,
                                              extra=extra)
    timing.scoring_s += time.perf_counter() - scoring_started
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
            # A backend with an ``on_answer`` hook reports each finished answer itself (a chunk can hold
            # several batches' worth of prompts); the others advance once per chunk.
            streamed = hasattr(backend, "on_answer")
            if streamed:
                backend.on_answer = advance  # type: ignore[attr-defined]
            for start in range(0, len(ordered), chunk):
                keys = ordered[start:start + chunk]
                requests = [request_type(id=k[:12], messages=tuple(unique[k])) for k in keys]
                generations = backend.generate(requests)
                store.store_generations(workspace.engine, fingerprint, settings_hash,
                                        list(zip(keys, generations, strict=True)))
                result.generated[cand.name] += len(keys)
                if not streamed:
                    advance(len(keys))
    finally:
        backend.close()
