"""Statistics at scale: PostgreSQL statistics on a decision's verdict (``data->>'to'``).

The figures keep a case "confirmed by the end of the period" when one of its
``state_changed`` events went to ``confirmed``, a key inside the JSON ``data`` column. Without
statistics on that expression PostgreSQL guesses it matches 0.5% of the events, when over a
third do, and plans for a handful of rows: it walks the cases by primary key once per
confirmed event (half of the yearly figures' time, most of the overview's charts' time over
200,000 cases). Extended statistics on the expression (PostgreSQL 14 and later) give the
planner the real share; no index is needed, as the figures read those events whole. ANALYZE
fills them now rather than at the next autovacuum.

SQLite plans without such statistics; nothing changes there.

Revision ID: 0013_stats_verdict_statistics
Revises: 0012_stats_indexes
Create Date: 2026-12-10
"""

from __future__ import annotations

from alembic import op

revision = "0013_stats_verdict_statistics"
down_revision = "0012_stats_indexes"
branch_labels = None
depends_on = None

NAME = "st_case_events_verdict"


def _supported() -> bool:
    bind = op.get_bind()
    version = bind.dialect.server_version_info or (0,)
    return bind.dialect.name == "postgresql" and version >= (14,)


def upgrade() -> None:
    if _supported():
        op.execute(f"CREATE STATISTICS {NAME} ON ((data ->> 'to')) FROM case_events")
        op.execute("ANALYZE case_events")


def downgrade() -> None:
    if _supported():
        op.execute(f"DROP STATISTICS IF EXISTS {NAME}")
