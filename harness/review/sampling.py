"""Building a review batch from a run folder's predictions, with a sampling strategy.

Strategies (``--strategy``):

- ``random``: a seeded uniform sample without replacement (an unbiased estimate of the run's quality).
- ``disagreement``: examples where the candidates disagree most first: the largest spread of an
  automatic score across candidates (max - min, the largest over the metrics), then the share of
  candidate pairs whose outputs differ (after whitespace/case normalisation); ties in seeded random
  order. Measured over the chosen candidates, or over all of the run's candidates when one is rated.
- ``low-score`` (or ``low-score:METRIC``): lowest automatic score first (pairwise: the lower of the
  two); the metric is the first one of the run's summary when not named; missing scores go last.
- ``stratified:FIELD``: as even as possible over the values of a metadata field (round robin over the
  values, each shuffled with the seed; a value with too few examples leaves its share to the others).

:func:`batch_for_examples` stores exactly the examples picked by hand (strategy ``selected``; the app's
Compare outputs page).

A rubric batch has one item per (example, candidate); a pairwise batch one item per example with the
two candidates' left/right order drawn per item with the seed and recorded in the item.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError
from harness.review.queue import DEFAULT_LEASE_S, KINDS, BatchInfo, create_batch
from harness.review.rubric import DEFAULT_RUBRIC, Rubric

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

STRATEGIES = ("random", "disagreement", "low-score", "stratified:FIELD")


@dataclass
class _Example:
    """One example of the chosen dataset, with every candidate's output and scores."""

    id: str
    reference: str
    messages: tuple[dict, ...]
    metadata: dict[str, Any]
    outputs: dict[str, str] = field(default_factory=dict)
    scores: dict[str, dict[str, float | None]] = field(default_factory=dict)


