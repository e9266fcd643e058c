"""The Compare outputs page on the demo workspace: outputs side by side with their diffs and scores,
the filters, pages of examples, and enqueueing the selected examples as a review batch."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from harness.report import outputs as view
from harness.review import queue
from harness.store import runs as store_runs
from harness.workspace import Workspace
from tests.app_pages.support import open_page
from tests.conftest import DemoWorkspace, copy_workspace

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
PAGE = "app_pages/compare_outputs.py"
CANDIDATES = ("base-zero-shot", "base-few-shot", "lora-extract")


def _open(monkeypatch: pytest.MonkeyPatch, workspace: Path) -> AppTest:
    return open_page(monkeypatch, workspace, PAGE)


def _store_rows(workspace: Path) -> tuple[str, dict[str, dict[str, store_runs.RunExample]]]:
    """The demo run's id and its rows by candidate and example id, read straight from the store."""
    ws = Workspace.open_read_only(workspace)
    try:
        run = store_runs.list_runs(ws.engine)[0]
        by_candidate: dict[str, dict[str, store_runs.RunExample]] = {}
        for row in store_runs.run_examples(ws.engine, run.id):
            by_candidate.setdefault(row.candidate, {})[row.example_id] = row
        return run.id, by_candidate
    finally:
        ws.close()


def _shown_ids(at: AppTest) -> list[str]:
    return [box.key.removeprefix("outputs-pick::") for box in at.checkbox if box.key.startswith("outputs-pick::")]


def _count(at: AppTest) -> str:
    return next(c.value for c in at.caption if " examples · " in c.value).split(" · ")[0]


@pytest.fixture
def demo(demo_workspace: DemoWorkspace) -> Path:
    assert demo_workspace.result.exit_code == 0, demo_workspace.result.stderr[-2000:]
    return demo_workspace.path


def test_shows_each_example_side_by_side(monkeypatch: pytest.MonkeyPatch, demo: Path) -> None:
    run_id, rows = _store_rows(demo)
    at = _open(monkeypatch, demo)
    assert at.title[0].value == "Compare outputs"
    assert at.selectbox(key="outputs-run").value == run_id
    assert at.multiselect(key=f"outputs-candidates::{run_id}").value == list(CANDIDATES)
    ids = list(rows["base-zero-shot"])
    assert _shown_ids(at) == ids and _count(at) == f"{len(ids)} of {len(ids)} examples"
    markdown = [m.value for m in at.markdown]
    first = ids[0]
    start = markdown.index(f"**`{first}`**")
    input_block, reference_block = markdown[start + 1], markdown[start + 2]
    assert input_block.startswith("<pre") and "user: " in input_block  # the input from the eval set
    assert reference_block == view.text_block_html(html.escape(rows["lora-extract"][first].reference))
    for offset, cand in enumerate(CANDIDATES):
        assert markdown[start + 3 + 2 * offset] == f"**{cand}**"
        assert markdown[start + 4 + 2 * offset] == view.text_block_html(
            view.diff_html(rows[cand][first].reference, rows[cand][first].prediction))
    scores = [c.value for c in at.caption if c.value.startswith("json_valid ")]
    expected = rows["lora-extract"][first].scores
    assert scores[2] == " · ".join(f"{m} {expected[m]:.3g}" for m in ("json_valid", "json_schema", "exact_match"))
    assert not at.success and not at.page_link  # no batch made yet


def test_one_candidate_is_not_a_comparison(monkeypatch: pytest.MonkeyPatch, demo: Path) -> None:
    run_id, _ = _store_rows(demo)
    at = _open(monkeypatch, demo)
    at.multiselect(key=f"outputs-candidates::{run_id}").set_value(["lora-extract"]).run()
    assert not at.exception
    assert [w.value for w in at.warning] == ["Pick at least two candidates to compare."]
    assert _shown_ids(at) == []


def test_filters(monkeypatch: pytest.MonkeyPatch, demo: Path) -> None:
    _run_id, rows = _store_rows(demo)
    ids = list(rows["base-zero-shot"])
    at = _open(monkeypatch, demo)

    at.text_input(key="outputs-search").input(ids[3]).run()
    assert _shown_ids(at) == [ids[3]] and _count(at) == f"1 of {len(ids)} examples"
    at.text_input(key="outputs-search").input("no such text anywhere").run()
    assert _shown_ids(at) == [] and "No example matches these filters." in [i.value for i in at.info]
    at.text_input(key="outputs-search").input("").run()

    issue = rows["base-zero-shot"][ids[0]].metadata_json["issue"]
    at.selectbox(key="outputs-slice").set_value("issue").run()
    at.selectbox(key="outputs-slice-value::issue").set_value(issue).run()
    assert _shown_ids(at) == [i for i in ids if rows["base-zero-shot"][i].metadata_json["issue"] == issue]
    at.selectbox(key="outputs-slice").set_value("(all examples)").run()

    at.toggle(key="outputs-disagree").set_value(True).run()
    at.selectbox(key="outputs-disagree-on").set_value("json_schema").run()
    assert _shown_ids(at) == [i for i in ids if len({rows[c][i].scores["json_schema"] for c in CANDIDATES}) > 1]
    at.selectbox(key="outputs-disagree-on").set_value(None).run()
    assert _shown_ids(at) == [i for i in ids if len({" ".join(rows[c][i].prediction.casefold().split())
                                                     for c in CANDIDATES}) > 1]
    at.toggle(key="outputs-disagree").set_value(False).run()

    at.selectbox(key="outputs-order").set_value("json_valid").run()
    at.selectbox(key="outputs-order-candidate").set_value("base-zero-shot").run()
    value = {i: rows["base-zero-shot"][i].scores["json_valid"] for i in ids}
    assert _shown_ids(at) == sorted(ids, key=lambda i: value[i])  # lowest first, ties in run order
    assert not at.exception


