"""Compare outputs: per example, two or more candidates side by side (input, reference, outputs with their
differences from the reference, metric values), with filters, pages of examples, and a button that puts
the selected examples in a review batch. The data comes from :mod:`harness.report.outputs`."""

from __future__ import annotations

import hashlib
import html
from pathlib import Path

import streamlit as st

from app_pages.common import (
    CACHE_TTL_S,
    empty_state,
    engine_or_stop,
    workspace,
    workspace_root,
    writable_workspace,
)
from harness.errors import HarnessError
from harness.report import outputs as view

EVAL_COMMAND = "harness eval SUITE.yaml"
ALL = "(all examples)"


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _runs(root: str) -> list[view.RunChoice]:
    return view.run_choices(workspace(root).engine)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner="Reading outputs...")
def _table(root: str, run_id: str, dataset: str, candidates: tuple[str, ...]) -> view.OutputsTable:
    return view.load_outputs(workspace(root).engine, run_id, dataset, candidates)


def _block(inner_html: str) -> None:
    st.markdown(view.text_block_html(inner_html), unsafe_allow_html=True)


def _toggle(selection_key: str, example_id: str, box_key: str) -> None:
    chosen = [i for i in st.session_state.get(selection_key, []) if i != example_id]
    if st.session_state.get(box_key):
        chosen.append(example_id)
    st.session_state[selection_key] = chosen


def _add(selection_key: str, example_ids: list[str]) -> None:
    st.session_state[selection_key] = list(dict.fromkeys([*st.session_state.get(selection_key, []), *example_ids]))


def _clear(selection_key: str) -> None:
    st.session_state[selection_key] = []


def _example(row: view.OutputRow, table: view.OutputsTable, selection_key: str, slice_field: str | None) -> None:
    with st.container(border=True):
        box_key = f"outputs-pick::{row.example_id}"
        st.session_state[box_key] = row.example_id in st.session_state.get(selection_key, [])
        head, pick = st.columns([5, 1])
        where = f" · {slice_field} = `{view.slice_label(row, slice_field)}`" if slice_field else ""
        head.markdown(f"**`{row.example_id}`**{where}")
        pick.checkbox("Select", key=box_key, on_change=_toggle, args=(selection_key, row.example_id, box_key),
                      help="Add this example to the review batch below.")
        left, right = st.columns(2)
        with left:
            st.caption("Input")
            _block(html.escape(view.format_messages(row.messages)) if row.messages else "<i>(input not found)</i>")
        with right:
            st.caption("Reference")
            _block(html.escape(row.reference))
        for column, candidate in zip(st.columns(len(table.candidates)), table.candidates, strict=True):
            with column:
                st.markdown(f"**{candidate}**")
                _block(view.diff_html(row.reference, row.outputs[candidate]))
                st.caption(view.format_scores(row.scores.get(candidate, {}), table.metrics))


def _enqueue(root: str, table: view.OutputsTable, selection_key: str) -> None:
    st.subheader("Enqueue for review")
    selected = st.multiselect("Selected examples", [r.example_id for r in table.rows], key=selection_key,
                              placeholder="Tick examples above, or pick ids here")
    kind = st.radio("Review kind", ["pairwise", "rubric"], horizontal=True, key="outputs-kind",
                    help="Pairwise: a blind choice between two candidates. Rubric: each candidate's output rated "
                         "on the default rubric.")
    candidates = list(table.candidates)
    if kind == "pairwise":
        first, second = st.columns(2)
        a = first.selectbox("Candidate A", candidates, index=0, key="outputs-pair-a")
        b = second.selectbox("Candidate B", candidates, index=1, key="outputs-pair-b")
        reviewed = [a, b]
    else:
        reviewed = st.multiselect("Candidates to rate", candidates, default=candidates, key="outputs-rated")
    overlap = st.number_input("Reviewers per item", min_value=1, max_value=20, value=1, step=1,
                              key="outputs-overlap")
    if st.button(f"Create review batch ({len(selected)} example{'' if len(selected) == 1 else 's'})",
                 type="primary", disabled=not selected, key="outputs-enqueue"):
        from harness.review.sampling import batch_for_examples

        try:
            ws = writable_workspace(root)
            try:
                batch = batch_for_examples(ws.engine, Path(root), table.run_id, selected, candidates=reviewed,
                                           dataset=table.dataset, kind=kind, overlap=int(overlap))
            finally:
                ws.close()
        except HarnessError as exc:
            st.error(str(exc))
            return
        st.session_state["outputs-last-batch"] = (batch.id, batch.n_items, batch.kind)
        st.cache_data.clear()
    if "outputs-last-batch" in st.session_state:
        batch_id, n_items, batch_kind = st.session_state["outputs-last-batch"]
        st.success(f"Created {batch_kind} review batch `{batch_id}` with {n_items} item(s).")
        st.page_link("app_pages/review.py", label="Review it on the Review page", icon=":material/rate_review:")


