"""The review queue: batches, claims with leases, overlap, idempotent submits, skips, status, import."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.errors import DataError, HarnessError
from harness.review import queue
from harness.review.queue import (
    LeaseExpiredError,
    NotClaimedError,
    UnknownBatchError,
    UnknownItemError,
    batch_status,
    get_batch,
    import_labels,
    labels,
    list_batches,
    next_item,
    skip,
    submit,
)
from harness.review.rubric import DEFAULT_RUBRIC
from harness.workspace import Workspace

sys.path.insert(0, str(Path(__file__).parent))
from reviewdata import GOOD, STORED_GOOD, pairwise_batch, rubric_batch  # noqa: E402

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Any]:
    ws = Workspace.open(tmp_path / "ws")
    yield ws.engine
    ws.close()


def test_create_and_read_batches(engine: Any) -> None:
    batch = rubric_batch(engine, 3, overlap=2, lease_s=60)
    assert batch.id.startswith("rb-") and len(batch.id) == 11
    assert (batch.run_id, batch.dataset, batch.kind, batch.strategy, batch.overlap, batch.candidates,
            batch.n_items, batch.lease_s) == ("run-1", "test", "rubric", "random", 2, ("tuned",), 3, 60)
    assert batch.rubric == DEFAULT_RUBRIC
    assert get_batch(engine, batch.id) == batch
    other = pairwise_batch(engine)
    assert [b.id for b in list_batches(engine)] == [batch.id, other.id]
    assert other.rubric is None and other.candidates == ("base", "tuned")
    stored = queue.items(engine, batch.id)
    assert [(i.id, i.position, i.example_id, i.outputs, i.candidates) for i in stored] == [
        (f"{batch.id}-{k}", k, f"ex-{k}", (f"answer {k}",), ("tuned",)) for k in range(3)]
    assert stored[1].messages == ({"role": "user", "content": "question 1"},)
    assert stored[1].scores == {"tuned": {"exact_match": 0.0}} and stored[1].metadata == {"area": "billing"}


def test_unknown_batch_lists_the_known_ones(engine: Any) -> None:
    with pytest.raises(UnknownBatchError, match="no review batch 'rb-nope'") as caught:
        get_batch(engine, "rb-nope")
    assert "harness review enqueue" in (caught.value.hint or "")
    batch = rubric_batch(engine)
    for call in (lambda: get_batch(engine, "rb-nope"), lambda: next_item(engine, "rb-nope", "ana"),
                 lambda: queue.items(engine, "rb-nope"), lambda: batch_status(engine, "rb-nope"),
                 lambda: import_labels(engine, "rb-nope", [])):
        with pytest.raises(UnknownBatchError) as caught:
            call()
        assert batch.id in (caught.value.hint or "")


@pytest.mark.parametrize(("change", "words"), [
    ({"kind": "ranking"}, "unknown review kind 'ranking'"),
    ({"overlap": 0}, "--overlap must be"),
    ({"kind": "pairwise", "rubric": None}, "exactly two different candidates"),
    ({"rubric": None}, "needs a rubric"),
    ({"items": []}, "no items to review"),
    ({"items": [{"example_id": "e", "candidates": ["other"], "outputs": ["o"]}]}, "'other' is not one of"),
    ({"items": [{"example_id": "e", "candidates": ["tuned"], "outputs": []}]}, "got 1 candidates and 0 outputs"),
])
def test_bad_batches_are_refused(engine: Any, change: dict, words: str) -> None:
    args = {"run_id": "r", "dataset": "d", "kind": "rubric", "strategy": "random", "overlap": 1,
            "candidates": ("tuned",), "rubric": DEFAULT_RUBRIC,
            "items": [{"example_id": "e", "candidates": ["tuned"], "outputs": ["o"]}]} | change
    with pytest.raises(HarnessError, match=words):
        queue.create_batch(engine, **args)
    assert list_batches(engine) == []


def test_items_are_handed_out_in_order_and_never_twice(engine: Any) -> None:
    batch = rubric_batch(engine, 3)
    seen = []
    while (task := next_item(engine, batch.id, "ana", now=at(0))) is not None:
        assert (task.kind, task.n_items, task.rubric, task.guideline) == ("rubric", 3, DEFAULT_RUBRIC,
                                                                          DEFAULT_RUBRIC.guideline)
        assert task.outputs == (f"answer {task.position}",) and task.reference == f"reference {task.position}"
        assert task.lease_expires_at == "2026-01-01T12:15:00+00:00"
        assert next_item(engine, batch.id, "ana", now=at(1)) == task  # asking again: the same claim
        submit(engine, task.item_id, "ana", GOOD, now=at(2))
        seen.append(task.item_id)
    assert seen == [f"{batch.id}-{k}" for k in range(3)]
    assert next_item(engine, batch.id, "ana", now=at(5000)) is None  # not even after every lease ran out


def test_overlap_counts_distinct_reviewers(engine: Any) -> None:
    batch = rubric_batch(engine, 1, overlap=2)
    first = next_item(engine, batch.id, "ana", now=at(0))
    second = next_item(engine, batch.id, "bob", now=at(0))
    assert first is not None and second is not None and first.item_id == second.item_id
    assert next_item(engine, batch.id, "cat", now=at(1)) is None  # two live claims fill the overlap
    submit(engine, first.item_id, "ana", GOOD, now=at(2))
    submit(engine, second.item_id, "bob", {**GOOD, "helpfulness": 2}, now=at(3))
    assert next_item(engine, batch.id, "cat", now=at(4)) is None  # two labels fill it too
    assert [(lab.reviewer, lab.values["helpfulness"]) for lab in labels(engine, batch.id)] == [("ana", 4), ("bob", 2)]


def test_an_expired_lease_goes_back_to_the_pool(engine: Any) -> None:
    batch = rubric_batch(engine, 1, lease_s=60)
    task = next_item(engine, batch.id, "ana", now=at(0))
    assert task is not None
    assert next_item(engine, batch.id, "bob", now=at(59)) is None
    taken = next_item(engine, batch.id, "bob", now=at(61))
    assert taken is not None and taken.item_id == task.item_id
    with pytest.raises(LeaseExpiredError) as caught:
        submit(engine, task.item_id, "ana", GOOD, now=at(62))
    assert "expired at 2026-01-01T12:01:00+00:00" in caught.value.message and task.item_id in caught.value.message
    assert "harness review next" in (caught.value.hint or "")
    assert labels(engine, batch.id) == []  # nothing changed
    assert next_item(engine, batch.id, "ana", now=at(63)) is None  # bob holds it now
    label = submit(engine, task.item_id, "bob", GOOD, now=at(64))
    assert label.reviewer == "bob" and label.values == STORED_GOOD


def test_a_reviewer_renews_their_own_expired_claim(engine: Any) -> None:
    batch = rubric_batch(engine, 1, lease_s=60)
    task = next_item(engine, batch.id, "ana", now=at(0))
    again = next_item(engine, batch.id, "ana", now=at(100))
    assert again is not None and again.item_id == task.item_id
    assert again.lease_expires_at == "2026-01-01T12:02:40+00:00"
    assert submit(engine, again.item_id, "ana", GOOD, now=at(120)).values == STORED_GOOD


def test_submit_is_idempotent(engine: Any) -> None:
    batch = rubric_batch(engine, 2)
    task = next_item(engine, batch.id, "ana", now=at(0))
    first = submit(engine, task.item_id, "ana", GOOD, now=at(1))
    retry = submit(engine, task.item_id, "ana", {**GOOD, "helpfulness": 1}, now=at(2))
    assert retry == first and retry.values["helpfulness"] == 4
    assert retry.submitted_at == "2026-01-01T12:00:01+00:00" and retry.source == "queue"
    assert len(labels(engine, batch.id)) == 1
    assert batch_status(engine, batch.id, now=at(3))[0]["reviewers"] == {"ana": {"submitted": 1, "skipped": 0,
                                                                                  "claimed": 0}}


def test_bad_submits_change_nothing(engine: Any) -> None:
    batch = rubric_batch(engine, 2)
    with pytest.raises(UnknownItemError, match="no review item 'rb-nope-0'"):
        submit(engine, "rb-nope-0", "ana", GOOD)
    with pytest.raises(UnknownItemError) as caught:
        submit(engine, f"{batch.id}-9", "ana", GOOD)
    assert caught.value.hint == f"batch {batch.id} has items {batch.id}-0 to {batch.id}-1"
    with pytest.raises(NotClaimedError, match="reviewer 'ana' cannot submit item .*has not claimed it"):
        submit(engine, f"{batch.id}-0", "ana", GOOD, now=at(0))
    task = next_item(engine, batch.id, "ana", now=at(0))
    with pytest.raises(NotClaimedError):  # claimed by ana, not by bob
        submit(engine, task.item_id, "bob", GOOD, now=at(1))
    with pytest.raises(DataError, match=f"item {task.item_id} \\(reviewer ana\\): field 'helpfulness'.*1 to 5"):
        submit(engine, task.item_id, "ana", {**GOOD, "helpfulness": 9}, now=at(1))
    with pytest.raises(DataError, match="takes rubric values, not a choice"):
        submit(engine, task.item_id, "ana", choice="left", now=at(1))
    with pytest.raises(HarnessError, match="reviewer name '' is empty"):
        submit(engine, task.item_id, "", GOOD, now=at(1))
    assert labels(engine, batch.id) == []
    assert submit(engine, task.item_id, "ana", GOOD, now=at(2)).values == STORED_GOOD  # the claim still holds


def test_skip_releases_the_item_to_others_only(engine: Any) -> None:
    batch = rubric_batch(engine, 2)
    task = next_item(engine, batch.id, "ana", now=at(0))
    skip(engine, task.item_id, "ana")
    skip(engine, task.item_id, "ana")  # a second skip does nothing
    with pytest.raises(NotClaimedError, match="the reviewer skipped it"):
        submit(engine, task.item_id, "ana", GOOD, now=at(1))
    following = next_item(engine, batch.id, "ana", now=at(1))
    assert following is not None and following.position == 1
    other = next_item(engine, batch.id, "bob", now=at(1))
    assert other is not None and other.item_id == task.item_id
    submit(engine, following.item_id, "ana", GOOD, now=at(2))
    assert next_item(engine, batch.id, "ana", now=at(3)) is None
    with pytest.raises(NotClaimedError, match="already submitted it"):
        skip(engine, following.item_id, "ana")
    with pytest.raises(NotClaimedError, match="has not claimed it"):
        skip(engine, following.item_id, "cat")


def test_pairwise_tasks_hide_the_candidates(engine: Any) -> None:
    batch = pairwise_batch(engine, 2, overlap=3)
    task = next_item(engine, batch.id, "ana", now=at(0))
    assert task.outputs == ("base says 0", "tuned says 0") and task.rubric is None
    assert task.guideline == queue.PAIRWISE_GUIDELINE
    assert {f.name for f in dataclasses.fields(task)} == {
        "item_id", "batch_id", "kind", "messages", "reference", "outputs", "rubric", "guideline",
        "lease_expires_at", "position", "n_items"}  # no candidate names, no one else's labels
    assert json.dumps(task.to_dict()).count('"base"') == 0
    label = submit(engine, task.item_id, "ana", choice="LEFT", now=at(1))
    assert (label.values, label.winner, label.candidate) == ({"choice": "left"}, "base", None)
    second = next_item(engine, batch.id, "ana", now=at(2))
    assert submit(engine, second.item_id, "ana", choice="left", now=at(3)).winner == "tuned"  # shown (tuned, base)
    tie_task = next_item(engine, batch.id, "bob", now=at(4))
    with pytest.raises(DataError, match="choice 'middle' is not one of left, right, tie"):
        submit(engine, tie_task.item_id, "bob", choice="middle", now=at(5))
    tie = submit(engine, tie_task.item_id, "bob", {"choice": "tie"}, now=at(5))
    assert (tie.values, tie.winner) == ({"choice": "tie"}, None)


def test_batch_status_counts_progress(engine: Any) -> None:
    batch = rubric_batch(engine, 3, overlap=2, lease_s=60)
    a = next_item(engine, batch.id, "ana", now=at(0))
    submit(engine, a.item_id, "ana", GOOD, now=at(1))
    b = next_item(engine, batch.id, "bob", now=at(2))
    submit(engine, b.item_id, "bob", GOOD, now=at(3))  # item 0 is done
    next_item(engine, batch.id, "ana", now=at(4))  # item 1 claimed
    c = next_item(engine, batch.id, "cat", now=at(5))
    skip(engine, c.item_id, "cat")
    status = batch_status(engine, batch.id, now=at(10))
    assert status == [{"batch_id": batch.id, "run_id": "run-1", "kind": "rubric", "n_items": 3, "overlap": 2,
                       "labels": 2, "needed": 6, "done": 1, "in_progress": 1, "remaining": 1,
                       "reviewers": {"ana": {"submitted": 1, "skipped": 0, "claimed": 1},
                                     "bob": {"submitted": 1, "skipped": 0, "claimed": 0},
                                     "cat": {"submitted": 0, "skipped": 1, "claimed": 0}}}]
    later = batch_status(engine, now=at(100))[0]  # ana's claim ran out
    assert (later["in_progress"], later["remaining"], later["reviewers"]["ana"]["claimed"]) == (0, 2, 0)


def test_import_is_validated_and_all_or_nothing(engine: Any) -> None:
    batch = rubric_batch(engine, 2)
    rows = [{"item_id": f"{batch.id}-0", "reviewer": "ext-1", "values": GOOD},
            {"example_id": "ex-1", "candidate": "tuned", "reviewer": "ext-1", **GOOD, "comment": "ok"},
            {"item_id": f"{batch.id}-1", "reviewer": "ext-2", "values": {**GOOD, "tone_appropriate": "perhaps"}}]
    with pytest.raises(DataError) as caught:
        import_labels(engine, batch.id, rows)
    assert caught.value.message.startswith(f"import row 3 (item {batch.id}-1, reviewer ext-2): field "
                                           "'tone_appropriate'")
    assert labels(engine, batch.id) == []
    assert import_labels(engine, batch.id, rows[:2], now=at(0)) == 2
    stored = labels(engine, batch.id)
    assert [(lab.item_id, lab.reviewer, lab.candidate, lab.values, lab.source) for lab in stored] == [
        (f"{batch.id}-0", "ext-1", "tuned", STORED_GOOD, "import"),
        (f"{batch.id}-1", "ext-1", "tuned", {**STORED_GOOD, "comment": "ok"}, "import")]
    assert import_labels(engine, batch.id, rows[:2]) == 0  # the same labels again add nothing
    with pytest.raises(DataError, match="already labelled this item"):
        import_labels(engine, batch.id, [{**rows[0], "values": {**GOOD, "helpfulness": 1}}])
    assert next_item(engine, batch.id, "ext-1", now=at(1)) is None  # imported labels count for the reviewer


@pytest.mark.parametrize(("row", "error", "words"), [
    ({"item_id": "rb-x-0", "reviewer": "r", "values": GOOD}, UnknownItemError, "no item 'rb-x-0'"),
    ({"reviewer": "r", "values": GOOD}, DataError, "the row names no item"),
    ({"example_id": "ex-7", "reviewer": "r", "values": GOOD}, DataError, "no item in batch .* for example 'ex-7'"),
    ({"item_id": "{b}-0", "values": GOOD}, DataError, "field 'reviewer' is missing"),
    ({"item_id": "{b}-0", "reviewer": "r", "candidate": "base", "values": GOOD}, DataError,
     "candidate 'base' is not the candidate rated"),
    ({"item_id": "{b}-0", "reviewer": "r"}, DataError, "missing required field 'helpfulness'"),
])
def test_bad_import_rows(engine: Any, row: dict, error: type, words: str) -> None:
    batch = rubric_batch(engine, 1)
    row = {k: v.format(b=batch.id) if isinstance(v, str) else v for k, v in row.items()}
    with pytest.raises(error, match=words):
        import_labels(engine, batch.id, [row])
    assert labels(engine, batch.id) == []


def test_import_pairwise_by_choice_or_winner(engine: Any) -> None:
    batch = pairwise_batch(engine, 2)
    rows = [{"item_id": f"{batch.id}-0", "reviewer": "x", "choice": "right"},
            {"item_id": f"{batch.id}-1", "reviewer": "x", "winner": "base"},
            {"item_id": f"{batch.id}-1", "reviewer": "y", "winner": ""}]
    assert import_labels(engine, batch.id, rows) == 3
    assert [(lab.reviewer, lab.values["choice"], lab.winner) for lab in labels(engine, batch.id)] == [
        ("x", "right", "tuned"), ("x", "right", "base"), ("y", "tie", None)]
    with pytest.raises(DataError, match="choice 'winner gpt' is not one of"):
        import_labels(engine, batch.id, [{"item_id": f"{batch.id}-0", "reviewer": "z", "winner": "gpt"}])
