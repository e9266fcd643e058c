"""Atomic writes and JSONL streaming."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest

from harness.errors import DataError
from harness.io import atomic_write, file_sha256, read_jsonl, write_json, write_jsonl


def test_atomic_write_keeps_old_content_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target) as handle:
        handle.write("half of the new")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_write_gives_ordinary_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_json(tmp_path / "p.json", {})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "p.json").stat().st_mode) == 0o644


def test_write_json_is_sorted_and_reloads(tmp_path: Path) -> None:
    write_json(tmp_path / "c.json", {"b": 1, "a": [1, 2]})
    text = (tmp_path / "c.json").read_text()
    assert text.index('"a"') < text.index('"b"')
    assert json.loads(text) == {"a": [1, 2], "b": 1}


def test_jsonl_roundtrip_and_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    assert write_jsonl(path, [{"i": 1}, {"i": "é"}]) == 2
    with open(path, "a") as handle:
        handle.write("\n{\"i\": 3}\n")
    assert list(read_jsonl(path)) == [(1, {"i": 1}), (2, {"i": "é"}), (4, {"i": 3})]


def test_read_jsonl_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"ok": 1}\n{broken\n')
    with pytest.raises(DataError, match=r"bad.jsonl:2: invalid JSON"):
        list(read_jsonl(path))
    path.write_text('[1, 2]\n')
    with pytest.raises(DataError, match=r"bad.jsonl:1: expected a JSON object, got list"):
        list(read_jsonl(path))


def test_file_sha256_matches_hashlib(tmp_path: Path) -> None:
    data = b"x" * 3_000_000
    (tmp_path / "blob").write_bytes(data)
    assert file_sha256(tmp_path / "blob", chunk_size=1 << 16) == hashlib.sha256(data).hexdigest()
