"""Leaderboard: one run and dataset; candidates x metrics with 95% intervals, significance against a chosen
baseline after correction, the forgetting check on ``general``, a per-slice breakdown, cost and latency.

The numbers are those of ``harness eval`` (``summary.json``) and ``harness compare RUN``; the shaping is
in :mod:`harness.report.leaderboard`. A finished run's folder does not change (a resumed run rewrites its
``summary.json``), so what is read from it is cached by the file's modification time, without expiry;
the list of runs is read from the store again every ``CACHE_TTL_S`` seconds.

Charts are sent as Vega-Lite specs cached per (run, summary stamp, dataset, choices): turning an Altair
chart into a spec costs tens of milliseconds per chart, and the first chart appears in the browser only
once the whole script has run, so a page that rebuilt six specs on every load painted later.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import altair as alt
import streamlit as st

from app_pages.common import CACHE_TTL_S, empty_state, engine_or_stop, workspace, workspace_root
from harness.errors import HarnessError
from harness.report import leaderboard as view

EVAL_COMMAND = "harness eval SUITE.yaml"
ROLE_SCALE = alt.Scale(domain=[view.PROMPTED, view.TRAINED], range=["#8c8c8c", "#1f6fb4"])
ROLE_SHAPES = alt.Scale(domain=[view.PROMPTED, view.TRAINED], range=["diamond", "circle"])
DIRECTION_SCALE = alt.Scale(domain=["better", "worse", "no_difference", "differs", "n/a"],
                            range=["#2e9e44", "#d62728", "#9e9e9e", "#ff9f1c", "#cccccc"])
STATUS_SCALE = alt.Scale(domain=["PASS", "FAIL", "INCONCLUSIVE", "N/A"],
                         range=["#2e9e44", "#d62728", "#ff9f1c", "#cccccc"])


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _runs(root: str) -> list[view.RunChoice]:
    return view.leaderboard_runs(workspace(root).engine, root)


def _stamp(root: str, run_id: str) -> int:
    """The modification time of the run's ``summary.json`` (part of every cache key of the run's data)."""
    return (Path(root) / "runs" / run_id / "summary.json").stat().st_mtime_ns


@st.cache_data(max_entries=64, show_spinner=False)
def _metric_frame(root: str, run_id: str, stamp: int, dataset: str):
    return view.metric_frame(view.run_folder(root, run_id), dataset)


@st.cache_data(max_entries=64, show_spinner=False)
def _usage_frame(root: str, run_id: str, stamp: int, dataset: str):
    return view.usage_frame(view.run_folder(root, run_id), dataset)


# A resource, not data: the per-example scores are large and never modified, and cache_data would unpickle
# a copy of them on every rerun.
@st.cache_resource(max_entries=8, show_spinner="Reading per-example scores...")
def _candidates(root: str, run_id: str, stamp: int):
    return view.load_candidates(view.run_folder(root, run_id))


@st.cache_data(max_entries=32, show_spinner="Running the paired tests...")
def _comparison(root: str, run_id: str, stamp: int, baseline: str | None, correction: str):
    candidates, metrics = _candidates(root, run_id, stamp)
    return view.comparison(candidates, metrics, baseline=baseline, correction=correction)


@st.cache_data(max_entries=64, show_spinner=False)
def _slices(root: str, run_id: str, stamp: int, dataset: str, field: str, metric: str):
    candidates, _metrics = _candidates(root, run_id, stamp)
    return view.slice_frame(candidates, dataset, field, metric)


@st.cache_data(max_entries=256, show_spinner=False)
def _spec(key: tuple, _build: Callable[[], Any]) -> dict:
    """The Vega-Lite spec of the chart that ``_build`` makes; ``key`` names everything the chart depends on
    (``_build`` is not hashed)."""
    # Streamlit's own conversion turns the default theme off (its width/height defaults fight the layout).
    with alt.theme.enable("none"):
        return _build().to_dict(validate=False)


def _show(key: tuple, build: Callable[[], Any]) -> None:
    """Draw the chart that ``build`` makes, from the spec cached under ``key``."""
    st.vega_lite_chart(spec=_spec(key, build), width="stretch")


def _interval_chart(frame, x: str, title: str, color: alt.Color, order: list[str], zero_rules: tuple[float, ...] = (),
                    shape: alt.Shape | None = None, tooltip=()):
    """Points at ``x`` with ``ci_low``..``ci_high`` error bars, one row per candidate, a panel per metric."""
    y = alt.Y("candidate:N", sort=order, title=None)
    bars = alt.Chart().mark_errorbar(ticks=True, thickness=2).encode(
        y=y, x=alt.X("ci_low:Q", title=title), x2="ci_high:Q", color=color)
    point = alt.Chart().mark_point(filled=True, size=110, opacity=1).encode(
        y=y, x=alt.X(f"{x}:Q", title=title), color=color, tooltip=list(tooltip))
    if shape is not None:
        point = point.encode(shape=shape)
    layers = [alt.Chart().mark_rule(strokeDash=[4, 4], color="#555").encode(x=alt.datum(value))
              for value in zero_rules]
    chart = alt.layer(*layers, bars, point, data=frame).properties(width=240, height=32 * len(order) + 20)
    metrics = list(dict.fromkeys(frame["metric"]))
    metrics.sort(key=lambda m: m in view.USAGE_METRICS)  # quality first, latency and cost last
    return chart.facet(facet=alt.Facet("metric:N", title=None, sort=metrics), columns=2).resolve_scale(
        x="independent")


def _pick_run(runs: list[view.RunChoice]) -> tuple[view.RunChoice, str]:
    labels = {run.id: run for run in runs}
    left, right = st.columns([3, 1])
    run_id = left.selectbox("Run", list(labels), format_func=lambda rid: labels[rid].label(), key="leaderboard_run",
                            help="Runs written by `harness eval`, newest first.")
    run = labels[run_id]
    dataset = right.selectbox("Dataset", list(run.datasets), key=f"leaderboard_dataset_{run.id}",
                              help="`general` is the forgetting set when the suite has one.")
    return run, dataset


def _section_metrics(key: tuple, frame, order: list[str]) -> None:
    st.subheader("Candidates x metrics")
    if frame.empty:
        st.info("No quality metrics were recorded for this dataset.")
        return
    tooltip = ["candidate:N", "metric:N", alt.Tooltip("mean:Q", format=".3f"), alt.Tooltip("ci_low:Q", format=".3f"),
               alt.Tooltip("ci_high:Q", format=".3f"), "n:Q", "method:N", "role:N"]
    color = alt.Color("role:N", scale=ROLE_SCALE, title=None, legend=alt.Legend(orient="top"))
    _show(("metrics", *key), lambda: _interval_chart(frame, "mean", "mean (95% CI)", color, order, tooltip=tooltip,
                                                     shape=alt.Shape("role:N", scale=ROLE_SHAPES, title=None)))
    st.caption("Points are means, bars 95% intervals (Wilson for pass/fail metrics, t otherwise); "
               "diamonds are prompted baselines.")


def _section_significance(key: tuple, report, frame, dataset: str, order: list[str]) -> None:
    st.subheader(f"Against the baseline: {report.baseline}")
    if frame.empty:
        st.info("Nothing to compare on this dataset (the run needs at least two candidates).")
        return
    wins = frame[frame["direction"] == "better"]
    st.markdown(f"**{view.headline(report, dataset)}**")
    st.caption(f"Differences are candidate minus {report.baseline} with 95% intervals; color is the verdict after "
               f"{report.correction} correction over all {len(report.ranking.comparisons)} comparisons of the run "
               f"(alpha {report.alpha:g}). {len(wins)} of {len(frame)} comparisons on {dataset} are significant wins.")
    tooltip = ["candidate:N", "metric:N", alt.Tooltip("diff:Q", format="+.3f"), alt.Tooltip("ci_low:Q", format="+.3f"),
               alt.Tooltip("ci_high:Q", format="+.3f"), alt.Tooltip("adjusted_p:Q", format=".3g"), "test:N",
               "verdict:N"]
    color = alt.Color("direction:N", scale=DIRECTION_SCALE, title="after correction", legend=alt.Legend(orient="top"))
    rows = [c for c in order if c != report.baseline]
    _show(("significance", *key, report.baseline, report.correction),
          lambda: _interval_chart(frame, "diff", f"difference vs {report.baseline}", color, rows, zero_rules=(0.0,),
                                  tooltip=tooltip))
    with st.expander("Verdicts and p-values"):
        for line in frame["verdict"]:
            st.markdown(f"- {line}")
        st.dataframe(frame.drop(columns=["verdict", "baseline"]), hide_index=True, width="stretch",
                     column_config={c: st.column_config.NumberColumn(format="%.4g") for c in
                                    ("mean_candidate", "mean_baseline", "diff", "ci_low", "ci_high", "p_value",
                                     "adjusted_p")})


def _section_forgetting(key: tuple, report, order: list[str]) -> None:
    st.subheader("Forgetting check on `general`")
    frame = view.forgetting_frame(report)
    if frame.empty:
        st.caption("This run has no `general` dataset. Add one to the suite to check that fine-tuning kept the "
                   "model's general ability (a non-inferiority test against the baseline).")
        return
    margin = float(frame["margin"].iloc[0])
    failed = frame[frame["status"] == "FAIL"]
    (st.error if len(failed) else st.success)(
        f"{len(failed)} of {len(frame)} checks fail: worse than {report.baseline} by more than the margin "
        f"({margin:g})." if len(failed) else f"No candidate is worse than {report.baseline} on `general` by more "
        f"than the margin ({margin:g}).")
    tooltip = ["candidate:N", "metric:N", alt.Tooltip("diff:Q", format="+.3f"), alt.Tooltip("ci_low:Q", format="+.3f"),
               alt.Tooltip("ci_high:Q", format="+.3f"), alt.Tooltip("p_value:Q", format=".3g"), "status:N"]
    color = alt.Color("status:N", scale=STATUS_SCALE, title=None, legend=alt.Legend(orient="top"))
    rows = [c for c in order if c in set(frame["candidate"])]
    _show(("forgetting", *key, report.baseline, report.correction),
          lambda: _interval_chart(frame, "diff", f"difference vs {report.baseline} on general", color, rows,
                                  zero_rules=(0.0, -margin), tooltip=tooltip))
    st.caption(f"Dashed lines: no difference and the non-inferiority margin (-{margin:g}). A check passes when the "
               "whole interval is above the margin.")


def _section_slices(root: str, run: view.RunChoice, stamp: int, dataset: str, metrics: list[str],
                    candidates, order: list[str]) -> None:
    st.subheader("Per slice")
    fields = view.slice_fields(candidates, dataset)
    if not fields or not metrics:
        st.caption("The examples of this dataset have no metadata field to slice by.")
        return
    left, right = st.columns(2)
    field = left.selectbox("Slice by", fields, key=f"leaderboard_slice_{run.id}_{dataset}",
                           help="Any metadata field of the eval set with 2 to 50 values.")
    metric = right.selectbox("Metric", metrics, key=f"leaderboard_slice_metric_{run.id}")

    def build():
        frame = _slices(root, run.id, stamp, dataset, field, metric)
        values = sorted(set(frame["value"]))
        y = alt.Y("value:N", title=field, sort=values)
        offset = alt.YOffset("candidate:N", sort=order)
        color = alt.Color("candidate:N", sort=order, title=None, legend=alt.Legend(orient="top"))
        tooltip = ["candidate:N", "value:N", alt.Tooltip("mean:Q", format=".3f"),
                   alt.Tooltip("ci_low:Q", format=".3f"), alt.Tooltip("ci_high:Q", format=".3f"), "n:Q"]
        bars = alt.Chart(frame).mark_errorbar(ticks=True).encode(
            y=y, yOffset=offset, x=alt.X("ci_low:Q", title=f"{metric} (95% CI)"), x2="ci_high:Q", color=color)
        points = alt.Chart(frame).mark_point(filled=True, size=60, opacity=1).encode(
            y=y, yOffset=offset, x="mean:Q", color=color, tooltip=tooltip)
        return (bars + points).properties(height=max(120, 14 * len(values) * len(order)))

    _show(("slices", root, run.id, stamp, dataset, field, metric), build)


def _latency_chart(frame, y: alt.Y, color: alt.Color):
    """Mean latency bars with their 95% interval and a tick at the 95th percentile, one row per candidate."""
    tooltip = ["candidate:N", alt.Tooltip("latency_mean:Q", format=".3f"),
               alt.Tooltip("latency_p50:Q", format=".3f"), alt.Tooltip("latency_p95:Q", format=".3f")]
    title = "latency (s): mean, 95% CI, p95"
    mean = alt.Chart(frame).mark_bar().encode(y=y, x=alt.X("latency_mean:Q", title=title), color=color,
                                              tooltip=tooltip)
    bars = alt.Chart(frame).mark_errorbar(ticks=True).encode(
        y=y, x=alt.X("latency_ci_low:Q", title=title), x2="latency_ci_high:Q")
    p95 = alt.Chart(frame).mark_tick(color="#d62728", thickness=2).encode(
        y=y, x=alt.X("latency_p95:Q", title=title), tooltip=tooltip)
    return mean + bars + p95


def _section_usage(key: tuple, frame, order: list[str]) -> None:
    st.subheader("Cost per query and latency")
    if frame.empty:
        st.caption("No predictions files for this dataset.")
        return
    color = alt.Color("role:N", scale=ROLE_SCALE, title=None, legend=None)
    frame = frame.assign(role=frame["prompted"].map({True: view.PROMPTED, False: view.TRAINED}))
    y = alt.Y("candidate:N", sort=order, title=None)
    height = 32 * len(order) + 20
    left, right = st.columns(2)
    with left:
        if frame["cost_per_query"].notna().any():
            _show(("cost", *key), lambda: alt.Chart(frame).mark_bar().encode(
                y=y, x=alt.X("cost_per_query:Q", title="cost per query"), color=color,
                tooltip=["candidate:N", alt.Tooltip("cost_per_query:Q", format=".6f"),
                         alt.Tooltip("total_cost:Q", format=".4f"), "n:Q"]).properties(height=height))
        else:
            st.caption("No cost recorded: give the suite a `pricing:` section to see cost per query.")
    with right:
        if frame["latency_mean"].notna().any():
            _show(("latency", *key), lambda: _latency_chart(frame, y, color).properties(height=height))
        else:
            st.caption("No latency recorded for this dataset.")
    st.caption("Bars are means per query; the red tick is the 95th percentile latency.")


def main() -> None:
    """Render the page."""
    st.title("Leaderboard")
    root = workspace_root()
    engine_or_stop(root, command=EVAL_COMMAND)
    runs = _runs(root)
    if not runs:
        empty_state(f"No finished evaluation runs in `{root}` yet.", EVAL_COMMAND)
    run, dataset = _pick_run(runs)
    try:
        stamp = _stamp(root, run.id)
    except FileNotFoundError:  # removed since the list of runs was read
        st.warning(f"Run `{run.id}` has no summary.json any more.")
        st.stop()
    metric_frame = _metric_frame(root, run.id, stamp, dataset)
    order = list(dict.fromkeys(metric_frame["candidate"])) or list(run.candidates)
    key = (root, run.id, stamp, dataset)
    _section_metrics(key, metric_frame, order)

    try:
        default = _comparison(root, run.id, stamp, None, "holm")
        candidates, _metrics = _candidates(root, run.id, stamp)
    except HarnessError as exc:
        st.error(f"Cannot compare the candidates of this run: {exc}")
        return
    names = [c.name for c in candidates]
    left, right = st.columns([3, 1])
    baseline = left.selectbox("Baseline", names, index=names.index(default.baseline),
                              key=f"leaderboard_baseline_{run.id}",
                              help="Default: the best prompted baseline (as `harness compare` chooses).")
    correction = right.radio("Correction", ["holm", "bh"], horizontal=True, key="leaderboard_correction",
                             help="Holm controls the family-wise error rate, Benjamini-Hochberg the false "
                                  "discovery rate; all datasets and metrics of the run form one family.")
    same = baseline == default.baseline and correction == "holm"
    report = default if same else _comparison(root, run.id, stamp, baseline, correction)
    _section_significance(key, report, view.significance_frame(report, dataset), dataset, order)
    _section_forgetting(key[:3], report, order)
    quality = list(dict.fromkeys(metric_frame["metric"]))
    _section_slices(root, run, stamp, dataset, quality, candidates, order)
    _section_usage(key, _usage_frame(root, run.id, stamp, dataset), order)


main()
