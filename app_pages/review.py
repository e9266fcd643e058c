"""Review page: a reviewer's blind queue (rubric form or pairwise A/B choice, keyboard shortcuts, guidelines,
progress, skip), then the batch results (agreement, win rates, rubric means, metric-human correlation).

The reviewer's name is asked once per browser session. Picking a batch claims its next item with a lease
(:func:`harness.review.queue.next_item`); answers and skips are written through
:func:`app_pages.common.writable_workspace`. The queue tab never shows candidate names: pairwise outputs are
"A" (left) and "B" (right), as ``harness review next`` shows them. Keyboard shortcuts (Streamlit's
``shortcut=``; they do not fire while typing in a text field): A / B / T choose A, B or a tie, S skips,
Ctrl+Enter (Cmd+Enter) submits a rubric form.
"""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING, Any

import streamlit as st

from app_pages.common import (
    CACHE_TTL_S,
    empty_state,
    engine_or_stop,
    workspace,
    workspace_root,
    writable_workspace,
)

if TYPE_CHECKING:
    import pandas as pd

    from harness.review.queue import BatchInfo, ReviewTask
    from harness.review.results import ReviewResults

ENQUEUE = ("harness review enqueue latest --kind pairwise --candidates CANDIDATE_A,CANDIDATE_B --overlap 2\n"
           "harness review enqueue latest --kind rubric")
REVIEWER_KEY = "review_reviewer"
NAME_INPUT_KEY = "review_name_input"
BATCH_KEY = "review_batch"
TASK_KEY = "review_task"
FLASH_KEY = "review_flash"
N_BOOT = 500
CHOICE_BUTTONS = (("A is better", "left", "A", "primary"), ("Tie", "tie", "T", "secondary"),
                  ("B is better", "right", "B", "primary"))
SKIP_SHORTCUT = "S"
SUBMIT_SHORTCUT = "Ctrl+Enter"
_MARKDOWN_SPECIAL = "\\`*_{}[]<>()#+-.!|~$"


def _escape(text: str) -> str:
    """``text`` with Markdown's special characters escaped (shown as written)."""
    return "".join(f"\\{c}" if c in _MARKDOWN_SPECIAL else c for c in str(text))


# data (cached, read-only) ---------------------------------------------------------------------------

@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _queue(root: str) -> tuple[list[BatchInfo], list[dict]]:
    from harness.review import queue

    engine = workspace(root).engine
    return queue.list_batches(engine), queue.batch_status(engine)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner="Computing agreement intervals ...")
def _run_results(root: str, run_id: str) -> list[tuple[ReviewResults, pd.DataFrame]]:
    from harness.review import queue
    from harness.review.results import results_for_run
    from harness.review.view import agreement_table

    engine = workspace(root).engine
    out = []
    for result in results_for_run(engine, run_id):
        batch = queue.get_batch(engine, result.batch_id)
        table = agreement_table(batch, queue.labels(engine, batch.id), queue.items(engine, batch.id),
                                confidence=result.confidence, n_boot=N_BOOT)
        out.append((result, table))
    return out


def _clear_caches() -> None:
    _queue.clear()
    _run_results.clear()


# actions (callbacks: they run before the page is drawn again) ---------------------------------------

def _flash(kind: str, text: str) -> None:
    st.session_state[FLASH_KEY] = (kind, text)


def _show_flash() -> None:
    kind, text = st.session_state.pop(FLASH_KEY, (None, None))
    if kind == "success":
        st.success(text, icon=":material/check_circle:")
    elif kind == "warning":
        st.warning(text)
    elif kind == "error":
        st.error(text)


def _set_reviewer() -> None:
    name = str(st.session_state.get(NAME_INPUT_KEY) or "").strip()
    if not name:
        _flash("error", "Enter a name first: it is stored with every review you submit.")
        return
    st.session_state[REVIEWER_KEY] = name
    st.session_state.pop(TASK_KEY, None)


