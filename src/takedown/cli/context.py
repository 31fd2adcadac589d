"""What every command needs: settings, the database, and errors turned into exit codes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import click

from takedown.clock import SystemClock
from takedown.config import Settings, load_settings
from takedown.db.session import Database
from takedown.errors import TakedownError

P = ParamSpec("P")
R = TypeVar("R")
CLOCK = SystemClock()


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


def database() -> Database:
    ctx = click.get_current_context()
    db = Database.from_settings(settings())
    ctx.call_on_close(db.dispose)
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
