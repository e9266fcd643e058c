"""A split folder is one set: a crash between the renames is detected by every reader, never used silently."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import evalsets
from harness import io_sets
from harness.data.split_io import split_file
from harness.data.split_set import check_split_folder, check_split_member
from harness.errors import DataError, HarnessError
from harness.io_sets import remove_stale_staging
from tests.harness.data.test_split_io import make_file, read_ids

ROOT = Path(__file__).resolve().parents[3]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def crash_after(monkeypatch: pytest.MonkeyPatch, renames: int) -> None:
    """Make ``os.replace`` fail after ``renames`` successful calls (the manifest is the first one)."""
    real = os.replace
    calls = {"n": 0}

    def replace(src, dst):
        if calls["n"] == renames:
            raise OSError("simulated crash between renames")
        calls["n"] += 1
        real(src, dst)

    monkeypatch.setattr(io_sets.os, "replace", replace)


def test_manifest_records_size_and_hash_of_each_file(tmp_path):
    import hashlib

    source = make_file(tmp_path / "all.jsonl")
    split_file(source, tmp_path / "out", seed=1)
    files = json.loads((tmp_path / "out" / "split.json").read_text())["files"]
    assert set(files) == {"train.jsonl", "val.jsonl", "test.jsonl"}
    for name, entry in files.items():
        data = (tmp_path / "out" / name).read_bytes()
        assert entry == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert check_split_folder(tmp_path / "out")["seed"] == 1


def test_crash_between_renames_is_detected_and_the_next_split_repairs_it(tmp_path, monkeypatch):
    source = make_file(tmp_path / "all.jsonl")
    out = tmp_path / "out"
    split_file(source, out, seed=0)
    old = snapshot(out)
    crash_after(monkeypatch, renames=2)  # split.json and train.jsonl replaced, val and test not
    with pytest.raises(OSError, match="simulated crash"):
        split_file(source, out, seed=1)
    monkeypatch.undo()
    now = snapshot(out)
    assert now["train.jsonl"] != old["train.jsonl"] and now["val.jsonl"] == old["val.jsonl"]
    # the mix really leaks: some rows of the old val/test are also in the new train
    assert set(read_ids(out / "train.jsonl")) & set(read_ids(out / "val.jsonl") + read_ids(out / "test.jsonl"))
    for check in (lambda: check_split_folder(out), lambda: check_split_member(out / "val.jsonl"),
                  lambda: split_file(out / "train.jsonl", tmp_path / "again")):
        with pytest.raises(DataError) as info:
            check()
        assert "does not match" in info.value.message and "may mix two different versions" in info.value.message
        assert f"`harness data split {source} --out {out} --force`" in info.value.hint
        assert info.value.exit_code == 1
    assert not list(out.glob(".*"))  # the staging folder went with the exception
    split_file(source, out, seed=1)
    assert check_split_folder(out)["seed"] == 1
    ids = [read_ids(out / f"{name}.jsonl") for name in ("train", "val", "test")]
    assert not set(ids[0]) & set(ids[1] + ids[2])


def test_files_without_a_manifest_are_not_checked(tmp_path):
    for name in ("train", "val", "test"):
        (tmp_path / f"{name}.jsonl").write_text("{}\n")
    assert check_split_folder(tmp_path) is None
    check_split_member(tmp_path / "train.jsonl")


def test_an_edited_file_is_reported_with_the_way_out(tmp_path):
    source = make_file(tmp_path / "all.jsonl")
    split_file(source, tmp_path / "out")
    with open(tmp_path / "out" / "test.jsonl", "a") as handle:
        handle.write("{}\n")
    with pytest.raises(DataError) as info:
        check_split_member(tmp_path / "out" / "test.jsonl")
    assert "or a file was edited afterwards" in info.value.message
    assert f"delete {tmp_path / 'out' / 'split.json'}" in info.value.hint
    (tmp_path / "out" / "split.json").unlink()
    check_split_member(tmp_path / "out" / "test.jsonl")


def test_evalsets_split_files_refuses_a_mixed_bundled_set(tmp_path, monkeypatch):
    monkeypatch.setattr(evalsets, "ROOT", tmp_path)
    source = make_file(tmp_path / "all.jsonl")
    split_file(source, tmp_path / "extract", seed=0)
    assert evalsets.split_files("extract")["train"] == tmp_path / "extract" / "train.jsonl"
    crash_after(monkeypatch, renames=3)  # split.json, train and val replaced; test is the old one
    with pytest.raises(OSError):
        split_file(source, tmp_path / "extract", seed=7)
    with pytest.raises(DataError, match="test.jsonl does not match"):
        evalsets.split_files("extract")


def test_stale_staging_of_a_dead_process_is_removed_and_a_live_one_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".staging.{int(dead.stdout)}.abc"
    live = tmp_path / f".staging.{os.getppid()}.def"
    for folder in (stale, live):
        folder.mkdir()
        (folder / "train.jsonl").write_text("{}\n")
    assert remove_stale_staging(tmp_path) == [stale]
    assert not stale.exists() and live.exists()


def test_sigkill_between_renames(tmp_path):
    """A real kill -9 while a split renames: readers refuse the folder; the next split cleans up and repairs it."""
    source = make_file(tmp_path / "all.jsonl")
    out = tmp_path / "out"
    split_file(source, out, seed=0)
    ready = tmp_path / "ready"
    script = (
        "import os, sys, time\n"
        "from harness.data.split_io import split_file\n"
        "real, calls = os.replace, []\n"
        "def replace(src, dst):\n"
        "    real(src, dst); calls.append(dst)\n"
        "    if len(calls) == 2:\n"  # split.json and train.jsonl are in place
        "        open(sys.argv[3], 'w').close(); time.sleep(120)\n"
        "os.replace = replace\n"
        "split_file(sys.argv[1], sys.argv[2], seed=5)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script, str(source), str(out), str(ready)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert child.poll() is None and time.monotonic() < deadline, "the child split never reached the renames"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert list(out.glob(".staging.*"))  # what the kill left behind
    with pytest.raises(DataError) as info:
        check_split_folder(out)
    assert "an earlier write into this folder was interrupted, so" in info.value.message
    split_file(source, out, seed=5)
    assert not list(out.glob(".*"))
    assert check_split_folder(out)["seed"] == 5


def test_output_overlapping_the_input_is_refused_and_the_input_kept(tmp_path):
    folder = tmp_path / "X"
    folder.mkdir()
    source = make_file(folder / "train.jsonl")
    before = source.read_bytes()
    (tmp_path / "link").symlink_to(folder)
    for out in (folder, tmp_path / "link"):
        with pytest.raises(HarnessError, match="would overwrite the input") as info:
            split_file(source, out)
        assert info.value.exit_code == 2
    with pytest.raises(HarnessError, match="would overwrite the input"):
        split_file(tmp_path / "link" / "train.jsonl", folder)
    assert source.read_bytes() == before and sorted(p.name for p in folder.iterdir()) == ["train.jsonl"]


def test_demo_data_stage_twice_on_one_workspace(tmp_path, monkeypatch):
    from harness.demo.data import stage
    from tests.harness.demo.test_data import context, make_set

    monkeypatch.setattr(evalsets, "ROOT", tmp_path / "evalsets")
    make_set(tmp_path / "evalsets", "support")
    ctx, _ = context(tmp_path)
    stage(ctx, sets=("support",))
    folder = ctx.out_dir / "data" / "support"
    first = snapshot(folder)
    ctx, out = context(tmp_path)
    stage(ctx, sets=("support",))
    assert snapshot(folder) == first and "leakage 0" in ctx.summary[0][1]
    assert check_split_folder(folder)["leakage"] == 0 and not list(folder.glob(".*"))


def _mixed_set(tmp_path: Path) -> Path:
    """A split folder whose val.jsonl comes from another split (what a kill between renames leaves)."""
    source = make_file(tmp_path / "all.jsonl")
    split_file(source, tmp_path / "a", seed=0)
    split_file(source, tmp_path / "b", seed=7)
    (tmp_path / "a" / "val.jsonl").write_bytes((tmp_path / "b" / "val.jsonl").read_bytes())
    return tmp_path / "a"


def test_every_reader_of_a_split_file_refuses_a_mixed_set(tmp_path):
    from harness.data.report import profile_file
    from harness.data.validate import validate_file
    from harness.runs.prompts import load_dataset
    from trainers.data import read_examples

    folder = _mixed_set(tmp_path)
    readers = [validate_file, profile_file, load_dataset, read_examples]
    for read in readers:
        for name in ("train", "val"):
            with pytest.raises(DataError, match="may mix two different versions") as info:
                read(folder / f"{name}.jsonl")
            assert info.value.exit_code == 1, read
    (folder / "split.json").unlink()  # no manifest: an ordinary file, read as it is
    assert validate_file(folder / "val.jsonl").examples > 0


def test_the_split_check_costs_a_stat_without_a_manifest_and_one_hash_per_set(tmp_path, monkeypatch):
    from harness.data.reader import iter_lines

    source = make_file(tmp_path / "all.jsonl")
    split_file(source, tmp_path / "out", seed=0)
    hashed: list[str] = []
    real = io_sets.file_sha256
    monkeypatch.setattr(io_sets, "file_sha256", lambda p: hashed.append(Path(p).name) or real(p))
    monkeypatch.setattr(io_sets, "_verified", set())
    for _ in range(3):
        for name in ("train", "val", "test"):
            assert sum(1 for _ in iter_lines(tmp_path / "out" / f"{name}.jsonl")) > 0
    assert sorted(hashed) == ["test.jsonl", "train.jsonl", "val.jsonl"]  # once each, for nine reads
    list(iter_lines(source))
    assert len(hashed) == 3
    (tmp_path / "out" / "test.jsonl").write_text("{}\n")  # another size: refused without hashing
    with pytest.raises(DataError, match="test.jsonl does not match"):
        list(iter_lines(tmp_path / "out" / "train.jsonl"))
    assert len(hashed) == 3
