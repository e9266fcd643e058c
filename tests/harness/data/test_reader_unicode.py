"""The JSONL reader names lone surrogate escapes and UTF-16/UTF-32 files instead of failing later (issue 15)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.data.reader import file_problem, iter_lines, parse_line, read_objects

ROW = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}


def _parsed(tmp_path: Path, text: str):
    path = tmp_path / "x.jsonl"
    path.write_text(text + "\n", encoding="utf-8")
    return [parse_line(raw) for raw in iter_lines(path)]


@pytest.mark.parametrize(("line", "where"), [
    ('{"messages": [{"role": "user", "content": "a\\ud800b"}]}', "messages[0].content"),
    ('{"messages": [], "metadata": {"k": "\\udfff"}}', "metadata.k"),
    ('{"id": "\\uDC00"}', "id"),
    ('{"metadata": {"\\ud800": 1}}', "a key of metadata"),
])
def test_a_lone_surrogate_is_a_problem_naming_the_field(tmp_path, line, where) -> None:
    [(obj, problem)] = _parsed(tmp_path, line)
    assert obj is None and problem is not None
    assert problem.code == "lone_surrogate" and problem.message.startswith(f"{where} holds a lone surrogate")


def test_a_surrogate_pair_is_fine(tmp_path) -> None:
    [(obj, problem)] = _parsed(tmp_path, '{"messages": [{"role": "user", "content": "smile \\ud83d\\ude00"}]}')
    assert problem is None and obj["messages"][0]["content"] == "smile \U0001F600"


@pytest.mark.parametrize(("encoding", "name"), [
    ("utf-16", "UTF-16 little-endian"),  # with a byte-order mark
    ("utf-16-le", "UTF-16 little-endian"),
    ("utf-16-be", "UTF-16 big-endian"),
    ("utf-32", "UTF-32 little-endian"),
])
def test_a_wide_encoding_is_named(tmp_path, encoding, name) -> None:
    path = tmp_path / "wide.jsonl"
    path.write_bytes((json.dumps(ROW) + "\n").encode(encoding) * 3)
    problem = file_problem(path)
    assert problem is not None and problem.code == "utf16_file"
    assert problem.message.startswith(f"file is {name} text, not UTF-8") and "iconv" in problem.message
    assert [raw.problem for raw in iter_lines(path)] == [problem]


def test_utf8_with_a_byte_order_mark_is_fine(tmp_path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + (json.dumps(ROW) + "\n").encode())
    assert file_problem(path) is None
    assert [obj for _n, obj in read_objects(path)] == [ROW]


def test_read_objects_stops_at_the_first_bad_line(tmp_path) -> None:
    from harness.errors import DataError

    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps(ROW) + "\n" + '{"id": "\\ud800"}\n')
    with pytest.raises(DataError, match=r"x.jsonl:2: id holds a lone surrogate") as info:
        list(read_objects(path))
    assert info.value.exit_code == 1 and "harness data validate" in (info.value.hint or "")


def test_an_integer_over_the_digit_limit_is_an_invalid_json_problem(tmp_path) -> None:
    from harness.data.reader import iter_lines, parse_line

    path = tmp_path / "big.jsonl"
    path.write_text('{"n": ' + "9" * 5000 + "}\n")
    (line,) = iter_lines(path)
    obj, problem = parse_line(line)
    assert obj is None and problem is not None and problem.code == "invalid_json"
    assert "Exceeds the limit" in problem.message and problem.line == 1
