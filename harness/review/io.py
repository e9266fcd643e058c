"""Export and import of review labels as JSONL or CSV (one row per label).

A row: ``batch_id, item_id, position, example_id, reviewer, kind, candidate, winner, submitted_at,
source`` and the values: JSONL keeps them under ``values`` (``{"helpfulness": 4, ...}`` or
``{"choice": "left"}``); CSV spreads them over one column per rubric field (pairwise: ``choice``),
yes/no as ``true``/``false`` and empty cells for missing values. :func:`import_file` reads either
back through :func:`harness.review.queue.import_labels` (validated against the rubric, all or
nothing), so an exported file re-imports into its batch without adding anything.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.config_files import find_lone_surrogate
from harness.errors import DataError, HarnessError
from harness.review.queue import BatchInfo, get_batch, import_labels, items, labels

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

FORMATS = ("jsonl", "csv")
#: The columns of every exported row, before the values.
BASE_COLUMNS = ("batch_id", "item_id", "position", "example_id", "reviewer", "kind", "candidate", "winner",
                "submitted_at", "source")


def value_columns(batch: BatchInfo) -> list[str]:
    """The value columns of a batch's CSV rows: the rubric's fields, or ``choice`` for pairwise batches."""
    return [f.name for f in batch.rubric.fields] if batch.rubric is not None else ["choice"]


def export_rows(engine: Engine, batch_id: str) -> list[dict[str, Any]]:
    """One dict per label of ``batch_id`` (JSONL shape: the values under ``values``), in item order."""
    positions = {item.id: (item.position, item.example_id) for item in items(engine, batch_id)}
    rows = []
    for label in labels(engine, batch_id):
        position, example_id = positions[label.item_id]
        rows.append({"batch_id": label.batch_id, "item_id": label.item_id, "position": position,
                     "example_id": example_id, "reviewer": label.reviewer, "kind": label.kind,
                     "candidate": label.candidate, "winner": label.winner, "submitted_at": label.submitted_at,
                     "source": label.source, "values": dict(label.values)})
    return rows


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def format_labels(engine: Engine, batch_id: str, *, format: str = "jsonl") -> str:
    """The labels of ``batch_id`` as JSONL or CSV text (see the module docstring for the columns)."""
    return _render(engine, batch_id, _check_format(format, "--format"))[0]


def _render(engine: Engine, batch_id: str, fmt: str) -> tuple[str, int]:
    """``(text, number of labels)`` of ``batch_id`` in format ``fmt``."""
    rows = export_rows(engine, batch_id)
    if fmt == "jsonl":
        return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), len(rows)
    columns = [*BASE_COLUMNS, *value_columns(get_batch(engine, batch_id))]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        flat = {k: v for k, v in row.items() if k != "values"} | row["values"]
        writer.writerow({c: _csv_cell(flat.get(c)) for c in columns})
    return buffer.getvalue(), len(rows)


def export_labels(engine: Engine, batch_id: str, path: str | os.PathLike[str], *, format: str | None = None) -> int:
    """Write the labels of ``batch_id`` to ``path`` atomically; returns the number of labels written.

    ``format`` is ``jsonl`` or ``csv``; when None it comes from the file's suffix.
    """
    from harness.io import atomic_write

    text, count = _render(engine, batch_id, _format_for(path, format))
    with atomic_write(path) as handle:
        handle.write(text)
    return count


def read_label_rows(path: str | os.PathLike[str], *, format: str | None = None) -> list[dict[str, Any]]:
    """The rows of a JSONL or CSV labels file (CSV cells as strings, empty cells left out)."""
    path = Path(path)
    fmt = _format_for(path, format)
    if not path.is_file():
        raise DataError(f"labels file {path} not found", hint="pass a .jsonl or .csv file of labels")
    text = _read_text(path)
    if fmt == "jsonl":
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{number}: invalid JSON ({exc.msg})",
                                hint="one JSON object per line, as `harness review export` writes") from None
            except (ValueError, RecursionError) as exc:  # json's limit on integer digits; deep nesting
                what = "nested too deeply" if isinstance(exc, RecursionError) else str(exc).split(";")[0]
                raise DataError(f"{path}:{number}: invalid JSON ({what})",
                                hint="one JSON object per line, as `harness review export` writes") from None
            if not isinstance(row, dict):
                raise DataError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
            if (where := find_lone_surrogate(row)) is not None:
                raise DataError(f"{path}:{number}: {where} holds a lone surrogate escape (e.g. \"\\ud800\"), which "
                                "is not valid Unicode", hint="remove the escape or write the character itself")
            rows.append(row)
        return rows
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        if not reader.fieldnames or "reviewer" not in reader.fieldnames:
            raise DataError(f"{path}: the CSV header has no 'reviewer' column",
                            hint="the header needs item_id (or example_id), reviewer and the value columns")
        return [{k: v for k, v in row.items() if k is not None and v not in (None, "")} for row in reader]
    except csv.Error as exc:
        raise DataError(f"{path}:{reader.line_num}: unreadable CSV ({exc})",
                        hint="write the labels as `harness review export --format csv` does") from None


def _read_text(path: Path) -> str:
    """The labels file as text: UTF-8 (a byte-order mark dropped); another encoding is a :class:`DataError`."""
    from harness.io import decode_utf8

    return decode_utf8(path.read_bytes(), path, kind="labels file", error=DataError)


def import_file(engine: Engine, batch_id: str, path: str | os.PathLike[str], *, format: str | None = None) -> int:
    """Import a JSONL or CSV labels file into ``batch_id`` (all or nothing); returns how many labels were added.

    Errors name the file and the row (row 1 is the first data row).
    """
    rows = read_label_rows(path, format=format)
    try:
        return import_labels(engine, batch_id, rows)
    except HarnessError as exc:
        raise type(exc)(f"{path}: {exc.message}", hint=exc.hint) from None


def _check_format(value: str, where: str) -> str:
    fmt = str(value).lower().lstrip(".")
    if fmt not in FORMATS:
        raise HarnessError(f"{where}: unknown format {value!r}", hint=f"use one of {', '.join(FORMATS)}")
    return fmt


def _format_for(path: str | os.PathLike[str], format: str | None) -> str:
    if format is not None:
        return _check_format(format, "--format")
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise HarnessError(f"cannot tell the format of {path} from its suffix",
                           hint="name the file .jsonl or .csv, or pass --format jsonl|csv")
    return suffix
