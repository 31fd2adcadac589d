"""Scan a directory tree against the banks: what ``takedown scan`` runs for hosting providers.

Every regular file is read (symbolic links are not followed, so a scan stays inside the tree
it was given) and hashed in memory. Images get all signals, PDQ with its rotations and
flips; other files get the exact hashes only, which still find known videos and archives by
MD5 or SHA-256. A file that cannot be read, or an image that is corrupt, truncated or too
large, is reported by name and the scan goes on; its exact hashes are still matched when its
bytes could be read.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

from takedown.config import Settings
from takedown.db.session import Database
from takedown.matching.errors import ImageError, UnsupportedImageFormat
from takedown.matching.hasher import HashResult, hash_bytes
from takedown.matching.lookup import MatchOutcome, hash_content, match_hashes
from takedown.matching.signals import SIGNAL_TYPES, BytesHasher
from takedown.matching.state import BankIndex

_BYTE_TYPES = [kind for kind in SIGNAL_TYPES.values() if issubclass(kind, BytesHasher)]


@dataclass(frozen=True, slots=True)
class FileResult:
    """What the scan found for one file."""

    path: Path
    outcome: MatchOutcome | None = None
    # Why the file could not be (fully) checked: unreadable, corrupt, too large.
    error: str | None = None
    # False for files that are no image format we decode (matched by exact hashes only).
    image: bool = True
    empty: bool = False
    # Why the file was not hashed at all (one of SKIP_REASONS), for the scan's summary.
    skipped: str | None = None


SKIP_REASONS = ("empty", "too large", "unreadable")


def walk(root: Path) -> Iterator[Path]:
    """Every regular file under ``root`` (or ``root`` itself), in a stable order."""
    if root.is_file():
        yield root
        return
    for folder, subfolders, files in os.walk(root, followlinks=False):
        subfolders.sort()
        for name in sorted(files):
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                yield path


def scan_file(
    path: Path,
    *,
    settings: Settings,
    database: Database,
    index: BankIndex,
    banks: Collection[str] | None = None,
) -> FileResult:
    """Hash one file and match it; never raises for a bad file, only reports it."""
    try:
        size = path.stat().st_size
        if size > settings.max_image_bytes:
            return FileResult(
                path,
                error=f"{size} bytes, over the {settings.max_image_bytes} limit",
                skipped="too large",
            )
        data = path.read_bytes()
    except OSError as exc:
        return FileResult(path, error=f"cannot read: {exc.strerror or exc}", skipped="unreadable")
    if not data:
        return FileResult(path, empty=True, skipped="empty")
    result, error, image = _hash(data, settings)
    # One short transaction per file: a long scan never holds a lock for long.
    with database.transaction() as session:
        outcome = match_hashes(session, result, index=index, banks=banks)
    return FileResult(path, outcome=outcome, error=error, image=image)


def _hash(data: bytes, settings: Settings) -> tuple[HashResult, str | None, bool]:
    try:
        return hash_content(data, settings), None, True
    except UnsupportedImageFormat:
        return _exact(data, settings), None, False
    except ImageError as exc:
        return _exact(data, settings), f"{exc.title.lower()}: {exc.message}", True


def _exact(data: bytes, settings: Settings) -> HashResult:
    return hash_bytes(data, max_bytes=settings.max_image_bytes, signal_types=_BYTE_TYPES)
