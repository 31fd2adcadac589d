"""Importing and exporting the directory as YAML or CSV (the file formats are in ``formats``).

An import creates the organizations it does not know and updates those it does (matched by
name, case-insensitively): every field given replaces the stored one, an identifier list
replaces the whole set of its kind, and a field left out is kept (so a file exported without
webhook secrets does not wipe them). Every problem is reported with its line: a bad value,
a name or an identifier given twice in the file (naming both lines), an identifier held by
an organization outside the file. Identifiers may move between organizations of one file.

By default nothing is imported when anything is wrong (``ImportFailed``); with ``partial``
the good entries are imported and the others reported. Either way the caller's transaction
makes it all or nothing at the database level.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Final

from sqlalchemy.orm import Session

from takedown.audit import service as audit
from takedown.auth.principal import Principal
from takedown.errors import PayloadTooLarge, TakedownError, ValidationFailed
from takedown.orgs import service
from takedown.orgs.conflicts import describe_overlap, find_conflicts
from takedown.orgs.fields import (
    CHECKERS,
    FIELD_NAMES,
    IDENTIFIER_FIELDS,
    OrgFields,
    check_asn,
    check_domain,
    check_network,
    check_served_country,
    check_tld,
)
from takedown.orgs.formats import (
    KEEP_WHEN_EMPTY,
    DirectoryFormat,
    LineError,
    RawEntry,
    read_csv,
    read_yaml,
    write_csv,
    write_yaml,
)
from takedown.orgs.models import Organization, OrgKind
from takedown.orgs.networks import NetworkIndex, begin_change

__all__ = [
    "DirectoryFormat",
    "ImportFailed",
    "ImportReport",
    "LineError",
    "export_directory",
    "export_rows",
    "export_with_secrets",
    "import_directory",
]

MAX_BYTES: Final = 20 * 1024 * 1024
MAX_ENTRIES: Final = 50_000
MAX_REPORTED_ERRORS: Final = 1_000
_ITEM_CHECKERS: Final = {
    "asns": check_asn,
    "networks": check_network,
    "domains": check_domain,
    "tlds": check_tld,
    "countries": check_served_country,
}


@dataclass
class ImportReport:
    """What an import did: organizations created and updated, and every problem by line."""

    created: int = 0
    updated: int = 0
    errors: list[LineError] = field(default_factory=list)

    def errors_out(self) -> list[dict[str, Any]]:
        return [{"line": e.line, "message": e.message} for e in self.errors[:MAX_REPORTED_ERRORS]]


class ImportFailed(ValidationFailed):
    """An import refused as a whole; ``errors`` lists the problems by line."""

    title = "Import failed"

    def __init__(self, report: ImportReport) -> None:
        count = len(report.errors)
        super().__init__(
            f"{count} problem{'s' if count != 1 else ''} in the file; nothing was imported",
            errors=report.errors_out(),
            error_count=count,
        )
        self.report = report


@dataclass
class _Entry:
    """One organization of the file: what it says, checked, and what it matches."""

    raw: RawEntry
    values: dict[str, Any] = field(default_factory=dict)
    # Where each identifier was written: kind -> normalized value -> line.
    lines: dict[str, dict[Any, int]] = field(default_factory=dict)
    errors: list[LineError] = field(default_factory=list)
    org: Organization | None = None

    @property
    def ok(self) -> bool:
        return not self.errors and not self.raw.broken

    @property
    def fields(self) -> OrgFields:
        return OrgFields(**self.values)

    def line_of(self, name: str, value: object = None) -> int:
        found = self.lines.get(name, {}).get(value)
        if found is not None:
            return found
        raw = self.raw.values.get(name)
        return raw.line if raw is not None else self.raw.line


# -- importing ----------------------------------------------------------------------------


def import_directory(
    session: Session,
    actor: Principal,
    data: bytes | str,
    *,
    fmt: DirectoryFormat,
    partial: bool = False,
    now: datetime,
) -> ImportReport:
    """Load a directory file; raises ``ImportFailed`` on any problem unless ``partial``."""
    text = _decode(data)
    parsed = read_yaml(text) if fmt is DirectoryFormat.YAML else read_csv(text)
    if len(parsed.entries) > MAX_ENTRIES:
        raise ValidationFailed(f"at most {MAX_ENTRIES} organizations per file; split it")
    entries = [_checked(raw) for raw in parsed.entries]
    _check_within_file(entries)
    if any(entry.ok for entry in entries):
        begin_change(session)  # before reading: directory writers take turns from here on
    moved = _check_against_database(session, entries, partial=partial)
    report = ImportReport(errors=[*parsed.errors, *(e for entry in entries for e in entry.errors)])
    report.errors.sort(key=lambda error: error.line)
    if report.errors and not partial:
        raise ImportFailed(report)
    _apply(session, actor, [e for e in entries if e.ok], moved, report, partial=partial, now=now)
    audit.record(
        session,
        actor,
        "directory.import",
        "directory",
        None,
        at=now,
        details={
            "format": fmt.value,
            "partial": partial,
            "created": report.created,
            "updated": report.updated,
            "errors": len(report.errors),
        },
    )
    return report


def _decode(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > MAX_BYTES:
        raise PayloadTooLarge(f"a directory file has at most {MAX_BYTES // 2**20} MiB")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        error = LineError(line, "the file is not UTF-8 text")
        raise ImportFailed(ImportReport(errors=[error])) from None


def _checked(raw: RawEntry) -> _Entry:
    """Check every field of one entry, collecting all problems."""
    entry = _Entry(raw)
    for name, given in raw.values.items():
        if given.value is None and name in KEEP_WHEN_EMPTY:
            continue
        try:
            if name in IDENTIFIER_FIELDS and isinstance(given.value, list):
                lines = _items(name, given.value, given.item_lines, entry.errors)
                if lines is not None:
                    entry.lines[name] = lines
                    entry.values[name] = CHECKERS[name](list(lines))
            else:
                entry.values[name] = CHECKERS[name](given.value)
        except ValidationFailed as exc:
            entry.errors.append(LineError(given.line, exc.message))
    if "name" not in entry.values and not any(e.message.startswith("name:") for e in entry.errors):
        entry.errors.append(LineError(raw.line, "name: missing"))
    return entry


def _items(
    name: str, items: Sequence[str], lines: Sequence[int], errors: list[LineError]
) -> dict[Any, int] | None:
    """Each item checked on its own line: normalized value -> line, or None if any failed."""
    found: dict[Any, int] = {}
    failed = False
    for item, line in zip(items, lines, strict=True):
        try:
            found.setdefault(_ITEM_CHECKERS[name](item), line)
        except ValidationFailed as exc:
            errors.append(LineError(line, exc.message))
            failed = True
    return None if failed else found


def _check_within_file(entries: Sequence[_Entry]) -> None:
    """Names and identifiers given twice in the file: the later entry names the earlier."""
    names: dict[str, _Entry] = {}
    held: dict[tuple[str, Any], _Entry] = {}
    ranges = NetworkIndex()
    by_id: dict[uuid.UUID, _Entry] = {}
    for entry in entries:
        name = entry.values.get("name")
        if isinstance(name, str):
            first = names.setdefault(name.lower(), entry)
            if first is not entry:
                line = first.line_of("name")
                entry.errors.append(
                    LineError(entry.line_of("name"), f"name: {name!r} is also on line {line}")
                )
        for kind in ("asns", "domains", "tlds"):
            for value in entry.lines.get(kind, {}):
                other = held.setdefault((kind, value), entry)
                if other is not entry:
                    shown = f"AS{value}" if kind == "asns" else value
                    entry.errors.append(
                        LineError(
                            entry.line_of(kind, value),
                            f"{kind}: {shown} is also listed on line {other.line_of(kind, value)}",
                        )
                    )
        key = uuid.uuid4()
        by_id[key] = entry
        for cidr in entry.lines.get("networks", {}):
            clashes = ranges.conflicts(cidr)
            for other_cidr, other_key in clashes[:1]:
                other = by_id[other_key]
                where = f"line {other.line_of('networks', other_cidr)}"
                described = describe_overlap(cidr, other_cidr, str(other.values.get("name")))
                entry.errors.append(
                    LineError(entry.line_of("networks", cidr), f"networks: {described} on {where}")
                )
            if not clashes:
                ranges.add(cidr, key)


def _check_against_database(
    session: Session, entries: Sequence[_Entry], *, partial: bool
) -> set[uuid.UUID]:
    """Match entries to organizations and find what they would take from others.

    Identifiers held by an organization that the file also gives new sets of are free to
    move. With ``partial``, an entry that fails keeps its organization's identifiers, so the
    check repeats until no more entries fail. Returns the organizations giving something up.
    """
    for entry in entries:
        if entry.ok:
            entry.org = service.find_org(session, entry.values["name"])
            missing = [f for f in ("kind", "country") if f not in entry.values]
            if entry.org is None and missing:
                entry.errors += [
                    LineError(entry.raw.line, f"{f}: missing (needed for a new organization)")
                    for f in missing
                ]
    candidates = [entry for entry in entries if entry.ok]
    while True:
        moved: set[uuid.UUID] = set()
        released = {
            kind: {e.org.id for e in candidates if e.org is not None and kind in e.values}
            for kind in IDENTIFIER_FIELDS
        }
        failed = False
        for entry in candidates:
            problems = find_conflicts(
                session, entry.org, entry.fields, released=released, moved=moved
            )
            for problem in problems:
                line = entry.line_of(problem.extra.get("field", ""), problem.extra.get("value"))
                entry.errors.append(LineError(line, problem.message))
            failed = failed or bool(problems)
        candidates = [entry for entry in candidates if entry.ok]
        if not (failed and partial):
            return moved


def _apply(
    session: Session,
    actor: Principal,
    entries: Sequence[_Entry],
    moved: set[uuid.UUID],
    report: ImportReport,
    *,
    partial: bool,
    now: datetime,
) -> None:
    # First, organizations giving identifiers to others in the file let go of what they will
    # not keep, so that every entry can then be saved in file order.
    for entry in entries:
        if entry.org is not None and entry.org.id in moved:
            kept = _kept(session, entry.org, entry.values)
            service.change_org(session, actor, entry.org, kept, now=now)
    for entry in entries:
        try:
            if entry.org is None:
                service.create_org(session, actor, entry.fields, now=now)
                report.created += 1
            else:
                service.change_org(session, actor, entry.org, entry.fields, now=now)
                report.updated += 1
        except TakedownError as exc:  # pragma: no cover - checked above; kept as a backstop
            if not partial:
                raise
            report.errors.append(LineError(entry.raw.line, exc.message))


def _kept(session: Session, org: Organization, values: dict[str, Any]) -> OrgFields:
    """The identifiers ``org`` holds now and keeps under ``values``."""
    current = service.identifiers(session, org)
    kept: dict[str, Any] = {
        kind: tuple(v for v in getattr(current, kind) if v in values[kind])
        for kind in IDENTIFIER_FIELDS
        if kind in values
    }
    return OrgFields(**kept)


# -- exporting ----------------------------------------------------------------------------


def export_rows(
    session: Session,
    *,
    kind: OrgKind | None = None,
    country: str | None = None,
    q: str | None = None,
    include_secrets: bool = False,
) -> list[dict[str, Any]]:
    """The organizations (all, or those matching the filters) as rows with every field."""
    orgs, _ = service.search_orgs(session, kind=kind, country=country, q=q)
    held = service.identifiers_of(session, [org.id for org in orgs])
    rows: list[dict[str, Any]] = []
    for org in orgs:
        row: dict[str, Any] = {
            "name": org.name,
            "kind": org.kind.value,
            "country": org.country,
            "abuse_email": org.abuse_email,
            "webhook_url": org.webhook_url,
        }
        if include_secrets:
            row["webhook_secret"] = org.webhook_secret
        row.update({"language": org.language, "notes": org.notes})
        ids = held[org.id]
        row.update({f.name: list(getattr(ids, f.name)) for f in fields(ids)})
        rows.append(row)
    return rows


def export_directory(
    session: Session,
    fmt: DirectoryFormat,
    *,
    kind: OrgKind | None = None,
    country: str | None = None,
    q: str | None = None,
    include_secrets: bool = False,
) -> str:
    """The directory as a YAML or CSV file that ``import_directory`` reads back unchanged.

    Webhook secrets are left out unless asked for; an import of such a file keeps the
    stored secrets.
    """
    rows = export_rows(session, kind=kind, country=country, q=q, include_secrets=include_secrets)
    if fmt is DirectoryFormat.YAML:
        return write_yaml(rows)
    columns = [c for c in FIELD_NAMES if include_secrets or c != "webhook_secret"]
    return write_csv(rows, columns)


def export_with_secrets(
    session: Session,
    actor: Principal,
    fmt: DirectoryFormat,
    *,
    now: datetime,
    kind: OrgKind | None = None,
    country: str | None = None,
) -> str:
    """An export that includes webhook secrets (command line only), recorded in the audit log:
    the secrets let anyone sign notices as us."""
    text = export_directory(session, fmt, kind=kind, country=country, include_secrets=True)
    details = {"format": fmt.value, "kind": kind.value if kind else None, "country": country}
    audit.record(
        session, actor, "directory.export_secrets", "directory", None, at=now, details=details
    )
    return text
