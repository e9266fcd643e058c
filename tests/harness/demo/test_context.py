"""DemoContext: the typed fields the stages share, the set-file lookup and the closing summary."""

from __future__ import annotations

from pathlib import Path

import pytest

import evalsets
from harness.demo import DemoContext
from harness.errors import DataError


def _context(tmp_path: Path) -> DemoContext:
    return DemoContext(workspace=None, out_dir=tmp_path / "demo", console=None)


def test_fields_start_empty_and_are_not_shared_between_contexts(tmp_path: Path) -> None:
    first, second = _context(tmp_path), _context(tmp_path)
    assert (first.splits, first.models, first.base_model, first.run_id, first.comparison, first.ab_report,
            first.summary) == ({}, {}, None, None, None, None, [])
    first.models["lora"] = tmp_path
    first.report("data", "ok")
    assert second.models == {} and second.summary == []
    assert first.summary == [("data", "ok")]


def test_set_files_prefers_the_data_stages_files(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    ctx.splits["extract"] = {"train": str(tmp_path / "t.jsonl"), "test": tmp_path / "x.jsonl"}
    files = ctx.set_files("extract", need="test")
    assert files == {"train": tmp_path / "t.jsonl", "test": tmp_path / "x.jsonl"}
    assert all(isinstance(p, Path) for p in files.values())


def test_set_files_falls_back_to_the_bundled_set(tmp_path: Path) -> None:
    assert _context(tmp_path).set_files("extract", need="train") == evalsets.split_files("extract")


def test_set_files_says_how_to_get_a_missing_split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(evalsets, "ROOT", tmp_path / "nothing")
    with pytest.raises(DataError, match="the demo needs the val split of the classify set") as raised:
        _context(tmp_path).set_files("classify", need="val")
    assert "python -m evalsets.generate" in raised.value.hint
    with pytest.raises(DataError, match="unknown bundled eval set 'nope'"):
        _context(tmp_path).set_files("nope", need="train")
