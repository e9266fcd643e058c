"""Commands that write files refuse an output that is an input (symlinks too) and ask before overwriting."""

from __future__ import annotations

import json
from pathlib import Path

from tests.harness.commands.test_data_cli import good_file, no_traceback


def rows(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_split_onto_its_own_input_is_refused_and_keeps_every_row(cli, tmp_path):
    folder = tmp_path / "X"
    folder.mkdir()
    source = good_file(folder / "train.jsonl", n=60)
    before = source.read_bytes()
    (tmp_path / "L").symlink_to(folder)
    for args in ((source, "--out", folder), (source, "--out", tmp_path / "L"),
                 (tmp_path / "L" / "train.jsonl", "--out", folder), (source, "--out", folder, "--force")):
        result = cli("data", "split", *args)
        no_traceback(result)
        assert result.exit_code == 2 and "would overwrite the input" in result.stderr, result.stderr
    assert source.read_bytes() == before and sorted(p.name for p in folder.iterdir()) == ["train.jsonl"]


def test_split_into_an_existing_split_needs_force(cli, tmp_path):
    source = good_file(tmp_path / "all.jsonl", n=60)
    out = tmp_path / "out"
    assert cli("data", "split", source, "--out", out, "--seed", "1").exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    result = cli("data", "split", source, "--out", out, "--seed", "2")
    no_traceback(result)
    assert result.exit_code == 2 and f"{out / 'train.jsonl'} already exists" in result.stderr
    assert "--force" in result.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    result = cli("data", "split", source, "--out", out, "--seed", "2", "--force", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["seed"] == 2
    assert json.loads((out / "split.json").read_text())["seed"] == 2
    # an existing but unrelated folder is fine: only the split's own files count
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("keep")
    assert cli("data", "split", source, "--out", tmp_path / "other").exit_code == 0
    assert (tmp_path / "other" / "notes.txt").read_text() == "keep"


def test_write_valid_refuses_its_input_through_a_symlink_and_an_existing_file(cli, tmp_path):
    source = good_file(tmp_path / "data.jsonl", n=20)
    before = source.read_bytes()
    (tmp_path / "link.jsonl").symlink_to(source)
    result = cli("data", "validate", source, "--write-valid", tmp_path / "link.jsonl", "--force")
    no_traceback(result)
    assert result.exit_code == 2 and "would overwrite the input" in result.stderr
    assert source.read_bytes() == before
    out = tmp_path / "valid.jsonl"
    out.write_text("precious\n")
    result = cli("data", "validate", source, "--write-valid", out)
    assert result.exit_code == 2 and f"{out} already exists" in result.stderr and "--force" in result.stderr
    assert out.read_text() == "precious\n"
    assert cli("data", "validate", source, "--write-valid", out, "--force").exit_code == 0
    assert len(rows(out)) == 20


def test_ab_simulate_refuses_to_replace_an_existing_file(cli, tmp_path):
    out = tmp_path / "events.csv"
    out.write_text("precious\n")
    result = cli("ab", "simulate", "--out", out, "--days", "2", "--units-per-day", "20")
    no_traceback(result)
    assert result.exit_code == 2 and f"{out} already exists" in result.stderr and "--force" in result.stderr
    assert out.read_text() == "precious\n"
    for flag in ("--force", "--replace"):
        out.write_text("precious\n")
        assert cli("ab", "simulate", "--out", out, "--days", "2", "--units-per-day", "20", flag).exit_code == 0
        assert "unit_id" in rows(out)[0]