def main() -> None:
    """Render the page."""
    st.title("Compare outputs")
    root = workspace_root()
    engine_or_stop(root, command=EVAL_COMMAND)
    runs = _runs(root)
    if not runs:
        empty_state(f"No scored runs in `{root}` yet.", EVAL_COMMAND)
    by_id = {r.id: r for r in runs}
    pick_run, pick_dataset = st.columns([2, 1])
    run = by_id[pick_run.selectbox("Run", list(by_id), format_func=lambda i: by_id[i].label, key="outputs-run")]
    dataset = pick_dataset.selectbox("Dataset", run.datasets, key=f"outputs-dataset::{run.id}")
    candidates = tuple(st.multiselect("Candidates (two or more)", run.candidates, default=list(run.candidates),
                                      key=f"outputs-candidates::{run.id}"))
    if len(candidates) < 2:
        st.warning("Pick at least two candidates to compare.")
        st.stop()
    try:
        table = _table(root, run.id, dataset, candidates)
    except HarnessError as exc:
        st.error(str(exc))
        st.stop()

    with st.container(border=True):
        first, second, third, fourth = st.columns(4)
        disagree = first.toggle("Only where they disagree", key="outputs-disagree")
        on = first.selectbox("Disagree on", [None, *table.metrics], disabled=not disagree, key="outputs-disagree-on",
                             format_func=lambda m: "output text" if m is None else m)
        sort_metric = second.selectbox("Order", [None, *table.metrics], key="outputs-order",
                                       format_func=lambda m: "as in the run" if m is None else f"worst {m} first")
        sort_candidate = second.selectbox("Worst of", [None, *candidates], disabled=sort_metric is None,
                                          format_func=lambda c: "any candidate" if c is None else c,
                                          key="outputs-order-candidate")
        slice_field = third.selectbox("Slice by", [ALL, *view.slice_fields(table.rows)], key="outputs-slice")
        slice_value = None
        if slice_field != ALL:
            slice_value = third.selectbox("Slice", view.slice_values(table.rows, slice_field),
                                          key=f"outputs-slice-value::{slice_field}")
        search = fourth.text_input("Search", key="outputs-search", placeholder="words in input, reference, outputs")
    chosen = view.OutputFilter(
        disagree=disagree, disagree_metric=on, sort_metric=sort_metric, sort_candidate=sort_candidate,
        higher_is_better=view.higher_is_better(sort_metric) if sort_metric else True,
        slice_field=None if slice_field == ALL else slice_field, slice_value=slice_value, search=search)
    rows = view.filter_rows(table, chosen)

    selection_key = f"outputs-selected::{run.id}::{dataset}"
    known = {r.example_id for r in table.rows}
    st.session_state[selection_key] = [i for i in st.session_state.get(selection_key, []) if i in known]
    view_key = hashlib.sha1(repr((run.id, dataset, candidates, chosen)).encode()).hexdigest()[:10]
    n_pages = max(1, -(-len(rows) // view.PAGE_SIZE))
    top_left, top_right = st.columns([3, 2])
    top_left.caption(f"{len(rows)} of {len(table.rows)} examples · {len(candidates)} candidates · "
                     "in outputs, green marks text the reference lacks, red struck-through marks reference text "
                     "the output lacks")
    page = st.pagination(n_pages, key=f"outputs-page::{view_key}") if n_pages > 1 else 1
    shown, _ = view.paginate(rows, page, view.PAGE_SIZE)
    with top_right:
        add_page, clear = st.columns(2)
        add_page.button("Select this page", on_click=_add, args=(selection_key, [r.example_id for r in shown]),
                        disabled=not shown, key="outputs-select-page")
        clear.button("Clear selection", on_click=_clear, args=(selection_key,), key="outputs-clear")
    if not rows:
        st.info("No example matches these filters.", icon=":material/filter_alt_off:")
    for row in shown:
        _example(row, table, selection_key, chosen.slice_field)
    _enqueue(root, table, selection_key)


main()
