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


@pytest.mark.parametrize(("encoding", "code"), [("utf-16", "UTF-16LE"), ("utf-16-le", "UTF-16LE"),
                                                ("utf-16-be", "UTF-16BE"), ("utf-32", "UTF-32LE")])
def test_read_jsonl_names_a_wide_encoding_and_how_to_convert_it(tmp_path: Path, encoding: str, code: str) -> None:
    path = tmp_path / "wide.jsonl"
    path.write_text('{"id": "a", "prediction": "x"}\n', encoding=encoding)
    with pytest.raises(DataError, match=rf"wide.jsonl is {code[:6]}: convert it to UTF-8 \(iconv -f {code} -t UTF-8") as info:
        list(read_jsonl(path))
    assert info.value.exit_code == 1 and "invalid JSON" not in str(info.value)


def test_read_jsonl_refuses_invalid_utf8_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.jsonl"
    path.write_bytes(b'{"a": 1}\n\n{"a": "caf\xe9"}\n')
    with pytest.raises(DataError, match=r"latin.jsonl:3: not valid UTF-8 \(byte 11") as info:
        list(read_jsonl(path))
    assert info.value.exit_code == 1


def test_read_jsonl_refuses_a_lone_surrogate_and_accepts_a_pair_and_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": "\\ud83d\\ude00"}\n{"b": ["ok", "\\ud800"]}\n')
    rows = read_jsonl(path)
    assert next(rows) == (1, {"a": "\U0001f600"})
    with pytest.raises(DataError, match=r"s.jsonl:2: b\[1\] holds a lone surrogate") as info:
        next(rows)
    assert info.value.exit_code == 1
    path.write_text('{"n": ' + "1" * 5000 + '}\n')
    with pytest.raises(DataError, match=r"s.jsonl:1: invalid JSON \(Exceeds the limit"):
        list(read_jsonl(path))
