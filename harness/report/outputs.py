"""The Compare outputs view as data: per example, every chosen candidate's output and scores.

:func:`load_outputs` reads one run's dataset from the store (``run_examples``) and the inputs from the
eval set the run read; the filters (:func:`disagrees`, :func:`worst_first`, :func:`in_slice`,
:func:`matches_text`, combined by :func:`filter_rows`), :func:`paginate` and the diff
(:func:`diff_html`) are pure functions over those rows. No Streamlit here.
"""

from __future__ import annotations

import difflib
import html
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

PAGE_SIZE = 20


@dataclass(frozen=True)
class RunChoice:
    """A run the page can show: its id, a label for a picker, and what it holds."""

    id: str
    label: str
    datasets: tuple[str, ...]
    candidates: tuple[str, ...]


@dataclass(frozen=True)
class OutputRow:
    """One example of a dataset: the input, the reference and each candidate's output and scores."""

    example_id: str
    messages: tuple[dict[str, Any], ...]
    reference: str
    metadata: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    scores: dict[str, dict[str, float | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class OutputsTable:
    """The examples of ``dataset`` in run ``run_id`` that every one of ``candidates`` answered."""

    run_id: str
    dataset: str
    candidates: tuple[str, ...]
    metrics: tuple[str, ...]
    rows: tuple[OutputRow, ...]


@dataclass(frozen=True)
class OutputFilter:
    """What to show: disagreements only, worst ``sort_metric`` first, one slice, a text search."""

    disagree: bool = False
    disagree_metric: str | None = None
    sort_metric: str | None = None
    sort_candidate: str | None = None
    higher_is_better: bool = True
    slice_field: str | None = None
    slice_value: str | None = None
    search: str = ""


# loading ---------------------------------------------------------------------------------------------

def run_choices(engine: Engine) -> list[RunChoice]:
    """Every run with per-example rows in the store, newest first, with its datasets and candidates."""
    from sqlalchemy import select

    from harness.store.base import transaction
    from harness.store.runs import EvalRun, RunExample

    with transaction(engine) as session:
        pairs = session.execute(select(RunExample.run_id, RunExample.dataset, RunExample.candidate).distinct()).all()
        runs = list(session.execute(select(EvalRun.id, EvalRun.suite_name, EvalRun.status, EvalRun.suite_json)
                                    .order_by(EvalRun.started_at.desc(), EvalRun.id.desc())).all())
    found: dict[str, tuple[set[str], set[str]]] = {}
    for run_id, dataset, candidate in pairs:
        datasets, candidates = found.setdefault(run_id, (set(), set()))
        datasets.add(dataset)
        candidates.add(candidate)
    choices = []
    for run_id, suite_name, status, suite_json in runs:
        if run_id not in found:
            continue
        datasets, candidates = found[run_id]
        suite = suite_json or {}
        order = [c.get("name") for c in suite.get("candidates", []) if isinstance(c, dict)]
        dataset_order = list(suite.get("datasets", {}) or {})
        label = f"{run_id} ({suite_name}{'' if status == 'completed' else ', ' + status})"
        choices.append(RunChoice(run_id, label, tuple(_ordered(datasets, dataset_order)),
                                 tuple(_ordered(candidates, order))))
    return choices


def _ordered(names: set[str], order: Sequence[Any]) -> list[str]:
    return [n for n in order if n in names] + sorted(names - set(order))


def load_outputs(engine: Engine, run_id: str, dataset: str, candidates: Sequence[str]) -> OutputsTable:
    """The examples of ``dataset`` that all ``candidates`` of run ``run_id`` answered, in the first
    candidate's order, with inputs read from the eval set the run recorded (empty when it is gone).

    Raises :class:`HarnessError` for an unknown run, dataset or candidate.
    """
    from harness.store.runs import get_run, run_examples

    run = get_run(engine, run_id)
    if run is None:
        raise HarnessError(f"no run {run_id!r} in the store", hint="pick a run listed by `harness runs`")
    candidates = list(dict.fromkeys(candidates))
    rows = [r for r in run_examples(engine, run.id) if r.dataset == dataset]
    known = _ordered({r.candidate for r in rows}, candidates)
    missing = [c for c in candidates if c not in known]
    if not rows or missing:
        what = f"candidate {missing[0]!r} on dataset {dataset!r}" if rows else f"dataset {dataset!r}"
        raise HarnessError(f"run {run.id} has no {what}",
                           hint=f"candidates with rows: {', '.join(known) or '(none)'}")
    by_candidate: dict[str, dict[str, Any]] = {c: {} for c in candidates}
    for row in rows:
        if row.candidate in by_candidate:
            by_candidate[row.candidate][row.example_id] = row
    first = by_candidate[candidates[0]] if candidates else {}
    shared = [i for i in first if all(i in by_candidate[c] for c in candidates)]
    messages = _dataset_messages(run.suite_json or {}, dataset)
    table_rows = []
    metrics: dict[str, None] = {}
    for example_id in shared:
        base = first[example_id]
        scores = {}
        for cand in candidates:
            values = {k: _number(v) for k, v in (by_candidate[cand][example_id].scores or {}).items()
                      if v is None or isinstance(v, int | float)}
            metrics.update(dict.fromkeys(values))
            scores[cand] = values
        table_rows.append(OutputRow(example_id=example_id, messages=messages.get(example_id, ()),
                                    reference=base.reference, metadata=dict(base.metadata_json or {}),
                                    outputs={c: by_candidate[c][example_id].prediction for c in candidates},
                                    scores=scores))
    return OutputsTable(run.id, dataset, tuple(candidates), tuple(metrics), tuple(table_rows))


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _dataset_messages(suite_json: Mapping[str, Any], dataset: str) -> dict[str, tuple[dict[str, Any], ...]]:
    """``{example id: conversation before the answer}`` from the eval set a run read ({} when unreadable)."""
    from harness.errors import DataError
    from harness.runs.prompts import load_dataset

    info = ((suite_json.get("resolved") or {}).get("datasets") or {}).get(dataset)
    raw = info.get("path") if isinstance(info, Mapping) else (suite_json.get("datasets") or {}).get(dataset)
    if not isinstance(raw, str) or not Path(raw).is_file():
        return {}
    try:
        return {item.id: tuple(dict(m) for m in item.context) for item in load_dataset(Path(raw))}
    except DataError:
        return {}


# filters ---------------------------------------------------------------------------------------------

def _normal(text: str) -> str:
    return " ".join(text.casefold().split())


def disagrees(row: OutputRow, candidates: Sequence[str], metric: str | None = None) -> bool:
    """Whether the candidates disagree on ``row``: their ``metric`` values differ (a missing value counts
    as a value), or, without a metric, their outputs differ after whitespace and case normalisation."""
    if metric is not None:
        return len({row.scores.get(c, {}).get(metric) for c in candidates}) > 1
    return len({_normal(row.outputs.get(c, "")) for c in candidates}) > 1


def worst_first(rows: Sequence[OutputRow], metric: str, candidates: Sequence[str],
                higher_is_better: bool = True) -> list[OutputRow]:
    """``rows`` by the worst ``metric`` value among ``candidates`` (lowest first; highest first when lower
    is better); rows without a value last, ties in their original order."""
    def key(row: OutputRow) -> tuple[bool, float]:
        values = [v for c in candidates if (v := row.scores.get(c, {}).get(metric)) is not None]
        if not values:
            return True, 0.0
        return False, min(values) if higher_is_better else -max(values)

    return sorted(rows, key=key)


def slice_label(row: OutputRow, field_name: str) -> str:
    """The slice ``row`` belongs to for metadata field ``field_name`` (``(missing)`` without it)."""
    from harness.data.schema import get_field, stratum_label

    return stratum_label(get_field({"id": row.example_id, "metadata": row.metadata}, field_name))


def slice_fields(rows: Sequence[OutputRow], max_values: int = 50) -> list[str]:
    """Metadata fields usable as slices: scalar values, at least two and at most ``max_values`` distinct."""
    values: dict[str, set[str]] = {}
    for row in rows:
        for name, value in row.metadata.items():
            if value is None or isinstance(value, str | int | float | bool):
                values.setdefault(name, set()).add(str(value))
    return sorted(name for name, seen in values.items() if 2 <= len(seen) <= max_values)


def slice_values(rows: Sequence[OutputRow], field_name: str) -> list[str]:
    """The distinct slices of ``field_name`` over ``rows``, sorted."""
    return sorted({slice_label(row, field_name) for row in rows})


def in_slice(row: OutputRow, field_name: str, value: str) -> bool:
    """Whether ``row``'s metadata field ``field_name`` is ``value`` (as :func:`slice_label` writes it)."""
    return slice_label(row, field_name) == value


def matches_text(row: OutputRow, query: str) -> bool:
    """Whether ``query`` (case-insensitive; every word of it) occurs in the row's id, input, reference
    or any output. An empty query matches everything."""
    words = query.casefold().split()
    if not words:
        return True
    haystack = "\n".join([row.example_id, row.reference, *row.outputs.values(),
                          *(str(m.get("content", "")) for m in row.messages)]).casefold()
    return all(word in haystack for word in words)


def filter_rows(table: OutputsTable, chosen: OutputFilter) -> list[OutputRow]:
    """The rows of ``table`` that pass ``chosen`` (slice, search, disagreement), worst first when a sort
    metric is set, else in the table's order."""
    candidates = table.candidates
    rows = [row for row in table.rows
            if (not chosen.slice_field or chosen.slice_value is None
                or in_slice(row, chosen.slice_field, chosen.slice_value))
            and matches_text(row, chosen.search)
            and (not chosen.disagree or disagrees(row, candidates, chosen.disagree_metric))]
    if chosen.sort_metric:
        sort_by = [chosen.sort_candidate] if chosen.sort_candidate else list(candidates)
        rows = worst_first(rows, chosen.sort_metric, sort_by, chosen.higher_is_better)
    return rows


def paginate(rows: Sequence[OutputRow], page: int, size: int = PAGE_SIZE) -> tuple[list[OutputRow], int]:
    """``(the rows of 1-based page ``page``, the number of pages)``; a page out of range is clamped."""
    if size < 1:
        raise HarnessError(f"page size must be at least 1 (got {size})")
    pages = max(1, math.ceil(len(rows) / size))
    page = min(max(1, page), pages)
    return list(rows[(page - 1) * size:page * size]), pages


# diff ------------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"\w+|\s+|[^\w\s]", re.UNICODE)
INSERT_STYLE = "background-color: rgba(33, 195, 84, 0.28); text-decoration: none;"
DELETE_STYLE = "background-color: rgba(255, 75, 75, 0.28); text-decoration: line-through;"


def diff_html(reference: str, output: str) -> str:
    """``output`` as escaped HTML with its differences from ``reference`` marked by word: text the output
    adds in ``<ins>``, reference text it lacks in ``<del>`` (both styled inline), the rest as is.

    Every piece of text goes through :func:`html.escape`, so markup in outputs shows as text.
    """
    ref_tokens, out_tokens = _TOKEN.findall(reference), _TOKEN.findall(output)
    matcher = difflib.SequenceMatcher(None, ref_tokens, out_tokens, autojunk=False)
    parts = []
    for op, r0, r1, o0, o1 in matcher.get_opcodes():
        if op == "equal":
            parts.append(html.escape("".join(out_tokens[o0:o1])))
            continue
        if op in ("delete", "replace"):
            parts.append(f'<del style="{DELETE_STYLE}">{html.escape("".join(ref_tokens[r0:r1]))}</del>')
        if op in ("insert", "replace"):
            parts.append(f'<ins style="{INSERT_STYLE}">{html.escape("".join(out_tokens[o0:o1]))}</ins>')
    return "".join(parts)


def text_block_html(inner: str) -> str:
    """``inner`` (already escaped HTML) in a ``<pre>`` block, a raw HTML block for Markdown (blank lines
    inside do not end it, Markdown syntax inside is not interpreted), wrapping lines in a styled span
    (Streamlit's Markdown drops the attributes of ``<pre>`` itself)."""
    return f'<pre><span style="white-space: pre-wrap; overflow-wrap: anywhere;">{inner}</span></pre>'


def format_messages(messages: Sequence[Mapping[str, Any]]) -> str:
    """A conversation as plain text: ``role: content`` per message, separated by blank lines."""
    return "\n\n".join(f"{m.get('role', '?')}: {m.get('content', '')}" for m in messages)


def format_scores(scores: Mapping[str, float | None], metrics: Sequence[str]) -> str:
    """``metric value`` pairs of one output (``-`` for a missing value), joined by `` · ``."""
    return " · ".join(f"{m} {'-' if scores.get(m) is None else f'{scores[m]:.3g}'}" for m in metrics)


def higher_is_better(metric: str) -> bool:
    """Whether a higher ``metric`` is better, as the metric declares (True for an unknown metric or one
    without a direction, so "worst first" means lowest first)."""
    from harness.errors import ConfigError
    from harness.metrics.base import metric_info

    try:
        return metric_info(metric).higher_is_better is not False
    except ConfigError:
        return True
