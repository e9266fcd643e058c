"""A/B page: the experiments of the workspace; for one, the SRM check, the decision with its reasons, metric
cards, the cumulative effect over days with its always-valid interval, guardrails, fallback rate and the
planning numbers.

The data comes from :mod:`harness.report.ab` (the analysis ``harness ab analyze --experiment`` runs, read
only); this script renders it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import altair as alt
import pandas as pd
import streamlit as st

from app_pages.common import CACHE_TTL_S, empty_state, engine_or_stop, workspace, workspace_root
from harness.errors import HarnessError
from harness.report import ab as ab_view

if TYPE_CHECKING:
    from harness.report.ab import ExperimentSummary, ExperimentView, Planning

ACTIONS = {"ship": ("Ship", st.success, ":material/rocket_launch:"),
           "rollback": ("Roll back", st.error, ":material/undo:"),
           "keep_running": ("Keep running", st.warning, ":material/hourglass_top:")}
STATUS_COLOURS = alt.Scale(domain=["pass", "unsure", "harmed"], range=["#54a24b", "#eeca3b", "#e45756"])


# cached reads (keyed on the workspace folder and the experiment) ---------------------------------------

@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def experiments(root: str) -> list[ExperimentSummary]:
    return ab_view.list_experiments(workspace(root).engine)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner="Analysing the experiment, day by day...")
def experiment(root: str, name: str) -> ExperimentView:
    return ab_view.experiment_view(workspace(root).engine, name)


# formatting ------------------------------------------------------------------------------------------

def _num(x: float, fmt: str = ".4g") -> str:
    return "–" if x is None or not math.isfinite(x) else format(x, fmt)


def _effect(row: pd.Series) -> str:
    """``+2.31% [-0.40%, +5.02%]`` (relative), or the absolute effect when there is no relative one."""
    if math.isfinite(row["relative"]):
        return f"{row['relative']:+.2%} [{_num(row['relative_low'], '+.2%')}, {_num(row['relative_high'], '+.2%')}]"
    return f"{_num(row['absolute'], '+.4g')} [{_num(row['absolute_low'], '+.4g')}, {_num(row['absolute_high'], '+.4g')}]"


# sections --------------------------------------------------------------------------------------------

def srm_banner(view: ExperimentView) -> None:
    srm = view.srm
    split = ", ".join(f"{v} {n:,} (expected {srm['expected'][v]:,.0f})" for v, n in srm["observed"].items())
    if srm["flag"]:
        st.error(f"**Sample ratio mismatch** (chi-square p = {_num(srm['p_value'], '.2g')}): {split}. The "
                 "assignment or the logging is broken; do not trust these effects.", icon=":material/error:")
    else:
        st.caption(f"Sample ratio OK (chi-square p = {_num(srm['p_value'], '.3g')}): {split}.")


def decision_box(view: ExperimentView) -> None:
    decision = view.decision
    title, box, icon = ACTIONS.get(decision["action"], (decision["action"], st.info, None))
    reasons = "\n".join(f"- {r}" for r in decision["reasons"])
    box(f"**Decision: {title}**\n\n{reasons}", icon=icon)


def metric_cards(view: ExperimentView) -> None:
    st.subheader("Metrics")
    report = view.report
    st.caption(f"{report['method']} intervals, alpha {report['alpha']}, {report['correction']} correction "
               "across metrics; the value is the treatment's, the delta the relative effect against the control, "
               "the line its cumulative course.")
    rows = list(view.metrics.iterrows())
    for start in range(0, len(rows), 4):
        for col, (_, m) in zip(st.columns(4), rows[start:start + 4], strict=False):
            role = {"primary": " · primary", "guardrail": " · guardrail"}.get(m["role"], "")
            trend = view.timeline[(view.timeline["metric"] == m["metric"])
                                  & (view.timeline["treatment"] == m["treatment"])]["relative"].dropna()
            delta = (f"{m['relative']:+.2%}" if math.isfinite(m["relative"])
                     else f"{_num(m['absolute'], '+.4g')}" if math.isfinite(m["absolute"]) else None)
            col.metric(f"{m['metric']} ({m['treatment']}){role}", _num(m["treatment_mean"]), delta=delta,
                       delta_color="normal" if m["higher_is_better"] else "inverse", border=True,
                       chart_data=trend.tolist() if len(trend) > 1 else None,
                       help=f"control {m['control']}: {_num(m['control_mean'])}")
            col.caption(f"absolute {_num(m['absolute'], '+.4g')} [{_num(m['absolute_low'], '+.4g')}, "
                        f"{_num(m['absolute_high'], '+.4g')}]  \nrelative {_effect(m) if math.isfinite(m['relative']) else '–'}"
                        f"  \nadj. p {_num(m['adjusted_p'], '.2g')} · **{m['status']}**")


def effect_chart(frame: pd.DataFrame, scale: str) -> alt.LayerChart:
    """The cumulative effect by day: a line with its always-valid interval as a band, a rule at zero."""
    fmt = ".2%" if scale == "relative" else ".4g"
    base = alt.Chart(frame).encode(
        x=alt.X("days:Q", title="days since the first request"),
        color=alt.Color("treatment:N", title="treatment"))
    band = base.mark_area(opacity=0.2).encode(y=alt.Y(f"{scale}_low:Q", title=f"{scale} effect",
                                                      axis=alt.Axis(format=fmt)), y2=f"{scale}_high:Q")
    line = base.mark_line(point=True).encode(
        y=f"{scale}:Q",
        tooltip=[alt.Tooltip("time:T", title="as of", format="%Y-%m-%d %H:%M"), "units:Q",
                 alt.Tooltip(f"{scale}:Q", format=fmt), alt.Tooltip(f"{scale}_low:Q", format=fmt, title="low"),
                 alt.Tooltip(f"{scale}_high:Q", format=fmt, title="high"), "action:N"])
    zero = alt.Chart(pd.DataFrame({"y": [0.0]})).mark_rule(strokeDash=[4, 4], color="gray").encode(y="y:Q")
    return alt.layer(band, line, zero).properties(height=320)


def cumulative_effect(view: ExperimentView) -> None:
    st.subheader("Cumulative effect over time")
    timeline = view.timeline
    computable = timeline.dropna(subset=["absolute", "absolute_low", "absolute_high"])
    if computable.empty:
        st.info("No metric has a computable effect yet at any day: more traffic (and feedback) is needed.")
        return
    names = list(dict.fromkeys(timeline["metric"]))
    primary = view.report.get("primary_metric")
    default = primary if primary in set(computable["metric"]) else computable["metric"].iloc[0]
    left, right = st.columns([3, 1])
    name = left.selectbox("Metric", names, index=names.index(default), key="ab_timeline_metric")
    if primary and default != primary and name == default:
        left.caption(f"The primary metric {primary} has no computable effect yet; showing {default}.")
    rows = computable[computable["metric"] == name]
    scale = "relative" if rows["relative"].notna().any() else "absolute"
    scale = right.radio("Scale", ["relative", "absolute"], index=0 if scale == "relative" else 1, horizontal=True,
                        key="ab_timeline_scale")
    rows = rows.dropna(subset=[scale, f"{scale}_low", f"{scale}_high"])
    if rows.empty:
        st.info(f"{name} has no computable {scale} effect yet.")
        return
    st.altair_chart(effect_chart(rows, scale), width="stretch")
    st.caption("Each point is the analysis of the data logged up to that day (feedback counted at the time of "
               "the request it is about); the band is the always-valid 95% interval, safe to read every day.")


def guardrails(view: ExperimentView) -> None:
    st.subheader("Guardrails")
    rows = view.metrics[view.metrics["role"] == "guardrail"]
    if rows.empty:
        st.caption("No guardrail metrics in this analysis.")
        return
    shown = rows.dropna(subset=["relative", "relative_low", "relative_high"]).copy()
    if not shown.empty:
        shown["limit"] = [m if not hib else -m for m, hib in zip(shown["margin"], shown["higher_is_better"],
                                                                 strict=True)]
        base = alt.Chart(shown).encode(y=alt.Y("metric:N", title=None))
        chart = alt.layer(
            base.mark_rule(strokeWidth=3).encode(x=alt.X("relative_low:Q", title="relative effect (95% interval)",
                                                         axis=alt.Axis(format="%")), x2="relative_high:Q",
                                                 color=alt.Color("status:N", scale=STATUS_COLOURS)),
            base.mark_point(filled=True, size=80).encode(x="relative:Q", color=alt.Color("status:N", scale=STATUS_COLOURS),
                                                         tooltip=["metric", "treatment", "status",
                                                                  alt.Tooltip("relative:Q", format="+.2%"),
                                                                  alt.Tooltip("margin:Q", format=".0%")]),
            base.mark_tick(color="#e45756", thickness=2, size=20).encode(x="limit:Q"),
        ).properties(height=40 * len(shown) + 40)
        st.altair_chart(chart, width="stretch")
        st.caption("Red ticks: each guardrail's margin; a guardrail passes when its interval stays on the good side.")
    table = pd.DataFrame({"metric": rows["metric"], "treatment": rows["treatment"],
                          "control": rows["control_mean"].map(_num), "treatment mean": rows["treatment_mean"].map(_num),
                          "effect [95% CI]": [_effect(r) for _, r in rows.iterrows()],
                          "margin": rows["margin"].map(lambda m: _num(m, ".0%")), "status": rows["status"]})
    st.dataframe(table, hide_index=True, width="stretch")


def fallback(view: ExperimentView) -> None:
    st.subheader("Fallback rate")
    if view.fallback.empty:
        st.caption("No gateway traffic for this experiment (simulated events), so no fallbacks.")
        return
    for col, (_, row) in zip(st.columns(len(view.fallback)), view.fallback.iterrows(), strict=False):
        col.metric(f"{row['variant']}{' (control)' if row['control'] else ''}", _num(row["fallback_rate"], ".1%"),
                   border=True, help="Share of requests the control answered in this variant's place "
                                     f"({row['units']:,} units).")


def plan_numbers(plan: Planning) -> None:
    st.subheader("Planning")
    cols = st.columns(4)
    cols[0].metric("Days so far", _num(plan.days_elapsed, ".1f"), border=True)
    cols[1].metric("Days still needed", _num(plan.days_still_needed, "g"), border=True,
                   help=f"To detect a {plan.mde:.0%} change on {plan.primary_metric} with {plan.power:.0%} power "
                        "at the observed traffic (0: the planned sample is reached).")
    cols[2].metric("Units so far", f"{plan.units_so_far:,}", border=True,
                   help=f"{_num(plan.units_per_day, ',.0f')} units a day observed")
    cols[3].metric("Units needed (always-valid)", _num(plan.units_needed_sequential, ",.0f"), border=True,
                   help=f"fixed horizon: {_num(plan.units_needed, ',.0f')} units")
    if plan.error:
        st.caption(f"No sample-size plan yet: {plan.error}.")


# the page ---------------------------------------------------------------------------------------------

st.title("A/B experiments")
root = workspace_root()
commands = f"{ab_view.SERVE_COMMAND}\n{ab_view.SIMULATE_COMMAND}"
engine_or_stop(root, command=commands)
try:
    summaries = experiments(root)
except HarnessError as exc:
    st.error(str(exc))
    st.stop()
if not summaries:
    empty_state(f"No A/B experiments in `{root}` yet: serve one through the gateway, or simulate one.",
                commands)

table = ab_view.experiments_table(summaries)
st.dataframe(table, hide_index=True, width="stretch", column_config={"days": st.column_config.NumberColumn(format="%.1f")})
name = st.selectbox("Experiment", list(table["experiment"]), key="ab_experiment")
summary = next(s for s in summaries if s.name == name)
if not summary.rows:
    st.info(f"Experiment `{name}` has no traffic yet: send requests through its gateway "
            "`harness ab serve CONFIG.yaml` (or `harness ab replay CONFIG.yaml` for simulated users).",
            icon=":material/inbox:")
    st.stop()
try:
    view = experiment(root, name)
except HarnessError as exc:
    st.error(str(exc))
    st.stop()

st.header(name)
st.caption(f"{summary.source} · {summary.status}{' · kill switch on' if summary.kill_switch else ''} · control "
           f"{summary.control} · {summary.units:,} units over {_num(summary.days, '.1f')} days"
           + (f" · {summary.description}" if summary.description else ""))
srm_banner(view)
decision_box(view)
for note in view.notes:
    st.info(note, icon=":material/info:")
metric_cards(view)
cumulative_effect(view)
guardrails(view)
fallback(view)
plan_numbers(view.planning)
for note in view.report.get("notes", []):
    st.caption(f"Note: {note}")
