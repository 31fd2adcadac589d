"""The schema check every database command makes before it touches a table.

A command run on a data directory that was never migrated used to end in a long SQLAlchemy
traceback (``no such table``). Instead, the embedded SQLite default of a development setup is
migrated on the spot: it belongs to this machine alone, and ``make run`` would migrate it
anyway. Any other database (an explicit ``TAKEDOWN_DATABASE_URL``, PostgreSQL, production)
is never changed behind the operator's back: the command stops with one line saying what to
run. A database migrated by newer code is refused too, since older code would misread it.
"""

from __future__ import annotations

from dataclasses import dataclass

from alembic.script import ScriptDirectory
from alembic.util import CommandError

from takedown.config import Settings
from takedown.db import migrate
from takedown.db.session import Database

UPGRADE_HINT = "run `takedown db upgrade`"


class SchemaMismatch(Exception):
    """The database's schema is not the one the code needs; the message says what to do."""


@dataclass(frozen=True, slots=True)
class SchemaState:
    current: str | None
    head: str | None
    known: bool  # the current revision is one of the code's (older or the head)

    @property
    def ready(self) -> bool:
        return self.current == self.head


def schema_state(db: Database) -> SchemaState:
    current = migrate.current_revision(db.engine)
    head = migrate.head_revision()
    return SchemaState(current, head, current is None or _is_known(current))


def auto_migrates(config: Settings) -> bool:
    """Whether commands may migrate by themselves: the embedded SQLite of development only."""
    return config.env == "development" and not config.database_url


def ensure_schema(db: Database, config: Settings) -> str | None:
    """Make sure the schema is at the code's head; a note to print if it was migrated now.

    Raises :class:`SchemaMismatch` when the schema is not at the head and may not (or cannot)
    be migrated here.
    """
    state = schema_state(db)
    if state.ready:
        return None
    if not state.known:
        raise SchemaMismatch(
            f"the database is at revision {state.current}, which this version of Takedown does"
            f" not know (it needs {state.head}): run the version that migrated it"
        )
    if not auto_migrates(config):
        if state.current is None:
            raise SchemaMismatch(f"the database has no tables yet: {UPGRADE_HINT} first")
        raise SchemaMismatch(
            f"the database is at revision {state.current} but this version needs"
            f" {state.head}: {UPGRADE_HINT} first"
        )
    migrate.upgrade(db.engine)
    before = "an empty database" if state.current is None else f"revision {state.current}"
    return f"migrated the SQLite database in {config.data_dir} from {before} to {state.head}"


def _is_known(revision: str) -> bool:
    try:
        found = ScriptDirectory.from_config(migrate.alembic_config()).get_revision(revision)
    except CommandError:
        return False
    return found is not None
