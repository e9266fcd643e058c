"""split_file: byte-for-byte reproducible, atomic, refuses invalid input, keeps duplicates together."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

import harness.data.split_io as split_io
from harness.data.split import split_examples
from harness.data.split_io import split_file
from harness.errors import DataError


def make_file(path: Path, n: int = 300) -> Path:
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(n):
            question = f"How do I fix problem {i % 120}?"  # near duplicates: same question, other answers
            row = {"id": f"ex-{i}", "messages": [{"role": "user", "content": question},
                                                 {"role": "assistant", "content": f"Answer {i} é"}],
                   "metadata": {"area": ["billing", "technical", "account"][i % 3]}}
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        handle.write(json.dumps(row, ensure_ascii=False) + "\n")  # an exact duplicate of the last line
    return path


def read_ids(path: Path) -> list[str]:
    return [json.loads(line)["id"] for line in path.read_text().splitlines()]


def test_same_seed_same_bytes(tmp_path):
    source = make_file(tmp_path / "all.jsonl")
    a = split_file(source, tmp_path / "a", seed=5, stratify="area")
    b = split_file(source, tmp_path / "b", seed=5, stratify="area")
    for name in ("train", "val", "test"):
        assert a.paths[name].read_bytes() == b.paths[name].read_bytes()
    c = split_file(source, tmp_path / "c", seed=6)
    assert c.paths["test"].read_bytes() != a.paths["test"].read_bytes()


def test_lines_are_copied_unchanged_and_partition_the_file(tmp_path):
    source = make_file(tmp_path / "all.jsonl")
    result = split_file(source, tmp_path / "out")
    lines = source.read_text(encoding="utf-8").splitlines()
    written = [line for name in ("train", "val", "test") for line in result.paths[name].read_text().splitlines()]
    assert sorted(written) == sorted(lines)
    assert result.stats.leakage == 0 and result.stats.sizes["train"] > result.stats.sizes["test"] > 0
    assert result.stats.sizes == {name: len(result.paths[name].read_text().splitlines())
                                  for name in ("train", "val", "test")}
    import os

    umask = os.umask(0)
    os.umask(umask)
    for name in ("train", "val", "test"):  # ordinary file permissions, not the 0600 of a temporary file
        assert result.paths[name].stat().st_mode & 0o777 == 0o666 & ~umask, name


def test_matches_split_examples_on_the_same_data(tmp_path):
    source = make_file(tmp_path / "all.jsonl")
    in_memory = split_examples([json.loads(line) for line in source.read_text().splitlines()], seed=2)
    on_disk = split_file(source, tmp_path / "out", seed=2)
    for name in ("train", "val", "test"):
        assert read_ids(on_disk.paths[name]) == [e["id"] for e in getattr(in_memory, name)]


def test_near_duplicates_stay_together_on_disk(tmp_path):
    source = make_file(tmp_path / "all.jsonl")
    result = split_file(source, tmp_path / "out")
    where: dict[str, set[str]] = {}
    for name in ("train", "val", "test"):
        for line in result.paths[name].read_text().splitlines():
            question = json.loads(line)["messages"][0]["content"]
            where.setdefault(question, set()).add(name)
    assert all(len(s) == 1 for s in where.values())
    assert result.stats.groups == 120


def test_manifest_records_the_split(tmp_path):
    source = make_file(tmp_path / "all.jsonl")
    split_file(source, tmp_path / "out", seed=4, ratios=(0.6, 0.2, 0.2), stratify="area")
    manifest = json.loads((tmp_path / "out" / "split.json").read_text())
    assert manifest["seed"] == 4 and manifest["ratios"] == [0.6, 0.2, 0.2] and manifest["leakage"] == 0
    import hashlib

    assert manifest["source_sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    lines = {name: [json.loads(x) for x in (tmp_path / "out" / f"{name}.jsonl").read_text().splitlines()]
             for name in ("train", "val", "test")}
    assert manifest["balance"] == {name: dict(Counter(r["metadata"]["area"] for r in rows)) for name, rows in lines.items()}


@pytest.mark.parametrize("failure", [OSError("disk full"), KeyboardInterrupt()])
def test_interrupted_split_keeps_old_files_and_leaves_no_temp_files(tmp_path, monkeypatch, failure):
    source = make_file(tmp_path / "all.jsonl")
    out = tmp_path / "out"
    split_file(source, out, seed=0)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    calls = {"n": 0}
    real = split_io._write_line

    def failing(handle, text):
        calls["n"] += 1
        if calls["n"] == 150:
            raise failure
        real(handle, text)

    monkeypatch.setattr(split_io, "_write_line", failing)
    with pytest.raises(type(failure)):
        split_file(source, out, seed=1)
    assert calls["n"] == 150
    after = {p.name: p.read_bytes() for p in out.iterdir()}
    assert after == before  # old splits intact, no temporary files left
    assert not list(out.glob(".*"))


def test_refuses_invalid_input_with_the_errors(tmp_path):
    source = make_file(tmp_path / "all.jsonl", n=10)
    with open(source, "a") as handle:
        handle.write('{"messages": []}\n')
        handle.write("not json\n")
    with pytest.raises(DataError) as info:
        split_file(source, tmp_path / "out")
    message = str(info.value)
    assert "all.jsonl:12: empty_messages" in message and "all.jsonl:13: invalid_json" in message
    assert info.value.exit_code == 1
    assert not (tmp_path / "out").exists()


def test_empty_file_is_refused(tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(DataError, match="no examples"):
        split_file(tmp_path / "empty.jsonl", tmp_path / "out")


def test_out_must_be_a_folder(tmp_path):
    source = make_file(tmp_path / "all.jsonl", n=10)
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="not a directory"):
        split_file(source, tmp_path / "file")
