"""The migrated schema matches the models, and the test isolation works."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from takedown.db.base import Base
from takedown.db.migrate import current_revision, head_revision


def test_migrations_reach_head(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()


def test_models_and_migrations_agree(engine: Engine) -> None:
    # The same check as `alembic check`: a model change without its migration fails here.
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []
