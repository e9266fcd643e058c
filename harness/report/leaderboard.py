"""The leaderboard of one run and dataset, as data: intervals, significance, forgetting, slices, cost.

Everything comes from what ``harness eval`` wrote and what ``harness compare`` computes, read for the
chosen run only:

- :func:`leaderboard_runs`: the runs in the store (newest first) whose folder has a ``summary.json``.
- :func:`metric_frame`: candidates x metrics, the mean and 95% interval the runner recorded in
  ``summary.json`` (:func:`harness.stats.summary.metric_summary`), prompted baselines marked.
- :func:`load_candidates` + :func:`comparison`: the run's per-example scores and
  :func:`harness.compare.build_comparison` on them (paired tests against a baseline, all p-values of the
  run corrected together, the forgetting check on ``general``), exactly what ``harness compare RUN`` says;
  :func:`significance_frame` and :func:`forgetting_frame` flatten it for charts.
- :func:`slice_fields` / :func:`slice_frame`: the per-slice breakdown by any metadata field.
- :func:`usage_frame`: cost per query and latency from the predictions files.

No Streamlit here; pandas is imported inside the functions that return DataFrames.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import DataError

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.engine import Engine

    from harness.compare import CandidateScores, ComparisonReport

#: Metrics shown in the cost and latency section rather than among the quality metrics.
USAGE_METRICS = ("latency", "cost")
#: A metadata field is offered for slicing when it takes between 2 and this many distinct values.
MAX_SLICE_VALUES = 50
PROMPTED = "prompted baseline"
TRAINED = "trained"


@dataclass(frozen=True)
class RunChoice:
    """A run the leaderboard can show: its id, suite, status, start time, candidates and datasets."""

    id: str
    suite: str
    status: str
    started: str
    candidates: tuple[str, ...]
    datasets: tuple[str, ...]

    def label(self) -> str:
        """The run as a select box shows it: ``id · suite · N candidates``."""
        status = "" if self.status == "completed" else f" · {self.status}"
        return f"{self.id} · {len(self.candidates)} candidates{status}"


def run_folder(workspace_root: str | Path, run_id: str) -> Path:
    """The folder of run ``run_id`` in the workspace (``<root>/runs/<id>``; the store's ``run_dir`` may
    point at the folder the workspace was copied from)."""
    from harness.compare import resolve_run

    return resolve_run(Path(workspace_root), run_id)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"cannot read {path}: {exc}", hint="rerun `harness eval` for this run") from None
    return data if isinstance(data, dict) else {}


def _ordered_datasets(names: Sequence[str]) -> tuple[str, ...]:
    names = list(dict.fromkeys(names))
    return tuple(sorted(names, key=lambda d: d == "general"))  # the forgetting set last, as compare does


def leaderboard_runs(engine: Engine, workspace_root: str | Path) -> list[RunChoice]:
    """Return the runs of the store that have a ``summary.json`` in their folder, newest first."""
    from harness.store.runs import list_runs

    found = []
    for run in list_runs(engine):
        summary_path = Path(workspace_root) / "runs" / run.id / "summary.json"
        if not summary_path.is_file():
            continue
        summary = run.summary_json or _read_json(summary_path)
        per_candidate = summary.get("candidates") or {}
        datasets = [d for per in per_candidate.values() if isinstance(per, dict) for d in per]
        found.append(RunChoice(run.id, run.suite_name, run.status, run.started_at.isoformat(timespec="seconds"),
                               tuple(per_candidate), _ordered_datasets(datasets)))
    return found


def candidate_roles(run_dir: Path) -> dict[str, bool]:
    """Return ``{candidate: prompted}`` in suite order: True for a prompted baseline (the rule of
    ``harness compare``: no adapter and not a workspace model, or a name starting with ``base``)."""
    from harness.compare.loading import _is_prompted

    suite = _read_json(run_dir / "suite.json") if (run_dir / "suite.json").is_file() else {}
    specs = {c.get("name"): c for c in suite.get("candidates", []) if isinstance(c, dict)}
    summary = _read_json(run_dir / "summary.json")
    names = [n for n in specs if n in summary.get("candidates", {})]
    names += [n for n in summary.get("candidates", {}) if n not in names]
    workspace_root = run_dir.parent.parent
    return {n: _is_prompted(specs.get(n, {}), workspace_root) or str(n).startswith("base") for n in names}


def _direction(metric: str) -> bool | None:
    from harness.errors import HarnessError
    from harness.metrics.base import metric_info

    try:
        return metric_info(metric).higher_is_better
    except HarnessError:  # a plug-in metric this process has not registered: assume higher is better
        return True


def metric_frame(run_dir: Path, dataset: str) -> pd.DataFrame:
    """Return one row per candidate x quality metric on ``dataset`` from ``summary.json``.

    Columns: ``candidate, metric, mean, ci_low, ci_high, n, method, prompted, role, higher_is_better``
    (``role`` is "prompted baseline" or "trained"; latency and cost are in :func:`usage_frame`).
    """
    import pandas as pd

    summary = _read_json(run_dir / "summary.json")
    roles = candidate_roles(run_dir)
    rows = []
    for cand, prompted in roles.items():
        for metric, entry in (summary["candidates"].get(cand, {}).get(dataset) or {}).items():
            if metric in USAGE_METRICS or not isinstance(entry, dict):
                continue
            ci = entry.get("ci") or [None, None]
            rows.append({"candidate": cand, "metric": metric, "mean": _num(entry.get("mean")),
                         "ci_low": _num(ci[0]), "ci_high": _num(ci[1]), "n": int(entry.get("n") or 0),
                         "method": entry.get("method", ""), "prompted": prompted,
                         "role": PROMPTED if prompted else TRAINED, "higher_is_better": _direction(metric)})
    columns = ["candidate", "metric", "mean", "ci_low", "ci_high", "n", "method", "prompted", "role",
               "higher_is_better"]
    return pd.DataFrame(rows, columns=columns)


def _num(value: Any) -> float:
    return float("nan") if value is None else float(value)


def load_candidates(run_dir: Path) -> tuple[list[CandidateScores], list[str]]:
    """Return the run's candidates with per-example scores on every dataset, and the metrics it scored
    (what ``harness compare RUN`` loads: scores from ``scores/``, computed only when missing)."""
    from harness.compare import load_run_candidates, suite_metrics

    metrics = suite_metrics(run_dir)
    return load_run_candidates(run_dir, metrics), metrics


def comparison(candidates: Sequence[CandidateScores], metrics: Sequence[str], baseline: str | None = None,
               correction: str = "holm", alpha: float = 0.05, margin: float = 0.02) -> ComparisonReport:
    """Return :func:`harness.compare.build_comparison` of the candidates (the default baseline is the best
    prompted one); p-values of every dataset and metric of the run are corrected together."""
    from harness.compare import build_comparison

    return build_comparison(candidates, metrics, baseline=baseline, correction=correction, alpha=alpha,
                            margin=margin)


def significance_frame(report: ComparisonReport, dataset: str) -> pd.DataFrame:
    """Return one row per candidate x metric compared with the baseline on ``dataset``.

    Columns: ``candidate, metric, baseline, mean_candidate, mean_baseline, diff, ci_low, ci_high, p_value,
    adjusted_p, direction, test, verdict`` (``diff`` = candidate - baseline; ``direction`` after correction).
    """
    import pandas as pd

    from harness.compare import verdict

    rows = [{"candidate": r.candidate, "metric": r.metric, "baseline": r.baseline,
             "mean_candidate": r.result.mean_a, "mean_baseline": r.result.mean_b, "diff": r.result.diff,
             "ci_low": r.result.ci_low, "ci_high": r.result.ci_high, "p_value": r.result.p_value,
             "adjusted_p": r.adjusted_p, "direction": r.direction, "test": r.result.test,
             "verdict": verdict(r, report.alpha)}
            for r in report.ranking.comparisons if r.dataset == dataset]
    columns = ["candidate", "metric", "baseline", "mean_candidate", "mean_baseline", "diff", "ci_low", "ci_high",
               "p_value", "adjusted_p", "direction", "test", "verdict"]
    return pd.DataFrame(rows, columns=columns)


def headline(report: ComparisonReport, dataset: str) -> str:
    """Return the sentence that leads the significance section: the most significant win on a quality
    metric of ``dataset`` (the rule of ``harness compare``'s headline, without latency and cost), else the
    closest call."""
    from harness.compare import verdict

    rows = [r for r in report.ranking.comparisons if r.dataset == dataset and r.metric not in USAGE_METRICS]
    if not rows:
        return report.headline()
    wins = [r for r in rows if r.direction == "better"]
    if wins:
        return verdict(min(wins, key=lambda r: (r.adjusted_p, -abs(r.result.diff))), report.alpha)
    return verdict(min(rows, key=lambda r: math.inf if math.isnan(r.adjusted_p) else r.adjusted_p), report.alpha)


def forgetting_frame(report: ComparisonReport) -> pd.DataFrame:
    """Return the forgetting checks on ``general`` (empty when the run has no general set).

    Columns: ``candidate, metric, diff, ci_low, ci_high, margin, p_value, passed, status, verdict``.
    """
    import pandas as pd

    rows = [{"candidate": cand, "metric": metric, "diff": f.diff, "ci_low": f.ci_low, "ci_high": f.ci_high,
             "margin": f.margin, "p_value": f.p_value, "passed": bool(f.passed), "status": f.status,
             "verdict": f.describe(cand, report.baseline, metric)}
            for cand, metric, f in report.forgetting]
    columns = ["candidate", "metric", "diff", "ci_low", "ci_high", "margin", "p_value", "passed", "status", "verdict"]
    return pd.DataFrame(rows, columns=columns)


def _sliceable(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def slice_fields(candidates: Sequence[CandidateScores], dataset: str) -> list[str]:
    """Return the metadata fields of ``dataset`` that slice it: scalar values, 2 to 50 distinct ones."""
    having = [c for c in candidates if dataset in c.datasets]
    if not having:
        return []
    metadata = having[0].datasets[dataset][2]
    values: dict[str, set[Any]] = {}
    unsliceable: set[str] = set()
    for item in metadata:
        for key, value in item.items():
            if not _sliceable(value):
                unsliceable.add(key)
            elif key not in unsliceable:
                values.setdefault(key, set()).add(value)
    return sorted(k for k, seen in values.items() if k not in unsliceable and 2 <= len(seen) <= MAX_SLICE_VALUES)


def slice_frame(candidates: Sequence[CandidateScores], dataset: str, field: str, metric: str) -> pd.DataFrame:
    """Return one row per candidate x value of metadata ``field`` on ``dataset``: the metric's mean and
    95% interval in that slice (the interval rule of the run summaries, clipped to the metric's range).

    Columns: ``candidate, value, mean, ci_low, ci_high, n, prompted``.
    """
    import pandas as pd

    from harness.metrics.base import get_metric, metric_info
    from harness.stats.slices import slice_results, slice_values

    kind, bounds = get_metric(metric).kind, metric_info(metric).bounds
    rows = []
    for cand in candidates:
        if dataset not in cand.datasets or metric not in cand.datasets[dataset][1]:
            continue
        _ids, scores, metadata = cand.datasets[dataset]
        for result in slice_results(scores[metric], slice_values(metadata, field), field, kind, bounds=bounds):
            iv = result.interval
            rows.append({"candidate": cand.name, "value": result.value, "mean": iv.estimate, "ci_low": iv.low,
                         "ci_high": iv.high, "n": iv.n, "prompted": cand.prompted})
    return pd.DataFrame(rows, columns=["candidate", "value", "mean", "ci_low", "ci_high", "n", "prompted"])


def usage_frame(run_dir: Path, dataset: str) -> pd.DataFrame:
    """Return cost per query and latency per candidate on ``dataset`` from its predictions files.

    Columns: ``candidate, prompted, n, cost_per_query, cost_ci_low, cost_ci_high, total_cost,
    latency_mean, latency_ci_low, latency_ci_high, latency_p50, latency_p95, completion_tokens``; a
    cost or latency nobody recorded is NaN (a suite without ``pricing`` records no cost).
    """
    import numpy as np
    import pandas as pd

    from harness.stats.summary import metric_summary

    rows = []
    for cand, prompted in candidate_roles(run_dir).items():
        path = run_dir / "predictions" / cand / f"{dataset}.jsonl"
        if not path.is_file():
            continue
        cost, latency, tokens = [], [], []
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    row = json.loads(line)
                    cost.append(row.get("cost"))
                    latency.append(row.get("latency_s"))
                    tokens.append(row.get("completion_tokens"))
        cost_s, latency_s = metric_summary(cost, "continuous"), metric_summary(latency, "continuous")
        present = np.array([v for v in latency if v is not None], dtype=float)
        recorded_tokens = [t for t in tokens if t is not None]
        rows.append({
            "candidate": cand, "prompted": prompted, "n": len(cost),
            "cost_per_query": _num(cost_s["mean"]), **_ci("cost", cost_s),
            "total_cost": float(sum(v for v in cost if v is not None)) if cost_s["n"] else math.nan,
            "latency_mean": _num(latency_s["mean"]), **_ci("latency", latency_s),
            "latency_p50": float(np.percentile(present, 50)) if present.size else math.nan,
            "latency_p95": float(np.percentile(present, 95)) if present.size else math.nan,
            "completion_tokens": float(np.mean(recorded_tokens)) if recorded_tokens else math.nan})
    columns = ["candidate", "prompted", "n", "cost_per_query", "cost_ci_low", "cost_ci_high", "total_cost",
               "latency_mean", "latency_ci_low", "latency_ci_high", "latency_p50", "latency_p95", "completion_tokens"]
    return pd.DataFrame(rows, columns=columns)


def _ci(prefix: str, entry: dict[str, Any]) -> dict[str, float]:
    low, high = entry.get("ci") or [None, None]
    return {f"{prefix}_ci_low": _num(low), f"{prefix}_ci_high": _num(high)}
