"""Matching a URL against a published URL list file, clear or hashed.

Two file formats, both UTF-8 text with ``#`` comment lines and blank lines ignored:

- ``txt``: one Safe Browsing expression per line (``example.test/``, ``example.test/dir/``,
  ``example.test/page.html``, ``example.test/p?q=1``);
- ``sha256``: ``<8 hex> <64 hex>`` per line, the first four bytes and the whole SHA-256 of an
  expression, for partners who should not receive the URLs in clear.

A URL is listed when one of its expressions (:func:`~takedown.urls.expressions.expressions`)
is in the list, so a listed ``host/`` blocks the host and its subdomains, a listed ``host/dir/``
everything below it, and a sibling path nothing. Each check costs one canonicalization and at
most thirty set lookups, independent of the size of the list.

:class:`ReloadingList` re-reads a file when it changes, for long-running filters such as the
Squid helper (:mod:`takedown.lists.squid`). Publishers should replace the file atomically
(write a temporary file, then rename it over the old one): a reader that catches a file half
written reloads it again once the writer finishes, but answers from the partial list meanwhile.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple, Protocol

from takedown.errors import InvalidURL, TakedownError
from takedown.urls.expressions import expressions

log = logging.getLogger(__name__)

# A host (no slash, no whitespace), a slash, then any path and query without whitespace:
# canonical expressions percent-escape spaces and control characters.
_EXPRESSION = re.compile(r"[^\s/]+/\S*")
_HASHED_LINE = re.compile(r"([0-9a-f]{8})\s+([0-9a-f]{64})")
_SHOWN = 80  # characters of a bad line quoted in an error message


class ListFileError(TakedownError):
    """A list file that cannot be read, or is not in the format expected."""

    title = "Unusable list file"


class ListMatcher(Protocol):
    """Anything that answers whether a URL is listed: the lists below, and their reloader."""

    def match(self, url: str | bytes) -> str | None: ...

    def __len__(self) -> int: ...


def _url_expressions(url: str | bytes) -> list[str]:
    """The expressions of ``url``, or none when it is not an http(s) URL we can canonicalize."""
    try:
        return expressions(url)
    except InvalidURL:
        return []


class UrlList:
    """A clear URL list: a set of expressions."""

    def __init__(self, entries: Iterable[str]) -> None:
        self._entries = frozenset(entries)

    @classmethod
    def parse(cls, text: str, source: str = "<text>") -> UrlList:
        """Read the ``txt`` format; raise :class:`ListFileError` naming the first bad line."""
        entries: list[str] = []
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if _EXPRESSION.fullmatch(line) is None:
                raise ListFileError(
                    f"{source}, line {number}: {line[:_SHOWN]!r} is not an expression such as "
                    "'example.test/dir/' (is this a hashed list?)"
                )
            entries.append(line)
        return cls(entries)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> UrlList:
        return cls.parse(read_list_file(path).text, str(path))

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, expression: object) -> bool:
        return expression in self._entries

    def match(self, url: str | bytes) -> str | None:
        """Return the first listed expression of ``url``, in the order of ``expressions``."""
        entries = self._entries
        for expression in _url_expressions(url):
            if expression in entries:
                return expression
        return None


class HashedList:
    """A hashed URL list: the full SHA-256 digests of its expressions.

    The file also carries each digest's four-byte prefix (what a Safe Browsing style client
    would query first); here the whole digest is at hand, so the prefix is only checked
    against it when loading, which catches a corrupted or hand-edited line.
    """

    def __init__(self, digests: Iterable[bytes]) -> None:
        self._digests = frozenset(digests)

    @classmethod
    def from_expressions(cls, entries: Iterable[str]) -> HashedList:
        return cls(hashlib.sha256(entry.encode("utf-8")).digest() for entry in entries)

    @classmethod
    def parse(cls, text: str, source: str = "<text>") -> HashedList:
        """Read the ``sha256`` format; raise :class:`ListFileError` naming the first bad line."""
        digests: list[str] = []
        for number, line in enumerate(text.lower().splitlines(), 1):
            # Nearly every line is exactly "<prefix> <digest>": test that shape cheaply and
            # leave the hex to fromhex below; a million regex matches would triple the load.
            if len(line) == 73 and line[8] == " " and line[:8] == line[9:17]:
                digests.append(line[9:])
            else:
                digest = _hashed_line(line.strip(), number, source)
                if digest is not None:
                    digests.append(digest)
        try:
            # One fromhex over everything is several times faster than a million small ones.
            blob = bytes.fromhex("".join(digests))
        except ValueError:
            blob = b""
        # fromhex skips whitespace, so a digest with a space inside would shift every digest
        # after it: the length proves each line gave exactly 32 bytes.
        if len(blob) != 32 * len(digests):
            _first_bad_hashed_line(text, source)
            # Not reached: every line that can fail above fails the strict check too.
            raise ListFileError(f"{source} is not a hashed list")
        return cls(blob[i : i + 32] for i in range(0, len(blob), 32))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> HashedList:
        return cls.parse(read_list_file(path).text, str(path))

    def __len__(self) -> int:
        return len(self._digests)

    def match(self, url: str | bytes) -> str | None:
        """Return the hex SHA-256 of the first listed expression of ``url``, or None."""
        digests = self._digests
        for expression in _url_expressions(url):
            digest = hashlib.sha256(expression.encode("utf-8")).digest()
            if digest in digests:
                return digest.hex()
        return None


def _hashed_line(line: str, number: int, source: str) -> str | None:
    """The digest of one lowercase, stripped line; None for a comment or a blank line."""
    if not line or line.startswith("#"):
        return None
    found = _HASHED_LINE.fullmatch(line)
    if found is None:
        raise ListFileError(
            f"{source}, line {number}: {line[:_SHOWN]!r} is not '<8 hex> <64 hex>' "
            "(is this a clear list?)"
        )
    prefix, digest = found.groups()
    if not digest.startswith(prefix):
        raise ListFileError(
            f"{source}, line {number}: the prefix {prefix} is not the start of the digest"
        )
    return digest


def _first_bad_hashed_line(text: str, source: str) -> None:
    """Raise :class:`ListFileError` for the first line of ``text`` that is not valid."""
    for number, line in enumerate(text.lower().splitlines(), 1):
        _hashed_line(line.strip(), number, source)


class FileVersion(NamedTuple):
    """What tells one version of a file from the next: a rename changes the inode, a rewrite
    in place the size or the modification time."""

    device: int
    inode: int
    size: int
    mtime_ns: int


def _version(stat: os.stat_result) -> FileVersion:
    return FileVersion(stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


class ListText(NamedTuple):
    text: str
    version: FileVersion


def read_list_file(path: str | os.PathLike[str]) -> ListText:
    """Read a list file as UTF-8, with the version of the file that was read.

    The version comes from the open file, taken before reading: if a writer changes the file
    while we read, the next check sees a newer version and reads it again.
    """
    try:
        with open(path, "rb") as file:
            version = _version(os.fstat(file.fileno()))
            data = file.read()
    except OSError as exc:
        raise ListFileError(f"cannot read the list {path}: {exc.strerror or exc}") from exc
    try:
        return ListText(data.decode("utf-8"), version)
    except UnicodeDecodeError as exc:
        raise ListFileError(
            f"{path} is not a text list (not UTF-8 at byte {exc.start}; is it a signature?)"
        ) from exc


Parser = Callable[[str, str], ListMatcher]


class ReloadingList:
    """A list read from a file and read again when the file changes.

    The file is looked at (one ``stat``) at most every ``interval`` seconds, from ``match``
    itself, so a single-threaded filter needs no timer. A file that has become unreadable or
    malformed leaves the list loaded earlier in force and logs one warning per version of the
    file: a filter that dropped its list on a bad publish would stop blocking everything.
    Only the first load fails loudly, with :class:`ListFileError`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        parse: Parser = UrlList.parse,
        *,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self._parse = parse
        self._interval = interval
        self._clock = clock
        self._current, self._version = self._read()
        # The version last looked at, loaded or not: a bad file is not re-read every second.
        self._seen: FileVersion | None = self._version
        self._next_check = clock() + interval

    @property
    def current(self) -> ListMatcher:
        return self._current

    def __len__(self) -> int:
        return len(self._current)

    def match(self, url: str | bytes) -> str | None:
        now = self._clock()
        if now >= self._next_check:
            self._next_check = now + self._interval
            self.reload_if_changed()
        return self._current.match(url)

    def reload_if_changed(self) -> bool:
        """Read the file again if it changed since it was last looked at; True if reloaded."""
        try:
            version = _version(os.stat(self.path))
        except OSError as exc:
            if self._seen is not None:  # warn once, not every second until it comes back
                self._seen = None
                self._keep(f"cannot read the list {self.path}: {exc.strerror or exc}")
            return False
        if version == self._seen:
            return False
        self._seen = version
        try:
            loaded, loaded_version = self._read()
        except ListFileError as exc:
            self._keep(exc.message)
            return False
        self._current, self._version, self._seen = loaded, loaded_version, loaded_version
        log.info("reloaded %s: %d entries", self.path, len(loaded))
        return True

    def _read(self) -> tuple[ListMatcher, FileVersion]:
        text, version = read_list_file(self.path)
        return self._parse(text, str(self.path)), version

    def _keep(self, problem: str) -> None:
        log.warning("%s; still using the list loaded before (%d entries)", problem, len(self))


def open_list(path: str | os.PathLike[str], *, hashed: bool = False) -> ReloadingList:
    """A :class:`ReloadingList` of a clear (``txt``) or hashed (``sha256``) list file."""
    return ReloadingList(path, HashedList.parse if hashed else UrlList.parse)
