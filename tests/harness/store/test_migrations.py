"""Schema migrations: old workspaces upgrade in place, newer ones are refused, models match the revisions."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, create_engine, text

from harness.store import create_engine_for, load_table_modules
from harness.store.base import Base
from harness.store.migrations import (
    BASELINE,
    HEAD,
    VERSION_TABLE,
    SchemaTooNewError,
    alembic_config,
    current_revision,
)
from harness.workspace import Workspace

sys.path.insert(0, str(Path(__file__).parent))
from v0_fixture import EXPECTED_COUNTS, FIXTURE, check_v0_rows, table_counts  # noqa: E402


def _old_workspace(tmp_path: Path) -> Path:
    """A workspace folder whose database is a copy of the pre-migration fixture."""
    root = tmp_path / "old-ws"
    root.mkdir()
    shutil.copyfile(FIXTURE, root / "harness.db")
    return root


def _revision(db: Path) -> str | None:
    with sqlite3.connect(db) as con:
        return con.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()[0]


def _schema(db: Path) -> dict[tuple[str, str], str]:
    """Every baseline table and index of a SQLite file as its CREATE statement (the version table and the
    tables of later revisions, such as the review queue's ``review_*`` and the A/B plans, looks and gateway tables, left out)."""
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT type, name, sql FROM sqlite_master WHERE tbl_name != ? "
                           "AND tbl_name NOT LIKE 'review\\_%' ESCAPE '\\' "
                           "AND tbl_name NOT IN ('ab_plans', 'ab_looks', 'ab_requests', 'ab_outcomes')", (VERSION_TABLE,))
        return {(kind, name): sql for kind, name, sql in rows}


def test_workspace_from_before_migrations_is_upgraded_in_place(tmp_path: Path) -> None:
    root = _old_workspace(tmp_path)
    with sqlite3.connect(root / "harness.db") as con:  # the fixture really is unversioned
        assert not con.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (VERSION_TABLE,)).fetchall()
    ws = Workspace.open(root)
    check_v0_rows(ws.engine)
    ws.close()
    assert _revision(root / "harness.db") == HEAD
    reopened = Workspace.open(root)  # a second open finds it current and changes nothing
    assert table_counts(reopened.engine) == EXPECTED_COUNTS
    reopened.close()


def test_upgraded_workspace_accepts_new_rows(tmp_path: Path) -> None:
    from harness.store import runs

    ws = Workspace.open(_old_workspace(tmp_path))
    runs.create_run(ws.engine, "20240102-000000-smoke", "smoke", "h", "runs/x", {"name": "smoke"})
    runs.replace_run_examples(ws.engine, "20240102-000000-smoke", "base", "extraction", [
        {"example_id": "ex-0", "prediction": "p", "reference": "r", "scores": {}, "metadata_json": {}}])
    new_ids = [r.id for r in runs.run_examples(ws.engine, "20240102-000000-smoke")]
    assert new_ids == [EXPECTED_COUNTS["run_examples"] + 1]
    assert table_counts(ws.engine)["eval_runs"] == EXPECTED_COUNTS["eval_runs"] + 1
    ws.close()


def test_baseline_revision_is_the_schema_made_before_migrations(tmp_path: Path) -> None:
    """Revision 0001 on an empty database writes exactly the tables and indexes the old code made."""
    from alembic import command

    engine = create_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), BASELINE)
    engine.dispose()
    fresh, old = _schema(tmp_path / "fresh.db"), _schema(FIXTURE)
    assert {name for _, name in old} >= set(EXPECTED_COUNTS)
    assert fresh == old


def test_baseline_adds_tables_missing_from_an_old_workspace(tmp_path: Path) -> None:
    root = _old_workspace(tmp_path)
    with sqlite3.connect(root / "harness.db") as con:  # as if written before the A/B tables existed
        con.executescript("DROP TABLE ab_units; DROP TABLE ab_events; DROP TABLE ab_variants; "
                          "DROP TABLE ab_experiments;")
    ws = Workspace.open(root)
    counts = table_counts(ws.engine)
    ws.close()
    assert counts == {**EXPECTED_COUNTS, "ab_experiments": 0, "ab_variants": 0, "ab_events": 0, "ab_units": 0}
    assert _schema(root / "harness.db") == _schema(FIXTURE)


