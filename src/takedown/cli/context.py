"""What every command needs: settings, the database, and errors turned into exit codes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import click

from takedown.cli.schema import SchemaMismatch, ensure_schema
from takedown.clock import SystemClock
from takedown.config import Settings, load_settings
from takedown.db.session import Database
from takedown.errors import TakedownError

P = ParamSpec("P")
R = TypeVar("R")
CLOCK = SystemClock()
_CHECKED = "takedown.schema_checked"


def settings() -> Settings:
    """Settings read once per command line from the TAKEDOWN_* environment."""
    meta = click.get_current_context().meta
    if "takedown.settings" not in meta:
        try:
            meta["takedown.settings"] = load_settings()
        except TakedownError as exc:
            raise click.ClickException(exc.message) from exc
    found: Settings = meta["takedown.settings"]
    return found


def database(*, check_schema: bool = True) -> Database:
    """The database of the settings, disposed of when the command ends.

    With ``check_schema`` (all commands but ``db``'s own) the schema is checked against the
    code first, once per command line: a development SQLite database is migrated on the
    spot, anything else that is behind stops the command with what to run (``cli.schema``).
    """
    ctx = click.get_current_context()
    config = settings()
    db = Database.from_settings(config)
    ctx.call_on_close(db.dispose)
    if check_schema and not ctx.meta.get(_CHECKED):
        try:
            note = ensure_schema(db, config)
        except SchemaMismatch as exc:
            raise click.ClickException(str(exc)) from exc
        if note:
            click.echo(note, err=True)
        ctx.meta[_CHECKED] = True
    return db


def friendly_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Print our errors as one clear line and exit 1, instead of a traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except TakedownError as exc:
            raise click.ClickException(exc.message) from exc

    return wrapper
