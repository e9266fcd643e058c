"""Export of labels as JSONL/CSV (one row per label) and import validated against the rubric."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.errors import DataError, HarnessError
from harness.review.io import export_labels, export_rows, format_labels, import_file, read_label_rows
from harness.review.queue import labels, next_item, submit
from harness.workspace import Workspace

sys.path.insert(0, str(Path(__file__).parent))
from reviewdata import GOOD, STORED_GOOD, pairwise_batch, rubric_batch  # noqa: E402

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
STAMP = "2026-01-01T12:00:00+00:00"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Any]:
    ws = Workspace.open(tmp_path / "ws")
    yield ws.engine
    ws.close()


def _review(engine: Any, batch_id: str, reviewer: str, **answer: Any) -> None:
    task = next_item(engine, batch_id, reviewer, now=T0)
    assert task is not None
    submit(engine, task.item_id, reviewer, answer.get("values"), choice=answer.get("choice"), now=T0)


def test_export_jsonl_rows(engine: Any, tmp_path: Path) -> None:
    batch = rubric_batch(engine, 2)
    _review(engine, batch.id, "ana", values={**GOOD, "comment": "fine, thanks"})
    _review(engine, batch.id, "ana", values={**GOOD, "helpfulness": 2, "tone_appropriate": "no"})
    rows = export_rows(engine, batch.id)
    assert rows == [
        {"batch_id": batch.id, "item_id": f"{batch.id}-0", "position": 0, "example_id": "ex-0", "reviewer": "ana",
         "kind": "rubric", "candidate": "tuned", "winner": None, "submitted_at": STAMP, "source": "queue",
         "values": {**STORED_GOOD, "comment": "fine, thanks"}},
        {"batch_id": batch.id, "item_id": f"{batch.id}-1", "position": 1, "example_id": "ex-1", "reviewer": "ana",
         "kind": "rubric", "candidate": "tuned", "winner": None, "submitted_at": STAMP, "source": "queue",
         "values": {**STORED_GOOD, "helpfulness": 2, "tone_appropriate": False}}]
    assert export_labels(engine, batch.id, tmp_path / "labels.jsonl") == 2
    lines = (tmp_path / "labels.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == rows


def test_export_csv_spreads_the_values(engine: Any, tmp_path: Path) -> None:
    batch = rubric_batch(engine, 1)
    _review(engine, batch.id, "ana", values={**GOOD, "comment": "fine, thanks"})
    assert format_labels(engine, batch.id, format="csv") == (
        "batch_id,item_id,position,example_id,reviewer,kind,candidate,winner,submitted_at,source,"
        "helpfulness,policy_compliance,factual_accuracy,tone_appropriate,comment\n"
        f"{batch.id},{batch.id}-0,0,ex-0,ana,rubric,tuned,,{STAMP},queue,4,true,true,true,\"fine, thanks\"\n")
    pairs = pairwise_batch(engine, 2)
    _review(engine, pairs.id, "bob", choice="right")
    _review(engine, pairs.id, "bob", choice="tie")
    assert format_labels(engine, pairs.id, format="CSV").splitlines() == [
        "batch_id,item_id,position,example_id,reviewer,kind,candidate,winner,submitted_at,source,choice",
        f"{pairs.id},{pairs.id}-0,0,ex-0,bob,pairwise,,tuned,{STAMP},queue,right",
        f"{pairs.id},{pairs.id}-1,1,ex-1,bob,pairwise,,,{STAMP},queue,tie"]
    assert export_labels(engine, pairs.id, tmp_path / "pairs.csv") == 2


def test_round_trip_into_another_batch(engine: Any, tmp_path: Path) -> None:
    source = rubric_batch(engine, 2)
    _review(engine, source.id, "ana", values={**GOOD, "comment": "a, b\nsecond line"})
    _review(engine, source.id, "ana", values={**GOOD, "factual_accuracy": "n"})
    target = rubric_batch(engine, 2)
    for fmt in ("jsonl", "csv"):
        path = tmp_path / f"labels.{fmt}"
        assert export_labels(engine, source.id, path) == 2
        assert import_file(engine, source.id, path) == 0  # its own batch already holds these labels
        rows = read_label_rows(path)
        for row in rows:  # labels done elsewhere name the example, not this batch's item ids
            row.pop("item_id")
            row["reviewer"] = f"{row['reviewer']}-{fmt}"
        assert fmt == "jsonl" or rows[0]["helpfulness"] == "4"  # CSV cells are strings until validated
        from harness.review.queue import import_labels

        assert import_labels(engine, target.id, rows) == 2
    imported = [(lab.item_id, lab.reviewer, lab.values, lab.source) for lab in labels(engine, target.id)]
    assert sorted(imported) == sorted([
        (f"{target.id}-0", "ana-jsonl", {**STORED_GOOD, "comment": "a, b\nsecond line"}, "import"),
        (f"{target.id}-0", "ana-csv", {**STORED_GOOD, "comment": "a, b\nsecond line"}, "import"),
        (f"{target.id}-1", "ana-jsonl", {**STORED_GOOD, "factual_accuracy": False}, "import"),
        (f"{target.id}-1", "ana-csv", {**STORED_GOOD, "factual_accuracy": False}, "import")])


def test_csv_import_is_validated_and_all_or_nothing(engine: Any, tmp_path: Path) -> None:
    batch = rubric_batch(engine, 2)
    path = tmp_path / "done-elsewhere.csv"
    path.write_text("item_id,reviewer,helpfulness,policy_compliance,factual_accuracy,tone_appropriate\n"
                    f"{batch.id}-0,zoe,5,yes,yes,yes\n"
                    f"{batch.id}-1,zoe,7,yes,yes,yes\n", encoding="utf-8")
    with pytest.raises(DataError) as caught:
        import_file(engine, batch.id, path)
    assert caught.value.message.startswith(f"{path}: import row 2 (item {batch.id}-1, reviewer zoe): "
                                           "field 'helpfulness': '7' is not allowed; expected an integer from 1 to 5")
    assert labels(engine, batch.id) == []
    path.write_text(path.read_text(encoding="utf-8").replace(",7,", ",3,"), encoding="utf-8")
    assert import_file(engine, batch.id, path) == 2
    assert [lab.values["helpfulness"] for lab in labels(engine, batch.id)] == [5, 3]


def test_import_file_errors(engine: Any, tmp_path: Path) -> None:
    batch = rubric_batch(engine, 1)
    with pytest.raises(HarnessError, match="cannot tell the format"):
        import_file(engine, batch.id, tmp_path / "labels.txt")
    with pytest.raises(DataError, match="labels file .* not found"):
        import_file(engine, batch.id, tmp_path / "labels.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"item_id": "x"}\n{oops\n', encoding="utf-8")
    with pytest.raises(DataError, match=f"{bad}:2: invalid JSON"):
        import_file(engine, batch.id, bad)
    headless = tmp_path / "bad.csv"
    headless.write_text("item,score\nx,1\n", encoding="utf-8")
    with pytest.raises(DataError, match="has no 'reviewer' column"):
        import_file(engine, batch.id, headless)
    with pytest.raises(HarnessError, match="unknown format 'xml'"):
        format_labels(engine, batch.id, format="xml")