def test_enqueue_selected_examples_across_pages(monkeypatch: pytest.MonkeyPatch, demo: Path,
                                                tmp_path: Path) -> None:
    workspace = copy_workspace(demo, tmp_path / "ws")
    run_id, rows = _store_rows(workspace)
    ids = list(rows["base-zero-shot"])
    monkeypatch.setattr(view, "PAGE_SIZE", 4)
    at = _open(monkeypatch, workspace)
    pages = at.get("pagination")
    assert len(pages) == 1 and pages[0].num_pages == -(-len(ids) // 4)
    assert _shown_ids(at) == ids[:4]
    assert at.button(key="outputs-enqueue").disabled

    at.checkbox(key=f"outputs-pick::{ids[1]}").check().run()
    at.get("pagination")[0].select(3).run()
    assert _shown_ids(at) == ids[8:12]
    at.checkbox(key=f"outputs-pick::{ids[8]}").check().run()
    at.get("pagination")[0].select(1).run()
    assert at.checkbox(key=f"outputs-pick::{ids[1]}").value  # still ticked after a page change
    at.checkbox(key=f"outputs-pick::{ids[2]}").check().run()
    at.checkbox(key=f"outputs-pick::{ids[2]}").uncheck().run()
    selection = at.multiselect(key=f"outputs-selected::{run_id}::test")
    assert selection.value == [ids[1], ids[8]]

    at.selectbox(key="outputs-pair-a").set_value("lora-extract").run()
    at.selectbox(key="outputs-pair-b").set_value("base-few-shot").run()
    before = {b.id for b in _batches(workspace)}
    at.button(key="outputs-enqueue").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    created = [b for b in _batches(workspace) if b.id not in before]
    assert len(created) == 1
    batch = created[0]
    assert (batch.run_id, batch.dataset, batch.kind, batch.strategy, batch.candidates, batch.n_items) == (
        run_id, "test", "pairwise", "selected", ("lora-extract", "base-few-shot"), 2)
    items = _items(workspace, batch.id)
    assert [i.example_id for i in items] == [ids[1], ids[8]]
    for item in items:
        assert sorted(item.candidates) == ["base-few-shot", "lora-extract"]
        assert item.outputs == tuple(rows[c][item.example_id].prediction for c in item.candidates)
    assert f"`{batch.id}`" in at.success[0].value
    links = [(link.value, link.proto.page) for link in at.page_link]
    assert links and links[-1][0] == "Review it on the Review page" and links[-1][1].endswith("review"), links


def test_enqueue_a_rubric_batch_of_this_page(monkeypatch: pytest.MonkeyPatch, demo: Path, tmp_path: Path) -> None:
    workspace = copy_workspace(demo, tmp_path / "ws")
    run_id, rows = _store_rows(workspace)
    ids = list(rows["base-zero-shot"])
    monkeypatch.setattr(view, "PAGE_SIZE", 3)
    at = _open(monkeypatch, workspace)
    at.get("pagination")[0].select(2).run()
    at.button(key="outputs-select-page").click().run()
    at.radio(key="outputs-kind").set_value("rubric").run()
    at.multiselect(key="outputs-rated").set_value(["lora-extract"]).run()
    at.button(key="outputs-enqueue").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    batch = _batches(workspace)[-1]
    assert (batch.kind, batch.candidates, batch.strategy) == ("rubric", ("lora-extract",), "selected")
    assert [(i.example_id, i.candidates) for i in _items(workspace, batch.id)] == [
        (i, ("lora-extract",)) for i in ids[3:6]]
    at.button(key="outputs-clear").click().run()
    assert at.multiselect(key=f"outputs-selected::{run_id}::test").value == []
    assert at.button(key="outputs-enqueue").disabled


def test_no_scored_run_shows_the_eval_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "empty")
    store_runs.create_run(ws.engine, "run-1", "suite", "hash", str(tmp_path / "empty" / "runs" / "run-1"), {})
    ws.close()  # a run that has not scored anything yet
    at = _open(monkeypatch, tmp_path / "empty")
    assert [i.value for i in at.info] == [f"No scored runs in `{tmp_path / 'empty'}` yet."]
    assert [c.value for c in at.code] == ["harness eval SUITE.yaml"]


def _batches(workspace: Path) -> list[queue.BatchInfo]:
    ws = Workspace.open_read_only(workspace)
    try:
        return queue.list_batches(ws.engine)
    finally:
        ws.close()


def _items(workspace: Path, batch_id: str) -> list[queue.ItemRecord]:
    ws = Workspace.open_read_only(workspace)
    try:
        return queue.items(ws.engine, batch_id)
    finally:
        ws.close()
