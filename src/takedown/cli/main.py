"""Entry point of the ``takedown`` command. Settings come from TAKEDOWN_* variables."""

from __future__ import annotations

import logging
import secrets
import threading

import click
import uvicorn
from sqlalchemy import select

from takedown import __version__
from takedown.auth import service as auth
from takedown.auth.models import Role, User
from takedown.auth.principal import cli_principal
from takedown.cli.admin import keys, orgs_group, users
from takedown.cli.context import CLOCK, database, settings
from takedown.cli.tools import audit_group, db, url
from takedown.db import migrate
from takedown.db.session import Database
from takedown.jobs.runner import run_worker
from takedown.matching.cli import COMMANDS as matching_commands
from takedown.routing.cli import routing_group
from takedown.sandbox.cli import sandbox_command
from takedown.web.app import create_app


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="takedown")
def main() -> None:
    """Takedown: reports, cases and removal of child sexual abuse material.

    Configuration comes from TAKEDOWN_* environment variables, e.g. TAKEDOWN_DATABASE_URL
    and TAKEDOWN_DATA_DIR (default ./data, holding the SQLite database).
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--proxy-headers/--no-proxy-headers",
    default=False,
    help="Trust X-Forwarded-For from 127.0.0.1.",
)
def serve(host: str, port: int, proxy_headers: bool) -> None:
    """Serve the API and the web pages (run `takedown worker` beside it)."""
    app = create_app(settings(), database=database())
    uvicorn.run(app, host=host, port=port, proxy_headers=proxy_headers, log_level="info")


@main.command()
def worker() -> None:
    """Run background jobs until stopped (SIGTERM lets the current job finish)."""
    run_worker(settings())


def _ensure_admin(db_: Database) -> None:
    """On a database without users, create `admin` and print its password once."""
    with db_.transaction() as session:
        if session.scalar(select(User.id).limit(1)) is not None:
            return
        password = secrets.token_urlsafe(12)
        auth.create_user(
            session,
            cli_principal("run"),
            username="admin",
            password=password,
            role=Role.ADMIN,
            display_name="Administrator",
            now=CLOCK.now(),
        )
    click.secho(f"created user 'admin' with password {password} (shown once)", fg="yellow")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def run(host: str, port: int) -> None:
    """Everything in one process for a single machine: migrate, serve, and work jobs."""
    config = settings()
    db_ = database()
    migrate.upgrade(db_.engine)
    _ensure_admin(db_)
    stop = threading.Event()
    jobs = threading.Thread(
        target=run_worker, args=(config,), kwargs={"stop": stop}, name="worker", daemon=True
    )
    jobs.start()
    click.echo(f"report form: http://{host}:{port}/report   API docs: http://{host}:{port}/docs")
    try:
        uvicorn.run(create_app(config, database=db_), host=host, port=port, log_level="info")
    finally:
        stop.set()
        jobs.join(timeout=30)


for group in (
    db,
    users,
    orgs_group,
    keys,
    url,
    audit_group,
    routing_group,
    sandbox_command,
    *matching_commands,
):
    main.add_command(group)