def build_batch(engine: Engine, workspace_root: Path, run_ref: str, *, candidates: Sequence[str] | None = None,
                dataset: str | None = None, n: int = 20, kind: str = "rubric", strategy: str = "random",
                overlap: int = 1, rubric: Rubric | None = None, seed: int = 0,
                lease_s: int = DEFAULT_LEASE_S) -> BatchInfo:
    """Sample ``n`` items from run ``run_ref``'s predictions with ``strategy`` and store them as a batch.

    Returns the new :class:`BatchInfo`. ``candidates`` default to every candidate of the run (rubric)
    or the run's two candidates (pairwise; a run with more needs them named); ``dataset`` to the
    run's only (else first) dataset; ``rubric`` to :data:`DEFAULT_RUBRIC`. Raises
    :class:`HarnessError` naming the bad value and the choices.
    """
    from harness.compare.loading import resolve_run

    if kind not in KINDS:
        raise HarnessError(f"unknown review kind {kind!r}", hint=f"--kind must be one of {', '.join(KINDS)}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise HarnessError(f"--n must be a whole number of items of at least 1 (got {n!r})")
    base_strategy, _, argument = strategy.partition(":")
    if base_strategy not in ("random", "disagreement", "low-score", "stratified") or (
            base_strategy == "stratified" and not argument.strip()) or (
            base_strategy in ("random", "disagreement") and argument):
        raise HarnessError(f"unknown sampling strategy {strategy!r}",
                           hint="--strategy random | disagreement | low-score[:METRIC] | stratified:FIELD")
    run_dir = resolve_run(workspace_root, run_ref)
    available = _run_candidates(run_dir)
    chosen = _choose_candidates(run_dir, available, candidates, kind)
    dataset = _choose_dataset(run_dir, chosen, dataset)
    measured = chosen if base_strategy != "disagreement" or len(chosen) > 1 else available
    if base_strategy == "disagreement" and len(measured) < 2:
        raise HarnessError(f"run {run_dir.name} has one candidate: there is nothing to disagree on",
                           hint="use --strategy random, low-score or stratified:FIELD")
    examples = _load_examples(run_dir, list(dict.fromkeys([*chosen, *measured])), dataset)
    rng = random.Random(seed)
    if kind == "pairwise":
        units: list[tuple[_Example, tuple[str, ...]]] = [(ex, tuple(chosen)) for ex in examples]
    else:
        units = [(ex, (cand,)) for ex in examples for cand in chosen]
    if base_strategy == "random":
        picked = rng.sample(units, min(n, len(units)))
    elif base_strategy == "disagreement":
        picked = _by_disagreement(units, measured, rng)[:n]
    elif base_strategy == "low-score":
        metric = argument.strip() or _default_metric(run_dir, examples, chosen)
        picked = _by_low_score(units, metric, rng, run_dir.name)[:n]
    else:
        picked = _stratified(units, argument.strip(), rng, n, run_dir.name)
    items = []
    for ex, shown in picked:
        if kind == "pairwise":
            shown = tuple(rng.sample(list(shown), 2))  # left/right drawn per item, recorded in the item
        items.append({"example_id": ex.id, "messages": list(ex.messages), "reference": ex.reference,
                      "candidates": list(shown), "outputs": [ex.outputs[c] for c in shown],
                      "metadata": ex.metadata, "scores": {c: ex.scores.get(c, {}) for c in shown}})
    return create_batch(engine, run_id=run_dir.name, dataset=dataset, kind=kind, strategy=strategy,
                        overlap=overlap, candidates=tuple(chosen),
                        rubric=(rubric or DEFAULT_RUBRIC) if kind == "rubric" else None, items=items,
                        lease_s=lease_s)


def batch_for_examples(engine: Engine, workspace_root: Path, run_ref: str, example_ids: Sequence[str], *,
                       candidates: Sequence[str] | None = None, dataset: str | None = None, kind: str = "pairwise",
                       overlap: int = 1, rubric: Rubric | None = None, seed: int = 0,
                       lease_s: int = DEFAULT_LEASE_S) -> BatchInfo:
    """Store a batch of exactly the examples ``example_ids`` of run ``run_ref`` (in that order, each once),
    as picked by hand in the app; returns the new :class:`BatchInfo` (strategy ``selected``).

    ``candidates``, ``dataset`` and ``rubric`` default as in :func:`build_batch`; a rubric batch has one
    item per (example, candidate), a pairwise one an item per example with left/right drawn with
    ``seed``. Raises :class:`HarnessError` for no ids, or ids the candidates did not all answer.
    """
    from harness.compare.loading import resolve_run

    if kind not in KINDS:
        raise HarnessError(f"unknown review kind {kind!r}", hint=f"kind must be one of {', '.join(KINDS)}")
    wanted = list(dict.fromkeys(str(i) for i in example_ids))
    if not wanted:
        raise HarnessError("no examples selected for review", hint="select at least one example")
    run_dir = resolve_run(workspace_root, run_ref)
    chosen = _choose_candidates(run_dir, _run_candidates(run_dir), candidates, kind)
    dataset = _choose_dataset(run_dir, chosen, dataset)
    by_id = {ex.id: ex for ex in _load_examples(run_dir, chosen, dataset)}
    unknown = [i for i in wanted if i not in by_id]
    if unknown:
        raise HarnessError(f"run {run_dir.name} has no example {unknown[0]!r} answered by {', '.join(chosen)} "
                           f"in dataset {dataset!r}", hint="select examples shown for this run and dataset")
    rng = random.Random(seed)
    items = []
    for ex in (by_id[i] for i in wanted):
        for shown in ([tuple(rng.sample(chosen, 2))] if kind == "pairwise" else [(c,) for c in chosen]):
            items.append({"example_id": ex.id, "messages": list(ex.messages), "reference": ex.reference,
                          "candidates": list(shown), "outputs": [ex.outputs[c] for c in shown],
                          "metadata": ex.metadata, "scores": {c: ex.scores.get(c, {}) for c in shown}})
    return create_batch(engine, run_id=run_dir.name, dataset=dataset, kind=kind, strategy="selected",
                        overlap=overlap, candidates=tuple(chosen),
                        rubric=(rubric or DEFAULT_RUBRIC) if kind == "rubric" else None, items=items,
                        lease_s=lease_s)


# the run folder ------------------------------------------------------------------------------------

def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def _run_candidates(run_dir: Path) -> list[str]:
    """The run's candidates with predictions, in the suite's order."""
    folder = run_dir / "predictions"
    names = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    order = [c.get("name") for c in _read_json(run_dir / "suite.json").get("candidates", []) if isinstance(c, dict)]
    return [n for n in order if n in names] + [n for n in names if n not in order]


def _choose_candidates(run_dir: Path, available: list[str], wanted: Sequence[str] | None, kind: str) -> list[str]:
    if not available:
        raise HarnessError(f"run {run_dir.name} has no predictions", hint="run `harness eval SUITE` first")
    if isinstance(wanted, str):
        wanted = [w.strip() for w in wanted.split(",") if w.strip()]
    chosen = list(dict.fromkeys(wanted or ()))
    unknown = [c for c in chosen if c not in available]
    if unknown:
        raise HarnessError(f"run {run_dir.name} has no candidate {unknown[0]!r}",
                           hint=f"candidates: {', '.join(available)}")
    if kind == "pairwise":
        if not chosen and len(available) == 2:
            chosen = list(available)
        if len(chosen) != 2:
            raise HarnessError(f"a pairwise batch compares exactly two candidates; run {run_dir.name} has "
                               f"{', '.join(available)}" + (f" and {len(chosen)} were chosen" if chosen else ""),
                               hint="pass --candidates a,b")
    return chosen or list(available)


def _choose_dataset(run_dir: Path, candidates: list[str], dataset: str | None) -> str:
    per_candidate = [{p.stem for p in (run_dir / "predictions" / c).glob("*.jsonl")} for c in candidates]
    common = set.intersection(*per_candidate) if per_candidate else set()
    order = list(_read_json(run_dir / "suite.json").get("datasets", {}) or {})
    names = [d for d in order if d in common] + sorted(common - set(order))
    if dataset is not None:
        if dataset not in common:
            raise HarnessError(f"run {run_dir.name} has no predictions of dataset {dataset!r} for "
                               f"{', '.join(candidates)}", hint=f"datasets: {', '.join(names) or '(none)'}")
        return dataset
    if not names:
        raise HarnessError(f"the candidates {', '.join(candidates)} of run {run_dir.name} share no dataset",
                           hint="choose candidates evaluated on the same dataset")
    return names[0]


def _dataset_messages(run_dir: Path, dataset: str) -> dict[str, tuple[dict, ...]]:
    """``{example id: input conversation}`` from the eval set the run read (empty when it is gone)."""
    from harness.errors import DataError
    from harness.runs.prompts import load_dataset

    suite = _read_json(run_dir / "suite.json")
    info = (suite.get("resolved") or {}).get("datasets", {}).get(dataset) or \
        _read_json(run_dir / "manifest.json").get("datasets", {}).get(dataset) or {}
    path = Path(str(info.get("path", ""))) if isinstance(info, dict) and info.get("path") else None
    if path is None or not path.is_file():
        return {}
    try:
        return {item.id: item.context for item in load_dataset(path)}
    except DataError:
        return {}


def _load_examples(run_dir: Path, candidates: list[str], dataset: str) -> list[_Example]:
    """The examples every candidate answered, in the first candidate's order, with outputs and scores."""
    from harness.compare.loading import load_predictions
    from harness.io import read_jsonl

    messages = _dataset_messages(run_dir, dataset)
    examples: dict[str, _Example] = {}
    for position, cand in enumerate(candidates):
        seen = set()
        for pred in load_predictions(run_dir / "predictions" / cand / f"{dataset}.jsonl"):
            seen.add(pred.id)
            if position == 0:
                examples[pred.id] = _Example(pred.id, pred.reference, messages.get(pred.id, ()), dict(pred.metadata))
            if pred.id in examples:
                examples[pred.id].outputs[cand] = pred.prediction
        for gone in set(examples) - seen:
            del examples[gone]
        scores_file = run_dir / "scores" / cand / f"{dataset}.jsonl"
        if scores_file.is_file():
            for _number, row in read_jsonl(scores_file):
                ex = examples.get(str(row.get("id")))
                if ex is not None:
                    ex.scores[cand] = {k: _number_or_none(v) for k, v in row.items()
                                       if k != "id" and (v is None or isinstance(v, int | float))}
    if not examples:
        raise HarnessError(f"run {run_dir.name}: the candidates {', '.join(candidates)} share no example of "
                           f"dataset {dataset!r}", hint="choose other candidates or another dataset")
    return list(examples.values())


def _number_or_none(value: Any) -> float | None:
    import math

    if value is None or isinstance(value, bool):
        return None if value is None else float(value)
    number = float(value)
    return None if math.isnan(number) else number


def _default_metric(run_dir: Path, examples: list[_Example], candidates: list[str]) -> str:
    """The first metric of the run's summary that the chosen candidates have scores for."""
    from harness.compare.loading import suite_metrics

    scored = [m for ex in examples[:1] for c in candidates for m in ex.scores.get(c, {})]
    for metric in [*suite_metrics(run_dir), *scored]:
        if metric in scored:
            return metric
    raise HarnessError(f"run {run_dir.name} has no automatic scores for {', '.join(candidates)}",
                       hint="use --strategy random or stratified:FIELD, or score the run first")


# strategies ----------------------------------------------------------------------------------------

Unit = tuple[_Example, tuple[str, ...]]


def _normal(text: str) -> str:
    return " ".join(text.casefold().split())


def disagreement(example: _Example, candidates: Sequence[str]) -> tuple[float, float]:
    """``(score spread, output difference)`` of an example across ``candidates``, each in [0, inf) / [0, 1].

    The score spread is the largest ``max - min`` of a metric over the candidates (metrics some
    candidate lacks are left out); the output difference is the share of candidate pairs whose
    outputs differ after whitespace and case normalisation.
    """
    metrics = set.intersection(*(set(example.scores.get(c, {})) for c in candidates)) if candidates else set()
    spread = 0.0
    for metric in metrics:
        values = [example.scores[c][metric] for c in candidates]
        numbers = [v for v in values if v is not None]
        if len(numbers) == len(values):
            spread = max(spread, max(numbers) - min(numbers))
    outputs = [_normal(example.outputs.get(c, "")) for c in candidates]
    pairs = [(a, b) for i, a in enumerate(outputs) for b in outputs[i + 1:]]
    differ = sum(a != b for a, b in pairs) / len(pairs) if pairs else 0.0
    return spread, differ


def _shuffled(units: list[Unit], rng: random.Random) -> list[Unit]:
    order = list(units)
    rng.shuffle(order)
    return order


def _by_disagreement(units: list[Unit], measured: Sequence[str], rng: random.Random) -> list[Unit]:
    """Units with the most disagreeing examples first (ties in seeded random order; a stable sort keeps it)."""
    keys = {id(ex): disagreement(ex, measured) for ex, _ in units}
    return sorted(_shuffled(units, rng), key=lambda unit: keys[id(unit[0])], reverse=True)


def _by_low_score(units: list[Unit], metric: str, rng: random.Random, run_id: str) -> list[Unit]:
    """Units by ascending ``metric`` of their candidates (the lowest of them), missing scores last."""
    if not any(metric in ex.scores.get(c, {}) for ex, shown in units for c in shown):
        names = sorted({m for ex, shown in units for c in shown for m in ex.scores.get(c, {})})
        raise HarnessError(f"run {run_id} has no scores of metric {metric!r}",
                           hint=f"metrics with scores: {', '.join(names) or '(none)'}")

    def key(unit: Unit) -> tuple[bool, float]:
        values = [unit[0].scores.get(c, {}).get(metric) for c in unit[1]]
        numbers = [v for v in values if v is not None]
        return (not numbers, min(numbers) if numbers else 0.0)

    return sorted(_shuffled(units, rng), key=key)


def _stratified(units: list[Unit], field_name: str, rng: random.Random, n: int, run_id: str) -> list[Unit]:
    """Up to ``n`` units taken round robin over the values of metadata ``field_name``, then shuffled."""
    from harness.data.schema import MISSING, get_field, stratum_label

    strata: dict[str, list[Unit]] = {}
    for unit in units:
        value = get_field({"id": unit[0].id, "metadata": unit[0].metadata}, field_name)
        strata.setdefault(stratum_label(value), []).append(unit)
    if set(strata) == {MISSING}:
        known = sorted({k for ex, _ in units for k in ex.metadata})
        raise HarnessError(f"run {run_id}: no example has metadata field {field_name!r}",
                           hint=f"metadata fields: {', '.join(known) or '(none)'}")
    pools = {name: _shuffled(pool, rng) for name, pool in sorted(strata.items())}
    picked: list[Unit] = []
    while len(picked) < n and any(pools.values()):
        for pool in pools.values():
            if pool and len(picked) < n:
                picked.append(pool.pop())
    return _shuffled(picked, rng)
