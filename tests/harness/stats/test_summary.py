"""Metric summaries: the one interval rule for ``harness score`` and run summaries."""

from __future__ import annotations

import subprocess
import sys

import pytest

from harness.metrics import MetricOutput
from harness.stats.summary import metric_summary, summarize_outputs


def test_intervals_match_statsmodels() -> None:
    from statsmodels.stats.proportion import proportion_confint
    from statsmodels.stats.weightstats import DescrStatsW

    binary = metric_summary([1.0] * 7 + [0.0] * 13 + [None], "binary")
    assert binary["n"] == 20 and binary["mean"] == pytest.approx(0.35) and binary["method"] == "wilson"
    assert binary["ci"] == pytest.approx(list(proportion_confint(7, 20, alpha=0.05, method="wilson")), abs=1e-9)
    values = [0.2, 0.5, 0.9, 0.4, 0.75, 0.1]
    cont = metric_summary(values, "continuous")
    assert cont["ci"] == pytest.approx(list(DescrStatsW(values).tconfint_mean(alpha=0.05)), abs=1e-9)
    assert cont["method"] == "t" and "error" not in cont


def test_bounds_clip_and_missing_intervals() -> None:
    values = [0.0, 0.0, 0.0, 0.02, 0.9]
    free = metric_summary(values, "continuous")
    clipped = metric_summary(values, "continuous", bounds=(0.0, 1.0))
    assert free["ci"][0] < 0.0 and clipped["ci"][0] == 0.0 and clipped["ci"][1] == free["ci"][1]
    assert metric_summary([None, None], "continuous") == {"mean": None, "ci": None, "n": 0, "method": "t",
                                                          "error": "no_data"}
    one = metric_summary([0.4], "continuous")
    assert one["mean"] == 0.4 and one["ci"] is None and one["error"] == "too_few_units"


def test_corpus_values_are_json_safe() -> None:
    entry = metric_summary([1.0, 0.0], "binary", corpus={"ratio": float("nan"), "per": (1, float("inf"))})
    assert entry["corpus"] == {"ratio": None, "per": [1, None]}


def test_summarize_outputs_takes_bounds_per_metric() -> None:
    outputs = {"a": MetricOutput("a", "continuous", (0.0, 0.0, 0.01, 0.9)),
               "b": MetricOutput("b", "continuous", (0.0, 0.0, 0.01, 0.9))}
    summary = summarize_outputs(4, outputs, [{"g": "x"}] * 4, "g", bounds={"a": (0.0, 1.0)})
    assert summary["metrics"]["a"]["ci"][0] == 0.0 and summary["metrics"]["b"]["ci"][0] < 0.0
    assert summary["slices"]["a"][0]["ci"][0] == 0.0 and summary["slices"]["b"][0]["ci"][0] < 0.0


def test_stats_does_not_import_the_metric_registry() -> None:
    code = ("import sys, harness.stats.summary, harness.stats.overfitting, harness.stats.paired; "
            "print(sorted(m for m in sys.modules if m.startswith('harness.metrics')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
