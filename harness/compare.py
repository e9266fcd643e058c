"""Load predictions and run folders, and compare candidates (the logic behind ``harness score``/``compare``).

Sources ``harness compare`` accepts: a run id or ``latest`` (every candidate of the run), ``RUN:candidate``
(one candidate of a run) or a predictions file (``harness score`` format; its name without ``.jsonl``
is the candidate's name and ``test`` its dataset). Scores come from the run's ``scores/`` files when
they hold the metric, else they are computed from the predictions.

Baseline: ``baseline=`` when given; otherwise the best prompted baseline (a run candidate without an
adapter whose model is not a workspace model, or whose name starts with ``base``), best by the first
metric on the first non-``general`` dataset; otherwise the last source listed. Every other candidate
is compared with it on every dataset and metric, all p-values adjusted together. When a ``general``
dataset is present, each candidate also gets a non-inferiority (forgetting) check against it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import DataError, HarnessError
from harness.metrics.base import Example

DEFAULT_METRICS = ("exact_match", "rougeL")
LOWER_IS_BETTER = {"latency", "cost"}
NEUTRAL = {"length_ratio"}
_FLOAT_FIELDS = ("latency_s", "cost")
_INT_FIELDS = ("prompt_tokens", "completion_tokens")


# ----------------------------------------------------------------------------------- loading
def load_predictions(path: str | Path) -> list[Example]:
    """Read a predictions JSONL file into :class:`Example` objects, validating every line.

    Raises :class:`DataError` naming the file and line for a missing file, invalid JSON, a missing or
    non-string ``prediction``/``reference``, bad optional fields or a duplicate ``id``.
    """
    from harness.io import read_jsonl

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
                                hint="every line needs \"prediction\" and \"reference\" strings")
            if not isinstance(row[name], str):
                raise DataError(f"{where}: field {name!r} must be a string, got {type(row[name]).__name__}")
        example_id = str(row.get("id", number))
        if example_id in seen:
            raise DataError(f"{where}: duplicate id {example_id!r} (first on line {seen[example_id]})",
                            hint="give every line a unique \"id\"")
        seen[example_id] = number
        metadata = row.get("metadata") or {}
        schema = row.get("schema")
        if not isinstance(metadata, dict):
            raise DataError(f"{where}: field 'metadata' must be an object")
        if schema is not None and not isinstance(schema, dict):
            raise DataError(f"{where}: field 'schema' must be a JSON Schema object")
        extra: dict[str, Any] = {}
        for name in _FLOAT_FIELDS + _INT_FIELDS:
            value = row.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise DataError(f"{where}: field {name!r} must be a number, got {value!r}")
            extra[name] = value
        label = row.get("label", metadata.get("label"))
        examples.append(Example(id=example_id, prediction=row["prediction"], reference=row["reference"],
                                schema=schema or metadata.get("schema"), label=None if label is None else str(label),
                                metadata=metadata, **extra))
    if not examples:
        raise DataError(f"predictions file {path} has no lines", hint="generate predictions first (harness eval)")
    return examples


def parse_metric_names(values: Sequence[str] | None) -> list[str]:
    """Split ``--metrics a,b`` / repeated ``--metric`` values; unknown names raise listing the choices."""
    from harness.metrics.base import available_metrics

    names = [n.strip() for v in values or () for n in v.split(",") if n.strip()]
    known = available_metrics()
    for name in names:
        if name not in known:
            raise HarnessError(f"unknown metric {name!r}", hint=f"choose from: {', '.join(known)}")
    return list(dict.fromkeys(names))


@dataclass
class CandidateScores:
    """One candidate's per-example scores: ``datasets[name] = (ids, {metric: values}, metadata)``."""

    name: str
    source: str
    prompted: bool = False
    datasets: dict[str, tuple[list[str], dict[str, list[float | None]], list[dict[str, Any]]]] = field(default_factory=dict)


def runs_dir(workspace_root: Path) -> Path:
    """The runs folder of a workspace."""
    return Path(workspace_root) / "runs"


def resolve_run(workspace_root: Path, ref: str) -> Path:
    """The folder of run ``ref`` (an id, or ``latest`` = the newest run id); raises listing the runs."""
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
    from harness.io import read_jsonl

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


