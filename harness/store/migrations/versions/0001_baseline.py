"""Baseline: the schema harness made with ``create_all`` before migrations (commit 10f61ff).

Tables of runs (``eval_runs``, ``generations``, ``run_examples``), the model registry
(``trained_models``) and A/B tests (``ab_experiments``, ``ab_variants``, ``ab_events``, ``ab_units``).
A workspace written before migrations already has (some of) these tables: they are kept with their
rows, and only the missing ones are created. That is how an old workspace gets stamped.

Revision ID: 0001
Revises:
Create Date: 2024-06-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = ("eval_runs", "generations", "run_examples", "trained_models",
          "ab_experiments", "ab_variants", "ab_events", "ab_units")


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())

    def create(name: str, *items: sa.SchemaItem, indexes: tuple[tuple[str, list[str], bool], ...] = (),
               **kwargs: object) -> None:
        if name in existing:  # written by harness before migrations: keep it and its rows
            return
        op.create_table(name, *items, **kwargs)
        for index_name, columns, unique in indexes:
            op.create_index(index_name, name, columns, unique=unique)

    create("eval_runs",
           sa.Column("id", sa.String(length=200), nullable=False),
           sa.Column("suite_name", sa.String(length=200), nullable=False),
           sa.Column("suite_hash", sa.String(length=64), nullable=False),
           sa.Column("status", sa.String(length=20), nullable=False),
           sa.Column("run_dir", sa.Text(), nullable=False),
           sa.Column("suite_json", sa.JSON(), nullable=False),
           sa.Column("summary_json", sa.JSON(), nullable=True),
           sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
           sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
           sa.PrimaryKeyConstraint("id"),
           indexes=(("ix_eval_runs_suite_name", ["suite_name"], False),))
    create("generations",
           sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
           sa.Column("fingerprint", sa.String(length=64), nullable=False),
           sa.Column("prompt_hash", sa.String(length=64), nullable=False),
           sa.Column("settings_hash", sa.String(length=64), nullable=False),
           sa.Column("text", sa.Text(), nullable=False),
           sa.Column("latency_s", sa.Float(), nullable=True),
           sa.Column("prompt_tokens", sa.Integer(), nullable=True),
           sa.Column("completion_tokens", sa.Integer(), nullable=True),
           sa.Column("finish_reason", sa.String(length=40), nullable=True),
           sa.Column("model", sa.Text(), nullable=True),
           sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
           sa.PrimaryKeyConstraint("id"),
           sa.UniqueConstraint("fingerprint", "prompt_hash", "settings_hash", name="uq_generation_key"))
    create("run_examples",
           sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
           sa.Column("run_id", sa.String(length=200), nullable=False),
           sa.Column("candidate", sa.String(length=200), nullable=False),
           sa.Column("dataset", sa.String(length=200), nullable=False),
           sa.Column("example_id", sa.String(length=400), nullable=False),
           sa.Column("generation_id", sa.Integer(), nullable=True),
           sa.Column("prediction", sa.Text(), nullable=False),
           sa.Column("reference", sa.Text(), nullable=False),
           sa.Column("cost", sa.Float(), nullable=True),
           sa.Column("scores", sa.JSON(), nullable=False),
           sa.Column("metadata_json", sa.JSON(), nullable=False),
           sa.PrimaryKeyConstraint("id"),
           sa.UniqueConstraint("run_id", "candidate", "dataset", "example_id", name="uq_run_example"),
           sa.ForeignKeyConstraint(["run_id"], ["eval_runs.id"], ondelete="CASCADE"),
           sa.ForeignKeyConstraint(["generation_id"], ["generations.id"]),
           indexes=(("ix_run_examples_run_id", ["run_id"], False),))
    create("trained_models",
           sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
           sa.Column("name", sa.String(length=200), nullable=False),
           sa.Column("path", sa.Text(), nullable=False),
           sa.Column("base_model", sa.Text(), nullable=False),
           sa.Column("base_model_path", sa.Text(), nullable=False),
           sa.Column("method", sa.String(length=32), nullable=False),
           sa.Column("adapter", sa.Boolean(), nullable=False),
           sa.Column("config", sa.JSON(), nullable=False),
           sa.Column("dataset_hashes", sa.JSON(), nullable=False),
           sa.Column("git_commit", sa.String(length=64), nullable=True),
           sa.Column("package_versions", sa.JSON(), nullable=False),
           sa.Column("trainable_params", sa.Integer(), nullable=False),
           sa.Column("total_params", sa.Integer(), nullable=False),
           sa.Column("adapter_size_bytes", sa.Integer(), nullable=True),
           sa.Column("wall_time_s", sa.Float(), nullable=False),
           sa.Column("steps", sa.Integer(), nullable=False),
           sa.Column("final_train_loss", sa.Float(), nullable=True),
           sa.Column("final_val_loss", sa.Float(), nullable=True),
           sa.Column("best_val_loss", sa.Float(), nullable=True),
           sa.Column("curves_path", sa.Text(), nullable=False),
           sa.Column("extra", sa.JSON(), nullable=False),
           sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
           sa.PrimaryKeyConstraint("id"),
           indexes=(("ix_trained_models_name", ["name"], True),))
    create("ab_experiments",
           sa.Column("id", sa.Integer(), nullable=False),
           sa.Column("name", sa.String(length=200), nullable=False),
           sa.Column("control", sa.String(length=200), nullable=False),
           sa.Column("description", sa.Text(), nullable=False),
           sa.Column("config_json", sa.Text(), nullable=False),
           sa.Column("event_count", sa.BigInteger(), nullable=False),
           sa.Column("created_at", sa.DateTime(), nullable=False),
           sa.PrimaryKeyConstraint("id"),
           sa.UniqueConstraint("name"))
    create("ab_variants",
           sa.Column("id", sa.Integer(), nullable=False),
           sa.Column("experiment_id", sa.Integer(), nullable=False),
           sa.Column("name", sa.String(length=200), nullable=False),
           sa.Column("weight", sa.Float(), nullable=False),
           sa.PrimaryKeyConstraint("id"),
           sa.UniqueConstraint("experiment_id", "name"),
           sa.ForeignKeyConstraint(["experiment_id"], ["ab_experiments.id"], ondelete="CASCADE"),
           indexes=(("ix_ab_variants_experiment_id", ["experiment_id"], False),))
    # the events and the per-unit rollup are clustered on their key on SQLite (WITHOUT ROWID)
    create("ab_events",
           sa.Column("experiment_id", sa.Integer(), nullable=False),
           sa.Column("unit_id", sa.String(length=200), nullable=False),
           sa.Column("variant", sa.String(length=200), nullable=False),
           sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
           sa.Column("ts", sa.Float(), nullable=False),
           *(sa.Column(name, sa.Float(), nullable=True) for name in _METRICS),
           sa.PrimaryKeyConstraint("experiment_id", "unit_id", "variant", "seq"),
           sa.ForeignKeyConstraint(["experiment_id"], ["ab_experiments.id"], ondelete="CASCADE"),
           indexes=(("ix_ab_events_latency", ["experiment_id", "variant", "latency_s"], False),),
           sqlite_with_rowid=False)
    create("ab_units",
           sa.Column("experiment_id", sa.Integer(), nullable=False),
           sa.Column("unit_id", sa.String(length=200), nullable=False),
           sa.Column("variant", sa.String(length=200), nullable=False),
           sa.Column("n", sa.BigInteger(), nullable=False),
           sa.Column("t_first", sa.Float(), nullable=False),
           sa.Column("t_last", sa.Float(), nullable=False),
           *(column for name in _METRICS for column in (
               sa.Column(f"{name}_sum", sa.Float(), nullable=False),
               sa.Column(f"{name}_n", sa.BigInteger(), nullable=False),
               sa.Column(f"{name}_max", sa.Float(), nullable=True))),
           sa.PrimaryKeyConstraint("experiment_id", "unit_id", "variant"),
           sa.ForeignKeyConstraint(["experiment_id"], ["ab_experiments.id"], ondelete="CASCADE"),
           sqlite_with_rowid=False)


# the metric columns of an A/B event as of this revision (a copy: later revisions must not change it)
_METRICS = ("task_completed", "satisfaction", "escalated", "latency_s", "cost", "response_tokens",
            "prompt_tokens", "covariate")


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)
