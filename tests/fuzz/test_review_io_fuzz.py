"""Fuzz the review label import (harness.review.io: read_label_rows, import_file) and `harness review import`.

Properties: arbitrary bytes, and JSONL/CSV label files in the export shape with wrong values (unknown
items, reviewers that are numbers, scores out of the rubric's range, NaN, odd unicode, extra or missing
columns) never raise anything but HarnessError, for rubric and pairwise batches; a failed import stores
nothing; the labels file is never changed.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.review.io import import_file, read_label_rows
from harness.review.queue import labels
from harness.workspace import Workspace
from tests.fuzz.strategies import (
    Raw,
    dump_json,
    files_unchanged,
    fuzz_settings,
    hostile_bytes,
    jsonl_text,
    only_harness_errors,
    run_cli,
    scratch,
    wrong_documents,
)

sys.path.insert(0, str(Path(__file__).parents[1] / "harness" / "review"))
from reviewdata import GOOD, pairwise_batch, rubric_batch  # noqa: E402


@pytest.fixture(scope="module")
def review_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Any, str, str]]:
    """A workspace with a rubric batch and a pairwise batch: (folder, engine, rubric id, pairwise id)."""
    path = tmp_path_factory.mktemp("review") / "ws"
    ws = Workspace.open(path)
    rubric, pairwise = rubric_batch(ws.engine, 3), pairwise_batch(ws.engine, 2)
    yield path, ws.engine, rubric.id, pairwise.id
    ws.close()


def _rubric_row(i: int) -> dict[str, Any]:
    return {"item_id": f"ITEM-{i}", "example_id": f"ex-{i}", "reviewer": "ana", "candidate": "tuned",
            "values": {**GOOD, "comment": "fine"}}


def _pairwise_row(i: int) -> dict[str, Any]:
    return {"item_id": f"ITEM-{i}", "example_id": f"ex-{i}", "reviewer": "bo", "values": {"choice": "left"},
            "winner": "base"}


rubric_rows = wrong_documents([_rubric_row(0), _rubric_row(1)], max_mutations=4)
pairwise_rows = wrong_documents([_pairwise_row(0), _pairwise_row(1)], max_mutations=4)


def _cell(value: Any) -> str:
    return "" if value is None else value.text if isinstance(value, Raw) else value if isinstance(value, str) \
        else dump_json(value)


def as_csv(rows: Any) -> bytes:
    """Rows (maybe broken) as CSV in the export shape: ``values`` spread over one column per key."""
    flat = []
    for row in rows if isinstance(rows, list) else [rows]:
        if not isinstance(row, dict):
            row = {"reviewer": row}
        values = row.get("values")
        row = {str(k): v for k, v in row.items() if k != "values"}
        if isinstance(values, dict):
            row.update({str(k): v for k, v in values.items()})
        flat.append(row)
    header = list(dict.fromkeys(k for r in flat for k in r))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for r in flat:
        writer.writerow([_cell(r.get(c)) for c in header])
    return buffer.getvalue().encode("utf-8", "surrogatepass")


def as_jsonl(rows: Any) -> bytes:
    """Rows (maybe broken) as JSON lines."""
    items = rows if isinstance(rows, list) else [rows]
    return "".join(dump_json(r) + "\n" for r in items).encode("utf-8", "surrogatepass")


def _with_items(rows: Any, batch_id: str) -> Any:
    """Point ``ITEM-i`` at the batch's real item ids, so that some rows reach the rubric checks."""
    text = dump_json(rows)
    return rows if "ITEM-" not in text else _replace_ids(rows, batch_id)


def _replace_ids(node: Any, batch_id: str) -> Any:
    if isinstance(node, str):
        return node.replace("ITEM-", f"{batch_id}-")
    if isinstance(node, dict):
        return {k: _replace_ids(v, batch_id) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace_ids(v, batch_id) for v in node]
    return node


def _import(engine: Any, batch_id: str, path: Path) -> None:
    before = len(labels(engine, batch_id))
    error = only_harness_errors(lambda: import_file(engine, batch_id, path))
    if error is not None:
        assert len(labels(engine, batch_id)) == before, "a failed import stored labels"