def _forget_reviewer() -> None:
    st.session_state.pop(REVIEWER_KEY, None)
    st.session_state.pop(TASK_KEY, None)


def _error_text(exc: Exception) -> str:
    hint = getattr(exc, "hint", None)
    return f"{exc}" + (f" ({hint})" if hint else "")


def _submit(root: str, item_id: str, position: int, reviewer: str, kind: str, field_keys: dict[str, str],
            choice: str | None = None) -> None:
    """Store the answer to the claimed item; on success the next item is claimed when the page redraws."""
    from harness.errors import DataError, HarnessError
    from harness.review import queue

    values = None
    if kind == "rubric":
        values = {name: st.session_state.get(key) for name, key in field_keys.items()}
        values = {name: value for name, value in values.items() if value not in (None, "")}
    engine = writable_workspace(root).engine
    try:
        if choice is not None:
            queue.submit(engine, item_id, reviewer, choice=choice)
        else:
            queue.submit(engine, item_id, reviewer, values)
    except DataError as exc:  # an incomplete form: keep the item, say what is missing
        _flash("error", _error_text(exc))
        return
    except HarnessError as exc:  # lease expired, not claimed, item gone: claim again
        _flash("warning", f"Not saved: {_error_text(exc)}")
    else:
        _flash("success", f"Saved your review of item {position + 1}.")
    finally:
        engine.dispose()
    st.session_state.pop(TASK_KEY, None)
    _clear_caches()


def _skip(root: str, item_id: str, position: int, reviewer: str) -> None:
    from harness.errors import HarnessError
    from harness.review import queue

    engine = writable_workspace(root).engine
    try:
        queue.skip(engine, item_id, reviewer)
    except HarnessError as exc:
        _flash("warning", f"Could not skip: {_error_text(exc)}")
    else:
        _flash("success", f"Skipped item {position + 1}; it goes back to the queue for others.")
    finally:
        engine.dispose()
    st.session_state.pop(TASK_KEY, None)
    _clear_caches()


def _check_again() -> None:
    st.session_state.pop(TASK_KEY, None)
    _clear_caches()


def _current_task(root: str, batch_id: str, reviewer: str) -> ReviewTask | None:
    """The item this session is reviewing; claims the next one when there is none (or its lease ran out)."""
    from harness.review import queue

    key = (root, batch_id, reviewer)
    held = st.session_state.get(TASK_KEY)
    if held is not None and held["key"] == key:
        task = held["task"]
        if task is None or _dt.datetime.fromisoformat(task.lease_expires_at) > _dt.datetime.now(_dt.UTC):
            return task
    engine = writable_workspace(root).engine
    try:
        task = queue.next_item(engine, batch_id, reviewer)
    finally:
        engine.dispose()
    st.session_state[TASK_KEY] = {"key": key, "task": task}
    _queue.clear()
    return task


# the queue tab -------------------------------------------------------------------------------------

def _reviewer() -> str | None:
    name = st.session_state.get(REVIEWER_KEY)
    if name:
        left, right = st.columns([5, 1], vertical_alignment="center")
        left.markdown(f"Reviewing as **{_escape(name)}**")
        right.button("Change name", key="review_change_name", on_click=_forget_reviewer)
        return str(name)
    with st.form("review_name_form"):
        st.text_input("Your reviewer name", key=NAME_INPUT_KEY, max_chars=200, placeholder="e.g. ana",
                      help="Asked once per browser session; stored with every review you submit.")
        st.form_submit_button("Start reviewing", key="review_name_go", type="primary", on_click=_set_reviewer)
    return None


