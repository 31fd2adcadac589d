"""Notices and their answers, re-checks, police holds, and the case's removal clocks.

Revision ID: 0006_notices
Revises: 0005_tracing_routing
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_notices"
down_revision = "0005_tracing_routing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "holds",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("preserve_evidence", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(length=200), nullable=True),
        sa.Column("release_note", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_holds_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holds")),
    )
    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_holds_case_id"), ["case_id"], unique=False)

    op.create_table(
        "rechecks",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=48), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_rechecks_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rechecks")),
    )
    with op.batch_alter_table("rechecks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_rechecks_case_id_checked_at", ["case_id", "checked_at"], unique=False
        )

    op.create_table(
        "notices",
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("step_id", sa.Uuid(), nullable=True),
        sa.Column("org_id", sa.Uuid(), nullable=True),
        sa.Column("org_name", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "notice",
                "renotice",
                "escalation",
                "forward",
                "police_referral",
                name="notice_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "channel",
            sa.Enum(
                "email",
                "webhook",
                "none",
                name="notice_channel",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "held",
                "sending",
                "sent",
                "failed",
                "cancelled",
                name="notice_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("previous_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sending_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column(
            "answer",
            sa.Enum(
                "acknowledged",
                "removed",
                "cannot_act",
                "dispute",
                name="answer_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_notices_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_notices_org_id_organizations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["previous_id"],
            ["notices.id"],
            name=op.f("fk_notices_previous_id_notices"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["step_id"],
            ["route_steps.id"],
            name=op.f("fk_notices_step_id_route_steps"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
        sa.UniqueConstraint("reference", name=op.f("uq_notices_reference")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_notices_token_hash")),
    )
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notices_case_id_created_at", ["case_id", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_notices_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_notices_status"), ["status"], unique=False)

    op.create_table(
        "notice_answers",
        sa.Column("notice_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "acknowledged",
                "removed",
                "cannot_act",
                "dispute",
                name="answer_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_notice_answers_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["notices.id"],
            name=op.f("fk_notice_answers_notice_id_notices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_answers")),
    )
    with op.batch_alter_table("notice_answers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notice_answers_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_notice_answers_notice_id"), ["notice_id"], unique=False
        )

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_notice_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("next_recheck_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("next_recheck_at")
        batch_op.drop_column("escalated_at")
        batch_op.drop_column("removed_at")
        batch_op.drop_column("first_notice_at")

    with op.batch_alter_table("notice_answers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notice_answers_notice_id"))
        batch_op.drop_index(batch_op.f("ix_notice_answers_case_id"))

    op.drop_table("notice_answers")
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notices_status"))
        batch_op.drop_index(batch_op.f("ix_notices_org_id"))
        batch_op.drop_index("ix_notices_case_id_created_at")

    op.drop_table("notices")
    with op.batch_alter_table("rechecks", schema=None) as batch_op:
        batch_op.drop_index("ix_rechecks_case_id_checked_at")

    op.drop_table("rechecks")
    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_holds_case_id"))

    op.drop_table("holds")
