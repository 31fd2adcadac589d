"""``takedown stats``: the annual transparency report and a provider's DSA statements."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

# tqdm ships no type information (and types-tqdm is not a dependency).
from tqdm import tqdm  # type: ignore[import-untyped]

from takedown.cli.context import CLOCK, database, friendly_errors, settings
from takedown.orgs import service as orgs
from takedown.stats import dsa, periods, report


@click.group("stats")
def stats_group() -> None:
    """Figures: the transparency report and DSA statements of reasons."""


@stats_group.command("report")
@click.option("--year", type=int, required=True, help="The year, e.g. 2026.")
@click.option(
    "--format", "fmt", type=click.Choice(report.FORMATS), default="html", show_default=True
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Default: stdout.")
@click.option("--progress/--no-progress", default=None, help="Default: when stderr is a TTY.")
@friendly_errors
def report_command(year: int, fmt: str, out: Path | None, progress: bool | None) -> None:
    """The annual transparency report of YEAR, small counts suppressed
    (TAKEDOWN_STATS_SUPPRESS_BELOW)."""
    config = settings()
    db = database()
    show = sys.stderr.isatty() if progress is None else progress
    with (
        tqdm(total=report.steps(), unit="step", disable=not show, file=sys.stderr) as bar,
        db.transaction() as session,
    ):

        def step(name: str) -> None:
            bar.set_postfix_str(name)
            bar.update()

        built = report.build(
            session,
            year,
            below=config.stats_suppress_below,
            hotline=config.hotline_name,
            now=CLOCK.now(),
            progress=step,
        )
    body = report.render(built, fmt)
    if out is None:
        sys.stdout.buffer.write(body)
    else:
        out.write_bytes(body)
        click.echo(f"wrote {out} ({len(body)} bytes)", err=True)


@stats_group.command("statements")
@click.option("--org", "org_name", required=True, help="The hosting provider's name.")
@click.option("--from", "start", required=True, help="First day of removals, e.g. 2026-01-01.")
@click.option("--to", "end", required=True, help="Last day of removals, included.")
@friendly_errors
def statements_command(org_name: str, start: str, end: str) -> None:
    """A provider's removals on our notices as DSA statements of reasons (JSON, the body of
    the Transparency Database's POST /api/v1/statements; see docs/dsa-statements.md)."""
    config = settings()
    with database().transaction() as session:
        org = orgs.get_org_by_name(session, org_name)
        chosen = periods.parse("custom", None, today=CLOCK.now().date(), start=start, end=end)
        found = dsa.statements(
            session, org.id, chosen.start, chosen.end, hotline=config.hotline_name
        )
    click.echo(json.dumps({"statements": found}, indent=2, ensure_ascii=False))