def test_models_match_the_migrated_schema(tmp_path: Path) -> None:
    """A table or column changed in ``harness/store/*.py`` without a new revision fails here."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = create_engine_for(f"sqlite:///{tmp_path / 'head.db'}")
    load_table_modules()
    with engine.connect() as conn:
        opts = {"compare_type": True, "version_table": VERSION_TABLE}
        context = MigrationContext.configure(conn, opts=opts)
        assert compare_metadata(context, Base.metadata) == []
        # the check can fail: one extra column in the models is a difference
        changed = MetaData()
        for table in Base.metadata.tables.values():
            table.to_metadata(changed)
        changed.tables["eval_runs"].append_column(Column("priority", Integer, nullable=True))
        diff = compare_metadata(context, changed)
        assert [op[0] for op in diff] == ["add_column"] and diff[0][3].name == "priority"
    engine.dispose()


def test_head_constant_names_the_newest_revision() -> None:
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config())
    assert scripts.get_current_head() == HEAD
    assert scripts.get_base() == BASELINE


def _stamp_future(db: Path) -> None:
    with sqlite3.connect(db) as con:
        con.execute(f"UPDATE {VERSION_TABLE} SET version_num = '9999_from_the_future'")


def test_workspace_from_a_newer_harness_is_refused(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "ws")
    ws.engine  # noqa: B018 - creates the database at head
    ws.close()
    _stamp_future(tmp_path / "ws" / "harness.db")
    with pytest.raises(SchemaTooNewError, match="newer version of harness") as caught:
        Workspace.open(tmp_path / "ws").engine  # noqa: B018
    assert str(tmp_path / "ws" / "harness.db") in caught.value.message
    assert "9999_from_the_future" in caught.value.message
    assert "pip install -U harness" in (caught.value.hint or "")
    assert _revision(tmp_path / "ws" / "harness.db") == "9999_from_the_future"  # left as it was


def test_cli_reports_a_newer_workspace_without_traceback(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "ws")
    ws.engine  # noqa: B018
    ws.close()
    _stamp_future(tmp_path / "ws" / "harness.db")
    command = [sys.executable, "-m", "harness", "models", "list", "--workspace", str(tmp_path / "ws")]
    out = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert "error: the workspace database sqlite:///" in out.stderr
    assert "newer version of harness" in out.stderr
    assert "pip install -U harness" in out.stderr and "Traceback" not in out.stderr


def test_password_is_not_shown_in_the_error() -> None:
    from harness.store.migrations import upgrade_schema

    engine = create_engine("sqlite://")
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {VERSION_TABLE} (version_num VARCHAR(32) NOT NULL)"))
        conn.execute(text(f"INSERT INTO {VERSION_TABLE} VALUES ('9999')"))
    engine.url = engine.url.set(password="s3cret", username="me")  # what the message would print
    with pytest.raises(SchemaTooNewError) as caught:
        upgrade_schema(engine)
    assert "s3cret" not in str(caught.value) and "me:***@" in caught.value.message


def test_opening_a_current_workspace_does_not_load_alembic(tmp_path: Path) -> None:
    Workspace.open(tmp_path / "ws").engine.dispose()
    code = ("import sys\nfrom harness.workspace import Workspace\n"
            "ws = Workspace.open(sys.argv[1])\nws.engine\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))\n")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "ws")], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.strip() == "[]"


def test_processes_opening_one_old_workspace_together(tmp_path: Path) -> None:
    """Ranks of a distributed run open an old workspace at once: one upgrades, the others wait."""
    root = _old_workspace(tmp_path)
    code = ("import sys\nfrom harness.workspace import Workspace\nfrom harness.store.migrations import "
            "current_revision\nws = Workspace.open(sys.argv[1])\n"
            "with ws.engine.connect() as conn:\n    print(current_revision(conn))\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(root)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [proc.communicate(timeout=120) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), [err[-2000:] for _, err in results]
    assert {out.strip() for out, _ in results} == {HEAD}
    engine = create_engine_for(f"sqlite:///{root / 'harness.db'}")
    assert table_counts(engine) == EXPECTED_COUNTS
    with engine.connect() as conn:
        assert current_revision(conn) == HEAD
    engine.dispose()


def test_a_later_revision_upgrades_a_versioned_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A workspace at an older known revision gets the newer revisions, its rows kept (a synthetic one after HEAD)."""
    import harness.store.migrations as migrations

    later = f"{int(HEAD) + 1:04d}"
    scripts = tmp_path / "migrations"
    shutil.copytree(Path(migrations.__file__).parent, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / f"{later}_add_priority.py").write_text(
        f'import sqlalchemy as sa\nfrom alembic import op\n\nrevision = "{later}"\ndown_revision = "{HEAD}"\n'
        "branch_labels = depends_on = None\n\n\ndef upgrade():\n"
        '    with op.batch_alter_table("eval_runs") as batch:\n'
        '        batch.add_column(sa.Column("priority", sa.Integer(), nullable=True))\n')
    root = _old_workspace(tmp_path)
    Workspace.open(root).engine.dispose()  # now at HEAD
    original = migrations.alembic_config

    def config_with_later(connection=None):  # type: ignore[no-untyped-def]
        config = original(connection)
        config.set_main_option("script_location", str(scripts))
        return config

    monkeypatch.setattr(migrations, "alembic_config", config_with_later)
    monkeypatch.setattr(migrations, "HEAD", later)
    engine = create_engine_for(f"sqlite:///{root / 'harness.db'}")
    with engine.connect() as conn:
        assert current_revision(conn) == later
        assert conn.execute(text("SELECT count(priority), count(*) FROM eval_runs")).one() == (0, 3)
    assert table_counts(engine) == EXPECTED_COUNTS
    engine.dispose()


