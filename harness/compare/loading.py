"""Loading predictions files and run folders into per-candidate, per-example scores."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import DataError, HarnessError
from harness.io import read_jsonl
from harness.metrics.base import Example

DEFAULT_METRICS = ("exact_match", "rougeL")
_FLOAT_FIELDS = ("latency_s", "cost")
_INT_FIELDS = ("prompt_tokens", "completion_tokens")

def load_predictions(path: str | Path) -> list[Example]:
    """Read a predictions JSONL file into :class:`Example` objects, validating every line.

    Raises :class:`DataError` naming the file and line for a missing file (exit 2), and for invalid JSON, a
    missing or non-string ``prediction``/``reference``, bad optional fields or a duplicate ``id`` (bad
    data: exit 1).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"predictions file {path} not found",
                        hint="pass a JSONL file with one {\"id\", \"prediction\", \"reference\"} object per line")
    examples: list[Example] = []
    seen: dict[str, int] = {}
    for number, row in read_jsonl(path):
        where = f"{path}:{number}"
        for name in ("prediction", "reference"):
            if name not in row:
                raise DataError(f"{where}: missing field {name!r}",
                                hint="every line needs \"prediction\" and \"reference\" strings", exit_code=1)
            if not isinstance(row[name], str):
                raise DataError(f"{where}: field {name!r} must be a string, got {type(row[name]).__name__}", exit_code=1)
        example_id = str(row.get("id", number))
        if example_id in seen:
            raise DataError(f"{where}: duplicate id {example_id!r} (first on line {seen[example_id]})",
                            hint="give every line a unique \"id\"", exit_code=1)
        seen[example_id] = number
        metadata = row.get("metadata") or {}
        schema = row.get("schema")
        if not isinstance(metadata, dict):
            raise DataError(f"{where}: field 'metadata' must be an object", exit_code=1)
        if schema is not None and not isinstance(schema, dict):
            raise DataError(f"{where}: field 'schema' must be a JSON Schema object", exit_code=1)
        extra: dict[str, Any] = {}
        for name in _FLOAT_FIELDS + _INT_FIELDS:
            value = row.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise DataError(f"{where}: field {name!r} must be a number, got {value!r}", exit_code=1)
            extra[name] = value
        label = row.get("label", metadata.get("label"))
        examples.append(Example(id=example_id, prediction=row["prediction"], reference=row["reference"],
                                schema=schema or metadata.get("schema"), label=None if label is None else str(label),
                                metadata=metadata, **extra))
    if not examples:
        raise DataError(f"predictions file {path} has no lines", hint="generate predictions first (harness eval)", exit_code=1)
    return examples


def parse_metric_names(values: Sequence[str] | None) -> list[str]:
    """Split ``--metrics a,b`` / repeated ``--metric`` values; returns the names, each once.

    Checked by :func:`harness.metrics.resolve_metrics` (the rule ``harness eval`` applies to a suite):
    an unknown name raises :class:`ConfigError` listing the choices.
    """
    from harness.metrics.base import resolve_metrics

    names = list(dict.fromkeys(n.strip() for v in values or () for n in v.split(",") if n.strip()))
    return [spec.name for spec in resolve_metrics(names, field_name="")]


@dataclass
class CandidateScores:
    """One candidate's per-example scores: ``datasets[name] = (ids, {metric: values}, metadata)``."""

    name: str
    source: str
    prompted: bool = False
    training_log: Path | None = None
    datasets: dict[str, tuple[list[str], dict[str, list[float | None]], list[dict[str, Any]]]] = field(default_factory=dict)


def runs_dir(workspace_root: Path) -> Path:
    """The runs folder of a workspace."""
    return Path(workspace_root) / "runs"


def resolve_run(workspace_root: Path, ref: str) -> Path:
    """The folder of run ``ref`` (an id, ``latest`` = the newest run id, or a run folder's path).

    Raises :class:`HarnessError` listing the known runs when there is no such run.
    """
    if Path(ref).is_dir() and (Path(ref) / "predictions").is_dir():  # a run folder given by path
        return Path(ref).resolve()
    folder = runs_dir(workspace_root)
    runs = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    if ref == "latest":
        with_predictions = [r for r in runs if (folder / r / "predictions").is_dir()]
        if not with_predictions:
            raise HarnessError(f"no runs in {folder}", hint="run `harness eval SUITE` first")
        return folder / with_predictions[-1]
    if ref in runs:
        return folder / ref
    hint = f"known runs: {', '.join(runs[-5:])} (or `latest`)" if runs else "run `harness eval SUITE` first"
    raise HarnessError(f"no run or predictions file named {ref!r}", hint=hint)


def _scores_from_file(path: Path, ids: list[str], metrics: Sequence[str]) -> dict[str, list[float | None]] | None:
    if not path.is_file():
        return None
    rows = {str(row.get("id")): row for _n, row in read_jsonl(path)}
    if not all(i in rows for i in ids) or not all(all(m in rows[i] for m in metrics) for i in ids):
        return None
    return {m: [None if rows[i][m] is None else float(rows[i][m]) for i in ids] for m in metrics}


def _score(examples: list[Example], metrics: Sequence[str],
           settings: Mapping[str, Mapping[str, Any]] | None) -> dict[str, list[float | None]]:
    from harness.metrics.base import score_examples

    return {name: list(out.per_example) for name, out in score_examples(examples, list(metrics), settings).items()}


def _is_prompted(spec: Mapping[str, Any], workspace_root: Path) -> bool:
    if spec.get("adapter"):
        return False
    model = str(spec.get("model", ""))
    if model and (Path(workspace_root) / "models" / model).exists():
        return False
    return True


