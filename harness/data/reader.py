"""Stream the lines of a JSONL file safely: bounded line size, UTF-8 checked, never the whole file.

:func:`iter_lines` reads the file in binary with a bounded ``readline`` so that a 1 GB file or a
single 2 GB line never sits in memory; a line over the limit, a non-UTF-8 line or a line with
NUL bytes comes back as a problem (an :class:`~harness.data.schema.Issue`) instead of an exception.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.data.schema import (
    BINARY_LINE,
    COMPRESSED_FILE,
    INVALID_JSON,
    LINE_TOO_LONG,
    LONE_SURROGATE,
    NOT_OBJECT,
    NOT_UTF8,
    UTF16_FILE,
    Issue,
    issue,
)
from harness.data.split_set import check_split_member
from harness.errors import DataError
from harness.io import lone_surrogate_at, wide_encoding

DEFAULT_MAX_LINE_BYTES = 10 * 1024 * 1024
_SKIP_CHUNK = 1 << 20
NUL = b"\x00"
_MAGIC = {
    b"\x1f\x8b": "gzip", b"PK\x03\x04": "zip", b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd", b"PAR1": "parquet", b"SQLite format 3": "SQLite",
}


@dataclass(frozen=True)
class RawLine:
    """One non-blank line: its 1-based number, its text (``None`` when unusable) and the problem, if any."""

    number: int
    text: str | None
    problem: Issue | None = None


def check_input_path(path: str | Path) -> Path:
    """Return ``path`` as a :class:`Path` if it is a readable file; raise :class:`DataError` (exit 2) if not."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file", hint="check the path; the input is a .jsonl file, one example per line")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not a file",
                        hint="pass the .jsonl file itself, e.g. data/train.jsonl")
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror})", hint="check the file's permissions") from None
    return path


def _compressed_kind(path: Path) -> str | None:
    with open(path, "rb") as handle:
        head = handle.read(16)
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            return kind
    return None


def file_problem(path: str | Path) -> Issue | None:
    """The problem that makes the whole file unreadable as JSON lines (compressed, binary, UTF-16), else None."""
    path = check_input_path(path)
    kind = _compressed_kind(path)
    if kind is not None:
        return issue(1, COMPRESSED_FILE, f"file looks like {kind} data, not JSON lines")
    wide = wide_encoding(path)
    if wide is not None:
        return issue(1, UTF16_FILE, f"file is {wide} text, not UTF-8")
    return None


def iter_lines(path: str | Path, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[RawLine]:
    """Yield a :class:`RawLine` for every non-blank line of ``path`` (1-based numbers, blank lines skipped).

    Holds at most ``max_line_bytes`` of the file in memory. A compressed or binary file yields a
    single ``compressed_file`` problem on line 1, a UTF-16/UTF-32 file a single ``utf16_file`` problem.
    A split file (``train|val|test.jsonl`` beside a ``split.json``) whose set an interrupted split left
    mixed raises :class:`DataError` (exit 1) before any line: every reader of a split file comes here.
    """
    path = check_input_path(path)
    check_split_member(path)
    whole = file_problem(path)
    if whole is not None:
        yield RawLine(1, None, whole)
        return
    with open(path, "rb") as handle:
        number = 0
        while True:
            chunk = handle.readline(max_line_bytes + 1)
            if not chunk:
                return
            number += 1
            if len(chunk) > max_line_bytes and not chunk.endswith(b"\n"):
                size = len(chunk)
                while (more := handle.readline(_SKIP_CHUNK)):
                    size += len(more)
                    if more.endswith(b"\n"):
                        break
                detail = f"line is {size:,} bytes, over the limit of {max_line_bytes:,}"
                yield RawLine(number, None, issue(number, LINE_TOO_LONG, detail))
                continue
            body = chunk.rstrip(b"\r\n")
            if number == 1 and body.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte-order mark (Windows editors)
                body = body[3:]
            if not body.strip():
                continue
            if NUL in body:
                detail = f"line contains NUL bytes (first at byte {body.index(NUL) + 1})"
                yield RawLine(number, None, issue(number, BINARY_LINE, detail))
                continue
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError as exc:
                detail = f"line is not valid UTF-8 (byte {exc.start + 1}: {body[exc.start:exc.start + 1]!r})"
                yield RawLine(number, None, issue(number, NOT_UTF8, detail))
                continue
            yield RawLine(number, text)


def parse_line(line: RawLine) -> tuple[Any, Issue | None]:
    """Return ``(object, None)`` for a line holding a JSON object, else ``(None, problem)``."""
    if line.problem is not None or line.text is None:
        return None, line.problem
    try:
        obj = json.loads(line.text)
    except json.JSONDecodeError as exc:
        return None, issue(line.number, INVALID_JSON, f"invalid JSON: {exc.msg} at column {exc.colno}")
    except RecursionError:
        return None, issue(line.number, INVALID_JSON, "invalid JSON: nested too deeply")
    except ValueError as exc:  # json's limit on integer digits ("Exceeds the limit (4300 digits) ...")
        return None, issue(line.number, INVALID_JSON, f"invalid JSON: {str(exc).split(';')[0]}")
    if ("\\u" in line.text or "\\U" in line.text) and (where := lone_surrogate_at(obj)) is not None:
        return None, issue(line.number, LONE_SURROGATE, f"{where} holds a lone surrogate escape, not valid Unicode")
    if not isinstance(obj, dict):
        kind = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
            type(obj), "null")
        return None, issue(line.number, NOT_OBJECT, f"line is {kind}, not a JSON object")
    return obj, None


def read_objects(path: str | Path, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, object)`` for every line; the first unusable line (not UTF-8, UTF-16 file,
    invalid JSON, lone surrogate, not an object) is a :class:`DataError` (exit 1) naming the file and line."""
    for line in iter_lines(path, max_line_bytes=max_line_bytes):
        obj, problem = parse_line(line)
        if problem is not None:
            raise DataError(f"{path}:{problem.line}: {problem.message}",
                            hint=f"run `harness data validate {path}` for every problem of the file", exit_code=1)
        yield line.number, obj


def iter_objects(path: str | Path, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, object)`` for every line that parses as a JSON object, skipping the rest."""
    for line in iter_lines(path, max_line_bytes=max_line_bytes):
        obj, problem = parse_line(line)
        if problem is None:
            yield line.number, obj
