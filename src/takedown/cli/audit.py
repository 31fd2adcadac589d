"""Commands for the audit log: chain, verify against the newest checkpoint, checkpoint."""

from __future__ import annotations

from pathlib import Path

import click
from cryptography.hazmat.primitives import serialization

from takedown.audit import checkpoints, keys
from takedown.audit import service as audit
from takedown.cli.context import CLOCK, database, friendly_errors, settings


@click.group("audit")
def audit_group() -> None:
    """The hash-chained audit log and its signed checkpoints."""


@audit_group.command("chain")
@friendly_errors
def audit_chain() -> None:
    """Chain the records that wait for it now (the worker does this every 15 seconds)."""
    with database().transaction() as session:
        done = audit.chain_all(session, keys.chain_key(settings()))
    click.echo(f"chained {done} record{'' if done == 1 else 's'}")


@audit_group.command("verify")
@click.option(
    "--checkpoint",
    "checkpoint_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Check against this checkpoint instead of the newest in TAKEDOWN_AUDIT_CHECKPOINT_DIR.",
)
@friendly_errors
def audit_verify(checkpoint_file: Path | None) -> None:
    """Check every record of the chain and the newest checkpoint; exit 1 naming what broke.

    Records that wait for the appender are chained first, so everything stored is checked.
    """
    config = settings()
    key = keys.chain_key(config)
    path = checkpoint_file or checkpoints.newest(config.audit_checkpoints)
    with database().transaction() as session:
        audit.chain_all(session, key)
        result = audit.verify(session, key)
        found: list[str] = []
        if path is not None:
            public = keys.checkpoint_key(config).public_key()
            found = checkpoints.check(session, checkpoints.read(path, public))
    for problem in result.problems:
        click.echo(f"record {problem.seq}: {problem.problem}", err=True)
    for mismatch in found:
        click.echo(mismatch, err=True)
    if not result.ok or found:
        raise SystemExit(1)
    against = f", agrees with checkpoint {path.name}" if path else ", no checkpoint to compare"
    click.echo(
        f"audit log intact: {result.records} record{'' if result.records == 1 else 's'}, "
        f"head {result.head}{against}"
    )


@audit_group.command("checkpoint")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write it (default TAKEDOWN_AUDIT_CHECKPOINT_DIR).",
)
@friendly_errors
def audit_checkpoint(directory: Path | None) -> None:
    """Write a signed checkpoint of the chain's head (the worker writes one every hour)."""
    config = settings()
    with database().transaction() as session:
        taken = checkpoints.take(session, keys.chain_key(config), CLOCK.now())
    path = checkpoints.write(
        taken, keys.checkpoint_key(config), directory or config.audit_checkpoints
    )
    click.echo(f"wrote {path} (position {taken.position}, head {taken.hash})")


@audit_group.command("public-key")
@friendly_errors
def audit_public_key() -> None:
    """Print the public key (PEM) that checks checkpoint signatures, for auditors."""
    public = keys.checkpoint_key(settings()).public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    click.echo(pem.decode(), nl=False)
