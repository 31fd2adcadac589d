"""Commands for jurisdiction rules and case routes: ``takedown routing ...``."""

from __future__ import annotations

import re
import uuid

import click

from takedown.auth.principal import cli_principal
from takedown.cli.context import CLOCK, database, friendly_errors, settings
from takedown.errors import NotFound
from takedown.orgs import service as orgs
from takedown.routing import explain, rules, service
from takedown.routing.models import DEFAULT_COUNTRY, PoliceTimeout, RoutingRule

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class Duration(click.ParamType[int]):
    """Seconds, or a number with a unit: 90s, 30m, 24h, 2d."""

    name = "duration"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> int:
        if isinstance(value, int):
            return value
        match = _DURATION.match(str(value))
        if match is None:
            self.fail(f"{value!r} is not a duration such as 24h, 30m or 3600", param, ctx)
        return int(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]


@click.group("routing")
def routing_group() -> None:
    """Routing: jurisdiction rules, and the routes of cases."""


@routing_group.group("rules")
def rules_group() -> None:
    """Jurisdiction rules per country; '*' (or 'default') is every other country but home."""


def _describe(rule: RoutingRule | rules.EffectiveRule, partner: str | None) -> str:
    police = (
        f"police first (wait {explain.format_wait(rule.police_wait_seconds)}, "
        f"then {rule.on_police_timeout.value})"
        if rule.police_first
        else "no police first"
    )
    forward = f"forward to {partner or 'a partner from the directory'}"
    parts = [police, forward if rule.forward_to_partner else "notice hosts directly"]
    parts.append("list URLs" if rule.list_url else "do not list URLs")
    return ", ".join(parts)


@rules_group.command("list")
@friendly_errors
def list_rules() -> None:
    """List the stored rules and the built-in defaults."""
    home = settings().home_country
    with database().transaction() as session:
        for row in rules.list_rules(session):
            partner = service.partner_org_name(session, row.partner_org_id)
            notes = f"  ({row.notes})" if row.notes else ""
            click.echo(f"{row.country:<3} {_describe(row, partner)}{notes}")
    own = rules.builtin_rule(home, home_country=home)
    click.echo(f"built-in for {home} (home): {_describe(own, None)}")
    other = rules.builtin_rule(DEFAULT_COUNTRY, home_country=home)
    click.echo(f"built-in for other countries: {_describe(other, None)}")


@rules_group.command("set")
@click.argument("country")
@click.option("--police-first/--no-police-first", default=None, help="Police deconfliction first.")
@click.option(
    "--police-wait",
    type=Duration(),
    default=None,
    help="How long notices wait: 24h, 30m or seconds.",
)
@click.option(
    "--on-timeout",
    type=click.Choice([t.value for t in PoliceTimeout]),
    default=None,
    help="When police do not answer in time.",
)
@click.option("--partner", "partner", default=None, help="Partner hotline (organization name).")
@click.option("--no-partner", is_flag=True, help="Clear the partner: use the directory's.")
@click.option("--list/--no-list", "list_url", default=None, help="List URLs hosted there.")
@click.option("--forward/--no-forward", default=None, help="Forward to a partner hotline.")
@click.option("--notes", default=None, help="Why the rule is what it is.")
@friendly_errors
def set_rule(
    country: str,
    police_first: bool | None,
    police_wait: int | None,
    on_timeout: str | None,
    partner: str | None,
    no_partner: bool,
    list_url: bool | None,
    forward: bool | None,
    notes: str | None,
) -> None:
    """Create or change the rule for COUNTRY: an ISO code such as DE, or 'default' (also
    '*', quoted in the shell) for every country without its own rule except home.

    Options left out keep their value; a new rule starts from the rule in force now.
    """
    if partner is not None and no_partner:
        raise click.UsageError("--partner and --no-partner exclude each other")
    given: dict[str, object] = {
        "police_first": police_first,
        "police_wait_seconds": police_wait,
        "on_police_timeout": on_timeout,
        "list_url": list_url,
        "forward_to_partner": forward,
        "notes": notes,
    }
    fields = {name: value for name, value in given.items() if value is not None}
    home = settings().home_country
    with database().transaction() as session:
        if partner is not None:
            fields["partner_org_id"] = orgs.get_org_by_name(session, partner).id
        elif no_partner:
            fields["partner_org_id"] = None
        row = rules.set_rule(
            session,
            cli_principal("routing rules set"),
            country,
            now=CLOCK.now(),
            home_country=home,
            **fields,
        )
        name = service.partner_org_name(session, row.partner_org_id)
        click.echo(f"{row.country}: {_describe(row, name)}")


@rules_group.command("delete")
@click.argument("country")
@friendly_errors
def delete_rule(country: str) -> None:
    """Delete the rule for COUNTRY; the '*' rule or the built-in defaults apply again."""
    with database().transaction() as session:
        rules.delete_rule(session, cli_principal("routing rules delete"), country, now=CLOCK.now())
    click.echo(f"deleted the rule for {rules.normalize_country(country)}")


@routing_group.command("show")
@click.argument("case_id", type=click.UUID)
@friendly_errors
def show(case_id: uuid.UUID) -> None:
    """Print a case's current route: the explanation, then its steps."""
    with database().transaction() as session:
        route = service.current_route(session, case_id)
        if route is None:
            raise NotFound(f"case {case_id} has no route")
        click.echo(f"{route.kind.label} route decided {route.decided_at:%Y-%m-%d %H:%M:%S} UTC")
        click.echo(route.explanation)
        click.echo("Steps:")
        for step in service.route_steps(session, route.id):
            after = f" after step {step.after_seq}" if step.after_seq else ""
            who = f" → {step.org_name}" if step.org_name else ""
            click.echo(f"  {step.seq}. {step.action.label}{who} [{step.status.value}{after}]")
            click.echo(f"     {step.reason}")
