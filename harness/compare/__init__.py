"""Load predictions and run folders, and compare candidates (the logic behind ``harness score``/``compare``).

Sources ``harness compare`` accepts: a run id or ``latest`` (every candidate of the run), ``RUN:candidate``
(one candidate of a run) or a predictions file (``harness score`` format; its name without ``.jsonl``
is the candidate's name and ``test`` its dataset). Scores come from the run's ``scores/`` files when
they hold the metric, else they are computed from the predictions.

Baseline: ``baseline=`` when given; otherwise the best prompted baseline (candidates named ``base*``
first, else run candidates without an adapter whose model is not a workspace model), best by the
first metric on the first non-``general`` dataset; otherwise the last source listed. Every other candidate
is compared with it on every dataset and metric, all p-values adjusted together. When a ``general``
dataset is present, each candidate also gets a non-inferiority (forgetting) check against it.
"""

from harness.compare.loading import (
    DEFAULT_METRICS,
    CandidateScores,
    load_predictions,
    load_run_candidates,
    load_sources,
    parse_metric_names,
    resolve_run,
    suite_metrics,
)
from harness.compare.render import render
from harness.compare.report import ComparisonReport, align, build_comparison, choose_baseline, verdict

__all__ = ["DEFAULT_METRICS", "CandidateScores", "ComparisonReport", "align", "build_comparison", "choose_baseline",
           "load_predictions", "load_run_candidates", "load_sources", "parse_metric_names", "render",
           "resolve_run", "suite_metrics", "verdict"]
