"""Alembic environment: runs against the engine given by ``takedown.db.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, text

from takedown.db.base import Base
from takedown.db.registry import import_all_models

import_all_models()
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine: Engine = context.config.attributes["engine"]
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            # A migration may rewrite a large table: the request timeouts of the engine do
            # not apply to it (SET LOCAL: for this transaction only).
            connection.execute(text("SET LOCAL statement_timeout = 0"))
            connection.execute(text("SET LOCAL lock_timeout = 0"))
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            # SQLite cannot ALTER most things; batch mode copies the table instead.
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
