"""Building batches from run folders: random, disagreement, low-score and stratified sampling."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.errors import HarnessError
from harness.review import queue
from harness.review.rubric import DEFAULT_RUBRIC, Rubric
from harness.review.sampling import build_batch, disagreement
from harness.workspace import Workspace

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))
from reviewdata import write_run  # noqa: E402
from runfolder import make_run  # noqa: E402


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = Workspace.open(tmp_path / "ws")
    yield workspace
    workspace.close()


def _row(i: int, prediction: str, **scores: float | None) -> dict[str, Any]:
    return {"id": f"ex-{i}", "prediction": prediction, "reference": f"ref {i}", "scores": scores,
            "metadata": {"area": "abc"[i % 3] if i < 6 else "a"}}


def _examples(ws: Workspace, batch_id: str) -> list[str]:
    return [item.example_id for item in queue.items(ws.engine, batch_id)]


def test_random_is_seeded_and_unbiased(ws: Workspace) -> None:
    write_run(ws.root, "run-r", {"m": [_row(i, f"out {i}", score=0.5) for i in range(8)]})
    first = build_batch(ws.engine, ws.root, "run-r", n=3, seed=7)
    again = build_batch(ws.engine, ws.root, "run-r", n=3, seed=7)
    assert _examples(ws, first.id) == _examples(ws, again.id) and len(_examples(ws, first.id)) == 3
    assert (first.kind, first.strategy, first.candidates, first.rubric, first.n_items) == (
        "rubric", "random", ("m",), DEFAULT_RUBRIC, 3)
    counts: Counter[str] = Counter()
    for seed in range(160):
        counts.update(_examples(ws, build_batch(ws.engine, ws.root, "run-r", n=2, seed=seed).id))
    # every example is drawn with probability 2/8: 40 of 160 draws expected, sd ~5.5
    assert sorted(counts) == [f"ex-{i}" for i in range(8)]
    assert all(22 <= c <= 58 for c in counts.values()), counts
    assert len({tuple(_examples(ws, build_batch(ws.engine, ws.root, "run-r", n=3, seed=s).id))
                for s in range(5)}) > 1


def test_rubric_items_per_example_and_candidate(ws: Workspace) -> None:
    write_run(ws.root, "run-c", {"a": [_row(i, f"a{i}", em=1.0) for i in range(2)],
                                 "b": [_row(i, f"b{i}", em=0.0) for i in range(2)]},
              messages={"ex-0": [{"role": "system", "content": "be kind"}, {"role": "user", "content": "hi 0"}],
                        "ex-1": [{"role": "user", "content": "hi 1"}]})
    batch = build_batch(ws.engine, ws.root, "run-c", n=10, seed=1)
    items = queue.items(ws.engine, batch.id)
    assert batch.candidates == ("a", "b") and batch.n_items == 4
    assert sorted((i.example_id, i.candidates, i.outputs, i.scores == {i.candidates[0]: {"em": float(
        i.candidates[0] == "a")}}) for i in items) == [
        ("ex-0", ("a",), ("a0",), True), ("ex-0", ("b",), ("b0",), True),
        ("ex-1", ("a",), ("a1",), True), ("ex-1", ("b",), ("b1",), True)]
    by_example = {i.example_id: i for i in items}
    assert by_example["ex-0"].messages == ({"role": "system", "content": "be kind"},
                                           {"role": "user", "content": "hi 0"})  # the reference left out
    assert by_example["ex-1"].reference == "ref 1"
    only_b = build_batch(ws.engine, ws.root, "run-c", candidates=["b"], n=10, rubric=Rubric.from_dict(
        {"name": "mini", "fields": [{"name": "ok", "type": "yes_no"}]}))
    assert only_b.rubric.name == "mini" and {i.candidates for i in queue.items(ws.engine, only_b.id)} == {("b",)}


def test_disagreement_puts_the_most_disagreeing_first(ws: Workspace) -> None:
    a = [_row(0, "same", s=0.5), _row(1, "x1", s=0.5), _row(2, "x2", s=1.0), _row(3, "alpha", s=0.2),
         _row(4, "y4", s=0.0)]
    b = [_row(0, " Same ", s=0.5), _row(1, "z1", s=0.0), _row(2, "z2", s=0.0), _row(3, "beta", s=0.2),
         _row(4, "w4", s=0.9)]
    write_run(ws.root, "run-d", {"a": a, "b": b})
    batch = build_batch(ws.engine, ws.root, "run-d", kind="pairwise", strategy="disagreement", n=5, seed=3)
    # spreads: ex-2 1.0, ex-4 0.9, ex-1 0.5, ex-3 0.0 but different outputs, ex-0 identical (case/space)
    assert _examples(ws, batch.id) == ["ex-2", "ex-4", "ex-1", "ex-3", "ex-0"]
    top = build_batch(ws.engine, ws.root, "run-d", strategy="disagreement", n=2, seed=0)
    assert _examples(ws, top.id) == ["ex-2", "ex-2"]  # rubric: both candidates of the top example
    single = build_batch(ws.engine, ws.root, "run-d", candidates=["a"], strategy="disagreement", n=1)
    assert _examples(ws, single.id) == ["ex-2"]  # measured against the run's other candidate


def test_disagreement_measure() -> None:
    from harness.review.sampling import _Example

    ex = _Example("e", "r", (), {}, outputs={"a": "x", "b": "x", "c": "y"},
                  scores={"a": {"m": 0.2, "n": 0.0}, "b": {"m": 0.7, "n": 0.1}, "c": {"m": 0.4}})
    assert disagreement(ex, ["a", "b", "c"]) == pytest.approx((0.5, 2 / 3))  # "n" is missing for c: left out
    assert disagreement(ex, ["a", "b"]) == pytest.approx((0.5, 0.0))


def test_low_score_uses_the_first_metric_of_the_summary(ws: Workspace) -> None:
    rows = [_row(0, "o", em=0.0, rouge=0.9), _row(1, "o", em=1.0, rouge=0.1), _row(2, "o", em=0.0, rouge=0.5),
            _row(3, "o", em=1.0, rouge=None)]
    write_run(ws.root, "run-l", {"m": rows}, summary_metrics=["rouge", "em"])
    batch = build_batch(ws.engine, ws.root, "run-l", strategy="low-score", n=4)
    assert _examples(ws, batch.id) == ["ex-1", "ex-2", "ex-0", "ex-3"]  # by rouge, the missing score last
    by_em = build_batch(ws.engine, ws.root, "run-l", strategy="low-score:em", n=2, seed=5)
    assert sorted(_examples(ws, by_em.id)) == ["ex-0", "ex-2"]
    with pytest.raises(HarnessError, match="no scores of metric 'bleu'") as caught:
        build_batch(ws.engine, ws.root, "run-l", strategy="low-score:bleu")
    assert caught.value.hint == "metrics with scores: em, rouge"


def test_low_score_pairwise_takes_the_lower_candidate(ws: Workspace) -> None:
    write_run(ws.root, "run-p", {"a": [_row(0, "a", s=0.9), _row(1, "a", s=0.4), _row(2, "a", s=0.6)],
                                 "b": [_row(0, "b", s=0.1), _row(1, "b", s=0.8), _row(2, "b", s=0.7)]})
    batch = build_batch(ws.engine, ws.root, "run-p", kind="pairwise", strategy="low-score", n=3)
    assert _examples(ws, batch.id) == ["ex-0", "ex-1", "ex-2"]


def test_stratified_spreads_evenly_over_a_metadata_field(ws: Workspace) -> None:
    # areas: a a a a a a (ex-0, 3, 6, 7, 8, 9), b (ex-1, 4), c (ex-2, 5)
    write_run(ws.root, "run-s", {"m": [_row(i, f"o{i}", s=0.5) for i in range(10)]})
    batch = build_batch(ws.engine, ws.root, "run-s", strategy="stratified:area", n=6, seed=2)
    areas = Counter(i.metadata["area"] for i in queue.items(ws.engine, batch.id))
    assert areas == {"a": 2, "b": 2, "c": 2}
    batch = build_batch(ws.engine, ws.root, "run-s", strategy="stratified:area", n=8, seed=2)
    areas = Counter(i.metadata["area"] for i in queue.items(ws.engine, batch.id))
    assert areas == {"a": 4, "b": 2, "c": 2}  # b and c run out: a fills their share
    with pytest.raises(HarnessError, match="no example has metadata field 'tier'") as caught:
        build_batch(ws.engine, ws.root, "run-s", strategy="stratified:tier")
    assert caught.value.hint == "metadata fields: area"


def test_pairwise_sides_are_drawn_per_item_and_recorded(ws: Workspace) -> None:
    make_run(ws.root, n_test=30, n_general=4, write_scores=True)
    batch = build_batch(ws.engine, ws.root, "latest", kind="pairwise", candidates=["base-zero-shot", "lora-r16"],
                        n=20, seed=4, overlap=3)
    assert (batch.kind, batch.dataset, batch.overlap, batch.candidates, batch.rubric) == (
        "pairwise", "test", 3, ("base-zero-shot", "lora-r16"), None)
    items = queue.items(ws.engine, batch.id)
    lefts = Counter(i.candidates[0] for i in items)
    assert set(lefts) == {"base-zero-shot", "lora-r16"} and 5 <= lefts["lora-r16"] <= 15
    predictions = {}
    run = ws.root / "runs" / batch.run_id
    for cand in batch.candidates:
        for line in (run / "predictions" / cand / "test.jsonl").read_text().splitlines():
            import json

            row = json.loads(line)
            predictions[cand, row["id"]] = row["prediction"]
    for item in items:
        assert item.outputs == tuple(predictions[c, item.example_id] for c in item.candidates)
        assert set(item.scores) == set(batch.candidates) and set(item.scores["lora-r16"]) == {"exact_match",
                                                                                              "rougeL"}
    again = build_batch(ws.engine, ws.root, "latest", kind="pairwise", candidates=["base-zero-shot", "lora-r16"],
                        n=20, seed=4)
    assert [(i.example_id, i.candidates) for i in queue.items(ws.engine, again.id)] == [
        (i.example_id, i.candidates) for i in items]
    general = build_batch(ws.engine, ws.root, "latest", dataset="general", n=3)
    assert general.dataset == "general" and general.candidates == ("base-zero-shot", "base-few-shot", "lora-r16")


@pytest.mark.parametrize(("kwargs", "words", "hint"), [
    ({"kind": "pairwise"}, "exactly two candidates", "--candidates a,b"),
    ({"candidates": ["gpt"]}, "has no candidate 'gpt'", "candidates: base-zero-shot, base-few-shot, lora-r16"),
    ({"dataset": "prod"}, "no predictions of dataset 'prod'", "datasets: test, general"),
    ({"strategy": "clever"}, "unknown sampling strategy 'clever'", "stratified:FIELD"),
    ({"strategy": "stratified:"}, "unknown sampling strategy", "stratified:FIELD"),
    ({"kind": "ranking"}, "unknown review kind 'ranking'", "rubric, pairwise"),
    ({"n": 0}, "--n must be", None),
    ({"overlap": 0}, "--overlap must be", None),
])
def test_bad_requests_name_the_value_and_the_choices(ws: Workspace, kwargs: dict, words: str,
                                                     hint: str | None) -> None:
    make_run(ws.root, n_test=4, n_general=4)
    with pytest.raises(HarnessError, match=words) as caught:
        build_batch(ws.engine, ws.root, "latest", **kwargs)
    if hint is not None:
        assert hint in (caught.value.hint or "")
    assert queue.list_batches(ws.engine) == []


def test_unknown_run(ws: Workspace) -> None:
    make_run(ws.root, n_test=2, n_general=2)
    with pytest.raises(HarnessError, match="no run or predictions file named 'nope'") as caught:
        build_batch(ws.engine, ws.root, "nope")
    assert "20261128-163000-support-v1-ab12" in (caught.value.hint or "")


def test_batch_from_a_run_written_by_the_runner(tmp_path: Path) -> None:
    """End to end with the eval runner (a fake backend): inputs come from the eval set the run read."""
    runner = pytest.importorskip("harness.runs.runner")
    import evalsets
    from harness.backends.base import Generation, register_backend
    from harness.runs.prompts import load_dataset
    from harness.runs.suite import Suite

    class Echo:
        name = "review-echo-test"
        request_chunk = 16

        def __init__(self, spec: Any) -> None:
            self.spec = spec

        @property
        def fingerprint(self) -> str:
            return f"review-echo-{self.spec.model}"

        def generate(self, requests: Any) -> list[Generation]:
            return [Generation("billing" if self.spec.model == "bad" or i % 3 == 0 else "sales", 0.01, 5, 1)
                    for i, _ in enumerate(requests)]

        def close(self) -> None:
            pass

    register_backend("review-echo-test", Echo)
    eval_set = evalsets.split_files("classify")["test"]
    suite = Suite(name="review-integ", datasets={"test": str(eval_set)},
                  candidates=[{"name": "base", "model": "bad", "backend": "review-echo-test"},
                              {"name": "tuned", "model": "good", "backend": "review-echo-test"}],
                  metrics=["accuracy", "exact_match"])
    workspace = Workspace.open(tmp_path / "ws")
    result = runner.run_suite(suite, workspace, limit=12, show_progress=False)
    batch = build_batch(workspace.engine, workspace.root, result.run_id, kind="pairwise", strategy="low-score",
                        n=4, overlap=2)
    context = {item.id: item for item in load_dataset(eval_set, limit=12)}
    items = queue.items(workspace.engine, batch.id)
    assert (batch.run_id, batch.dataset, batch.candidates, len(items)) == (result.run_id, "test", ("base", "tuned"), 4)
    for item in items:
        assert item.messages == context[item.example_id].context and item.reference == context[item.example_id].reference
        assert item.scores["base"]["accuracy"] == float(context[item.example_id].reference == "billing")
    # low-score on the summary's first metric (accuracy): examples where one candidate is wrong come first
    assert all(min(s["accuracy"] for s in item.scores.values()) == 0.0 for item in items)
    workspace.close()
