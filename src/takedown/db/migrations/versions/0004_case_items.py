"""Case items: the media files captured at a case's URL, with hashes and assessment.

Revision ID: 0004_case_items
Revises: 0003_banks
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_case_items"
down_revision = "0003_banks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_items",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("md5", sa.String(length=32), nullable=False),
        sa.Column("sha1", sa.String(length=40), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("pdq", sa.String(length=64), nullable=True),
        sa.Column("pdq_quality", sa.Integer(), nullable=True),
        sa.Column(
            "verdict",
            sa.Enum(
                "unknown",
                "known",
                "confirmed",
                "not_illegal",
                name="item_verdict",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("classification", sa.String(length=64), nullable=True),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("match", sa.JSON(), nullable=False),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_items_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_items")),
        sa.UniqueConstraint("case_id", "sha256", name=op.f("uq_case_items_case_id")),
    )
    op.create_index(op.f("ix_case_items_case_id"), "case_items", ["case_id"], unique=False)
    op.create_index(op.f("ix_case_items_sha256"), "case_items", ["sha256"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_case_items_sha256"), table_name="case_items")
    op.drop_index(op.f("ix_case_items_case_id"), table_name="case_items")
    op.drop_table("case_items")
