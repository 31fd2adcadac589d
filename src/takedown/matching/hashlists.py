"""Hash-list formats: our CSV and JSON lines, and python-threatexchange lists.

* ``csv``: a header line naming the columns (``EXPORT_COLUMNS``; only ``signal_type`` and
  ``value`` are required, unknown columns are ignored), one entry per row.
* ``jsonl``: one JSON object per line with the same keys.
* ``pytx``: what python-threatexchange tools write and read: ``signal_type,signal[,...]`` rows
  with or without a header (``threatexchange dataset -P --csv`` writes
  ``collab,signal_type,signal_str,category,tags``), ``signal_type signal`` lines (its
  ``local_file`` exchange), or bare hashes one per line when a default signal type is given
  (e.g. ``tests/data/pdq/hash-lists``). pytx names map to ours (``video_md5`` -> ``md5``).

Parsing only splits lines into raw fields, each with its line number in the file (the header
is line 1); the importer validates them.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from takedown.errors import ValidationFailed

EXPORT_COLUMNS: Final = (
    "signal_type",
    "value",
    "quality",
    "source",
    "classification",
    "added_by",
    "added_at",
    "note",
    "enabled",
)

# pytx and ThreatExchange names of the signal types we have. Any other name (raw_text, url,
# vpdq, tmk_pdqf, photodna, ...) is refused with its line number.
PYTX_NAMES: Final[dict[str, str]] = {
    "pdq": "pdq",
    "md5": "md5",
    "video_md5": "md5",
    "sha1": "sha1",
    "sha256": "sha256",
    "video_sha256": "sha256",
    "hash_pdq": "pdq",
    "hash_md5": "md5",
    "hash_sha1": "sha1",
    "hash_sha256": "sha256",
}


class ImportFormat(StrEnum):
    """The hash-list formats an import reads."""

    CSV = "csv"
    JSONL = "jsonl"
    PYTX = "pytx"


@dataclass(frozen=True, slots=True)
class LineError:
    """A line of a hash list that could not be read, by its number in the file."""

    line: int
    message: str


@dataclass(frozen=True, slots=True)
class Record:
    """One parsed line: the raw fields of an entry, not yet validated."""

    line: int
    fields: dict[str, Any]


def pytx_name(name: str) -> str:
    """Our signal type name for a pytx/ThreatExchange name, or ValidationFailed."""
    found = PYTX_NAMES.get(name.strip().lower()) if isinstance(name, str) else None
    if found is None:
        raise ValidationFailed(
            f"unsupported signal type {name!r} (supported: {', '.join(sorted(PYTX_NAMES))})"
        )
    return found


def detect_format(filename: str, first_line: str) -> ImportFormat:
    """Guess a format from the file name and first line (our CSV has a ``value`` column)."""
    lowered = filename.lower()
    if lowered.endswith((".jsonl", ".ndjson")) or first_line.lstrip().startswith("{"):
        return ImportFormat.JSONL
    header = [cell.strip().lower() for cell in first_line.split(",")]
    if "signal_type" in header and "value" in header:
        return ImportFormat.CSV
    return ImportFormat.PYTX


# -- parsing ------------------------------------------------------------------------------


def parse(
    lines: Iterable[str], fmt: ImportFormat, *, signal_type: str | None = None
) -> Iterator[Record | LineError]:
    """Records (or line errors) of a file given as lines with their line endings."""
    if fmt is ImportFormat.JSONL:
        return _parse_jsonl(lines)
    if fmt is ImportFormat.CSV:
        return _parse_csv(lines)
    return _parse_pytx(lines, signal_type)


def _parse_jsonl(lines: Iterable[str]) -> Iterator[Record | LineError]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            fields = json.loads(line)
        except ValueError as exc:
            yield LineError(number, f"not JSON: {exc}")
            continue
        except RecursionError:
            # json raises this (safely) past the interpreter's nesting limit: a line nested
            # thousands deep is no hash entry, and must not take the whole import down.
            yield LineError(number, "not JSON we read: nested too deeply")
            continue
        if not isinstance(fields, dict):
            yield LineError(number, "a line must be a JSON object")
            continue
        yield Record(number, fields)


def _rows(reader: Any) -> Iterator[list[str] | LineError]:
    """The rows of a ``csv.reader``, a line it cannot read (``csv.Error``) as a LineError.

    csv refuses a field over its limit (131,072 characters, far beyond any hash or note) and
    carries on with the next line, so one such line is reported like any other bad line.
    """
    while True:
        try:
            row: list[str] = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield LineError(reader.line_num, f"not CSV we read: {exc}")
            continue
        yield row


def _parse_csv(lines: Iterable[str]) -> Iterator[Record | LineError]:
    reader = csv.reader(lines)
    header: list[str] | None = None
    for row in _rows(reader):
        if isinstance(row, LineError):
            yield row
            if header is None:
                return  # without its header the file cannot be read
            continue
        if not any(cell.strip() for cell in row):
            continue
        if header is None:
            header = [cell.strip().lower() for cell in row]
            if "signal_type" not in header or "value" not in header:
                yield LineError(reader.line_num, "the header must name signal_type and value")
                return
            continue
        if len(row) > len(header):
            yield LineError(reader.line_num, f"{len(row)} fields, the header has {len(header)}")
            continue
        yield Record(reader.line_num, dict(zip(header, row, strict=False)))


def _parse_pytx(lines: Iterable[str], default_type: str | None) -> Iterator[Record | LineError]:
    reader = csv.reader(lines)
    header: list[str] | None = None
    first = True
    for row in _rows(reader):
        if isinstance(row, LineError):
            yield row
            first = False
            continue
        cells = [cell.strip() for cell in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if first and "signal_type" in (cell.lower() for cell in cells):
            header = [cell.lower() for cell in cells]
            first = False
            continue
        first = False
        fields = _pytx_fields(cells, header, default_type)
        if fields is None:
            yield LineError(reader.line_num, "a bare hash needs a default signal type")
            continue
        try:
            fields["signal_type"] = pytx_name(fields["signal_type"])
        except ValidationFailed as exc:
            yield LineError(reader.line_num, exc.message)
            continue
        yield Record(reader.line_num, fields)


def _pytx_fields(
    cells: list[str], header: list[str] | None, default_type: str | None
) -> dict[str, str] | None:
    if header is not None:
        named = dict(zip(header, cells, strict=False))
        value = named.get("signal") or named.get("signal_str") or named.get("hash", "")
        fields = {"signal_type": named.get("signal_type", ""), "value": value}
        if named.get("collab"):
            fields["source"] = named["collab"]
        extra = [f"{key}: {named[key]}" for key in ("category", "tags") if named.get(key)]
        if extra:
            fields["note"] = "; ".join(extra)
        return fields
    if len(cells) == 1 and len(cells[0].split()) == 1:
        return None if default_type is None else {"signal_type": default_type, "value": cells[0]}
    # "signal_type,signal,..." (extra columns ignored) or local_file's "signal_type signal".
    parts = cells if len(cells) > 1 else cells[0].split(None, 1)
    return {"signal_type": parts[0], "value": parts[1]}
