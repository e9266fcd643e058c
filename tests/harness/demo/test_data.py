"""The demo's data stage on small bundled-style sets, on missing/invalid sets, and on the real bundle."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from rich.console import Console

import evalsets
from harness.data.split import split_examples
from harness.demo import DemoContext
from harness.demo.data import SETS, bundled_splits, stage
from harness.io import write_jsonl


def make_set(root: Path, name: str, n: int = 120) -> None:
    examples = [{"id": f"{name}-{i}", "messages": [{"role": "user", "content": f"{name} question {i % 90}"},
                                                   {"role": "assistant", "content": f"answer {i}"}],
                 "metadata": {"category": ["a", "b"][i % 2]}} for i in range(n)]
    result = split_examples(examples, seed=0)
    for split in ("train", "val", "test"):
        write_jsonl(root / name / f"{split}.jsonl", getattr(result, split))


def context(tmp_path: Path) -> tuple[DemoContext, io.StringIO]:
    buffer = io.StringIO()
    console = Console(file=buffer, width=140)
    return DemoContext(workspace=None, out_dir=tmp_path / "demo", console=console, fast=True), buffer


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary folder that ``evalsets.path`` treats as the bundled sets' home."""
    folder = tmp_path / "evalsets"
    monkeypatch.setattr(evalsets, "ROOT", folder)
    return folder


def test_stage_validates_splits_and_points_at_the_bundled_files(tmp_path, root):
    make_set(root, "support")
    make_set(root, "extract")
    (root / "classify").mkdir(parents=True)  # present but empty: skipped, not a crash
    ctx, out = context(tmp_path)
    stage(ctx)
    assert set(ctx.splits) == {"support", "extract"}
    assert ctx.splits["support"] == {s: root / "support" / f"{s}.jsonl" for s in ("train", "val", "test")}
    for name in ("support", "extract"):
        folder = ctx.out_dir / "data" / name
        lines = (folder / "all.jsonl").read_text().splitlines()
        assert len(lines) == 120
        resplit = sum(len((folder / f"{s}.jsonl").read_text().splitlines()) for s in ("train", "val", "test"))
        assert resplit == 120
        assert json.loads((folder / "split.json").read_text())["leakage"] == 0
    text = out.getvalue()
    assert "classify: bundled set not found" in text and "general: bundled set not found" in text
    assert text.count("bundled split leakage 0") == 2
    assert ctx.summary and ctx.summary[0][0] == "data" and "2/4" in ctx.summary[0][1] and "leakage 0" in ctx.summary[0][1]


def test_stage_reports_an_invalid_set_without_crashing(tmp_path, root):
    make_set(root, "support")
    with open(root / "support" / "test.jsonl", "a") as handle:
        handle.write('{"messages": []}\n')
    ctx, out = context(tmp_path)
    stage(ctx, sets=("support",))
    assert "1 validation errors, not split" in out.getvalue()
    assert not (ctx.out_dir / "data" / "support" / "train.jsonl").exists()
    assert "support" in ctx.splits


def test_stage_reports_leakage_in_the_bundled_split(tmp_path, root):
    make_set(root, "support")
    train = (root / "support" / "train.jsonl").read_text().splitlines()
    with open(root / "support" / "test.jsonl", "a") as handle:
        handle.write(train[0] + "\n")  # the same example in train and test
    ctx, out = context(tmp_path)
    stage(ctx, sets=("support",))
    leaked = int(re.search(r"bundled split leakage (\d+)", out.getvalue()).group(1))
    # the copy in test, its original in train, and the original's near duplicate: "question k" is asked by
    # examples k and k + 90 (k < 30), which the split keeps together in train
    first = int(json.loads(train[0])["id"].rsplit("-", 1)[1])
    assert leaked == (3 if first % 90 < 30 else 2)
    assert f"leakage {leaked}" in ctx.summary[0][1]


def test_stage_with_no_sets(tmp_path, root):
    ctx, _ = context(tmp_path)
    stage(ctx)
    assert ctx.splits == {} and "0/4" in ctx.summary[0][1]


def test_real_bundled_sets_are_valid(tmp_path):
    present = [name for name in SETS if bundled_splits(name) is not None]
    assert present == list(evalsets.SET_NAMES), f"bundled sets missing under {evalsets.ROOT}"
    ctx, out = context(tmp_path)
    stage(ctx, sets=tuple(present))
    for name in present:
        report = json.loads((ctx.out_dir / "data" / name / "split.json").read_text())
        assert report["leakage"] == 0, name
    assert "validation errors" not in out.getvalue(), out.getvalue()
    # the bundled train/val/test themselves share no exact or near duplicate across splits
    assert out.getvalue().count("bundled split leakage 0") == len(present), out.getvalue()
    assert ctx.splits == {name: evalsets.split_files(name) for name in present}
