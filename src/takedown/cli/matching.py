"""Commands for hashing files, curating banks, and scanning a directory tree."""

from __future__ import annotations

import itertools
import json
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import click
from sqlalchemy.exc import DBAPIError

# tqdm ships no type information (and types-tqdm is not a dependency).
from tqdm import tqdm  # type: ignore[import-untyped]

from takedown.auth.principal import cli_principal
from takedown.cli import progress as bars
from takedown.cli.context import CLOCK, database, friendly_errors, settings
from takedown.cli.errors import database_problem, safe_database_url
from takedown.db.session import Database
from takedown.errors import TakedownError
from takedown.matching import bankio, banks, lookup
from takedown.matching.bankio import ExportFormat, ImportFormat
from takedown.matching.lookup import BankMatch
from takedown.matching.models import BankRole
from takedown.matching.scan import SKIP_REASONS, FileResult, scan_file, walk
from takedown.matching.schemas import HashOut
from takedown.matching.signals import SIGNAL_TYPES
from takedown.words import plural

_EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command("hash")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file and line.")
def hash_command(files: tuple[Path, ...], as_json: bool) -> None:
    """Print the MD5, SHA-1, SHA-256 and PDQ of each image FILE (nothing is stored).

    A file that cannot be hashed is named on stderr; the others are still hashed, and the
    exit status is 1.
    """
    config = settings()
    failed = False
    for path in files:
        try:
            result = lookup.hash_content(path.read_bytes(), config)
        except (OSError, TakedownError) as exc:
            failed = True
            message = exc.message if isinstance(exc, TakedownError) else exc.strerror or exc
            click.echo(f"error: {path}: {message}", err=True)
            continue
        if as_json:
            out = HashOut.of(result).model_dump(mode="json")
            click.echo(json.dumps({"file": str(path), **out}))
            continue
        click.echo(str(path))
        for name, signal in result.signals.items():
            quality = f"  quality {signal.quality}" if signal.quality is not None else ""
            click.echo(f"  {name:<7} {signal.value}{quality}")
    if failed:
        sys.exit(1)


@click.group("banks")
def banks_group() -> None:
    """Banks of known hashes: block lists and allow lists."""


@banks_group.command("create")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice([r.value for r in BankRole]),
    default=BankRole.BLOCK_LIST.value,
    show_default=True,
    help="allow_list banks cancel block-list matches (known false positives).",
)
@click.option("--threshold", type=int, default=None, help="PDQ distance (default 31).")
@click.option("--description", default="")
@friendly_errors
def create_bank(name: str, role: str, threshold: int | None, description: str) -> None:
    """Create a bank."""
    with database().transaction() as session:
        bank = banks.create_bank(
            session,
            cli_principal("banks create"),
            name=name,
            role=BankRole(role),
            pdq_threshold=threshold if threshold is not None else settings().pdq_threshold,
            description=description,
            now=CLOCK.now(),
        )
        click.echo(f"created bank {bank.name} ({bank.role.value}, pdq <= {bank.pdq_threshold})")


@banks_group.command("list")
@friendly_errors
def list_banks() -> None:
    """List banks with their entry counts."""
    with database().transaction() as session:
        for s in banks.list_banks(session):
            state = "enabled" if s.bank.enabled else "disabled"
            click.echo(
                f"{s.bank.name:<24} {s.bank.role.value:<10} pdq<={s.bank.pdq_threshold:<3} "
                f"{state:<8} {plural(s.entries, 'entry', 'entries')} ({s.enabled_entries} enabled)"
            )


@banks_group.command("rename")
@click.argument("name")
@click.argument("new_name")
@friendly_errors
def rename_bank(name: str, new_name: str) -> None:
    """Rename a bank."""
    with database().transaction() as session:
        bank = banks.get_bank(session, name)
        banks.update_bank(
            session, cli_principal("banks rename"), bank, name=new_name, now=CLOCK.now()
        )
    click.echo(f"renamed {name} to {new_name}")


@banks_group.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@friendly_errors
def delete_bank(name: str, yes: bool) -> None:
    """Delete a bank and all its entries."""
    if not yes:
        click.confirm(f"Delete bank {name} and all its entries?", abort=True)
    with database().transaction() as session:
        bank = banks.get_bank(session, name)
        count = banks.delete_bank(session, cli_principal("banks delete"), bank, now=CLOCK.now())
    click.echo(f"deleted bank {name} and its {plural(count, 'entry', 'entries')}")


