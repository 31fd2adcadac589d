"""Commands for the published lists: ``takedown lists ...``."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import click

from takedown.auth.principal import cli_principal
from takedown.cli.context import CLOCK, database, friendly_errors, settings
from takedown.lists import downloads, exports, signing, versions
from takedown.lists.models import ListName
from takedown.lists.rows import unpack
from takedown.words import plural

_NAMES = click.Choice([n.value for n in ListName])
_FORMATS = click.Choice(sorted({f for fmts in exports.FORMATS.values() for f in fmts}))


@click.group("lists")
def lists_group() -> None:
    """Published lists: URL list (urls), hash list (hashes), keyword list (keywords)."""


@lists_group.command("publish")
@click.argument("name", type=_NAMES)
@click.option(
    "--approve",
    is_flag=True,
    help="Publish even if the guard refuses (a supervisor's decision; it is recorded).",
)
@friendly_errors
def publish(name: str, approve: bool) -> None:
    """Publish NAME as a new version if it changed since the last one."""
    actor = cli_principal(getpass.getuser())
    with database().transaction() as session:
        version = versions.publish(
            session,
            ListName(name),
            actor=actor,
            now=CLOCK.now(),
            settings=settings(),
            approve=approve,
        )
        if version is None:
            click.echo(f"the {name} list has not changed; nothing published")
            return
        click.echo(
            f"published {name} version {version.number}: "
            f"{plural(version.entry_count, 'entry', 'entries')} "
            f"(+{version.added_count} -{version.removed_count})"
        )


@lists_group.command("export")
@click.argument("name", type=_NAMES)
@click.option("--format", "fmt", type=_FORMATS, default="txt", show_default=True)
@click.option("--version", "number", type=click.IntRange(min=1), help="Default: the latest.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the file here and its signature to OUT.sig (default: the file to stdout).",
)
@friendly_errors
def export(name: str, fmt: str, number: int | None, out: Path | None) -> None:
    """Write a published version of NAME in a format, signed."""
    config = settings()
    list_name = ListName(name)
    downloads.check_format(list_name, fmt)
    with database().transaction() as session:
        version = versions.get_version(session, list_name, number)
        body = exports.render(
            list_name, version.number, version.created_at, unpack(version.content), fmt, config
        )
    signature = signing.sign(body, signing.signing_key(config))
    if out is None:
        sys.stdout.buffer.write(body)
        return
    out.write_bytes(body)
    out.with_name(out.name + ".sig").write_bytes(signature)
    click.echo(f"wrote {out} and {out}.sig ({name} version {version.number}, {fmt})", err=True)


@lists_group.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--signature",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
)
@click.option("--key", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@friendly_errors
def verify(file: Path, signature: Path, key: Path) -> None:
    """Check FILE against its detached Ed25519 SIGNATURE and the hotline's public KEY (PEM).
    Exits 0 when the signature is good, 1 when it is not."""
    if signing.verify(file.read_bytes(), signature.read_bytes(), key.read_bytes()):
        click.echo(f"{file}: signature good")
        return
    click.echo(f"{file}: signature BAD", err=True)
    raise SystemExit(1)


@lists_group.command("public-key")
@friendly_errors
def public_key() -> None:
    """Print the public key (PEM) members verify lists with."""
    click.echo(signing.public_key_pem(signing.signing_key(settings())), nl=False)
