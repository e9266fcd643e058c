"""The output guards every writing command uses: no output onto an input, no silent overwrite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.io import check_outputs, refuse_overlap, refuse_overwrite, same_file


def test_same_file_follows_symlinks_and_hard_links(tmp_path: Path) -> None:
    data = tmp_path / "data.jsonl"
    data.write_text("{}\n")
    (tmp_path / "link.jsonl").symlink_to(data)
    os.link(data, tmp_path / "hard.jsonl")
    (tmp_path / "dir-link").symlink_to(tmp_path)
    assert same_file(tmp_path / "link.jsonl", data)
    assert same_file(tmp_path / "hard.jsonl", data)
    assert same_file(tmp_path / "dir-link" / "data.jsonl", data)
    assert same_file(tmp_path / "sub" / ".." / "data.jsonl", data)
    assert not same_file(tmp_path / "other.jsonl", data)


def test_refuse_overlap_names_the_input_and_the_option(tmp_path: Path) -> None:
    data = tmp_path / "data.jsonl"
    data.write_text("{}\n")
    (tmp_path / "link.jsonl").symlink_to(data)
    with pytest.raises(HarnessError) as info:
        refuse_overlap([tmp_path / "a.jsonl", tmp_path / "link.jsonl"], [data], option="--write-valid")
    assert info.value.message == f"--write-valid {tmp_path / 'link.jsonl'} would overwrite the input {data}"
    assert "--write-valid" in info.value.hint and info.value.exit_code == 2
    refuse_overlap([tmp_path / "a.jsonl"], [data], option="--out")


def test_refuse_overwrite_unless_forced(tmp_path: Path) -> None:
    out = tmp_path / "events.csv"
    refuse_overwrite([out], force=False, option="--out")  # new file: fine
    out.write_text("x")
    with pytest.raises(HarnessError) as info:
        refuse_overwrite([out], force=False, option="--out")
    assert str(out) in info.value.message and "--force" in info.value.hint and info.value.exit_code == 2
    refuse_overwrite([out], force=True, option="--out")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    with pytest.raises(HarnessError, match="already exists"):
        refuse_overwrite([tmp_path / "dangling"], force=False, option="--out")
    (tmp_path / "folder").mkdir()
    with pytest.raises(HarnessError, match="a folder is in the way"):
        refuse_overwrite([tmp_path / "folder"], force=True, option="--out")


def test_check_outputs_reports_the_overlap_before_the_overwrite(tmp_path: Path) -> None:
    data = tmp_path / "data.jsonl"
    data.write_text("{}\n")
    with pytest.raises(HarnessError, match="would overwrite the input"):
        check_outputs([data], inputs=[data], force=True)
    with pytest.raises(HarnessError, match="already exists"):
        check_outputs([data], inputs=[tmp_path / "other.jsonl"], force=False, flag="--replace")


def test_atomic_write_removes_what_a_killed_write_left(tmp_path: Path) -> None:
    import subprocess
    import sys

    from harness.io import atomic_write

    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout)
    stale = tmp_path / f".out.csv.{dead}.k2j3h4.tmp"
    running = tmp_path / f".out.csv.{os.getppid()}.a8d7f6.tmp"  # a write still in progress elsewhere
    other = tmp_path / f".out.csv.123.{dead}.abc.tmp"  # the temporary file of "out.csv.123", not ours
    for path in (stale, running, other):
        path.write_text("partial")
    with atomic_write(tmp_path / "out.csv") as handle:
        handle.write("new")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out.csv", running.name, other.name])
