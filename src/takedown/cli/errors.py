"""Conditions a user can cause, turned into one line and exit status 1 for every command.

Commands raise ``TakedownError`` for bad input themselves (``friendly_errors``); this catches
what comes from below them: a database that cannot be reached or opened, a schema that is
behind the code, a locked SQLite file, and files that cannot be read or written. Anything
else is a bug and keeps its traceback, so that it gets reported.
"""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from takedown.cli.schema import UPGRADE_HINT
from takedown.errors import TakedownError

# PostgreSQL: undefined_table, undefined_column.
_MISSING_SCHEMA_STATES = frozenset({"42P01", "42703"})
_MISSING_SCHEMA_TEXT = ("no such table", "no such column")


class TakedownGroup(click.Group):
    """A command group whose commands never print a traceback for a user's mistake."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TakedownError as exc:
            raise click.ClickException(exc.message) from exc
        except DBAPIError as exc:
            message = database_problem(exc, safe_database_url(ctx))
            if message is None:
                raise
            raise click.ClickException(message) from exc
        except ArgumentError as exc:  # an unparseable TAKEDOWN_DATABASE_URL
            message = f"TAKEDOWN_DATABASE_URL is not a database URL: {exc}"
            raise click.ClickException(message) from exc
        except OSError as exc:
            if exc.filename is None:
                raise
            raise click.ClickException(file_problem(exc)) from exc


def database_problem(exc: DBAPIError, url: str) -> str | None:
    """One line for a database error a user can cause and fix, else None (a bug)."""
    detail = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
    lowered = detail.lower()
    if getattr(exc.orig, "sqlstate", None) in _MISSING_SCHEMA_STATES or any(
        text in lowered for text in _MISSING_SCHEMA_TEXT
    ):
        return f"the database schema is behind the code ({detail}): {UPGRADE_HINT}"
    if "database is locked" in lowered:
        return "the SQLite database is locked by another process; try again in a moment"
    if "readonly database" in lowered:
        return f"the database {url} is read-only for this user: check its file's permissions"
    # SQLAlchemy gives no statement when the connection itself failed: down, refused, bad
    # password, a directory that does not exist or cannot be written.
    if exc.statement is None:
        return f"cannot connect to the database {url}: {detail}"
    return None


def file_problem(exc: OSError) -> str:
    reason = exc.strerror or type(exc).__name__
    return f"{exc.filename}: {reason}"


def safe_database_url(ctx: click.Context) -> str:
    """The database URL of the command's settings without its password, for messages."""
    found = ctx.meta.get("takedown.settings")
    if found is None:
        return "(see TAKEDOWN_DATABASE_URL)"
    try:
        return make_url(found.effective_database_url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(see TAKEDOWN_DATABASE_URL)"