@banks_group.command("add")
@click.argument("name")
@click.option("--signal-type", type=click.Choice(sorted(SIGNAL_TYPES)))
@click.option("--value", help="The hash, with --signal-type.")
@click.option("--file", "file", type=_EXISTING_FILE, help="Hash this image and add its signals.")
@click.option("--source", default="")
@click.option("--classification", default="")
@click.option("--note", default="")
@friendly_errors
def add_entry(
    name: str,
    signal_type: str | None,
    value: str | None,
    file: Path | None,
    source: str,
    classification: str,
    note: str,
) -> None:
    """Add a hash (--signal-type and --value), or every signal of an image (--file)."""
    if (file is None) == (signal_type is None or value is None):
        raise click.UsageError("give either --file, or --signal-type with --value")
    actor = cli_principal("banks add")
    with database().transaction() as session:
        bank = banks.get_bank(session, name)
        if file is not None:
            result = lookup.hash_content(file.read_bytes(), settings())
            added, existing = banks.add_content(
                session,
                actor,
                bank,
                result,
                source=source,
                classification=classification,
                note=note,
                now=CLOCK.now(),
            )
            for entry in existing:
                click.echo(f"already there: {entry.signal_type} {entry.value} (entry {entry.id})")
        else:
            added = [
                banks.add_entry(
                    session,
                    actor,
                    bank,
                    signal_type=signal_type or "",
                    value=value or "",
                    source=source,
                    classification=classification,
                    note=note,
                    now=CLOCK.now(),
                )
            ]
        for entry in added:
            click.echo(f"added entry {entry.id}: {entry.signal_type} {entry.value}")


@banks_group.command("import")
@click.argument("name")
@click.argument("file", type=_EXISTING_FILE)
@click.option(
    "--format",
    "fmt",
    type=click.Choice([f.value for f in ImportFormat]),
    help="Default: guessed from the name and the first line.",
)
@click.option("--signal-type", help="The type of bare hashes, one per line (pytx).")
@click.option("--source", default=None, help="Source of entries that name none (default FILE).")
@click.option("--strict", is_flag=True, help="Any bad line fails the import; nothing loads.")
@friendly_errors
def import_entries(
    name: str,
    file: Path,
    fmt: str | None,
    signal_type: str | None,
    source: str | None,
    strict: bool,
) -> None:
    """Load a hash list into a bank: our CSV or JSON lines, or a python-threatexchange list.

    Bad lines are reported by number on stderr; the good ones load unless --strict. A file
    that is not UTF-8 text loads nothing.
    """
    db = database()
    try:
        with file.open(encoding="utf-8-sig", newline="") as handle:
            first = handle.readline()
            kind = ImportFormat(fmt) if fmt else bankio.detect_format(file.name, first)
            # One transaction: an error while reading (the file is not text) loads nothing.
            with db.transaction() as session:
                report = bankio.import_entries(
                    session,
                    cli_principal("banks import"),
                    banks.get_bank(session, name),
                    bars.lines_read(
                        itertools.chain([first], handle),
                        file.stat().st_size,
                        show=bars.on_terminal(),
                    ),
                    fmt=kind,
                    signal_type=signal_type,
                    source=file.name if source is None else source,
                    strict=strict,
                    now=CLOCK.now(),
                )
    except TakedownError as exc:
        for error in exc.extra.get("errors", []):
            click.echo(f"{file}:{error['line']}: {error['message']}", err=True)
        raise
    except UnicodeDecodeError as exc:
        raise click.ClickException(
            f"{file} is not UTF-8 text ({exc.reason}); nothing was imported"
        ) from exc
    for error in report.errors:
        click.echo(f"{file}:{error.line}: {error.message}", err=True)
    click.echo(
        f"imported into {name}: {report.added} added, {report.duplicates} already there, "
        f"{plural(report.error_count, 'bad line')}"
    )


@banks_group.command("export")
@click.argument("name")
@click.option(
    "--format",
    "fmt",
    type=click.Choice([f.value for f in ExportFormat]),
    default=ExportFormat.CSV.value,
    show_default=True,
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, allow_dash=True, path_type=Path),
    default="-",
    help="Default: standard output.",
)
@friendly_errors
def export_entries(name: str, fmt: str, output: Path) -> None:
    """Write every entry of a bank, with its metadata (default: to stdout)."""
    db = database()
    kind = ExportFormat(fmt)
    with db.transaction() as session:
        bank = banks.get_bank(session, name)
        bankio.record_export(session, cli_principal("banks export"), bank, kind, now=CLOCK.now())
        bank_id = bank.id
    if str(output) == "-":
        # A bar on the terminal that also shows the lines would garble them.
        _write_entries(
            db, bank_id, kind, sys.stdout, show=bars.on_terminal() and not sys.stdout.isatty()
        )
        return
    with output.open("w", encoding="utf-8", newline="") as handle:
        entries = _write_entries(db, bank_id, kind, handle, show=bars.on_terminal())
    # On stderr, like every command that writes a file: stdout may be the data itself.
    click.echo(f"wrote {output} ({plural(entries, 'entry', 'entries')} of {name})", err=True)


