"""A version of a list rendered for download, in each format its consumers read.

Formats per list (``FORMATS``):

- urls: ``rpz``, ``rpz-a``, ``rpz-nxdomain`` (DNS policy zones, see ``lists.rpz``), ``txt``
  (one expression a line, for proxy helpers), ``csv``, ``json``, ``sha256`` (hashes of the
  expressions, for partners who should not receive clear URLs);
- hashes: ``csv``, ``jsonl``;
- keywords: ``txt``, ``csv``, ``json``.

Every render is a pure function of its arguments, so the bytes (and their signature) of a
version are the same each time they are asked for. Rows come in their stored order (sorted,
see ``lists.rows``); only ``sha256`` sorts again, by hash.

Text formats start with comment lines beginning with ``# `` (list, version, published time,
count) and hold no other comments; a consumer that wants the exact values of entries that
start with ``#`` (a keyword like ``#tag``) should skip only those leading header lines, or read
csv or json. ``json`` is the lossless machine format; ``csv`` alters fields that a spreadsheet
would run as a formula (see ``takedown.spreadsheet``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from takedown.config import Settings
from takedown.errors import BadRequest
from takedown.lists import rpz
from takedown.lists.models import ListName
from takedown.lists.rows import COLUMNS, Row
from takedown.spreadsheet import safe_row

FORMATS: dict[ListName, tuple[str, ...]] = {
    ListName.URLS: ("rpz", "rpz-a", "rpz-nxdomain", "txt", "csv", "json", "sha256"),
    ListName.HASHES: ("csv", "jsonl"),
    ListName.KEYWORDS: ("txt", "csv", "json"),
}

_MEDIA_TYPES = {
    # text/dns is the registered type of a master file (RFC 4027).
    "rpz": "text/dns",
    "rpz-a": "text/dns",
    "rpz-nxdomain": "text/dns",
    "txt": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8; header=present",
    "json": "application/json",
    # No registered type for JSON Lines; this is the one most tools send and accept.
    "jsonl": "application/x-ndjson",
    "sha256": "text/plain; charset=utf-8",
}

_EXTENSIONS = {
    "rpz": "rpz.zone",
    "rpz-a": "rpz-a.zone",
    "rpz-nxdomain": "rpz-nxdomain.zone",
    "txt": "txt",
    "csv": "csv",
    "json": "json",
    "jsonl": "jsonl",
    "sha256": "sha256.txt",
}


class ExportError(BadRequest, ValueError):
    """A format that the list does not have, or arguments that cannot be rendered."""


def render(
    name: ListName,
    version: int,
    published_at: datetime,
    rows: Sequence[Row],
    fmt: str,
    settings: Settings,
) -> bytes:
    """Render ``rows`` of version ``version`` of list ``name`` in format ``fmt``.

    Raises :class:`ExportError` for a format the list does not have, a naive ``published_at``
    or a row of the wrong width, and :class:`~takedown.errors.ConfigurationError` when the
    settings an RPZ needs are unusable.
    """
    _check_format(name, fmt)
    if published_at.tzinfo is None:
        raise ExportError("published_at must be timezone-aware (UTC)")
    if fmt in rpz.VARIANTS:
        try:
            return rpz.render_zone(fmt, version, published_at, (r[0] for r in rows), settings)
        except rpz.ZoneError as exc:
            raise ExportError(str(exc)) from exc
    try:
        return _RENDERERS[fmt](name, version, published_at, rows)
    except ExportError:
        raise
    except ValueError as exc:  # zip(strict=True): a row of the wrong width
        raise ExportError(f"cannot render {name} as {fmt}: {exc}") from exc


def media_type(fmt: str) -> str:
    """The Content-Type of format ``fmt``."""
    try:
        return _MEDIA_TYPES[fmt]
    except KeyError:
        raise ExportError(_unknown(fmt)) from None


def filename(name: ListName, version: int, fmt: str) -> str:
    """The download file name of a version, e.g. ``urls-42.rpz.zone``."""
    _check_format(name, fmt)
    return f"{ListName(name).value}-{int(version)}.{_EXTENSIONS[fmt]}"


def _check_format(name: ListName, fmt: str) -> None:
    try:
        formats = FORMATS[ListName(name)]
    except ValueError:
        raise ExportError(f"unknown list {name!r}") from None
    if fmt not in formats:
        raise ExportError(f"{_unknown(fmt)} for the {name} list; it has {', '.join(formats)}")


def _unknown(fmt: str) -> str:
    return f"unknown export format {fmt!r}"


def _header(name: ListName, version: int, published_at: datetime, count: int) -> str:
    when = published_at.astimezone(UTC).isoformat(timespec="seconds")
    return (
        f"# list: {ListName(name).value}\n"
        f"# version: {int(version)}\n"
        f"# published: {when}\n"
        f"# count: {count}\n"
    )


def _lines(values: Sequence[str]) -> str:
    """One value a line, each ending in a line break; refuses a value that holds one."""
    text = "\n".join(values)
    # Stored rows never hold line breaks (rows.pack refuses them); this keeps a row from
    # anywhere else from adding lines (or header-looking comments) to a text export. Counting
    # in C is what keeps a million rows fast.
    if text.count("\n") != max(len(values) - 1, 0) or "\r" in text:
        raise ExportError("an entry holds a line break and cannot be written one a line")
    return text + "\n" if values else ""


def _txt(name: ListName, version: int, published_at: datetime, rows: Sequence[Row]) -> bytes:
    values = [row[0] for row in rows]
    return (_header(name, version, published_at, len(values)) + _lines(values)).encode("utf-8")


def _sha256(name: ListName, version: int, published_at: datetime, rows: Sequence[Row]) -> bytes:
    # Same digest as urls.expressions.hash_prefix: SHA-256 of the UTF-8 expression; the
    # 4-byte prefix is the first 8 hex digits of the full digest.
    sha256 = hashlib.sha256
    digests = sorted({sha256(row[0].encode("utf-8")).hexdigest() for row in rows})
    body = "".join(f"{digest[:8]} {digest}\n" for digest in digests)
    header = _header(name, version, published_at, len(digests))
    about = "# each line: first 4 bytes and full SHA-256 of an expression, hex, sorted\n"
    return (header + about + body).encode("ascii")


def _csv(name: ListName, version: int, published_at: datetime, rows: Sequence[Row]) -> bytes:
    out = io.StringIO()
    # RFC 4180 line endings; no comment header, which csv readers would take for a row.
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS[ListName(name)])
    width = len(COLUMNS[ListName(name)])
    for row in rows:
        if len(row) != width:
            raise ExportError(f"a row has {len(row)} fields, not {width}")
        writer.writerow(safe_row(row))
    return out.getvalue().encode("utf-8")


def _json(name: ListName, version: int, published_at: datetime, rows: Sequence[Row]) -> bytes:
    columns = COLUMNS[ListName(name)]
    document = {
        "list": ListName(name).value,
        "version": int(version),
        "published_at": published_at.astimezone(UTC).isoformat(timespec="seconds"),
        "count": len(rows),
        "entries": [dict(zip(columns, row, strict=True)) for row in rows],
    }
    return json.dumps(document, separators=(",", ":")).encode("utf-8") + b"\n"


def _jsonl(name: ListName, version: int, published_at: datetime, rows: Sequence[Row]) -> bytes:
    # Entries only, every line the same shape; the version is in the file name and headers.
    columns = COLUMNS[ListName(name)]
    encode = json.JSONEncoder(separators=(",", ":")).encode
    return "".join(encode(dict(zip(columns, row, strict=True))) + "\n" for row in rows).encode(
        "utf-8"
    )


_RENDERERS: dict[str, Callable[[ListName, int, datetime, Sequence[Row]], bytes]] = {
    "txt": _txt,
    "sha256": _sha256,
    "csv": _csv,
    "json": _json,
    "jsonl": _jsonl,
}
