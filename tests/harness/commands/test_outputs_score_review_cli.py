"""Suggested for tests/harness/commands/: score and review export refuse outputs onto inputs and overwrites."""

from __future__ import annotations

import json
from pathlib import Path


def test_score_out_refuses_its_input_and_existing_outputs(cli, tmp_path: Path) -> None:
    out = tmp_path / "o"
    out.mkdir()
    preds = out / "scores.jsonl"  # the predictions file is where --out would write the scores
    preds.write_text(json.dumps({"id": "1", "prediction": "a", "reference": "a"}) + "\n")
    before = preds.read_bytes()
    for extra in ((), ("--force",)):
        result = cli("score", preds, "--metrics", "exact_match", "--out", out, *extra)
        assert result.exit_code == 2 and "would overwrite the input" in result.stderr, result.stderr
    assert preds.read_bytes() == before
    other = tmp_path / "p.jsonl"
    other.write_bytes(before)
    assert cli("score", other, "--metrics", "exact_match", "--out", tmp_path / "s").exit_code == 0
    again = cli("score", other, "--metrics", "exact_match", "--out", tmp_path / "s")
    assert again.exit_code == 2 and "already exists" in again.stderr and "--force" in again.stderr
    assert cli("score", other, "--metrics", "exact_match", "--out", tmp_path / "s", "--force").exit_code == 0


def test_review_export_never_overwrites_the_workspace_database(cli, workspace_dir: Path) -> None:
    cli("review", "list")  # creates the workspace and its database
    database = workspace_dir / "harness.db"
    assert database.is_file()
    def content() -> tuple[int, list]:
        # SQLite may checkpoint its WAL into the file when a connection closes (the bytes of the header
        # change), so compare what the database holds and that the file was not replaced.
        import sqlite3

        with sqlite3.connect(database) as con:
            tables = con.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall()
        return database.stat().st_ino, tables

    before = content()
    result = cli("review", "export", "rb-1", "--out", database, "--force")
    assert result.exit_code == 2 and "would overwrite the input" in result.stderr, result.stderr
    assert content() == before