def _write_entries(
    db: Database, bank_id: uuid.UUID, kind: ExportFormat, out: TextIO, *, show: bool
) -> int:
    """Write the export's lines to ``out``; the number of entries written. ``show``: a
    running count of lines on stderr."""
    entries = -1 if kind is ExportFormat.CSV else 0  # the CSV header is no entry
    for line in bars.counted(bankio.export_lines(db, bank_id, kind), "line", show=show):
        out.write(line)
        entries += 1
    return entries


@click.command("scan")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--bank", "bank_names", multiple=True, help="Repeat for several (default: all).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per match and line.")
@click.option("--progress/--no-progress", default=None, help="Default: when stderr is a TTY.")
def scan(path: Path, bank_names: tuple[str, ...], as_json: bool, progress: bool | None) -> None:
    """Hash every file under PATH and print those that match a bank.

    Images are matched by PDQ (in any rotation or flip) and exact hashes, other files by
    exact hashes. An unreadable or corrupt file is named on stderr and the scan goes on.
    Exit status: 0 nothing matched, 1 something matched, 2 the scan could not run.
    """
    try:
        config = settings()
        db = database()
        index = lookup.index_of(db, config)
        with db.transaction() as session:
            for name in bank_names:
                banks.get_bank(session, name)
    except (TakedownError, click.ClickException) as exc:
        message = exc.message if isinstance(exc, TakedownError) else exc.format_message()
        raise click.UsageError(message) from exc
    except DBAPIError as exc:
        # Exit status 2 (could not run) for a database problem too, as documented.
        problem = database_problem(exc, safe_database_url(click.get_current_context()))
        if problem is None:
            raise
        raise click.UsageError(problem) from exc
    files = list(walk(path))
    show = sys.stderr.isatty() if progress is None else progress
    counts = Counts()
    for file in tqdm(files, unit="file", disable=not show, file=sys.stderr):
        found = scan_file(file, settings=config, database=db, index=index, banks=bank_names or None)
        _report(found, counts, as_json)
    click.echo(counts.summary(), err=True)
    sys.exit(1 if counts.matched else 0)


@dataclass
class Counts:
    """What a scan saw, for its summary line."""

    files: int = 0
    matched: int = 0
    errors: int = 0
    other: int = 0  # not an image: matched by exact hashes only
    skipped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SKIP_REASONS, 0))

    def summary(self) -> str:
        skipped = sum(self.skipped.values())
        reasons = ", ".join(f"{count} {reason}" for reason, count in self.skipped.items())
        return (
            f"scanned {plural(self.files, 'file')}: {self.matched} matched, "
            f"{plural(self.errors, 'error')}, "
            f"{plural(self.other, 'other file')} (not images: exact hashes only); "
            f"skipped {skipped} ({reasons})"
        )


def _report(found: FileResult, counts: Counts, as_json: bool) -> None:
    counts.files += 1
    if found.skipped is not None:
        counts.skipped[found.skipped] += 1
    if found.error is not None:
        counts.errors += 1
        tqdm.write(f"error: {found.path}: {found.error}", file=sys.stderr)
    if found.skipped is None and not found.image:
        counts.other += 1
    matches = found.outcome.effective if found.outcome is not None else []
    if matches:
        counts.matched += 1
    for match in matches:
        line = json.dumps(_match_json(found.path, match)) if as_json else _match_text(found, match)
        tqdm.write(line, file=sys.stdout)


def _match_json(path: Path, match: BankMatch) -> dict[str, Any]:
    return {
        "file": str(path),
        "bank": match.bank,
        "entry_id": match.entry_id,
        "signal_type": match.signal_type,
        "distance": match.distance,
        "variant": match.variant,
        "classification": match.classification,
        "source": match.source,
    }


def _match_text(found: FileResult, match: BankMatch) -> str:
    how = f"{match.signal_type} distance {match.distance}"
    if match.variant not in (None, "original"):
        how += f", {match.variant}"
    label = f", classification {match.classification}" if match.classification else ""
    return f"MATCH {found.path}: bank {match.bank} entry {match.entry_id} ({how}){label}"


COMMANDS = (hash_command, banks_group, scan)
