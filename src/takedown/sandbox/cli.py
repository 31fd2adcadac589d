"""``takedown sandbox``: run the simulated internet for the demo until Ctrl-C."""

from __future__ import annotations

import shlex
import signal
import threading

import click

from takedown.auth.principal import PUBLIC
from takedown.cli.context import CLOCK, database, friendly_errors, settings
from takedown.config import Settings
from takedown.db.session import Database
from takedown.intake import service as intake
from takedown.intake.schemas import ReportIn
from takedown.sandbox.providers import default_providers
from takedown.sandbox.world import SandboxWorld, Site


@click.command("sandbox")
@click.option("--port", default=8180, show_default=True, help="Port of every web host (0: any).")
@click.option("--dns-port", default=5300, show_default=True, help="DNS server port (0: any).")
@click.option("--smtp-port", default=2525, show_default=True, help="SMTP sink port (0: any).")
@click.option("--rdap-port", default=8181, show_default=True, help="RDAP server port (0: any).")
@click.option(
    "--delay",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds a simulated provider takes to act on a notice.",
)
@click.option(
    "--police-wait",
    default=60,
    show_default=True,
    type=click.IntRange(min=0),
    help="Seconds the home country's rule waits for police deconfliction.",
)
@click.option(
    "--report/--no-report",
    default=False,
    help="Also file each sample page as a public report.",
)
@friendly_errors
def sandbox_command(
    port: int,
    dns_port: int,
    smtp_port: int,
    rdap_port: int,
    delay: float,
    police_wait: int,
    report: bool,
) -> None:
    """Run the sandbox: sample sites, DNS, an SMTP sink and simulated providers, on loopback.

    Seeds the sandbox's organizations into the configured database, prints the TAKEDOWN_*
    variables a server and worker need to use it and the sample sites' URLs, and runs until
    Ctrl-C. Every image it serves is a generated abstract pattern.
    """
    config = settings()
    db = database()
    world = SandboxWorld(
        default_providers(delay),
        port=port,
        dns_port=dns_port,
        smtp_port=smtp_port,
        rdap_port=rdap_port,
        answer_base_url=config.public_base_url,
    )
    with world:
        with db.transaction() as session:
            created = world.seed(session, config, CLOCK.now(), police_wait_seconds=police_wait)
        click.echo("seeded: " + (", ".join(created) if created else "nothing new"))
        sites = world.add_demo_sites()
        click.echo("\nUse the sandbox from the server and worker with:\n")
        for name, value in world.environment().items():
            click.echo(f"export {name}={shlex.quote(value)}")
        click.echo("\nSample sites:")
        for site in sites:
            click.echo(f"  {_describe(world, site)}")
        if report:
            _report(db, config.model_copy(update=world.settings_overrides()), sites)
        click.echo("\nRunning; Ctrl-C stops.")
        _wait_for_stop()
        click.echo("stopping the sandbox")


def _wait_for_stop() -> None:
    """Block until Ctrl-C or SIGTERM (how ``make run`` and service managers stop it)."""
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    try:
        # A timed wait, so the main thread gets to run the signal handler promptly.
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


def _describe(world: SandboxWorld, site: Site) -> str:
    provider = world.provider(site.provider)
    known = "known sample" if site.known else "unknown sample"
    return f"{site.url}  ({known}; {provider.name}, {provider.behaviour.label})"


def _report(db: Database, config: Settings, sites: list[Site]) -> None:
    """File each sample page as a public report (the capture job then fetches it)."""
    with db.transaction() as session:
        results = [
            (
                site,
                intake.submit_one(session, config, PUBLIC, ReportIn(url=site.url), now=CLOCK.now()),
            )
            for site in sites
        ]
    for site, result in results:
        click.echo(f"reported {site.url}: {result.status} {result.reference or ''}".rstrip())
