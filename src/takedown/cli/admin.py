"""Commands for users, organizations and API keys."""

from __future__ import annotations

import uuid
from pathlib import Path

import click
from sqlalchemy import select

from takedown.auth import service as auth
from takedown.auth import totp
from takedown.auth.models import Role, User
from takedown.auth.permissions import KEY_SCOPES
from takedown.auth.principal import cli_principal
from takedown.cli.context import CLOCK, database, friendly_errors
from takedown.errors import NotFound
from takedown.orgs import directory
from takedown.orgs import service as orgs
from takedown.orgs.directory import DirectoryFormat
from takedown.orgs.models import OrgKind
from takedown.words import plural


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


@users.command("reset-totp")
@click.argument("username")
@friendly_errors
def reset_totp(username: str) -> None:
    """Forget USERNAME's second factor (a lost phone); they enrol again at the next sign-in.

    Check who is asking first: with the password alone, whoever signs in next enrols.
    """
    with database().transaction() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"no user named {username!r}")
        totp.reset(session, cli_principal("users reset-totp"), user, now=CLOCK.now())
        click.echo(f"reset the second factor of {user.username}; they enrol at the next sign-in")


@click.group("orgs")
def orgs_group() -> None:
    """The directory: hosts, CDNs, registries, registrars, partner hotlines, police, members."""


@orgs_group.command("add")
@click.argument("name", required=False)
@click.option("--name", "name_option", default=None, help="The name, if not given as argument.")
@click.option("--kind", type=click.Choice([k.value for k in OrgKind]), required=True)
@click.option("--country", required=True, help="ISO 3166-1 alpha-2 code, e.g. NL.")
@click.option("--abuse-email", default=None, help="Where notices go by e-mail.")
@click.option("--webhook-url", default=None, help="Where notices go by webhook (http/https).")
@click.option("--webhook-secret", default=None, help="Signs webhook bodies (16+ characters).")
@click.option("--language", default="en", show_default=True, help="Language of notices.")
@click.option("--notes", default="")
@click.option("--asn", "asns", multiple=True, help="AS number; repeat for several.")
@click.option("--network", "networks", multiple=True, help="CIDR range; repeat for several.")
@click.option("--domain", "domains", multiple=True, help="Domain operated; repeatable.")
@click.option("--tld", "tlds", multiple=True, help="Top-level domain run (registries).")
@click.option("--serves", "countries", multiple=True, help="Country served; repeatable.")
@friendly_errors
def add_org(
    name: str | None,
    name_option: str | None,
    kind: str,
    country: str,
    abuse_email: str | None,
    webhook_url: str | None,
    webhook_secret: str | None,
    language: str,
    notes: str,
    asns: tuple[str, ...],
    networks: tuple[str, ...],
    domains: tuple[str, ...],
    tlds: tuple[str, ...],
    countries: tuple[str, ...],
) -> None:
    """Add an organization NAME with its contacts and what identifies it."""
    if name is not None and name_option is not None and name != name_option:
        raise click.UsageError("give the name once, as argument or with --name")
    chosen = name if name is not None else name_option
    if chosen is None:
        raise click.UsageError("give the organization's name")
    with database().transaction() as session:
        org = orgs.add_org(
            session,
            cli_principal("orgs add"),
            name=chosen,
            kind=OrgKind(kind),
            country=country,
            abuse_email=abuse_email,
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
            language=language,
            notes=notes,
            asns=asns,
            networks=networks,
            domains=domains,
            tlds=tlds,
            countries=countries,
            now=CLOCK.now(),
        )
        click.echo(f"added {org.name} ({org.kind.value}, {org.country}) {org.id}")


@orgs_group.command("list")
@click.option("--kind", type=click.Choice([k.value for k in OrgKind]), default=None)
@click.option("--country", default=None, help="Based in or serving this country.")
@friendly_errors
def list_orgs(kind: str | None, country: str | None) -> None:
    """List organizations."""
    with database().transaction() as session:
        for org in orgs.list_orgs(session, kind=OrgKind(kind) if kind else None, country=country):
            click.echo(f"{org.id}  {org.kind.value:<16} {org.country}  {org.name}")