def load_run_candidates(run_dir: Path, metrics: Sequence[str], only: str | None = None,
                        settings: Mapping[str, Mapping[str, Any]] | None = None) -> list[CandidateScores]:
    """Every candidate (or ``only``) of a run folder with scores for ``metrics`` on each dataset."""
    pred_root = run_dir / "predictions"
    names = sorted(p.name for p in pred_root.iterdir() if p.is_dir()) if pred_root.is_dir() else []
    suite = _read_json(run_dir / "suite.json")
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
                               prompted=_is_prompted(spec, workspace_root) or name.startswith("base"))
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
    """The metric names a run's ``suite.json`` lists (strings or ``{"name": ...}`` entries)."""
    names = []
    for entry in _read_json(run_dir / "suite.json").get("metrics", []) or []:
        name = entry.get("name") if isinstance(entry, dict) else entry
        if isinstance(name, str):
            names.append(name)
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


# -------------------------------------------------------------------------------- comparison
def metric_kinds(metrics: Sequence[str]) -> dict[str, str]:
    """``{metric: "binary" | "continuous"}`` from the registry."""
    from harness.metrics.base import get_metric

    return {m: get_metric(m).kind for m in metrics}


def higher_is_better(metric_name: str) -> bool | None:
    """True for quality metrics, False for latency/cost, None for length_ratio (closer to 1 is better)."""
    if metric_name in LOWER_IS_BETTER:
        return False
    return None if metric_name in NEUTRAL else True


def align(candidates: Sequence[CandidateScores], metrics: Sequence[str]):
    """Per-example scores aligned by id: ``({cand: {(dataset, metric): values}}, {dataset: n_dropped})``.

    Only ids every candidate has on a dataset are kept (in the first candidate's order).
    """
    datasets = list(dict.fromkeys(d for c in candidates for d in c.datasets))
    datasets.sort(key=lambda d: d == "general")  # the forgetting set last
    aligned: dict[str, dict[tuple[str, str], list[float | None]]] = {c.name: {} for c in candidates}
    dropped: dict[str, int] = {}
    for dataset in datasets:
        having = [c for c in candidates if dataset in c.datasets]
        if len(having) < 2:
            continue
        common = set(having[0].datasets[dataset][0])
        for c in having[1:]:
            common &= set(c.datasets[dataset][0])
        order = [i for i in having[0].datasets[dataset][0] if i in common]
        dropped[dataset] = max(len(c.datasets[dataset][0]) for c in having) - len(order)
        for c in having:
            ids, scores, _meta = c.datasets[dataset]
            position = {i: k for k, i in enumerate(ids)}
            for m in metrics:
                if m in scores:
                    aligned[c.name][(dataset, m)] = [scores[m][position[i]] for i in order]
    return aligned, dropped


def _mean(values: Sequence[float | None]) -> float:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else float("nan")


def choose_baseline(candidates: Sequence[CandidateScores], aligned: Mapping[str, Mapping[tuple[str, str], Sequence[float | None]]],
                    metrics: Sequence[str], baseline: str | None = None) -> str:
    """The baseline's name: explicit, else the best prompted baseline, else the last candidate."""
    names = [c.name for c in candidates]
    if baseline is not None:
        if baseline not in names:
            raise HarnessError(f"--baseline {baseline!r} is not one of the candidates", hint=f"choose from {', '.join(names)}")
        return baseline
    prompted = [c.name for c in candidates if c.prompted]
    if not prompted or len(prompted) == len(names) and len(names) == 2:
        return names[-1]
    datasets = [d for d, _m in next(iter(aligned.values())).keys()] if aligned else []
    main = next((d for d in dict.fromkeys(datasets) if d != "general"), datasets[0] if datasets else None)
    metric_name = metrics[0]
    sign = -1.0 if higher_is_better(metric_name) is False else 1.0

    def score(name: str) -> float:
        value = _mean(aligned[name].get((main, metric_name), []))
        return -math.inf if math.isnan(value) else sign * value

    return max(prompted, key=score)


