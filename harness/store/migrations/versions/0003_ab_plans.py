"""A/B plans and looks: the horizon of a group-sequential analysis and the looks taken (issue 17).

Tables ``ab_plans`` and ``ab_looks`` of :mod:`harness.store.ab_plans`. A workspace at 0002 (or older)
gets them empty: its experiments have no plan until ``harness ab plan --experiment`` records one.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ab_plans",
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("planned_units", sa.BigInteger(), nullable=False),
        sa.Column("planned_days", sa.Float(), nullable=True),
        sa.Column("units_per_day", sa.Float(), nullable=True),
        sa.Column("looks", sa.String(length=32), nullable=False),
        sa.Column("alpha", sa.Float(), nullable=False),
        sa.Column("spending", sa.String(length=32), nullable=False),
        sa.Column("primary_metric", sa.String(length=200), nullable=True),
        sa.Column("mde", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["experiment_id"], ["ab_experiments.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("experiment_id"))
    op.create_table(
        "ab_looks",
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("look_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("analysed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("fraction", sa.Float(), nullable=False),
        sa.Column("z_boundary", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["experiment_id"], ["ab_experiments.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("experiment_id", "look_index"))


def downgrade() -> None:
    op.drop_table("ab_looks")
    op.drop_table("ab_plans")