def _queue_view(root: str, batches: list[BatchInfo], statuses: list[dict]) -> None:
    from harness.review.view import batch_label, queue_table, reviewer_progress

    _show_flash()
    reviewer = _reviewer()
    table = queue_table(batches, statuses, reviewer)
    st.dataframe(table, hide_index=True, column_config={
        "progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0, format="percent",
                                                    help="Items with all their reviewers' labels"),
        "yours": st.column_config.NumberColumn("yours", help="Labels you submitted")})
    if reviewer is None:
        return
    by_id = {b.id: b for b in batches}
    status_of = {s["batch_id"]: s for s in statuses}
    batch_id = st.selectbox("Batch to review", list(by_id), index=None, key=BATCH_KEY,
                            format_func=lambda bid: batch_label(by_id[bid], status_of.get(bid)),
                            placeholder="Choose a batch: its next item is reserved for you while you review it")
    if batch_id is None:
        return
    batch = by_id[batch_id]
    task = _current_task(root, batch_id, reviewer)
    _, statuses = _queue(root)
    progress = reviewer_progress(next((s for s in statuses if s["batch_id"] == batch_id), {}), reviewer)
    st.progress(progress.fraction, text=f"You: {progress.submitted} of {progress.n_items} items reviewed, "
                f"{progress.skipped} skipped · batch: {progress.done} of {progress.n_items} items complete "
                f"({batch.overlap} reviewer{'s' if batch.overlap != 1 else ''} each)")
    if task is None:
        st.success(f"Nothing left for you in batch {batch_id}: every item is done, skipped by you, or being "
                   "reviewed by others. See the Results tab.", icon=":material/task_alt:")
        st.button("Check again", key="review_check_again", on_click=_check_again)
        return
    _task_view(root, task, reviewer)


def _task_view(root: str, task: ReviewTask, reviewer: str) -> None:
    st.subheader(f"Item {task.position + 1} of {task.n_items}")
    expires = _dt.datetime.fromisoformat(task.lease_expires_at).strftime("%H:%M UTC")
    st.caption(f"Reserved for you until {expires}. Keyboard: "
               + ("A, B or T to choose, " if task.kind == "pairwise" else "Ctrl+Enter to submit, ")
               + "S to skip.")
    with st.expander("Guidelines", expanded=task.position == 0, icon=":material/menu_book:"):
        st.markdown(_escape(task.guideline))
        if task.rubric is not None:
            for spec in task.rubric.fields:
                optional = "" if spec.required else " (optional)"
                st.markdown(f"- **{_escape(spec.name)}**: {_escape(spec.allowed())}{optional}"
                            + (f" · {_escape(spec.guideline)}" if spec.guideline else ""))
    st.markdown("**Input**")
    for message in task.messages:
        with st.chat_message(str(message.get("role", "user"))):
            st.text(str(message.get("content", "")))
    if task.reference:
        st.markdown("**Reference answer**")
        st.code(task.reference, language=None, wrap_lines=True)
    if task.kind == "pairwise":
        _pairwise_view(root, task, reviewer)
    else:
        _rubric_view(root, task, reviewer)


def _pairwise_view(root: str, task: ReviewTask, reviewer: str) -> None:
    columns = st.columns(2)
    for column, label, text in zip(columns, ("A", "B"), task.outputs, strict=True):
        with column.container(border=True):
            st.markdown(f"**Output {label}**")
            st.code(text, language=None, wrap_lines=True)
    st.markdown("**Which output is better?**")
    buttons = st.columns(len(CHOICE_BUTTONS) + 1)
    for column, (label, choice, shortcut, kind) in zip(buttons, CHOICE_BUTTONS, strict=False):
        column.button(label, key=f"review_choice_{choice}", type=kind, shortcut=shortcut, width="stretch",
                      on_click=_submit, args=(root, task.item_id, task.position, reviewer, task.kind, {}, choice))
    buttons[-1].button("Skip", key="review_skip", shortcut=SKIP_SHORTCUT, icon=":material/skip_next:",
                       width="stretch", on_click=_skip, args=(root, task.item_id, task.position, reviewer))


