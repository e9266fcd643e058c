"""Read-only workspaces (the app's connections): they read beside a writer, never write, never migrate."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from harness.errors import HarnessError
from harness.store import EmptyStoreError
from harness.store.models import ModelRecord, list_models, register_model
from harness.workspace import Workspace


def _record(name: str) -> ModelRecord:
    return ModelRecord(name=name, path=f"/models/{name}", base_model="tiny", method="lora", adapter=True)


def _written_workspace(root: Path) -> Workspace:
    ws = Workspace.open(root)
    register_model(ws.engine, _record("first"))
    return ws


def test_reads_what_was_written_and_refuses_to_write(tmp_path: Path) -> None:
    writer = _written_workspace(tmp_path / "ws")
    reader = Workspace.open_read_only(tmp_path / "ws")
    assert [m.name for m in list_models(reader.engine)] == ["first"]
    with pytest.raises(Exception, match="readonly|read-only|read only"):
        register_model(reader.engine, _record("second"))
    with pytest.raises(Exception, match="readonly|read-only|read only"), reader.engine.begin() as conn:
        conn.execute(text("CREATE TABLE intruder (x INTEGER)"))
    assert [m.name for m in list_models(writer.engine)] == ["first"]
    reader.close(), writer.close()


def test_reads_while_a_writer_holds_a_write_transaction(tmp_path: Path) -> None:
    writer = _written_workspace(tmp_path / "ws")
    reader = Workspace.open_read_only(tmp_path / "ws")
    holding, release = threading.Event(), threading.Event()

    def write_slowly() -> None:
        with writer.engine.begin() as conn:
            conn.execute(text("UPDATE trained_models SET method = 'full' WHERE name = 'first'"))
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=write_slowly)
    thread.start()
    assert holding.wait(10)
    try:
        # WAL: the reader sees the last committed state at once, not blocked by the open write.
        assert [m.method for m in list_models(reader.engine)] == ["lora"]
    finally:
        release.set()
        thread.join()
    reader.close()
    reader = Workspace.open_read_only(tmp_path / "ws")
    assert [m.method for m in list_models(reader.engine)] == ["full"]
    reader.close(), writer.close()


def test_an_empty_folder_stays_empty(tmp_path: Path) -> None:
    missing = tmp_path / "nothing-here"
    workspace = Workspace.open_read_only(missing)
    with pytest.raises(EmptyStoreError):
        workspace.engine  # noqa: B018
    _ = workspace.runs_dir
    assert not missing.exists(), "a read-only open created the workspace folder"
    (tmp_path / "blank").mkdir()
    sqlite3.connect(tmp_path / "blank" / "harness.db").close()  # a file with no harness tables
    with pytest.raises(EmptyStoreError):
        Workspace.open_read_only(tmp_path / "blank").engine  # noqa: B018


def test_an_older_schema_is_not_migrated_but_explained(tmp_path: Path) -> None:
    fixture = Path(__file__).parent / "fixtures"
    old = next(fixture.glob("*.db"))
    (tmp_path / "old").mkdir()
    shutil.copyfile(old, tmp_path / "old" / "harness.db")
    before = (tmp_path / "old" / "harness.db").read_bytes()
    with pytest.raises(HarnessError) as caught:
        Workspace.open_read_only(tmp_path / "old").engine  # noqa: B018
    assert "schema revision" in str(caught.value) and "harness models list" in (caught.value.hint or "")
    assert (tmp_path / "old" / "harness.db").read_bytes() == before


def test_a_workspace_in_a_folder_nobody_can_write_is_read_as_immutable(tmp_path: Path) -> None:
    from tests.harness.test_errors_cli import read_only

    root = tmp_path / "ws"
    _written_workspace(root).close()
    for leftover in root.glob("harness.db-*"):  # a clean shutdown leaves no -wal/-shm beside the file
        leftover.unlink()
    with read_only(root):
        reader = Workspace.open_read_only(root)
        assert [m.name for m in list_models(reader.engine)] == ["first"]
        reader.close()
        assert sorted(p.name for p in root.iterdir()) == ["harness.db"]


def test_empty_store_is_a_harness_error_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(HarnessError) as caught:
        Workspace.open_read_only(tmp_path / "none").engine  # noqa: B018
    assert isinstance(caught.value, EmptyStoreError) and "harness demo" in (caught.value.hint or "")
