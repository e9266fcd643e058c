"""A review batch of exactly the examples picked by hand (the app's Compare outputs page)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.errors import HarnessError
from harness.review import queue
from harness.review.rubric import DEFAULT_RUBRIC
from harness.review.sampling import batch_for_examples
from harness.workspace import Workspace

sys.path.insert(0, str(Path(__file__).parent))
from reviewdata import write_run  # noqa: E402


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = Workspace.open(tmp_path / "ws")
    rows = {cand: [_row(i, cand) for i in range(6)] for cand in ("base", "tuned", "other")}
    rows["other"] = rows["other"][:3]  # "other" answered ex-0..ex-2 only
    write_run(workspace.root, "run-s", rows, messages={f"ex-{i}": [{"role": "user", "content": f"q{i}"}]
                                                       for i in range(6)})
    yield workspace
    workspace.close()


def _row(i: int, cand: str) -> dict[str, Any]:
    return {"id": f"ex-{i}", "prediction": f"{cand} {i}", "reference": f"ref {i}",
            "scores": {"em": float(cand == "tuned")}, "metadata": {"area": "ab"[i % 2]}}


def test_pairwise_batch_holds_exactly_the_selected_examples(ws: Workspace) -> None:
    batch = batch_for_examples(ws.engine, ws.root, "run-s", ["ex-4", "ex-1", "ex-4", "ex-2"],
                               candidates=["base", "tuned"], kind="pairwise", overlap=2, seed=3)
    assert (batch.kind, batch.strategy, batch.candidates, batch.overlap, batch.dataset, batch.n_items) == (
        "pairwise", "selected", ("base", "tuned"), 2, "test", 3)
    stored = queue.items(ws.engine, batch.id)
    assert [i.example_id for i in stored] == ["ex-4", "ex-1", "ex-2"]  # in the order picked, each once
    for item in stored:
        n = item.example_id[-1]
        assert sorted(item.candidates) == ["base", "tuned"]
        assert item.outputs == tuple(f"{c} {n}" for c in item.candidates)
        assert item.reference == f"ref {n}" and item.messages == ({"role": "user", "content": f"q{n}"},)
        assert item.scores == {"base": {"em": 0.0}, "tuned": {"em": 1.0}}
    sides = {tuple(i.candidates) for seed in range(8) for i in queue.items(ws.engine, batch_for_examples(
        ws.engine, ws.root, "run-s", ["ex-0", "ex-1"], candidates=["base", "tuned"], seed=seed).id)}
    assert sides == {("base", "tuned"), ("tuned", "base")}  # left/right drawn per item


def test_rubric_batch_rates_each_candidate_of_each_selected_example(ws: Workspace) -> None:
    batch = batch_for_examples(ws.engine, ws.root, "run-s", ["ex-5", "ex-0"], candidates=["tuned", "base"],
                               kind="rubric")
    assert (batch.kind, batch.rubric, batch.n_items) == ("rubric", DEFAULT_RUBRIC, 4)
    assert [(i.example_id, i.candidates, i.outputs) for i in queue.items(ws.engine, batch.id)] == [
        ("ex-5", ("tuned",), ("tuned 5",)), ("ex-5", ("base",), ("base 5",)),
        ("ex-0", ("tuned",), ("tuned 0",)), ("ex-0", ("base",), ("base 0",))]


def test_refuses_no_selection_and_examples_a_candidate_did_not_answer(ws: Workspace) -> None:
    before = len(queue.list_batches(ws.engine))
    with pytest.raises(HarnessError, match="no examples selected"):
        batch_for_examples(ws.engine, ws.root, "run-s", [], candidates=["base", "tuned"])
    with pytest.raises(HarnessError, match="no example 'ex-4' answered by base, other"):
        batch_for_examples(ws.engine, ws.root, "run-s", ["ex-1", "ex-4"], candidates=["base", "other"])
    with pytest.raises(HarnessError, match="exactly two"):
        batch_for_examples(ws.engine, ws.root, "run-s", ["ex-1"], candidates=["base", "tuned", "other"])
    with pytest.raises(HarnessError, match="unknown review kind"):
        batch_for_examples(ws.engine, ws.root, "run-s", ["ex-1"], kind="vote")
    assert len(queue.list_batches(ws.engine)) == before  # nothing stored