def _training_log(spec: Mapping[str, Any], workspace_root: Path) -> Path | None:
    """The trainer's ``metrics.jsonl`` of a candidate's model or adapter folder, when there is one."""
    for value in (spec.get("adapter"), spec.get("model")):
        if not value:
            continue
        for folder in (Path(str(value)), Path(workspace_root) / "models" / str(value)):
            if (folder / "metrics.jsonl").is_file():
                return folder / "metrics.jsonl"
    return None


def recorded_metric_settings(suite_json: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{metric: settings}`` of the ``{name: {setting: value}}`` entries of a run's ``suite.json``."""
    found: dict[str, dict[str, Any]] = {}
    for entry in suite_json.get("metrics", []) or []:
        if isinstance(entry, Mapping) and len(entry) == 1:
            name, values = next(iter(entry.items()))
            if isinstance(name, str) and isinstance(values, Mapping) and values:
                found[name] = dict(values)
    return found


def load_run_candidates(run_dir: Path, metrics: Sequence[str], only: str | None = None,
                        settings: Mapping[str, Mapping[str, Any]] | None = None) -> list[CandidateScores]:
    """Every candidate (or ``only``) of a run folder with scores for ``metrics`` on each dataset.

    A metric the run did not score is computed from its predictions with the settings the run's
    suite recorded for it (``settings`` overrides them).
    """
    pred_root = run_dir / "predictions"
    names = sorted(p.name for p in pred_root.iterdir() if p.is_dir()) if pred_root.is_dir() else []
    suite = _read_json(run_dir / "suite.json")
    settings = {**recorded_metric_settings(suite), **(settings or {})}
    specs = {c.get("name"): c for c in suite.get("candidates", []) if isinstance(c, dict)}
    order = [n for n in specs if n in names] + [n for n in names if n not in specs]
    if only is not None:
        if only not in names:
            raise HarnessError(f"run {run_dir.name} has no candidate {only!r}",
                               hint=f"candidates: {', '.join(order) or '(none)'}")
        order = [only]
    workspace_root = run_dir.parent.parent
    loaded = []
    for name in order:
        spec = specs.get(name, {})
        cand = CandidateScores(name, f"{run_dir.name}:{name}",
                               prompted=_is_prompted(spec, workspace_root) or name.startswith("base"),
                               training_log=_training_log(spec, workspace_root))
        for pred_file in sorted((pred_root / name).glob("*.jsonl")):
            examples = load_predictions(pred_file)
            ids = [e.id for e in examples]
            scores = _scores_from_file(run_dir / "scores" / name / pred_file.name, ids, metrics)
            if scores is None:
                scores = _score(examples, metrics, settings)
            cand.datasets[pred_file.stem] = (ids, scores, [dict(e.metadata) for e in examples])
        loaded.append(cand)
    return loaded


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno})") from None


def suite_metrics(run_dir: Path) -> list[str]:
    """The metrics a run scored: ``summary.json``'s ``metrics`` (what the runner computed) when present,
    else the names ``suite.json`` lists (strings or ``{name: {setting: value}}`` entries)."""
    scored = _read_json(run_dir / "summary.json").get("metrics")
    if isinstance(scored, list) and scored and all(isinstance(m, str) for m in scored):
        return list(scored)
    names = []
    for entry in _read_json(run_dir / "suite.json").get("metrics", []) or []:
        if isinstance(entry, dict) and len(entry) == 1:  # {name: {setting: value}}
            entry = next(iter(entry))
        elif isinstance(entry, dict):
            entry = entry.get("name")
        if isinstance(entry, str):
            names.append(entry)
    return names


def load_sources(sources: Sequence[str], workspace_root: Path, metrics: Sequence[str] | None = None,
                 settings: Mapping[str, Mapping[str, Any]] | None = None) -> tuple[list[CandidateScores], list[str]]:
    """Resolve ``harness compare`` arguments to candidates; returns ``(candidates, metrics used)``."""
    if not sources:
        raise HarnessError("nothing to compare", hint="pass run ids, `latest`, RUN:candidate or predictions files")
    chosen = list(metrics or [])
    if not chosen:
        for source in sources:
            path = Path(source)
            if not path.is_file():
                run_ref = source.rsplit(":", 1)[0] if ":" in source and not Path(source).exists() else source
                chosen = suite_metrics(resolve_run(workspace_root, run_ref))
            if chosen:
                break
    chosen = chosen or list(DEFAULT_METRICS)
    from harness.metrics.base import resolve_metrics

    resolve_metrics(chosen, field_name="")  # the same check as eval and score, before anything is loaded
    candidates: list[CandidateScores] = []
    for source in sources:
        path = Path(source)
        if path.is_file():
            examples = load_predictions(path)
            cand = CandidateScores(path.name.removesuffix(".jsonl"), str(path), prompted=path.name.startswith("base"))
            cand.datasets["test"] = ([e.id for e in examples], _score(examples, chosen, settings),
                                     [dict(e.metadata) for e in examples])
            candidates.append(cand)
        elif ":" in source:
            run_ref, name = source.rsplit(":", 1)
            candidates.extend(load_run_candidates(resolve_run(workspace_root, run_ref), chosen, name, settings))
        else:
            candidates.extend(load_run_candidates(resolve_run(workspace_root, source), chosen, None, settings))
    names = [c.name for c in candidates]
    for cand in candidates:
        if names.count(cand.name) > 1:  # same label twice: a file's folder/name, a run's RUN:candidate
            path = Path(cand.source)
            cand.name = f"{path.parent.name}/{cand.name}" if path.is_file() else cand.source
    if len({c.name for c in candidates}) < 2:
        raise HarnessError("need at least two candidates to compare",
                           hint="pass a run with several candidates, or several RUN:candidate / predictions files")
    return candidates, chosen
