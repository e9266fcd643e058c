"""The workspace database written before migrations (``fixtures/v0_workspace.db``) and what it holds.

Shared by the SQLite tests here and the PostgreSQL test (``tests/harness/test_store_postgres.py``).
The numbers below come from ``fixtures/make_v0_workspace.py``: change both together.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select, text

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

FIXTURE = Path(__file__).parent / "fixtures" / "v0_workspace.db"

#: Row counts of every table of the baseline schema in the fixture.
EXPECTED_COUNTS = {"eval_runs": 3, "generations": 12, "run_examples": 12, "trained_models": 1,
                   "ab_experiments": 1, "ab_variants": 2, "ab_events": 30, "ab_units": 10}


def table_counts(engine: Engine) -> dict[str, int]:
    """Rows per table of :data:`EXPECTED_COUNTS` in the database of ``engine``."""
    from harness.store import load_table_modules
    from harness.store.base import Base

    load_table_modules()
    with engine.connect() as conn:
        return {name: conn.execute(select(func.count()).select_from(Base.metadata.tables[name])).scalar_one()
                for name in EXPECTED_COUNTS}


def check_v0_rows(engine: Engine) -> None:
    """Assert that every row of the fixture is in the database of ``engine``, read through the store API."""
    from harness.store import ab, runs
    from harness.store.base import transaction
    from harness.store.models import TrainedModel

    assert table_counts(engine) == EXPECTED_COUNTS

    first = runs.get_run(engine, "20240101-000000-smoke")
    assert first is not None and first.status == "completed"
    assert first.summary_json == {"exact_match": 1.0, "n": 4}
    assert first.suite_json == {"name": "smoke", "round": 0}
    assert runs.get_run(engine, "latest").id == "20240101-000002-smoke"
    assert runs.find_resumable_run(engine, "smoke").id == "20240101-000002-smoke"  # still 'running'
    rows = runs.run_examples(engine, "20240101-000001-smoke")
    assert [r.example_id for r in rows] == ["ex-0", "ex-1", "ex-2", "ex-3"]
    assert rows[2].scores == {"exact_match": 0.0, "rouge_l": 0.7} and rows[3].metadata_json == {"slice": "a"}
    assert rows[1].prediction == '{"answer": 11}'
    cached = runs.lookup_generations(engine, "fp-base", "settings-1", ["prompt-2-3"])
    assert cached["prompt-2-3"].text == '{"answer": 23}' and cached["prompt-2-3"].prompt_tokens == 15
    assert rows[1].generation_id is not None

    with transaction(engine) as session:
        model = session.scalars(select(TrainedModel).where(TrainedModel.name == "tiny-lora")).one()
        assert (model.method, model.adapter, model.steps, model.best_val_loss) == ("lora", True, 40, 0.79)
        assert model.config == {"lora": {"r": 8}} and model.extra == {"note": "fixture"}

    experiment = ab.get_experiment(engine, "checkout-flow")
    assert experiment is not None and experiment.control == "control"
    assert experiment.weights == {"control": 0.5, "treatment": 0.5}
    assert experiment.config == {"primary_metric": "task_completed"}
    with engine.connect() as conn:
        unit = conn.execute(text("SELECT n, task_completed_sum, satisfaction_n, latency_s_max FROM ab_units "
                                 "WHERE unit_id = 'u3'")).one()
        assert tuple(unit) == (3, 1.0, 1, 0.53)
        assert conn.execute(text("SELECT sum(task_completed) FROM ab_events")).scalar_one() == 10.0


def copy_rows(source: Engine, target: Engine) -> None:
    """Copy every row of the baseline tables from ``source`` to ``target`` (parents first).

    Serial ids are copied as they are, so PostgreSQL sequences are moved past them (as a restore does).
    """
    from harness.store import load_table_modules
    from harness.store.base import Base

    load_table_modules()
    with source.connect() as src, target.begin() as dst:
        for name in EXPECTED_COUNTS:  # parents before children
            table = Base.metadata.tables[name]
            rows = [dict(row._mapping) for row in src.execute(select(table))]
            if rows:
                dst.execute(table.insert(), rows)
            if target.dialect.name == "postgresql" and table.autoincrement_column is not None:
                column = table.autoincrement_column.name
                dst.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', '{column}'), "
                                 f"(SELECT coalesce(max({column}), 1) FROM {name}))"))
