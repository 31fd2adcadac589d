"""Banks: named hash sets, their entries, and the change log that match indexes follow.

Revision ID: 0003_banks
Revises: 0002_jobs
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_banks"
down_revision = "0002_jobs"
branch_labels = None
depends_on = None

# Entry ids and change sequence numbers are int64 on PostgreSQL; on SQLite only an INTEGER
# PRIMARY KEY numbers itself, and AUTOINCREMENT stops the reuse of deleted rows' numbers.
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "banks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("pdq_threshold", sa.SmallInteger(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_banks")),
        sa.UniqueConstraint("name", name=op.f("uq_banks_name")),
        # The BankRole values, as enum_column declares them.
        sa.CheckConstraint("role IN ('block_list', 'allow_list')", name=op.f("ck_banks_bank_role")),
    )
    op.create_table(
        "bank_entries",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("bank_id", sa.Uuid(), nullable=False),
        sa.Column("signal_type", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=512), nullable=False),
        sa.Column("quality", sa.SmallInteger(), nullable=True),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("classification", sa.String(length=64), nullable=False),
        sa.Column("added_by", sa.String(length=200), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bank_id"],
            ["banks.id"],
            name=op.f("fk_bank_entries_bank_id_banks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_entries")),
        sa.UniqueConstraint(
            "bank_id", "signal_type", "value", name=op.f("uq_bank_entries_bank_id")
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_bank_entries_bank_order", "bank_entries", ["bank_id", "id"])
    op.create_table(
        "bank_changes",
        sa.Column("seq", _ID, autoincrement=True, nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_bank_changes")),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("bank_changes")
    op.drop_index("ix_bank_entries_bank_order", table_name="bank_entries")
    op.drop_table("bank_entries")
    op.drop_table("banks")