def _rubric_view(root: str, task: ReviewTask, reviewer: str) -> None:
    st.markdown("**Output**")
    st.code(task.outputs[0], language=None, wrap_lines=True)
    assert task.rubric is not None
    field_keys = {spec.name: f"review_field_{task.item_id}_{spec.name}" for spec in task.rubric.fields}
    with st.form(f"review_form_{task.item_id}", border=True):
        for spec in task.rubric.fields:
            label = spec.name.replace("_", " ") + ("" if spec.required else " (optional)")
            key = field_keys[spec.name]
            if spec.type == "scale":
                assert spec.low is not None and spec.high is not None
                st.radio(label, list(range(spec.low, spec.high + 1)), index=None, horizontal=True, key=key,
                         help=spec.guideline or None)
            elif spec.type == "yes_no":
                st.radio(label, ["yes", "no"], index=None, horizontal=True, key=key, help=spec.guideline or None)
            else:
                st.text_area(label, key=key, help=spec.guideline or None, height=80)
        st.form_submit_button("Submit review", key="review_submit", type="primary", shortcut=SUBMIT_SHORTCUT,
                              on_click=_submit,
                              args=(root, task.item_id, task.position, reviewer, task.kind, field_keys))
    st.button("Skip", key="review_skip", shortcut=SKIP_SHORTCUT, icon=":material/skip_next:",
              on_click=_skip, args=(root, task.item_id, task.position, reviewer))


# the results tab -----------------------------------------------------------------------------------

def _interval_chart(data: pd.DataFrame, *, x: str, y: str, color: str | None, domain: list[float] | None,
                    title: str, refs: tuple[float, ...] = (), tooltip: tuple[str, ...] = (),
                    percent: bool = False) -> Any:
    """Points with horizontal interval bars (``low`` .. ``high``), optional dashed reference lines."""
    import altair as alt
    import pandas as pd

    scale = alt.Scale(domain=domain, nice=False) if domain else alt.Undefined
    axis = alt.Axis(format="%") if percent else alt.Undefined
    encoding: dict[str, Any] = {"y": alt.Y(f"{y}:N", title=None, sort=None)}
    if color:
        encoding.update(color=alt.Color(f"{color}:N", title=None, legend=alt.Legend(orient="bottom")),
                        yOffset=alt.YOffset(f"{color}:N"))
    base = alt.Chart(data)
    bars = base.mark_rule(strokeWidth=2).encode(x=alt.X("low:Q", scale=scale, title=title, axis=axis),
                                                 x2="high:Q", **encoding)
    points = base.mark_point(filled=True, size=80).encode(x=alt.X(f"{x}:Q", scale=scale), tooltip=list(tooltip),
                                                          **encoding)
    layers = [bars, points]
    if refs:
        layers.append(alt.Chart(pd.DataFrame({"ref": list(refs)})).mark_rule(strokeDash=[4, 4], color="gray")
                      .encode(x="ref:Q"))
    return alt.layer(*layers)


def _results_view(root: str, batches: list[BatchInfo]) -> None:
    runs = list(dict.fromkeys(b.run_id for b in batches))
    run_id = st.selectbox("Run", runs, index=len(runs) - 1, key="review_results_run",
                          help="The run the review batches were built from")
    st.caption("Results name the candidates: finish your own queue first to stay blind. Unit: the item "
               "(an item's score is the mean over its reviewers).")
    for result, agreement in _run_results(root, run_id):
        with st.container(border=True):
            _batch_results(result, agreement)


