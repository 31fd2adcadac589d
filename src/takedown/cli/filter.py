"""Commands for filtering traffic with a URL list: ``takedown filter ...``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from takedown.errors import InvalidURL
from takedown.lists import squid
from takedown.lists.filter import HashedList, ListFileError, ListMatcher, UrlList, open_list
from takedown.urls.expressions import expressions


class Unusable(click.ClickException):
    """A list file or URL we cannot work with: exit 2, as for a usage error, since exit 1
    means "not listed" for ``check``."""

    exit_code = 2


_LIST = click.option(
    "--list",
    "list_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Clear URL list (txt: one expression per line).",
)
_HASHED = click.option(
    "--hashed",
    "hashed_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Hashed URL list (sha256: '<8 hex> <64 hex>' per line).",
)


def _source(list_path: Path | None, hashed_path: Path | None) -> tuple[Path, bool]:
    """The one list file given, and whether it is hashed."""
    if (list_path is None) == (hashed_path is None):
        raise click.UsageError("give exactly one of --list FILE and --hashed FILE")
    if list_path is not None:
        return list_path, False
    assert hashed_path is not None  # for mypy: exactly one is set
    return hashed_path, True


@click.group("filter")
def filter_group() -> None:
    """Filter traffic with a published URL list: a Squid helper, and checking one URL."""


@filter_group.command("squid-helper")
@_LIST
@_HASHED
def squid_helper(list_path: Path | None, hashed_path: Path | None) -> None:
    """Answer Squid's external ACL questions on stdin/stdout from a URL list.

    OK (block) when the URL is listed, ERR otherwise. The file is re-read within a second
    of changing; a new file that cannot be read or parsed leaves the old list in force.
    Squid caches answers for ttl (listed) and negative_ttl (not listed) seconds. In
    squid.conf, one line each:

    \b
    external_acl_type takedown_bl ttl=300 negative_ttl=60 children-max=4 concurrency=50 %URI /path/to/takedown filter squid-helper --list /var/lib/takedown/urls.txt
    acl takedown_blocked external takedown_bl
    http_access deny takedown_blocked
    deny_info 302:https://hotline.example/blocked takedown_blocked

    For HTTPS without TLS interception Squid sees only CONNECT host:443, so only entries
    listing a whole host can match.
    """  # noqa: E501
    path, hashed = _source(list_path, hashed_path)
    try:
        matcher = open_list(path, hashed=hashed)
    except ListFileError as exc:
        raise Unusable(exc.message) from exc
    raise SystemExit(squid.run(matcher, sys.stdin.buffer, sys.stdout.buffer))


@filter_group.command("check")
@click.argument("url")
@_LIST
@_HASHED
def check(url: str, list_path: Path | None, hashed_path: Path | None) -> None:
    """Tell whether URL is on a list: exit 0 and 'listed: ENTRY' if it is, exit 1 and
    'not listed' if not, exit 2 when the list or the URL is unusable.

    For a hashed list ENTRY is the hex SHA-256 of the matching expression.
    """
    path, hashed = _source(list_path, hashed_path)
    matcher = _load(path, hashed)
    try:
        expressions(url)
    except InvalidURL as exc:
        raise Unusable(f"invalid URL: {exc.message}") from exc
    found = matcher.match(url)
    if found is None:
        click.echo("not listed")
        raise SystemExit(1)
    click.echo(f"listed: {found}")


def _load(path: Path, hashed: bool) -> ListMatcher:
    try:
        return HashedList.load(path) if hashed else UrlList.load(path)
    except ListFileError as exc:
        raise Unusable(exc.message) from exc
