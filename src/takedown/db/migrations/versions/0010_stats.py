"""Statistics: the daily aggregates, one row per ended UTC day and figure.

Revision ID: 0010_stats
Revises: 0009_audit_chain
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_stats"
down_revision = "0009_audit_chain"
branch_labels = None
depends_on = None

_BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "stats_daily",
        sa.Column("id", _BIGINT, autoincrement=True, nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("metric", sa.String(length=48), nullable=False),
        sa.Column("value", _BIGINT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_daily")),
        sa.UniqueConstraint("day", "metric", name=op.f("uq_stats_daily_day")),
    )
    op.create_index(op.f("ix_stats_daily_day"), "stats_daily", ["day"])


def downgrade() -> None:
    op.drop_index(op.f("ix_stats_daily_day"), table_name="stats_daily")
    op.drop_table("stats_daily")