def fmt(value: float | None, signed: bool = False, digits: int = 3) -> str:
    """Format a number for verdicts ("n/a" for None/NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def verdict(row: Any, alpha: float) -> str:
    """Plain-language verdict of one :class:`harness.stats.ranking.ComparisonRow`."""
    r = row.result
    where = f"on {row.metric}" + (f" ({row.dataset})" if row.dataset != "test" else "")
    numbers = f"{fmt(r.diff, True)} [{fmt(r.ci_low, True)}, {fmt(r.ci_high, True)}], adjusted p={row.adjusted_p:.3g}" \
        if not math.isnan(row.adjusted_p) else f"{fmt(r.diff, True)}"
    if row.direction == "better":
        return f"{row.candidate} beats {row.baseline} {where} by {numbers}"
    if row.direction == "worse":
        return f"{row.candidate} is worse than {row.baseline} {where} by {numbers}"
    if row.direction == "differs":
        return f"{row.candidate} differs from {row.baseline} {where} by {numbers}"
    if row.direction == "n/a":
        return f"{row.candidate} vs {row.baseline} {where}: not computed ({r.error})"
    return f"no significant difference between {row.candidate} and {row.baseline} {where}: {numbers} (alpha={alpha:g})"


@dataclass(frozen=True)
class ComparisonReport:
    """What ``harness compare`` shows: comparisons with verdicts, ranking, forgetting checks."""

    baseline: str
    metrics: tuple[str, ...]
    correction: str
    alpha: float
    ranking: Any  # harness.stats.ranking.RankingResult
    forgetting: tuple[tuple[str, str, Any], ...]  # (candidate, metric, NonInferiorityResult)
    dropped: Mapping[str, int]
    margin: float

    def verdicts(self) -> list[str]:
        """One plain-language sentence per comparison."""
        return [verdict(row, self.alpha) for row in self.ranking.comparisons]

    def headline(self) -> str:
        """The most useful single sentence: the biggest significant win, else the closest call."""
        rows = list(self.ranking.comparisons)
        wins = [r for r in rows if r.direction == "better" and r.dataset != "general"]
        if wins:
            best = min(wins, key=lambda r: (r.adjusted_p, -abs(r.result.diff)))
            return verdict(best, self.alpha)
        rows = [r for r in rows if r.dataset != "general"] or rows
        if not rows:
            return "nothing to compare"
        return verdict(min(rows, key=lambda r: (math.inf if math.isnan(r.adjusted_p) else r.adjusted_p)), self.alpha)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (``harness compare --json``)."""
        def clean(v: Any) -> Any:
            return None if isinstance(v, float) and (math.isnan(v) or math.isinf(v)) else v

        comparisons = [{"dataset": r.dataset, "metric": r.metric, "candidate": r.candidate, "baseline": r.baseline,
                        **{k: clean(v) if not isinstance(v, list) else [clean(x) for x in v] for k, v in r.result.as_dict().items()},
                        "adjusted_p": clean(r.adjusted_p), "direction": r.direction, "verdict": verdict(r, self.alpha)}
                       for r in self.ranking.comparisons]
        ranking = [{"dataset": e.dataset, "metric": e.metric, "rank": e.rank, "candidate": e.candidate,
                    "mean": clean(e.interval.estimate), "ci": e.interval.as_list(), "n": e.interval.n,
                    "tied_with_best": e.tied_with_best} for e in self.ranking.ranking]
        forgetting = [{"candidate": c, "baseline": self.baseline, "metric": m, "passed": f.passed, "diff": clean(f.diff),
                       "ci": [clean(f.ci_low), clean(f.ci_high)], "margin": f.margin, "p_value": clean(f.p_value),
                       "n": f.n, "error": f.error, "status": f.status, "verdict": f.describe(c, self.baseline, m)} for c, m, f in self.forgetting]
        return {"baseline": self.baseline, "metrics": list(self.metrics), "correction": self.correction,
                "alpha": self.alpha, "comparisons": comparisons, "ranking": ranking, "forgetting": forgetting,
                "dropped_unmatched": dict(self.dropped), "headline": self.headline()}