def _batch_results(result: ReviewResults, agreement: pd.DataFrame) -> None:
    from harness.review.results import summary_lines
    from harness.review.view import means_table, metric_table, position_table, win_rate_table

    shown = " vs ".join(result.candidates) if result.kind == "pairwise" else ", ".join(result.candidates)
    st.subheader(f"Batch {result.batch_id} · {result.kind}")
    st.caption(f"{_escape(shown)} · dataset {_escape(result.dataset)}")
    cols = st.columns(3)
    cols[0].metric("Items reviewed", f"{result.n_reviewed} / {result.n_items}")
    cols[1].metric("Labels", result.n_labels)
    cols[2].metric("Reviewers", len(result.reviewers))
    for line in summary_lines(result):
        st.markdown(f"- {_escape(line)}")
    if result.n_labels == 0:
        return
    level = f"{result.confidence:.0%}"
    left, right = st.columns(2)
    with left:
        st.markdown(f"**Agreement between reviewers** ({level} bootstrap intervals over items)")
        if agreement["value"].notna().any():
            st.altair_chart(_interval_chart(
                agreement, x="value", y="field", color="description", domain=[-1.0, 1.0], title="agreement",
                refs=(0.667, 0.8), tooltip=("field", "description", "value", "low", "high", "n_items",
                                            "n_reviewers", "reading")), width="stretch")
        else:
            st.info("Agreement needs items rated by two or more reviewers.")
    with right:
        wins = win_rate_table(result)
        means = means_table(result)
        if not wins.empty:
            st.markdown(f"**Win rate of A over B** (ties as half, {level} intervals; dashed: no preference)")
            st.altair_chart(_interval_chart(
                wins, x="win_rate", y="pair", color=None, domain=[0.0, 1.0], title="win rate", refs=(0.5,),
                tooltip=("pair", "wins_a", "wins_b", "ties", "win_rate", "low", "high", "p_value", "p_adjusted"),
                percent=True), width="stretch")
            st.caption(_escape(result.win_rates[0].method))
        if not means.empty:
            st.markdown(f"**Rubric means per candidate** ({level} intervals)")
            tooltip = ("candidate", "field", "mean", "low", "high", "n")
            scales = means[means["type"] == "scale"]
            yes_no = means[means["type"] == "yes_no"]
            if not scales.empty:
                st.altair_chart(_interval_chart(scales, x="mean", y="field", color="candidate", domain=None,
                                                title="mean score", tooltip=tooltip), width="stretch")
            if not yes_no.empty:
                st.altair_chart(_interval_chart(yes_no, x="mean", y="field", color="candidate", domain=[0.0, 1.0],
                                                title="share of yes", tooltip=tooltip, percent=True),
                                width="stretch")
    metrics = metric_table(result)
    if not metrics.empty:
        st.markdown(f"**Automatic metrics vs reviewers** (Spearman rho with {level} Fisher-z intervals, "
                    f"human score: {_escape(metrics['human'].iloc[0])})")
        st.altair_chart(_interval_chart(metrics, x="rho", y="metric", color=None, domain=[-1.0, 1.0],
                                        title="Spearman rho", refs=(0.0,),
                                        tooltip=("metric", "rho", "low", "high", "n", "reading")), width="stretch")
    if result.positions:
        import altair as alt

        st.markdown("**Choices by position** (a strong lean to one side suggests position bias)")
        st.altair_chart(alt.Chart(position_table(result)).mark_bar().encode(
            x=alt.X("count:Q", title="labels"), y=alt.Y("choice:N", title=None, sort=None),
            tooltip=["choice", "count"]), width="stretch")
    with st.expander("Tables"):
        st.dataframe(agreement, hide_index=True)
        for table in (win_rate_table(result), means_table(result), metrics):
            if not table.empty:
                st.dataframe(table, hide_index=True)


# the page ------------------------------------------------------------------------------------------

st.title("Review")
_root = workspace_root()
engine_or_stop(_root, command=ENQUEUE)
_batches, _statuses = _queue(_root)
if not _batches:
    empty_state("No review batches in this workspace yet: build one from an eval run.", ENQUEUE)
_queue_tab, _results_tab = st.tabs(["Review queue", "Results"])
with _queue_tab:
    _queue_view(_root, _batches, _statuses)
with _results_tab:
    _results_view(_root, _batches)
