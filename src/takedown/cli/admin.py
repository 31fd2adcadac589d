"""Commands for users, organizations and API keys."""

from __future__ import annotations

import uuid

import click

from takedown.auth import service as auth
from takedown.auth.models import Role
from takedown.auth.permissions import KEY_SCOPES
from takedown.auth.principal import cli_principal
from takedown.cli.context import CLOCK, database, friendly_errors
from takedown.orgs import service as orgs
from takedown.orgs.models import OrgKind


@click.group()
def users() -> None:
    """Staff users."""


@users.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--display-name", default=None, help="Name shown in the console.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="At least 12 characters. Asked for when not given.",
)
@friendly_errors
def create_user(username: str, role: str, display_name: str | None, password: str) -> None:
    """Create a staff user with a role (admin, supervisor, analyst, police)."""
    with database().transaction() as session:
        user = auth.create_user(
            session,
            cli_principal("users create"),
            username=username,
            password=password,
            role=Role(role),
            display_name=display_name,
            now=CLOCK.now(),
        )
        click.echo(f"created user {user.username} ({user.role.value}) {user.id}")


@click.group("orgs")
def orgs_group() -> None:
    """Organizations: hosts, CDNs, registries, partner hotlines, police, trusted flaggers."""


@orgs_group.command("add")
@click.option("--name", required=True)
@click.option("--kind", type=click.Choice([k.value for k in OrgKind]), required=True)
@click.option("--country", required=True, help="ISO 3166-1 alpha-2 code, e.g. NL.")
@friendly_errors
def add_org(name: str, kind: str, country: str) -> None:
    """Add an organization."""
    with database().transaction() as session:
        org = orgs.add_org(
            session,
            cli_principal("orgs add"),
            name=name,
            kind=OrgKind(kind),
            country=country,
            now=CLOCK.now(),
        )
        click.echo(f"added {org.name} ({org.kind.value}, {org.country}) {org.id}")


@orgs_group.command("list")
@friendly_errors
def list_orgs() -> None:
    """List organizations."""
    with database().transaction() as session:
        for org in orgs.list_orgs(session):
            click.echo(f"{org.id}  {org.kind.value:<16} {org.country}  {org.name}")


@click.group()
def keys() -> None:
    """API keys of organizations."""


@keys.command("create")
@click.option("--org", "org_name", required=True, help="Organization name.")
@click.option("--label", default="", help="What the key is for.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(sorted(s.value for s in KEY_SCOPES)),
    help="Repeat for several; default reports:write.",
)
@friendly_errors
def create_key(org_name: str, label: str, scopes: tuple[str, ...]) -> None:
    """Create an API key. The key is printed once and cannot be shown again."""
    with database().transaction() as session:
        org = orgs.get_org_by_name(session, org_name)
        key, row = orgs.create_key(
            session,
            cli_principal("keys create"),
            org,
            label=label,
            scopes=scopes or None,
            now=CLOCK.now(),
        )
    click.echo(key)
    click.echo(
        f"key id {row.id}, scopes {', '.join(row.scopes)}: store it now, it is not shown again",
        err=True,
    )


@keys.command("list")
@click.option("--org", "org_name", required=True)
@friendly_errors
def list_keys(org_name: str) -> None:
    """List an organization's keys (never the keys themselves)."""
    with database().transaction() as session:
        org = orgs.get_org_by_name(session, org_name)
        for row in orgs.list_keys(session, org):
            status = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
            click.echo(
                f"{row.id}  td_{row.prefix}_…  {status:<18} {','.join(row.scopes)}  {row.label}"
            )


@keys.command("revoke")
@click.argument("key_id", type=click.UUID)
@friendly_errors
def revoke_key(key_id: uuid.UUID) -> None:
    """Revoke a key at once."""
    with database().transaction() as session:
        orgs.revoke_key(session, cli_principal("keys revoke"), key_id, now=CLOCK.now())
    click.echo(f"revoked {key_id}")
