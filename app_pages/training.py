"""Training and data page: loss curves with the early-stopping point and the overfitting call per registered
model, its lineage, and the data report of its training files (categories, lengths, duplicates, coverage vs
a production sample).

The data comes from :mod:`harness.report.training` and :mod:`harness.report.data`; this script renders it.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import TYPE_CHECKING

import altair as alt
import pandas as pd
import streamlit as st

from app_pages.common import CACHE_TTL_S, empty_state, engine_or_stop, workspace, workspace_root
from harness.errors import HarnessError
from harness.io import file_sha256
from harness.report import data as data_view
from harness.report import training as training_view

if TYPE_CHECKING:
    from harness.report.data import Coverage, DataReport
    from harness.report.training import DataFile, Lineage, TrainingCurve
    from harness.store.models import ModelRecord

SPLIT_COLOURS = alt.Scale(domain=["train", "validation"], range=["#4c78a8", "#f58518"])
LOSS_CHART_HEIGHT = 340
SAMPLE_COLOURS = alt.Scale(domain=["training", "production"], range=["#4c78a8", "#e45756"])


# cached reads (keyed on the workspace folder, or on a data file's path and modification time) --------

@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def model_names(root: str) -> list[str]:
    return training_view.model_names(workspace(root).engine)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def model_record(root: str, name: str) -> ModelRecord:
    return training_view.model_record(workspace(root).engine, name)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def model_curve(root: str, name: str) -> TrainingCurve:
    return training_view.model_curve(model_record(root, name))


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def model_lineage(root: str, name: str) -> Lineage:
    return training_view.model_lineage(model_record(root, name))


def _stamp(path: str) -> tuple[int, int]:
    try:
        stat = os.stat(path)
    except OSError:
        return (0, 0)
    return (stat.st_mtime_ns, stat.st_size)


# A data file's hash and profile are keyed on its modification time and size: re-read only when it changes.
@st.cache_data(max_entries=64, show_spinner="Hashing the training file...")
def file_hash(path: str, stamp: tuple[int, int]) -> str:
    return file_sha256(path)


def data_files(root: str, name: str) -> tuple[DataFile, ...]:
    files = training_view.training_data_files(model_record(root, name))
    return tuple(replace(f, current_hash=file_hash(f.path, _stamp(f.path))) if f.exists else f for f in files)


@st.cache_data(max_entries=16, show_spinner="Profiling the data file...")
def data_report(path: str, stamp: tuple[int, int]) -> DataReport:
    return data_view.data_report(path)


@st.cache_data(max_entries=16, show_spinner="Comparing with the production sample...")
def coverage(train_path: str, production: str, root: str, stamps: tuple[tuple[int, int], ...]) -> Coverage:
    return data_view.coverage(train_path, production, base=root)


# charts ----------------------------------------------------------------------------------------------

def loss_chart(curve: TrainingCurve) -> alt.LayerChart:
    """Train and validation loss by step; a dashed rule at the best validation step (and where training stopped)."""
    base = alt.Chart(curve.frame()).encode(
        x=alt.X("step:Q", title="step"),
        y=alt.Y("loss:Q", title="loss", scale=alt.Scale(zero=False)),
        color=alt.Color("split:N", title=None, scale=SPLIT_COLOURS),
        tooltip=["split", "step", alt.Tooltip("loss:Q", format=".4f")],
    )
    layers: list[alt.Chart] = [base.mark_line(), base.mark_point(filled=True, size=40)]
    markers = []
    if curve.best_step is not None:
        markers.append({"step": curve.best_step, "label": f"best val, step {curve.best_step:g}"})
    if curve.stopped_early and curve.stop_step is not None and curve.stop_step != curve.best_step:
        markers.append({"step": curve.stop_step, "label": f"stopped, step {curve.stop_step:g}"})
    if markers:  # dashed rules, named in their own legend (text in the plot would cross the curves)
        labels = [m["label"] for m in markers]
        layers.append(alt.Chart(pd.DataFrame(markers)).mark_rule(color="gray", strokeWidth=1.5).encode(
            x="step:Q", tooltip=["label", "step"],
            strokeDash=alt.StrokeDash("label:N", title=None, scale=alt.Scale(
                domain=labels, range=[[6, 4], [2, 2]][:len(labels)]))))
    return alt.layer(*layers).properties(height=LOSS_CHART_HEIGHT)


def category_chart(frame: pd.DataFrame, field: str) -> alt.Chart:
    """Horizontal bars: examples per value of one metadata field."""
    return alt.Chart(frame).mark_bar().encode(
        x=alt.X("count:Q", title="examples"),
        y=alt.Y("value:N", title=field, sort="-x"),
        tooltip=["value", "count", alt.Tooltip("share:Q", format=".1%")],
    ).properties(height=alt.Step(24))


def length_chart(frame: pd.DataFrame, measure: str) -> alt.Chart:
    """Histogram of one length measure from pre-binned ``[start, end)`` counts."""
    return alt.Chart(frame).mark_bar().encode(
        x=alt.X("start:Q", title=measure.replace("_", " "), bin="binned"),
        x2="end:Q",
        y=alt.Y("count:Q", title="examples"),
        tooltip=["start", "end", "count"],
    ).properties(height=260)


def shares_chart(frame: pd.DataFrame, field: str) -> alt.Chart:
    """Grouped bars: the share of each value in training and in production."""
    return alt.Chart(frame).mark_bar().encode(
        x=alt.X("value:N", title=field, sort="-y"),
        xOffset=alt.XOffset("sample:N", scale=alt.Scale(domain=["training", "production"])),
        y=alt.Y("share:Q", title="share", axis=alt.Axis(format="%")),
        color=alt.Color("sample:N", title=None, scale=SAMPLE_COLOURS),
        tooltip=["value", "sample", alt.Tooltip("share:Q", format=".1%"), "flag"],
    ).properties(height=300)


# sections --------------------------------------------------------------------------------------------

def show_curves(curve: TrainingCurve) -> None:
    """The loss chart, the early-stopping point and the overfitting call."""
    if curve.empty:
        st.info(f"No losses logged in `{curve.log_path}` (the trainer writes them there).")
        return
    best, stop, verdict = st.columns(3)
    best.metric("Best validation loss", "-" if curve.best_val_loss is None else f"{curve.best_val_loss:.4f}",
                help="The early-stopping point: the checkpoint the trainer keeps.",
                delta=None if curve.best_step is None else f"at step {curve.best_step:g}", delta_color="off",
                delta_arrow="off")
    stop.metric("Stopped at step", "-" if curve.stop_step is None else f"{curve.stop_step:g}",
                delta=("early stop" if curve.stopped_early else
                       f"of {curve.planned_steps} planned" if curve.planned_steps else None),
                delta_color="off", delta_arrow="off")
    verdict.metric("Overfitting", "yes" if curve.overfitting.flagged else
                   "not computed" if curve.overfitting.error else "no",
                   help="Validation loss rose while training loss fell (the rule `harness compare` uses).")
    st.altair_chart(loss_chart(curve), width="stretch", height=LOSS_CHART_HEIGHT)
    st.caption(curve.stopping() + f". Log: `{curve.log_path}`")
    if curve.overfitting.flagged:
        st.warning(curve.overfitting.describe(), icon=":material/warning:")
    elif curve.overfitting.error:
        st.info(curve.overfitting.describe())
    else:
        st.success(curve.overfitting.describe())


def show_lineage(lineage: Lineage) -> None:
    """The key/value lineage table, then the full config and the package versions."""
    if not lineage.lineage_found:
        st.caption(f"`{lineage.lineage_path}` is missing; showing the registry's record.")
    frame = lineage.frame()
    st.dataframe(frame, hide_index=True, width="stretch", height=35 * (len(frame) + 1) + 3,
                 column_config={"section": st.column_config.TextColumn(width="small"),
                                "field": st.column_config.TextColumn(width="medium")})
    config, versions = st.columns(2)
    with config.expander("Resolved training config (train_config.json)"):
        st.json(lineage.config, expanded=True)
    with versions.expander("Package versions"):
        st.json(lineage.package_versions, expanded=True)


def show_data_report(report: DataReport) -> None:
    """Counts, duplicates, a category bar chart and a length histogram."""
    cols = st.columns(4)
    cols[0].metric("Examples", f"{report.examples:,}")
    cols[1].metric("Exact duplicates", f"{report.exact_duplicates:,}")
    cols[2].metric("Near duplicates", f"{report.near_duplicates:,}", help="Same user turn, different answer.")
    cols[3].metric("Unreadable lines", f"{report.unreadable_lines:,}", help="See `harness data validate`.")
    categories, lengths = st.columns(2)
    with categories:
        st.subheader("Categories")
        fields = report.fields
        if not fields:
            st.caption("No categorical metadata fields.")
        else:
            default = data_view.default_field(fields)
            field = st.selectbox("Metadata field", fields, index=fields.index(default) if default else 0,
                                 key="training_category_field")
            st.altair_chart(category_chart(report.categories_frame(field), field), width="stretch")
        if report.high_cardinality_fields:
            st.caption("Too many values to chart: " + ", ".join(f"`{k}` ({v})"
                                                                for k, v in report.high_cardinality_fields))
    with lengths:
        st.subheader("Lengths")
        measures = [row[0] for row in report.lengths]
        if measures:
            measure = st.radio("Measure", measures, horizontal=True, key="training_length_measure",
                               format_func=lambda m: m.replace("_", " "))
            st.altair_chart(length_chart(report.histogram_frame(measure), measure), width="stretch")
            st.dataframe(report.lengths_frame(), hide_index=True, width="stretch")
            st.caption(f"Tokens: {report.token_counter}.")
    if report.duplicate_pairs:
        with st.expander(f"Duplicates ({report.exact_duplicates} exact, {report.near_duplicates} near)"):
            st.dataframe(pd.DataFrame(list(report.duplicate_pairs), columns=["line", "first line", "kind"]),
                         hide_index=True)


def show_coverage(file: DataFile, root: str) -> None:
    """The production-sample input and, when given, the coverage flags and the share chart."""
    st.subheader("Coverage vs production")
    production = st.text_input("Production sample (chat-JSONL path)", key="training_production_path",
                               placeholder="e.g. /data/production-queries.jsonl",
                               help="Same as `harness data report TRAIN --against PRODUCTION`.")
    if not production.strip():
        st.caption("Give a sample of production queries to see which categories training under-covers.")
        return
    try:
        result = coverage(file.path, production.strip(), root,
                          (_stamp(file.path), _stamp(production.strip())))
    except HarnessError as exc:
        st.error(str(exc))
        return
    flagged = any(c.flag in ("missing", "under") for c in result.flags)
    (st.warning if flagged else st.success)(result.headline())
    if result.flags:
        st.dataframe(result.flags_frame(), hide_index=True, width="stretch",
                     column_config={"p (Holm)": st.column_config.NumberColumn(format="%.2g")})
    fields = list(dict.fromkeys(c.field for c in result.categories))
    if fields:
        first_flag = next((c.field for c in result.flags), None)
        default = first_flag or data_view.default_field(fields)
        field = st.selectbox("Field", fields, index=fields.index(default) if default else 0,
                             key="training_coverage_field")
        st.altair_chart(shares_chart(result.shares_frame(field), field), width="stretch")
    if result.lengths:
        st.dataframe(pd.DataFrame(list(result.lengths), columns=[
            "measure", "training median", "production median", "KS statistic", "p"]), hide_index=True)
    st.caption(f"{result.train_examples:,} training vs {result.production_examples:,} production examples "
               f"(`{result.production_path}`); flags need a share of at least {result.settings['min_share']:.0%} "
               f"in production and a Holm-adjusted p below {result.settings['alpha']:g}.")


def show_data(files: tuple[DataFile, ...], lineage: Lineage, root: str) -> None:
    """The recorded data files, then the report and coverage of the chosen one."""
    if not files:
        st.info("The model's lineage records no data files.")
        return
    roles = [f.role for f in files]
    role = st.selectbox("Data file", roles, key="training_data_file",
                        format_func=lambda r: f"{r}: {next(f.path for f in files if f.role == r) or '?'}")
    file = next(f for f in files if f.role == role)
    if not file.exists:
        st.warning(file.describe(), icon=":material/folder_off:")
        return
    (st.warning if file.unchanged is False else st.caption)(file.describe())
    used = lineage.value("train examples used") if role == "train_file" else lineage.value("val examples used")
    if used:
        st.caption(f"The run used {used} examples from it.")
    show_data_report(data_report(file.path, _stamp(file.path)))
    show_coverage(file, root)


# the page --------------------------------------------------------------------------------------------

st.title("Training and data")
root = workspace_root()
engine_or_stop(root, command=training_view.TRAIN_COMMAND)
names = model_names(root)
if not names:
    empty_state(f"No trained models are registered in `{root}` yet.", training_view.TRAIN_COMMAND)
name = st.selectbox("Model", names, key="training_model", help="Registered models, newest first.")
record = model_record(root, name)
registered = (record.created_at or "?")[:16].replace("T", " ")
st.caption(f"{record.method} on `{record.base_model}`, {record.steps} steps, registered {registered} UTC")
curves_tab, lineage_tab, data_tab = st.tabs(["Loss curves", "Lineage", "Data"])
with curves_tab:
    show_curves(model_curve(root, name))
lineage = model_lineage(root, name)
with lineage_tab:
    show_lineage(lineage)
with data_tab:
    show_data(data_files(root, name), lineage, root)