@orgs_group.command("show")
@click.argument("name")
@friendly_errors
def show_org(name: str) -> None:
    """Show an organization, its contacts and identifiers (never the webhook secret)."""
    with database().transaction() as session:
        org = orgs.get_org_by_name(session, name)
        held = orgs.identifiers(session, org)
        lines = [
            ("name", org.name),
            ("id", str(org.id)),
            ("kind", org.kind.value),
            ("country", org.country),
            ("abuse e-mail", org.abuse_email or "-"),
            ("webhook", org.webhook_url or "-"),
            ("webhook secret", "set" if org.webhook_secret else "not set"),
            ("language", org.language),
            ("ASNs", " ".join(f"AS{a}" for a in held.asns) or "-"),
            ("networks", " ".join(held.networks) or "-"),
            ("domains", " ".join(held.domains) or "-"),
            ("TLDs", " ".join(held.tlds) or "-"),
            ("serves", " ".join(held.countries) or "-"),
            ("notes", org.notes or "-"),
        ]
    for label, value in lines:
        click.echo(f"{label + ':':<16}{value}")


_FORMATS = click.Choice([f.value for f in DirectoryFormat])


def _format(given: str | None, path: str | None) -> DirectoryFormat:
    if given is not None:
        return DirectoryFormat(given)
    if path is None or path == "-":
        return DirectoryFormat.YAML
    try:
        return DirectoryFormat.for_path(path)
    except ValueError as exc:
        raise click.UsageError(f"{exc}, or give --format") from None


@orgs_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "fmt", type=_FORMATS, default=None, help="Default: from the name.")
@click.option("--partial", is_flag=True, help="Import the good entries even if some are bad.")
@friendly_errors
def import_orgs(file: str, fmt: str | None, partial: bool) -> None:
    """Create and update organizations from a YAML or CSV file (matched by name).

    Every problem is printed with its line. Without --partial nothing is imported when any
    entry is bad; either way the exit status is 1 when anything was wrong.
    """
    chosen = _format(fmt, file)
    if Path(file).stat().st_size > directory.MAX_BYTES:
        raise click.ClickException(f"a directory file has at most {directory.MAX_BYTES} bytes")
    data = Path(file).read_bytes()
    try:
        with database().transaction() as session:
            report = directory.import_directory(
                session,
                cli_principal("orgs import"),
                data,
                fmt=chosen,
                partial=partial,
                now=CLOCK.now(),
            )
    except directory.ImportFailed as exc:
        for error in exc.report.errors:
            click.echo(str(error), err=True)
        raise click.ClickException(exc.message) from exc
    for error in report.errors:
        click.echo(str(error), err=True)
    click.echo(f"created {report.created}, updated {report.updated}")
    if report.errors:
        raise click.ClickException(f"{plural(len(report.errors), 'entry', 'entries')} not imported")


@orgs_group.command("export")
@click.option("--format", "fmt", type=_FORMATS, default=None, help="Default: from --out, or yaml.")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), default=None)
@click.option("--kind", type=click.Choice([k.value for k in OrgKind]), default=None)
@click.option("--country", default=None, help="Based in or serving this country.")
@click.option("--include-secrets", is_flag=True, help="Also write webhook secrets (audited).")
@friendly_errors
def export_orgs(
    fmt: str | None,
    out: str | None,
    kind: str | None,
    country: str | None,
    include_secrets: bool,
) -> None:
    """Write the directory (or part of it) as YAML or CSV, to --out or standard output."""
    chosen = _format(fmt, out)
    wanted = OrgKind(kind) if kind else None
    with database().transaction() as session:
        if include_secrets:
            text = directory.export_with_secrets(
                session,
                cli_principal("orgs export"),
                chosen,
                now=CLOCK.now(),
                kind=wanted,
                country=country,
            )
        else:
            text = directory.export_directory(session, chosen, kind=wanted, country=country)
    if out is None or out == "-":
        click.echo(text, nl=False)
    else:
        Path(out).write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}", err=True)


@orgs_group.command("lookup")
@click.argument("ip")
@friendly_errors
def lookup_ip(ip: str) -> None:
    """Which organization's network holds an IP address."""
    with database().transaction() as session:
        found = orgs.lookup_ip(session, ip)
        if found is None:
            click.echo(f"{ip}: not in the directory")
            return
        org = found.org
        click.echo(f"{ip}: {found.network} of {org.name} ({org.kind.value}, {org.country})")


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