def build_comparison(candidates: Sequence[CandidateScores], metrics: Sequence[str], baseline: str | None = None,
                     correction: str = "holm", alpha: float = 0.05, margin: float = 0.02) -> ComparisonReport:
    """Compare every candidate with the baseline on every dataset and metric (see module docstring)."""
    from harness.stats.noninferiority import noninferiority_test
    from harness.stats.ranking import compare_candidates

    if correction not in ("holm", "bh", "bonferroni", "none"):
        raise HarnessError(f"unknown correction {correction!r}", hint="choose holm or bh")
    aligned, dropped = align(candidates, metrics)
    base = choose_baseline(candidates, aligned, metrics, baseline)
    kinds = metric_kinds(metrics)
    ranking = compare_candidates(aligned, kinds, baseline=base, correction=correction, alpha=alpha,  # type: ignore[arg-type]
                                 higher_is_better={m: higher_is_better(m) for m in metrics})
    forgetting = []
    trained = [c for c in candidates if not c.prompted and c.name != base]
    for cand in trained or [c for c in candidates if c.name != base]:
        for m in metrics:
            key = ("general", m)
            if key in aligned[cand.name] and key in aligned[base] and higher_is_better(m):
                forgetting.append((cand.name, m, noninferiority_test(aligned[cand.name][key], aligned[base][key], margin, alpha)))
    return ComparisonReport(base, tuple(metrics), correction, alpha, ranking, tuple(forgetting), dropped, margin)


# ---------------------------------------------------------------------------------- demo stage
def render(report: ComparisonReport, console: Any) -> None:
    """Print the paired table, the ranking and the verdicts with rich."""
    from rich.table import Table

    table = Table(title=f"paired comparisons vs {report.baseline} ({report.correction}-adjusted)")
    for column in ("dataset", "metric", "candidate", "mean", "baseline", "diff [95% CI]", "test", "p", "adj. p"):
        table.add_column(column)
    for r in report.ranking.comparisons:
        res = r.result
        table.add_row(r.dataset, r.metric, r.candidate, fmt(res.mean_a), fmt(res.mean_b),
                      f"{fmt(res.diff, True)} [{fmt(res.ci_low, True)}, {fmt(res.ci_high, True)}]", res.test,
                      fmt(res.p_value, digits=4), fmt(r.adjusted_p, digits=4))
    console.print(table)
    ranks = Table(title="ranking (mean [95% CI]; = tied with the leader)")
    for column in ("dataset", "metric", "rank", "candidate", "mean [95% CI]", "n", "tied"):
        ranks.add_column(column)
    for e in report.ranking.ranking:
        iv = e.interval
        ranks.add_row(e.dataset, e.metric, str(e.rank), e.candidate, f"{fmt(iv.estimate)} [{fmt(iv.low)}, {fmt(iv.high)}]",
                      str(iv.n), "=" if e.tied_with_best else "")
    console.print(ranks)
    for line in report.verdicts():
        console.print(f"- {line}", markup=False)
    for cand, m, result in report.forgetting:
        console.print(f"- {result.describe(cand, report.baseline, m)}", markup=False)
    for dataset, n in report.dropped.items():
        if n:
            console.print(f"[yellow]note: {n} example(s) of {dataset} were not scored for every candidate and were left out")


def demo_stage(ctx: Any) -> None:
    """Demo: compare every candidate of the eval stage's run with the best prompted baseline."""
    run_id = ctx.artifacts.get("run_id")
    if not run_id:
        ctx.console.print("[yellow]no evaluation run from an earlier stage; skipping the comparison")
        ctx.report("comparison", "skipped (no run)")
        return
    root = Path(ctx.workspace.root)
    run_dir = resolve_run(root, str(run_id))
    metrics = suite_metrics(run_dir) or list(DEFAULT_METRICS)
    candidates, metrics = load_sources([str(run_id)], root, metrics)
    report = build_comparison(candidates, metrics)
    render(report, ctx.console)
    from harness.io import write_json

    write_json(Path(ctx.out_dir) / "comparison.json", report.as_dict())
    ctx.artifacts["comparison"] = report.as_dict()
    ctx.report("comparison", report.headline())
    for cand, m, result in report.forgetting[:3]:
        ctx.report(f"forgetting check {cand} ({m}, general)", result.status)
