"""Bank import and export: our CSV and JSON lines (round trip with metadata), pytx lists.

Imports report every bad line by its line number and load the good ones; with ``strict`` any
bad line fails the whole import and nothing loads. Entries already in the bank (or repeated
in the file) are counted as duplicates, not errors. The formats are in ``hashlists.py``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import insert, select, tuple_
from sqlalchemy.orm import Session

from takedown.audit import service as audit
from takedown.auth.principal import Principal
from takedown.db.session import Database
from takedown.errors import TakedownError, ValidationFailed
from takedown.matching import state
from takedown.matching.banks import new_entry
from takedown.matching.hashlists import (
    EXPORT_COLUMNS,
    ImportFormat,
    LineError,
    detect_format,
    parse,
    pytx_name,
)
from takedown.matching.models import Bank, BankEntry
from takedown.words import plural

# Re-exported: callers import the whole import/export surface from here.
__all__ = [
    "EXPORT_COLUMNS",
    "ExportFormat",
    "ImportFormat",
    "ImportReport",
    "LineError",
    "detect_format",
    "export_lines",
    "import_entries",
    "pytx_name",
    "record_export",
]

MAX_REPORTED_ERRORS: Final = 1_000
_BATCH: Final = 1_000
_TRUE: Final = frozenset({"true", "1", "yes", "y", "t"})
_FALSE: Final = frozenset({"false", "0", "no", "n", "f"})


class ExportFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


@dataclass
class ImportReport:
    """What an import did: entries added, duplicates skipped, bad lines by number."""

    added: int = 0
    duplicates: int = 0
    error_count: int = 0
    errors: list[LineError] = field(default_factory=list)

    def error(self, line: int, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(LineError(line, message))


# -- importing ----------------------------------------------------------------------------


def import_entries(
    session: Session,
    actor: Principal,
    bank: Bank,
    lines: Iterable[str],
    *,
    fmt: ImportFormat,
    signal_type: str | None = None,
    source: str = "",
    strict: bool = False,
    now: datetime,
) -> ImportReport:
    """Load entries into ``bank``; with ``strict`` raise (so nothing loads) on any bad line.

    The caller's transaction makes it all-or-nothing for strict imports: the error raised
    here rolls back the lines already inserted.
    """
    state.begin_change(session)
    report = ImportReport()
    seen: set[tuple[str, str]] = set()
    batch: list[BankEntry] = []
    for item in parse(lines, fmt, signal_type=signal_type):
        if isinstance(item, LineError):
            report.error(item.line, item.message)
            continue
        try:
            entry = _entry(bank, item.fields, actor=actor, source=source, now=now)
        except TakedownError as exc:
            report.error(item.line, exc.message)
            continue
        key = (entry.signal_type, entry.value)
        if key in seen:
            report.duplicates += 1
            continue
        seen.add(key)
        if strict and report.error_count:
            continue  # it will all roll back; only the remaining errors are still of use
        batch.append(entry)
        if len(batch) >= _BATCH:
            _insert(session, bank, batch, report, now)
            batch = []
    if not (strict and report.error_count):
        _insert(session, bank, batch, report, now)
    if strict and report.error_count:
        raise ValidationFailed(
            f"{plural(report.error_count, 'bad line')}; nothing was imported (strict)",
            errors=[{"line": e.line, "message": e.message} for e in report.errors],
        )
    audit.record(
        session,
        actor,
        "bank.import",
        "bank",
        bank.id,
        at=now,
        details={
            "name": bank.name,
            "format": fmt.value,
            "added": report.added,
            "duplicates": report.duplicates,
            "errors": report.error_count,
        },
    )
    return report


def _entry(
    bank: Bank, fields: dict[str, Any], *, actor: Principal, source: str, now: datetime
) -> BankEntry:
    return new_entry(
        bank,
        signal_type=_str(fields.get("signal_type")),
        value=_str(fields.get("value")),
        quality=_quality(fields.get("quality")),
        source=_str(fields.get("source")) or source,
        classification=_str(fields.get("classification")),
        note=_str(fields.get("note")),
        added_by=_str(fields.get("added_by")) or actor.label,
        added_at=_timestamp(fields.get("added_at")) or now,
        enabled=_flag(fields.get("enabled")),
    )


def _insert(
    session: Session, bank: Bank, batch: list[BankEntry], report: ImportReport, now: datetime
) -> None:
    if not batch:
        return
    keys = [(e.signal_type, e.value) for e in batch]
    found = session.execute(
        select(BankEntry.signal_type, BankEntry.value).where(
            BankEntry.bank_id == bank.id,
            tuple_(BankEntry.signal_type, BankEntry.value).in_(keys),
        )
    )
    existing = {(signal_type, value) for signal_type, value in found}
    fresh = [e for e in batch if (e.signal_type, e.value) not in existing]
    report.duplicates += len(batch) - len(fresh)
    if not fresh:
        return
    rows = [{c: getattr(e, c) for c in _INSERT_COLUMNS} for e in fresh]
    ids = session.scalars(insert(BankEntry).returning(BankEntry.id), rows).all()
    state.record_changes(session, ids, now=now)
    report.added += len(ids)


_INSERT_COLUMNS: Final = ("bank_id", *EXPORT_COLUMNS)


def _str(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationFailed(f"expected text, got {json.dumps(value)}")
    return value.strip()


def _quality(value: object) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise ValidationFailed(f"quality must be an integer 0-100, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(f"quality must be an integer 0-100, got {json.dumps(value)}")
    return value


def _flag(value: object) -> bool:
    if value is None or value == "":
        return True
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValidationFailed(f"enabled must be true or false, got {value!r}")


def _timestamp(value: object) -> datetime | None:
    text = _str(value)
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(f"added_at must be an ISO 8601 time, got {text!r}") from None
    # A time without a zone is read as UTC, the zone every export writes.
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


# -- exporting ----------------------------------------------------------------------------


def record_export(
    session: Session, actor: Principal, bank: Bank, fmt: ExportFormat, *, now: datetime
) -> None:
    """Audit an export: a hash list leaving the system is worth a record."""
    audit.record(
        session,
        actor,
        "bank.export",
        "bank",
        bank.id,
        at=now,
        details={"name": bank.name, "format": fmt.value},
    )


def export_lines(
    database: Database, bank_id: object, fmt: ExportFormat, *, batch: int = 5_000
) -> Iterator[str]:
    """The bank's entries as text lines, read in batches by id, for a streamed response.

    Each batch is its own short read transaction, so a long export never holds SQLite's
    writer lock for its whole length; an entry changed mid-export shows its newer state.
    """
    if fmt is ExportFormat.CSV:
        yield _csv_line(EXPORT_COLUMNS)
    after = 0
    while True:
        with database.transaction() as session:
            entries = session.scalars(
                select(BankEntry)
                .where(BankEntry.bank_id == bank_id, BankEntry.id > after)
                .order_by(BankEntry.id)
                .limit(batch)
            ).all()
            rows = [export_row(entry) for entry in entries]
        if not rows:
            return
        for row in rows:
            if fmt is ExportFormat.CSV:
                yield _csv_line([_csv_cell(row[column]) for column in EXPORT_COLUMNS])
            else:
                yield json.dumps(row, ensure_ascii=False) + "\n"
        after = entries[-1].id


def export_row(entry: BankEntry) -> dict[str, Any]:
    return {
        "signal_type": entry.signal_type,
        "value": entry.value,
        "quality": entry.quality,
        "source": entry.source,
        "classification": entry.classification,
        "added_by": entry.added_by,
        "added_at": entry.added_at.isoformat(),
        "note": entry.note,
        "enabled": entry.enabled,
    }


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _csv_line(cells: Iterable[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(list(cells))
    return buffer.getvalue()
