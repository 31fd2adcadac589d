"""Commands for the database, URLs and the audit log."""

from __future__ import annotations

import click

from takedown.audit import service as audit
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
    database_ = database()
    migrate.upgrade(database_.engine, revision)
    click.echo(f"database at {migrate.current_revision(database_.engine)}")


@db.command("current")
def db_current() -> None:
    """Show the database's revision and the code's."""
    engine = database().engine
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


@click.group("audit")
def audit_group() -> None:
    """The hash-chained audit log."""


@audit_group.command("verify")
def audit_verify() -> None:
    """Check every record of the chain; exit 1 and name the records that were edited or deleted."""
    with database().transaction() as session:
        result = audit.verify(session)
    for problem in result.problems:
        click.echo(f"record {problem.seq}: {problem.problem}", err=True)
    if not result.ok:
        raise SystemExit(1)
    click.echo(f"audit log intact: {result.records} records, head {result.head}")
