"""Commands for the database and URLs."""

from __future__ import annotations

import click

from takedown.cli.context import database, friendly_errors
from takedown.db import migrate
from takedown.urls import canonicalize, expressions


@click.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION."""
    engine = database(check_schema=False).engine
    before = migrate.current_revision(engine)
    migrate.upgrade(engine, revision)
    after = migrate.current_revision(engine)
    if after == before:
        click.echo(f"database already at {after}")
    else:
        click.echo(f"database upgraded from {before or 'nothing'} to {after}")


@db.command("current")
def db_current() -> None:
    """Show the database's revision and the code's."""
    engine = database(check_schema=False).engine
    click.echo(f"database {migrate.current_revision(engine)}, code {migrate.head_revision()}")


@click.group()
def url() -> None:
    """URL canonicalization (Safe Browsing v4 rules)."""


@url.command("canonical")
@click.argument("value")
@friendly_errors
def url_canonical(value: str) -> None:
    """Print the canonical form of a URL."""
    click.echo(canonicalize(value))


@url.command("expressions")
@click.argument("value")
@friendly_errors
def url_expressions(value: str) -> None:
    """Print the host-suffix/path-prefix expressions of a URL, one per line."""
    for expression in expressions(value):
        click.echo(expression)
