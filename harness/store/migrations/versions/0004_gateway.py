"""Gateway traffic: tables ``ab_requests`` (one row per request served) and ``ab_outcomes`` (named feedback).

Tables of :mod:`harness.store.gateway` (issue 13). A workspace at 0003 gets them empty.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 20:10:09.262646
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ab_outcomes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('experiment_id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=False),
    sa.Column('unit_id', sa.String(length=200), nullable=False),
    sa.Column('variant', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('ts', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['experiment_id'], ['ab_experiments.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('experiment_id', 'request_id', 'unit_id', 'name')
    )
    with op.batch_alter_table('ab_outcomes', schema=None) as batch_op:
        batch_op.create_index('ix_ab_outcomes_name', ['experiment_id', 'name'], unique=False)

    op.create_table('ab_requests',
    sa.Column('request_id', sa.String(length=64), nullable=False),
    sa.Column('experiment_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.String(length=200), nullable=False),
    sa.Column('variant', sa.String(length=200), nullable=False),
    sa.Column('served_by', sa.String(length=200), nullable=True),
    sa.Column('fallback', sa.Boolean(), nullable=False),
    sa.Column('fallback_reason', sa.String(length=500), nullable=True),
    sa.Column('ts', sa.Float(), nullable=False),
    sa.Column('latency_s', sa.Float(), nullable=True),
    sa.Column('backend_latency_s', sa.Float(), nullable=True),
    sa.Column('prompt_tokens', sa.Integer(), nullable=True),
    sa.Column('completion_tokens', sa.Integer(), nullable=True),
    sa.Column('cost', sa.Float(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('model', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['experiment_id'], ['ab_experiments.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('request_id')
    )
    with op.batch_alter_table('ab_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ab_requests_experiment_id'), ['experiment_id'], unique=False)
        batch_op.create_index('ix_ab_requests_unit', ['experiment_id', 'unit_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('ab_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_ab_requests_unit')
        batch_op.drop_index(batch_op.f('ix_ab_requests_experiment_id'))

    op.drop_table('ab_requests')
    with op.batch_alter_table('ab_outcomes', schema=None) as batch_op:
        batch_op.drop_index('ix_ab_outcomes_name')

    op.drop_table('ab_outcomes')
