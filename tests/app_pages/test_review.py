"""The Review page (pages/review.py) through Streamlit's AppTest on a copy of the demo workspace: a reviewer
enters a name once, submits a blind pairwise and a rubric review that land in the store, skips an item,
never sees candidate names in the queue, and sees the results; plus the empty states."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tests.app_pages.support import open_page
from tests.conftest import copy_workspace

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
PAGE = "app_pages/review.py"
REVIEWER = "dana"


@pytest.fixture
def review_ws(demo_workspace, tmp_path: Path) -> dict[str, Any]:
    """A copy of the demo workspace with two fresh batches (3 items, one reviewer each) besides the demo's
    finished ones: ``{"path", "pairwise", "rubric", "candidates"}``."""
    from harness.review.sampling import build_batch
    from harness.workspace import Workspace

    assert demo_workspace.result.exit_code == 0, demo_workspace.result.stderr[-2000:]
    path = copy_workspace(demo_workspace.path, tmp_path / "ws")
    ws = Workspace.open(path, create=False)
    pairwise = build_batch(ws.engine, ws.root, "latest", candidates=["lora-extract", "base-few-shot"], n=3,
                           kind="pairwise", seed=1)
    rubric = build_batch(ws.engine, ws.root, "latest", candidates=["lora-extract"], n=3, kind="rubric", seed=2)
    ws.engine.dispose()
    return {"path": path, "pairwise": pairwise, "rubric": rubric,
            "candidates": ("lora-extract", "base-few-shot", "base-zero-shot")}


def _engine(path: Path):
    from harness.workspace import Workspace

    return Workspace.open_read_only(path).engine


def _open(monkeypatch: pytest.MonkeyPatch, path: Path) -> AppTest:
    return open_page(monkeypatch, path, PAGE)


def _sign_in(at: AppTest) -> None:
    at.text_input(key="review_name_input").input(REVIEWER)
    at.button(key="review_name_go").click().run()
    assert not at.exception, at.exception


def _texts(node: Any) -> str:
    """Every proto under ``node`` as text (markdown, code, labels, options, table bytes ...)."""
    children = getattr(node, "children", None)
    if children:
        return "\n".join(_texts(child) for child in children.values())
    return str(getattr(node, "proto", ""))


def _item_number(at: AppTest) -> int:
    (title,) = [s.value for s in at.tabs[0].subheader]
    return int(title.split()[1])  # "Item N of M"


def test_name_is_asked_once_and_a_pairwise_review_is_stored_blind(monkeypatch: pytest.MonkeyPatch,
                                                                  review_ws: dict[str, Any]) -> None:
    from harness.review import queue

    batch = review_ws["pairwise"]
    at = _open(monkeypatch, review_ws["path"])
    assert "review_batch" not in [s.key for s in at.selectbox]  # no batch to pick before the name
    _sign_in(at)
    assert f"Reviewing as **{REVIEWER}**" in [m.value for m in at.markdown]
    at.switch_page("app_pages/leaderboard.py").run()
    at.switch_page(PAGE).run()
    assert f"Reviewing as **{REVIEWER}**" in [m.value for m in at.markdown]  # asked once per session
    assert not [t for t in at.text_input if t.key == "review_name_input"]

    at.selectbox(key="review_batch").set_value(batch.id).run()
    assert not at.exception, at.exception
    queue_tab = _texts(at.tabs[0])
    assert "A is better" in queue_tab and batch.id in queue_tab and "Output B" in queue_tab  # the walk sees it all
    for name in review_ws["candidates"]:
        assert name not in queue_tab, f"candidate {name} shown in the review queue"
    held = [i for i in queue.items(_engine(review_ws["path"]), batch.id) if i.position == _item_number(at) - 1][0]
    shown = [c.value for c in at.tabs[0].code]
    assert held.outputs[0] in shown and held.outputs[1] in shown
    assert shown.index(held.outputs[0]) < shown.index(held.outputs[1])  # A is the left output
    assert [b.label for b in at.tabs[0].button if b.key and b.key.startswith("review_choice_")] == \
        ["A is better", "Tie", "B is better"]
    assert at.button(key="review_choice_left").proto.shortcut.lower() == "a"
    assert at.button(key="review_choice_right").proto.shortcut.lower() == "b"
    assert at.button(key="review_skip").proto.shortcut.lower() == "s"
    assert any("Guidelines" in e.proto.label for e in at.tabs[0].expander)

    at.button(key="review_choice_left").click().run()
    assert not at.exception, at.exception
    assert any("Saved your review" in s.value for s in at.success)
    (label,) = [lab for lab in queue.labels(_engine(review_ws["path"]), batch.id) if lab.reviewer == REVIEWER]
    assert label.item_id == held.id and label.values == {"choice": "left"} and label.winner == held.candidates[0]
    assert _item_number(at) != held.position + 1  # the next item is claimed and shown
    assert "1 of 3 items reviewed" in at.tabs[0].get("progress")[0].proto.text


def test_rubric_review_through_the_form(monkeypatch: pytest.MonkeyPatch, review_ws: dict[str, Any]) -> None:
    from harness.review import queue

    batch = review_ws["rubric"]
    at = _open(monkeypatch, review_ws["path"])
    _sign_in(at)
    at.selectbox(key="review_batch").set_value(batch.id).run()
    assert not at.exception, at.exception
    for name in review_ws["candidates"]:
        assert name not in _texts(at.tabs[0])
    position = _item_number(at) - 1
    item_id = f"{batch.id}-{position}"
    assert [r.key for r in at.radio] == [f"review_field_{item_id}_{f}" for f in
                                         ("helpfulness", "policy_compliance", "factual_accuracy", "tone_appropriate")]
    assert at.radio[0].options == ["1", "2", "3", "4", "5"]

    at.radio(key=f"review_field_{item_id}_helpfulness").set_value(4)
    at.button(key="review_submit").click().run()  # incomplete: nothing stored, the same item stays
    assert not at.exception, at.exception
    assert any("missing required field" in e.value for e in at.error)
    assert queue.labels(_engine(review_ws["path"]), batch.id) == []
    assert _item_number(at) - 1 == position

    at.radio(key=f"review_field_{item_id}_helpfulness").set_value(4)
    at.radio(key=f"review_field_{item_id}_policy_compliance").set_value("yes")
    at.radio(key=f"review_field_{item_id}_factual_accuracy").set_value("no")
    at.radio(key=f"review_field_{item_id}_tone_appropriate").set_value("yes")
    at.text_area(key=f"review_field_{item_id}_comment").input("terse but right")
    at.button(key="review_submit").click().run()
    assert not at.exception, at.exception
    (label,) = queue.labels(_engine(review_ws["path"]), batch.id)
    assert (label.item_id, label.reviewer, label.candidate) == (item_id, REVIEWER, "lora-extract")
    assert label.values == {"helpfulness": 4, "policy_compliance": True, "factual_accuracy": False,
                            "tone_appropriate": True, "comment": "terse but right"}
    assert at.button(key="review_submit").proto.shortcut  # Ctrl+Enter submits


def test_skip_moves_on_and_the_queue_runs_out(monkeypatch: pytest.MonkeyPatch, review_ws: dict[str, Any]) -> None:
    from harness.review import queue

    batch = review_ws["pairwise"]
    at = _open(monkeypatch, review_ws["path"])
    _sign_in(at)
    at.selectbox(key="review_batch").set_value(batch.id).run()
    seen = [_item_number(at)]
    for _ in range(2):
        at.button(key="review_skip").click().run()
        assert not at.exception, at.exception
        seen.append(_item_number(at))
    assert len(set(seen)) == 3, seen  # every skip shows another item
    at.button(key="review_skip").click().run()
    assert any("Nothing left for you" in s.value for s in at.success)
    (status,) = queue.batch_status(_engine(review_ws["path"]), batch.id)
    assert status["reviewers"][REVIEWER] == {"submitted": 0, "skipped": 3, "claimed": 0}
    assert queue.labels(_engine(review_ws["path"]), batch.id) == []


def test_results_show_agreement_win_rates_and_metric_correlation(monkeypatch: pytest.MonkeyPatch,
                                                                 demo_workspace) -> None:
    from harness.review import queue
    from harness.review.results import results_for_run

    assert demo_workspace.result.exit_code == 0
    engine = _engine(demo_workspace.path)
    batches = queue.list_batches(engine)
    expected = {r.batch_id: r for r in results_for_run(engine, batches[-1].run_id)}
    at = _open(monkeypatch, demo_workspace.path)
    results = at.tabs[1]
    titles = [s.value for s in results.subheader]
    assert titles == [f"Batch {b.id} · {b.kind}" for b in batches if b.id in expected]
    pairwise = next(r for r in expected.values() if r.kind == "pairwise")
    rate = pairwise.win_rates[0]
    text = "\n".join(m.value for m in results.markdown).replace("\\", "")
    assert f"win rate {max(rate.win_rate, 1 - rate.win_rate):.2f}" in text
    assert "Agreement between reviewers" in text and "Automatic metrics vs reviewers" in text
    assert "Rubric means per candidate" in text and "Win rate of A over B" in text
    charts = results.get("vega_lite_chart")
    # per batch: agreement, metric correlation; pairwise: win rate and positions; rubric: scale and yes/no means
    assert len(charts) == 8, len(charts)
    specs = "\n".join(c.proto.spec for c in charts)
    assert '"low"' in specs and '"high"' in specs  # interval bars
    assert [m.value for m in results.metric if m.label == "Labels"] == \
        [str(expected[b.id].n_labels) for b in batches if b.id in expected]
    demo_alpha = next(a for a in pairwise.agreement).alpha.value
    tables = results.dataframe
    agreement = tables[0].value
    assert set(agreement["field"]) == {"preference"}
    got = agreement[agreement["method"].str.startswith("krippendorff")]["value"].iloc[0]
    assert got == pytest.approx(demo_alpha)
    assert (agreement["low"] <= agreement["value"] + 1e-9).all()


def test_empty_state_names_the_enqueue_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from harness.workspace import Workspace

    ws = Workspace.open(tmp_path / "ws")
    ws.engine.dispose()  # a store with no review batch
    at = _open(monkeypatch, tmp_path / "ws")
    assert any("No review batches" in i.value for i in at.info)
    commands = [c.value for c in at.code]
    assert any("harness review enqueue latest --kind pairwise" in c for c in commands), commands
    from typer.testing import CliRunner

    from harness.commands.review import app

    help_text = CliRunner().invoke(app, ["enqueue", "--help"]).output
    assert "--kind" in help_text and "--candidates" in help_text and "--overlap" in help_text
