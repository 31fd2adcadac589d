"""Alembic environment: runs against the engine given by ``takedown.db.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from takedown.db.base import Base
from takedown.db.registry import import_all_models

import_all_models()
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine: Engine = context.config.attributes["engine"]
    with engine.connect() as connection:
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
