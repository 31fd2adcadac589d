"""Statistics at scale: the indexes the figures' aggregates need.

``item_reveals.item_id``: "items never shown to a person" probes the reveals of every item
captured in the period; without it that is a scan of the reveals per item (minutes over a
million cases). The others let a period's range read its rows instead of the whole table:
reports by ``received_at``, cases by ``first_reported_at`` (the cohort) and ``removed_at``
(the overview's week of removals), items by ``captured_at``.

Revision ID: 0012_stats_indexes
Revises: 0010_stats
Create Date: 2026-12-09
"""

from __future__ import annotations

from alembic import op

revision = "0012_stats_indexes"
down_revision = "0010_stats"
branch_labels = None
depends_on = None

INDEXES = (
    ("item_reveals", "item_id"),
    ("case_items", "captured_at"),
    ("reports", "received_at"),
    ("cases", "first_reported_at"),
    ("cases", "removed_at"),
)


def upgrade() -> None:
    for table, column in INDEXES:
        op.create_index(f"ix_{table}_{column}", table, [column])


def downgrade() -> None:
    for table, column in reversed(INDEXES):
        op.drop_index(f"ix_{table}_{column}", table_name=table)
