"""The Compare outputs view as data: loading from the store, the filters, pages and the diff."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.report import outputs as view
from harness.report.outputs import OutputFilter, OutputRow, OutputsTable
from harness.store import runs as store_runs
from harness.workspace import Workspace

CANDS = ("a", "b")


def _row(example_id: str, a: str, b: str, *, em_a: float | None = 1.0, em_b: float | None = 1.0,
         metadata: dict | None = None, reference: str = "ref", user: str = "question") -> OutputRow:
    return OutputRow(example_id=example_id, messages=({"role": "user", "content": user},), reference=reference,
                     metadata=metadata or {}, outputs={"a": a, "b": b},
                     scores={"a": {"em": em_a}, "b": {"em": em_b}})


def _table(*rows: OutputRow) -> OutputsTable:
    return OutputsTable("run-1", "test", CANDS, ("em",), tuple(rows))


def _ids(rows: list[OutputRow]) -> list[str]:
    return [r.example_id for r in rows]


# the diff --------------------------------------------------------------------------------------------

def _side(marked: str, keep: str, drop: str) -> str:
    """The plain text of one side of a diff: drop one tag with its text, unwrap the other, unescape."""
    marked = re.sub(rf"<{drop}[^>]*>.*?</{drop}>", "", marked, flags=re.S)
    return html.unescape(re.sub(rf"</?{keep}[^>]*>", "", marked))


@pytest.mark.parametrize(("reference", "output"), [
    ("the cat sat", "the cat sat"),
    ("the cat sat", "the dog sat down"),
    ('{"a": 1, "b": null}', '{"a": 2, "b": null, "c": 3}'),
    ("", "all new"),
    ("all gone", ""),
    ("line one\n\nline two", "line one\nline 2"),
])
def test_diff_html_rebuilds_both_sides(reference: str, output: str) -> None:
    marked = view.diff_html(reference, output)
    assert _side(marked, "ins", "del") == output
    assert _side(marked, "del", "ins") == reference


def test_diff_html_marks_only_the_changes() -> None:
    assert view.diff_html("same text", "same text") == "same text"
    marked = view.diff_html("the cat sat", "the dog sat")
    assert re.sub(r' style="[^"]*"', "", marked) == "the <del>cat</del><ins>dog</ins> sat"
    assert view.diff_html("keep", "keep more").endswith(f'<ins style="{view.INSERT_STYLE}"> more</ins>')


def test_diff_html_escapes_markup_in_outputs_and_references() -> None:
    output = '<script>alert("x")</script> & <b>bold</b>'
    marked = view.diff_html("<i>ref</i>", output)
    tags = set(re.findall(r"</?([a-zA-Z]+)", marked))
    assert tags <= {"ins", "del"}, tags
    assert "<script" not in marked and "<b>" not in marked and "<i>" not in marked
    assert _side(marked, "ins", "del") == output and _side(marked, "del", "ins") == "<i>ref</i>"
    assert view.diff_html("", output) == (f'<ins style="{view.INSERT_STYLE}">&lt;script&gt;alert(&quot;x&quot;)'
                                          "&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;</ins>")
    assert view.diff_html(output, output) == html.escape(output)
    block = view.text_block_html(marked)
    assert block.startswith("<pre") and block.endswith("</pre>") and block.count("</pre>") == 1


def test_format_helpers() -> None:
    assert view.format_scores({"em": 1.0, "rougeL": 0.12345}, ["em", "rougeL", "gone"]) == \
        "em 1 · rougeL 0.123 · gone -"
    assert view.format_messages([{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]) \
        == "system: be brief\n\nuser: hi"


# filters ---------------------------------------------------------------------------------------------

def test_disagrees_on_text_after_normalising_and_on_a_metric() -> None:
    same = _row("1", "Hello  World", "hello world")
    differ = _row("2", "yes", "no", em_a=1.0, em_b=1.0)
    scores_differ = _row("3", "x", "x", em_a=1.0, em_b=0.0)
    missing = _row("4", "x", "x", em_a=1.0, em_b=None)
    assert not view.disagrees(same, CANDS)
    assert view.disagrees(differ, CANDS) and not view.disagrees(differ, CANDS, "em")
    assert view.disagrees(scores_differ, CANDS, "em") and not view.disagrees(scores_differ, CANDS)
    assert view.disagrees(missing, CANDS, "em")
    assert not view.disagrees(differ, ["a"])  # one candidate cannot disagree with itself
    rows = view.filter_rows(_table(same, differ, scores_differ), OutputFilter(disagree=True))
    assert _ids(rows) == ["2"]
    assert _ids(view.filter_rows(_table(same, differ, scores_differ),
                                 OutputFilter(disagree=True, disagree_metric="em"))) == ["3"]


def test_worst_first_by_the_lowest_candidate_missing_last_ties_stable() -> None:
    rows = [_row("hi", "", "", em_a=0.9, em_b=0.8), _row("none", "", "", em_a=None, em_b=None),
            _row("lo", "", "", em_a=0.1, em_b=0.7), _row("tie1", "", "", em_a=0.5, em_b=0.9),
            _row("tie2", "", "", em_a=0.9, em_b=0.5)]
    assert _ids(view.worst_first(rows, "em", CANDS)) == ["lo", "tie1", "tie2", "hi", "none"]
    assert _ids(view.worst_first(rows, "em", ["b"])) == ["tie2", "lo", "hi", "tie1", "none"]
    # lower is better (a latency): the highest value is the worst
    assert _ids(view.worst_first(rows, "em", ["a"], higher_is_better=False)) == ["hi", "tie2", "tie1", "lo", "none"]
    table = _table(*rows)
    assert _ids(view.filter_rows(table, OutputFilter(sort_metric="em", sort_candidate="b"))) == \
        ["tie2", "lo", "hi", "tie1", "none"]
    assert _ids(view.filter_rows(table, OutputFilter())) == ["hi", "none", "lo", "tie1", "tie2"]


def test_higher_is_better_reads_the_metric_registry() -> None:
    assert view.higher_is_better("exact_match") is True
    assert view.higher_is_better("no-such-metric") is True


def test_slices_by_a_metadata_field() -> None:
    rows = [_row("1", "", "", metadata={"area": "billing", "n": 2, "schema": {"type": "object"}}),
            _row("2", "", "", metadata={"area": "shipping", "n": 2}),
            _row("3", "", "", metadata={"n": 2}),
            _row("4", "", "", metadata={"area": "billing", "n": 2})]
    assert view.slice_fields(rows) == ["area"]  # n is constant, schema is not a scalar
    assert view.slice_values(rows, "area") == ["(missing)", "billing", "shipping"]
    assert view.in_slice(rows[0], "area", "billing") and not view.in_slice(rows[1], "area", "billing")
    table = _table(*rows)
    assert _ids(view.filter_rows(table, OutputFilter(slice_field="area", slice_value="billing"))) == ["1", "4"]
    assert _ids(view.filter_rows(table, OutputFilter(slice_field="area", slice_value="(missing)"))) == ["3"]
    assert view.slice_label(rows[1], "n") == "2"


def test_text_search_is_case_insensitive_over_every_text() -> None:
    rows = [_row("ex-1", "The Parcel", "late", user="where is my order"),
            _row("ex-2", "refund", "REFUND please", reference="money back"),
            _row("special-3", "x", "y")]
    table = _table(*rows)
    search = lambda q: _ids(view.filter_rows(table, OutputFilter(search=q)))  # noqa: E731
    assert search("parcel") == ["ex-1"]           # an output
    assert search("ORDER") == ["ex-1"]            # the input
    assert search("money") == ["ex-2"]            # the reference
    assert search("special") == ["special-3"]     # the id
    assert search("refund please") == ["ex-2"]    # every word, anywhere
    assert search("refund parcel") == []
    assert search("   ") == ["ex-1", "ex-2", "special-3"]


def test_filters_combine() -> None:
    rows = [_row("1", "a", "b", metadata={"area": "x"}), _row("2", "a", "a", metadata={"area": "x"}),
            _row("3", "a", "b", metadata={"area": "y"}), _row("4", "find me", "b", metadata={"area": "x"})]
    chosen = OutputFilter(disagree=True, slice_field="area", slice_value="x", search="a")
    assert _ids(view.filter_rows(_table(*rows), chosen)) == ["1"]


def test_paginate() -> None:
    rows = [_row(str(i), "", "") for i in range(45)]
    first, pages = view.paginate(rows, 1)
    assert pages == 3 and _ids(first) == [str(i) for i in range(20)]
    last, _ = view.paginate(rows, 3)
    assert _ids(last) == [str(i) for i in range(40, 45)]
    assert view.paginate(rows, 99)[0] == last and view.paginate(rows, 0)[0] == first
    assert view.paginate([], 1) == ([], 1)
    assert view.paginate(rows, 2, size=10)[0][0].example_id == "10"
    with pytest.raises(HarnessError):
        view.paginate(rows, 1, size=0)


# loading from the store -------------------------------------------------------------------------------

@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = Workspace.open(tmp_path / "ws")
    eval_set = tmp_path / "test.jsonl"
    eval_set.write_text("".join(json.dumps({"id": f"ex-{i}", "messages": [
        {"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": f"ref {i}"}]}) + "\n"
        for i in range(3)), encoding="utf-8")
    suite = {"name": "s", "datasets": {"test": str(eval_set), "other": "gone.jsonl"},
             "candidates": [{"name": "tuned"}, {"name": "base"}],
             "resolved": {"datasets": {"test": {"path": str(eval_set)}}}}
    store_runs.create_run(workspace.engine, "run-1", "s", "h", str(tmp_path / "ws" / "runs" / "run-1"), suite)
    store_runs.set_run_status(workspace.engine, "run-1", "completed")

    def rows(cand: str, ids: list[int]) -> list[dict]:
        return [{"example_id": f"ex-{i}", "prediction": f"{cand} {i}", "reference": f"ref {i}",
                 "scores": {"em": float(cand == "tuned"), "note": "text"}, "metadata_json": {"area": "ab"[i % 2]}}
                for i in ids]

    store_runs.replace_run_examples(workspace.engine, "run-1", "base", "test", rows("base", [2, 0]))
    store_runs.replace_run_examples(workspace.engine, "run-1", "tuned", "test", rows("tuned", [0, 1, 2]))
    store_runs.replace_run_examples(workspace.engine, "run-1", "base", "other", rows("base", [0]))
    store_runs.create_run(workspace.engine, "run-empty", "s", "h", "x", {})
    yield workspace
    workspace.close()


def test_run_choices_list_runs_with_rows_in_suite_order(ws: Workspace) -> None:
    choices = view.run_choices(ws.engine)
    assert [(c.id, c.datasets, c.candidates) for c in choices] == [("run-1", ("test", "other"), ("tuned", "base"))]
    assert choices[0].label == "run-1 (s)"


def test_load_outputs_keeps_the_examples_every_candidate_answered(ws: Workspace) -> None:
    table = view.load_outputs(ws.engine, "run-1", "test", ["tuned", "base"])
    assert (table.run_id, table.dataset, table.candidates, table.metrics) == ("run-1", "test", ("tuned", "base"),
                                                                               ("em",))
    assert _ids(list(table.rows)) == ["ex-0", "ex-2"]  # ex-1 has no base output; the first candidate's order
    row = table.rows[1]
    assert row.outputs == {"tuned": "tuned 2", "base": "base 2"} and row.reference == "ref 2"
    assert row.scores == {"tuned": {"em": 1.0}, "base": {"em": 0.0}}
    assert row.messages == ({"role": "user", "content": "question 2"},) and row.metadata == {"area": "a"}
    reordered = view.load_outputs(ws.engine, "run-1", "test", ["base", "tuned"])
    assert _ids(list(reordered.rows)) == ["ex-2", "ex-0"]
    other = view.load_outputs(ws.engine, "run-1", "other", ["base"])
    assert other.rows[0].messages == ()  # its eval set is gone: no input, no error


@pytest.mark.parametrize(("run_id", "dataset", "candidates", "message"), [
    ("nope", "test", ["base"], "no run 'nope'"),
    ("run-1", "missing", ["base"], "no dataset 'missing'"),
    ("run-1", "other", ["base", "tuned"], "no candidate 'tuned' on dataset 'other'"),
])
def test_load_outputs_names_what_is_missing(ws: Workspace, run_id: str, dataset: str, candidates: list[str],
                                            message: str) -> None:
    with pytest.raises(HarnessError, match=message):
        view.load_outputs(ws.engine, run_id, dataset, candidates)
