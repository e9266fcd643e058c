"""Fuzz the chat-JSONL readers (harness.data.reader, harness.data.validate) and the `harness data` commands.

Properties: arbitrary bytes and wrong-but-JSON examples never raise anything but HarnessError; a
readable file is always validated into a report (never an exception); the input and any existing
output are never changed by a call that fails.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.data.reader import iter_objects, read_objects
from harness.data.validate import validate_file, write_valid
from tests.fuzz.strategies import (
    files_unchanged,
    fuzz_settings,
    hostile_bytes,
    jsonl_text,
    only_harness_errors,
    run_cli,
    scratch,
    snapshot,
    wrong_documents,
)

VALID = {"id": "ex-1", "messages": [{"role": "system", "content": "Be brief."},
                                    {"role": "user", "content": "What is 2+2?"},
                                    {"role": "assistant", "content": "4"}],
         "metadata": {"area": "math", "difficulty": 1}}
#: Lines of a file: mostly wrong examples, some valid, some arbitrary JSON.
chat_lines = st.one_of(wrong_documents(VALID), st.just(VALID), wrong_documents({"messages": []}))
chat_files = st.one_of(jsonl_text(chat_lines).map(lambda t: t.encode("utf-8", "surrogatepass")),
                       hostile_bytes(jsonl_text(chat_lines)))


def _read_everything(path: Path) -> None:
    only_harness_errors(lambda: list(read_objects(path)))
    only_harness_errors(lambda: list(read_objects(path, max_line_bytes=64)))
    assert only_harness_errors(lambda: list(iter_objects(path))) is None  # skips what it cannot use


@fuzz_settings(80, shrink=False)
@given(content=chat_files)
def test_readers_take_any_file(content: bytes) -> None:
    with scratch() as folder:
        path = folder / "data.jsonl"
        path.write_bytes(content)
        with files_unchanged(folder):
            _read_everything(path)
            report = validate_file(path)  # a readable file always gives a report
            assert report.examples >= report.valid >= 0
            json.dumps(report.to_dict(), allow_nan=False)  # the --json output is strict JSON
            assert validate_file(path, max_tokens=8).examples == report.examples


@fuzz_settings(40, shrink=False)
@given(content=chat_files)
def test_write_valid_keeps_only_valid_lines(content: bytes) -> None:
    with scratch() as folder:
        path = folder / "data.jsonl"
        path.write_bytes(content)
        with files_unchanged(folder):
            report = validate_file(path)
            written = write_valid(path, report, folder / "valid.jsonl")
        assert written == report.valid - report.counts.get("duplicate", 0) or written <= report.valid
        again = validate_file(folder / "valid.jsonl")
        assert again.examples == written
        assert written == 0 or again.error_count == 0, again.errors[:3]


@fuzz_settings(15, shrink=False)
@given(content=chat_files, command=st.sampled_from(["validate", "report", "split"]))
def test_data_commands_never_fail_internally(content: bytes, command: str) -> None:
    with scratch() as folder:
        path = folder / "data.jsonl"
        path.write_bytes(content)
        out = folder / "out"
        out.mkdir()
        for name in ("train.jsonl", "val.jsonl", "test.jsonl", "valid.jsonl"):
            (out / name).write_text('{"old": true}\n', encoding="utf-8")
        args = {"validate": ["data", "validate", path, "--json", "--write-valid", out / "valid.jsonl"],
                "report": ["data", "report", path, "--json"],
                "split": ["data", "split", path, "--out", out, "--json"]}[command]
        with files_unchanged(folder):  # without --force existing outputs stay, whatever the input
            run_cli("--workspace", folder / "ws", *args)
        before = snapshot(folder)
        forced = run_cli("--workspace", folder / "ws", *args, "--force")
        after = snapshot(folder)
        assert after["data.jsonl"] == before["data.jsonl"], "the input changed"
        if forced.user_error or (command == "split" and forced.code != 0):  # a failed write leaves the old outputs
            assert {k: after.get(k) for k in before} == before, forced.output[-500:]


HUGE_INT = "9" * 4400
DEEP = "[" * 1100 + "]" * 1100


@pytest.mark.parametrize("line", [
    pytest.param('{"messages": [], "id": ' + HUGE_INT + "}", id="int-over-4300-digits"),
    pytest.param('{"messages": ' + DEEP + "}", id="nested-1100-deep"),
    pytest.param('{"messages": [{"role": "user", "content": "\\ud800"}]}', id="lone-surrogate"),
])
def test_inputs_found_by_fuzzing(tmp_path: Path, line: str) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps(VALID) + "\n" + line + "\n", encoding="utf-8")
    error = only_harness_errors(lambda: list(read_objects(path)))
    assert error is not None and f"{path}:2:" in error.message
    report = validate_file(path)
    assert report.valid == 1 and report.error_lines == {2}
