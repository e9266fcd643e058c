"""The workspace store on a real PostgreSQL server (started by the test when the binaries exist)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Integer, String, inspect, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from harness.store.base import Base
from harness.workspace import Workspace
from tests.harness.postgres_support import new_database, running_postgres

sys.path.insert(0, str(Path(__file__).parent / "store"))
from v0_fixture import FIXTURE, check_v0_rows, copy_rows  # noqa: E402


class _ProbeBase(DeclarativeBase):
    """Test tables live apart from the harness schema (which only migrations create)."""


class PgProbe(_ProbeBase):
    __tablename__ = "test_pg_probe"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(20))


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with running_postgres() as url:
        yield url


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
    _ProbeBase.metadata.create_all(ws.engine)
    with ws.session() as session:
        session.add(PgProbe(name="kept"))
    with pytest.raises(RuntimeError), ws.session() as session:
        session.add(PgProbe(name="lost"))
        session.flush()
        raise RuntimeError("boom")
    with ws.session() as session:
        assert session.scalars(select(PgProbe.name)).all() == ["kept"]
    ws.close()


def test_workspace_from_before_migrations_upgrades_on_postgres(postgres_url: str, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The fixture's rows in a PostgreSQL database laid out as the pre-migration code made it."""
    from alembic import command
    from sqlalchemy import create_engine, text

    from harness.store.migrations import BASELINE, HEAD, VERSION_TABLE, alembic_config, current_revision

    url = new_database(postgres_url, "v0_workspace")
    engine = create_engine(url)
    with engine.begin() as conn:  # the old schema: the baseline revision, without a version row
        command.upgrade(alembic_config(conn), BASELINE)
        conn.execute(text(f"DROP TABLE {VERSION_TABLE}"))
    copy_rows(create_engine(f"sqlite:///{FIXTURE}"), engine)
    engine.dispose()

    monkeypatch.setenv("HARNESS_DATABASE_URL", url)
    ws = Workspace.open(tmp_path / "ws")
    check_v0_rows(ws.engine)
    with ws.engine.connect() as conn:
        assert current_revision(conn) == HEAD
    ws.close()


def test_models_match_the_migrated_schema_on_postgres(postgres_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from harness.store import create_engine_for
    from harness.store.migrations import VERSION_TABLE

    engine = create_engine_for(new_database(postgres_url, "head_schema"))
    with engine.connect() as conn:
        opts = {"compare_type": True, "version_table": VERSION_TABLE}
        context = MigrationContext.configure(conn, opts=opts)
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


def test_newer_workspace_is_refused_on_postgres(postgres_url: str) -> None:
    from sqlalchemy import text

    from harness.store import create_engine_for
    from harness.store.migrations import VERSION_TABLE, SchemaTooNewError

    url = new_database(postgres_url, "future_schema")
    engine = create_engine_for(url)
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(SchemaTooNewError, match="newer version of harness") as caught:
        create_engine_for(url)
    assert "future_schema" in caught.value.message


def test_processes_opening_one_new_database_together_on_postgres(postgres_url: str, tmp_path: Path) -> None:
    """Ranks of a distributed run migrate one new database at once: the advisory lock serialises them."""
    url = new_database(postgres_url, "shared_new")
    code = ("import sys\nfrom harness.store import create_engine_for\nfrom harness.store.migrations import "
            "current_revision\nengine = create_engine_for(sys.argv[1])\n"
            "with engine.connect() as conn:\n    print(current_revision(conn))\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(3)]
    results = [proc.communicate(timeout=120) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), [err[-2000:] for _, err in results]
    from harness.store.migrations import HEAD

    assert {out.strip() for out, _ in results} == {HEAD}