@fuzz_settings(120)
@given(kind=st.sampled_from(["rubric", "pairwise"]), rows=st.data(), fmt=st.sampled_from(["jsonl", "csv"]))
def test_import_wrong_label_files(review_ws: tuple[Path, Any, str, str], kind: str, rows: st.DataObject,
                                  fmt: str) -> None:
    _, engine, rubric_id, pairwise_id = review_ws
    batch_id = rubric_id if kind == "rubric" else pairwise_id
    table = _with_items(rows.draw(rubric_rows if kind == "rubric" else pairwise_rows), batch_id)
    with scratch() as folder:
        path = folder / f"labels.{fmt}"
        path.write_bytes(as_jsonl(table) if fmt == "jsonl" else as_csv(table))
        with files_unchanged(folder):
            only_harness_errors(lambda: read_label_rows(path))
            _import(engine, batch_id, path)


@fuzz_settings(60)
@given(content=hostile_bytes(jsonl_text(wrong_documents(_rubric_row(0)))), fmt=st.sampled_from(["jsonl", "csv"]))
def test_import_arbitrary_bytes(review_ws: tuple[Path, Any, str, str], content: bytes, fmt: str) -> None:
    _, engine, rubric_id, _ = review_ws
    with scratch() as folder:
        path = folder / f"labels.{fmt}"
        path.write_bytes(content)
        with files_unchanged(folder):
            only_harness_errors(lambda: read_label_rows(path))
            _import(engine, rubric_id, path)


@fuzz_settings(15)
@given(rows=rubric_rows, fmt=st.sampled_from(["jsonl", "csv"]))
def test_review_import_command(review_ws: tuple[Path, Any, str, str], rows: Any, fmt: str) -> None:
    ws, _, rubric_id, _ = review_ws
    with scratch() as folder:
        path = folder / f"labels.{fmt}"
        table = _with_items(rows, rubric_id)
        path.write_bytes(as_jsonl(table) if fmt == "jsonl" else as_csv(table))
        with files_unchanged(folder):
            run_cli("--workspace", ws, "review", "import", rubric_id, path)


def _rubric_line(**changes: Any) -> str:
    return dump_json({**_rubric_row(0), "item_id": "ITEM-0", **changes})


@pytest.mark.parametrize(("kind", "name", "content", "message"), [
    pytest.param("rubric", "labels.jsonl", b'{"reviewer": "\xe9"}\n', "not valid UTF-8", id="latin1-jsonl"),
    pytest.param("rubric", "labels.csv", b"item_id,reviewer\nx,\xe9\n", "not valid UTF-8", id="latin1-csv"),
    pytest.param("rubric", "labels.jsonl", _rubric_line(reviewer=Raw("9" * 4400)).encode(), "invalid JSON (Exceeds",
                 id="int-over-4300-digits"),
    pytest.param("rubric", "labels.jsonl", _rubric_line(values=Raw("[" * 1100 + "]" * 1100)).encode(),
                 "nested too deeply", id="nested-1100-deep"),
    pytest.param("rubric", "labels.jsonl", _rubric_line(reviewer="\ud800").encode("utf-8", "surrogatepass"),
                 "reviewer holds a lone surrogate", id="lone-surrogate"),
    pytest.param("rubric", "labels.jsonl", _rubric_line(values={**GOOD, "helpfulness": Raw("NaN")}).encode(),
                 "field 'helpfulness': nan is not allowed", id="nan-score"),
    pytest.param("rubric", "labels.jsonl", _rubric_line(item_id=[[]]).encode(), "no item [[]]", id="list-item-id"),
    pytest.param("rubric", "labels.jsonl", _rubric_line(item_id=None, example_id="ex-0", candidate=["x"]).encode(),
                 "field 'candidate' must be a candidate name", id="list-candidate"),
    pytest.param("rubric", "labels.csv", b'item_id,reviewer,values\nITEM-0,ana,"{bad"\n',
                 "field 'values' is not a JSON object", id="values-cell-not-json"),
    pytest.param("pairwise", "labels.jsonl", dump_json({**_pairwise_row(0), "values": {}, "winner": {"a": 1}}).encode(),
                 "winner {'a': 1}", id="dict-winner"),
])
def test_inputs_found_by_fuzzing(review_ws: tuple[Path, Any, str, str], tmp_path: Path, kind: str, name: str,
                                 content: bytes, message: str) -> None:
    _, engine, rubric_id, pairwise_id = review_ws
    batch_id = rubric_id if kind == "rubric" else pairwise_id
    path = tmp_path / name
    path.write_bytes(content.replace(b"ITEM-", f"{batch_id}-".encode()))
    before = len(labels(engine, batch_id))
    error = only_harness_errors(lambda: import_file(engine, batch_id, path))
    assert error is not None and message in error.message, error
    assert len(labels(engine, batch_id)) == before
