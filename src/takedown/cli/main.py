"""Entry point of the ``takedown`` command. Settings come from TAKEDOWN_* variables."""

from __future__ import annotations

import logging
import secrets
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType

import click
import uvicorn
from sqlalchemy import select

from takedown import __version__
from takedown.app import create_app
from takedown.auth import service as auth
from takedown.auth.models import Role, User
from takedown.auth.principal import cli_principal
from takedown.cli.admin import keys, orgs_group, users
from takedown.cli.audit import audit_group
from takedown.cli.context import CLOCK, database, friendly_errors, settings
from takedown.cli.errors import TakedownGroup
from takedown.cli.filter import filter_group
from takedown.cli.lists import lists_group
from takedown.cli.matching import COMMANDS as matching_commands
from takedown.cli.routing import routing_group
from takedown.cli.stats import stats_group
from takedown.cli.tools import db, url
from takedown.config import Settings
from takedown.db import migrate
from takedown.db.session import Database
from takedown.jobs.runner import run_worker
from takedown.sandbox.cli import sandbox_command
from takedown.sandbox.demo import SandboxDemo


@click.group(cls=TakedownGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="takedown")
def main() -> None:
    """Takedown: reports, cases and removal of child sexual abuse material.

    Configuration comes from TAKEDOWN_* environment variables, e.g. TAKEDOWN_DATABASE_URL
    and TAKEDOWN_DATA_DIR (default ./data, holding the SQLite database).
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # Alembic narrates every step at INFO; the commands say in one line what they migrated.
    logging.getLogger("alembic").setLevel(logging.WARNING)


# How long SIGTERM waits for requests at work before cutting them off: a stop must not
# wait on a slow database.
_GRACEFUL_SHUTDOWN_SECONDS = 15


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--proxy-headers/--no-proxy-headers",
    default=False,
    help="Trust X-Forwarded-For from 127.0.0.1.",
)
def serve(host: str, port: int, proxy_headers: bool) -> None:
    """Serve the API and the web pages (run `takedown worker` beside it)."""
    app = create_app(settings(), database=database())
    uvicorn.run(
        app,
        host=host,
        port=port,
        proxy_headers=proxy_headers,
        log_level="info",
        # SIGTERM stops the server within this bound even while requests are at work.
        timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_SECONDS,
    )


@main.command()
def worker() -> None:
    """Run background jobs until stopped (SIGTERM lets the current job finish)."""
    database()  # a schema behind the code stops here, with what to run, not in every job
    run_worker(settings())


def _ensure_admin(db_: Database) -> str | None:
    """On a database without users, create `admin`, print its password once and return it."""
    with db_.transaction() as session:
        if session.scalar(select(User.id).limit(1)) is not None:
            return None
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
    return password


def serve_and_work(
    config: Settings,
    db_: Database,
    *,
    host: str,
    port: int,
    log_level: str = "info",
    on_started: Callable[[], None] | None = None,
) -> None:
    """Serve the app and work jobs in this process until SIGTERM or Ctrl-C.

    ``on_started`` runs in a thread of its own once the server listens. The worker finishes
    the job it is running before this returns.
    """
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config, database=db_),
            host=host,
            port=port,
            log_level=log_level,
            timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_SECONDS,
        )
    )
    stop = threading.Event()
    jobs = threading.Thread(
        target=run_worker, args=(config,), kwargs={"stop": stop}, name="worker", daemon=True
    )
    restore = _exit_on_signals(server)
    try:
        jobs.start()
        if on_started is not None:
            threading.Thread(
                target=_when_started, args=(server, on_started), name="started", daemon=True
            ).start()
        server.run()
    finally:
        stop.set()
        jobs.join(timeout=30)
        restore()


def _exit_on_signals(server: uvicorn.Server) -> Callable[[], None]:
    """Make SIGTERM and SIGINT stop ``server``; return a function restoring the old handlers.

    uvicorn handles both while it serves, but afterwards raises the signal again under the
    handlers it found: with the defaults, SIGTERM would kill the process before the worker
    and the sandbox stop, and Ctrl-C would end in a traceback. These handlers make both a
    clean exit, and also cover a signal that arrives before uvicorn has started.
    """

    def handle(signum: int, _frame: FrameType | None) -> None:
        server.should_exit = True

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


def _when_started(server: uvicorn.Server, callback: Callable[[], None]) -> None:
    while not server.started:
        if server.should_exit:
            return
        time.sleep(0.1)
    callback()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--demo/--no-demo",
    default=False,
    show_default=True,
    help="Also start the sandbox, seed it, file sample reports and narrate what happens.",
)
@friendly_errors
def run(host: str, port: int, demo: bool) -> None:
    """Everything in one process for a single machine: migrate, serve, and work jobs.

    With --demo, the product runs on the sandbox (a simulated internet on loopback, serving
    only generated abstract patterns) with demo timings of seconds instead of hours, files
    a report for each sample site and prints each step of the walk as it happens: known
    items matched without anyone viewing them, notices in the SMTP sink, removal, re-check.
    Stop with Ctrl-C.
    """
    config = settings()
    # Migrating is part of this command's job (one machine, one process), on any database.
    db_ = database(check_schema=False)
    migrate.upgrade(db_.engine)
    password = _ensure_admin(db_)
    if not demo:
        click.echo(
            f"report form: http://{host}:{port}/report   API docs: http://{host}:{port}/docs"
        )
        serve_and_work(config, db_, host=host, port=port)
        return
    # The narration tells the demo's story; a log line per job and SMTP exchange would bury it.
    logging.getLogger().setLevel(logging.WARNING)
    with SandboxDemo(config, db_, host=host, port=port, admin_password=password) as sandbox:
        serve_and_work(
            sandbox.settings,
            db_,
            host=host,
            port=port,
            log_level="warning",
            on_started=sandbox.begin,
        )


for group in (
    db,
    users,
    orgs_group,
    keys,
    url,
    audit_group,
    routing_group,
    lists_group,
    filter_group,
    stats_group,
    sandbox_command,
    *matching_commands,
):
    main.add_command(group)
