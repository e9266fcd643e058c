"""Workspace resolution, settings and transactions."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Integer, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from harness.errors import ConfigError
from harness.workspace import Workspace, resolve_workspace_path


class _ProbeBase(DeclarativeBase):
    """Test tables live apart from the harness schema (which only migrations create)."""


class _Probe(_ProbeBase):
    __tablename__ = "test_probe"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)


def test_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HARNESS_WORKSPACE", raising=False)
    monkeypatch.chdir(tmp_path)
    assert resolve_workspace_path() == tmp_path / "harness-workspace"
    monkeypatch.setenv("HARNESS_WORKSPACE", str(tmp_path / "env"))
    assert resolve_workspace_path() == tmp_path / "env"
    assert resolve_workspace_path(tmp_path / "explicit") == tmp_path / "explicit"


def test_open_creates_sqlite_database(workspace_dir: Path) -> None:
    ws = Workspace.open()
    assert ws.root == workspace_dir.resolve()
    assert ws.database_url == f"sqlite:///{workspace_dir.resolve() / 'harness.db'}"
    _ProbeBase.metadata.create_all(ws.engine)
    with ws.session() as session:
        session.add(_Probe(name="a"))
    with ws.session() as session:
        assert session.scalars(select(_Probe.name)).all() == ["a"]
    assert (workspace_dir / "harness.db").exists()
    assert ws.runs_dir.is_dir() and ws.models_dir.is_dir()


def test_failed_transaction_keeps_earlier_data(workspace_dir: Path) -> None:
    ws = Workspace.open()
    _ProbeBase.metadata.create_all(ws.engine)
    with ws.session() as session:
        session.add(_Probe(name="kept"))
    with pytest.raises(RuntimeError), ws.session() as session:
        session.add(_Probe(name="lost"))
        session.flush()
        raise RuntimeError("boom")
    with ws.session() as session:
        assert session.scalars(select(_Probe.name)).all() == ["kept"]


def test_database_url_from_settings_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "settings.json").write_text('{"database_url": "sqlite:///%s"}' % (tmp_path / "other.db"))
    assert Workspace.open(root).database_url == f"sqlite:///{tmp_path / 'other.db'}"
    monkeypatch.setenv("HARNESS_DATABASE_URL", "sqlite:///" + str(tmp_path / "env.db"))
    assert Workspace.open(root).database_url == f"sqlite:///{tmp_path / 'env.db'}"  # the environment wins


def test_bad_settings_file_names_the_file(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "settings.json").write_text("{not json")
    with pytest.raises(ConfigError, match="settings.json"):
        Workspace.open(root)


def test_workspace_path_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(ConfigError, match="not a folder"):
        Workspace.open(target)


def test_processes_opening_one_new_workspace_together(tmp_path: Path) -> None:
    """Ranks of a distributed run open the same new workspace at once: one migrates, the others wait."""
    import subprocess
    import sys

    code = (
        "import sys\nfrom harness.workspace import Workspace\n"
        "from sqlalchemy import inspect\n"
        "ws = Workspace.open(sys.argv[1])\nprint(','.join(sorted(inspect(ws.engine).get_table_names())))\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "shared")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = [proc.communicate(timeout=120) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), [err[-2000:] for _, err in results]
    from sqlalchemy import inspect

    alone = Workspace.open(tmp_path / "alone")  # the schema one process makes on its own
    expected = ",".join(sorted(inspect(alone.engine).get_table_names()))
    assert "alembic" in expected and "eval_runs" in expected
    assert [out.strip() for out, _ in results] == [expected] * 4
