"""Audit log: records are chained after commit by one appender, with a keyed digest.

The unkeyed SHA-256 chain of existing records is dropped and the appender chains them again,
in their order, with the keyed digest: a chain that kept unkeyed links could be rewritten by
anyone with the database. Run `takedown audit verify` with the previous release before
upgrading to check the old chain one last time.

Revision ID: 0009_audit_chain
Revises: 0008_console
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_audit_chain"
down_revision = "0008_console"
branch_labels = None
depends_on = None

_BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("position", _BIGINT, nullable=True))
        batch.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=True)
        batch.alter_column("hash", existing_type=sa.String(length=64), nullable=True)
        batch.create_unique_constraint(batch.f("uq_audit_log_position"), ["position"])
    op.execute("UPDATE audit_log SET prev_hash = NULL, hash = NULL")


def downgrade() -> None:
    # Records still waiting for the appender have no hash and the old schema cannot hold
    # them; an audit record is never deleted to make a downgrade fit.
    pending = op.get_bind().scalar(sa.text("SELECT count(*) FROM audit_log WHERE hash IS NULL"))
    if pending:
        raise RuntimeError(
            f"{pending} audit records are not chained yet: run `takedown audit chain` first"
        )
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_constraint(batch.f("uq_audit_log_position"), type_="unique")
        batch.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch.drop_column("position")
