"""The workspace store on a real PostgreSQL server (started by the test when the binaries exist)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Integer, String, inspect, select
from sqlalchemy.orm import Mapped, mapped_column

from harness.store.base import Base
from harness.workspace import Workspace

PG_BIN = Path("/usr/lib/postgresql/15/bin")


class PgProbe(Base):
    __tablename__ = "test_pg_probe"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(20))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    initdb = shutil.which("initdb") or str(PG_BIN / "initdb")
    pg_ctl = shutil.which("pg_ctl") or str(PG_BIN / "pg_ctl")
    if not (os.path.exists(initdb) and os.path.exists(pg_ctl)):
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    pytest.importorskip("psycopg", reason="install the 'postgres' extra for the PostgreSQL driver")
    run_as: list[str] = []
    if os.geteuid() == 0:  # postgres refuses to run as root
        if not shutil.which("runuser"):
            pytest.skip("running as root without runuser: cannot start PostgreSQL")
        run_as = ["runuser", "-u", "postgres", "--"]
    # not under pytest's tmp folder: that one is private to root, and the server runs as postgres
    data = Path(tempfile.mkdtemp(prefix="harness-pg-"))
    if run_as:
        shutil.chown(data, "postgres")
    port = _free_port()
    subprocess.run([*run_as, initdb, "-D", str(data / "db"), "-A", "trust", "-U", "postgres"],
                   check=True, capture_output=True)
    subprocess.run([*run_as, pg_ctl, "-D", str(data / "db"), "-w", "-l", str(data / "log"),
                    "-o", f"-p {port} -k {data} -c listen_addresses=127.0.0.1", "start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*run_as, pg_ctl, "-D", str(data / "db"), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


def test_every_store_table_is_created_on_postgres(postgres_url: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_DATABASE_URL", postgres_url)
    ws = Workspace.open(tmp_path / "ws")
    assert ws.database_url == postgres_url
    tables = set(inspect(ws.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    ws.close()


def test_transactions_on_postgres(postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_DATABASE_URL", postgres_url)
    ws = Workspace.open(tmp_path / "ws")
    with ws.session() as session:
        session.add(PgProbe(name="kept"))
    with pytest.raises(RuntimeError), ws.session() as session:
        session.add(PgProbe(name="lost"))
        session.flush()
        raise RuntimeError("boom")
    with ws.session() as session:
        assert session.scalars(select(PgProbe.name)).all() == ["kept"]
    ws.close()