def test_workspace_at_the_baseline_gets_the_review_tables(tmp_path: Path) -> None:
    """A workspace made before review queues (pre-migration or at 0001) gets their tables, and they work."""
    from alembic import command

    from harness.review import DEFAULT_RUBRIC, create_batch, next_item, submit

    root = _old_workspace(tmp_path)
    engine = create_engine(f"sqlite:///{root / 'harness.db'}")
    with engine.begin() as conn:  # stamped at the baseline, as harness before issue 12 left it
        command.upgrade(alembic_config(conn), BASELINE)
        assert "review_items" not in {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master"))}
    engine.dispose()
    ws = Workspace.open(root)
    with ws.engine.connect() as conn:
        assert current_revision(conn) == HEAD
        tables = {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'"))}
    assert {"review_batches", "review_items", "review_assignments", "review_labels"} <= tables
    assert table_counts(ws.engine) == EXPECTED_COUNTS
    batch = create_batch(ws.engine, run_id="20240101-000000-smoke", dataset="test", kind="rubric", strategy="random",
                         overlap=1, candidates=("base",), rubric=DEFAULT_RUBRIC,
                         items=[{"example_id": "ex-0", "messages": [], "reference": "r", "candidates": ["base"],
                                 "outputs": ["o"]}])
    task = next_item(ws.engine, batch.id, "ana")
    assert task is not None and task.item_id == f"{batch.id}-0"
    label = submit(ws.engine, task.item_id, "ana", {"helpfulness": 3, "policy_compliance": "yes",
                                                    "factual_accuracy": "no", "tone_appropriate": "y"})
    assert label.values == {"helpfulness": 3, "policy_compliance": True, "factual_accuracy": False,
                            "tone_appropriate": True}
    ws.close()
