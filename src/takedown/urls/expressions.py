"""Safe Browsing v4 host-suffix/path-prefix expressions and their SHA-256 hashes.

A URL list entry is stored as one expression (``host/``, ``host/dir/``, ``host/path``,
``host/path?query``); a URL matches the list when one of its expressions is in it. Only the
last five host labels produce suffixes and directory prefixes stop three levels below the root,
so an entry deeper than that can only ever match exactly.
"""

from __future__ import annotations

import hashlib

from takedown.urls.canonical import split_url

MAX_HOST_SUFFIX_LABELS = 5
MAX_DIRECTORY_PREFIXES = 3


def expressions(url: str | bytes) -> list[str]:
    """Return the expressions of ``url`` in the documentation's order, without duplicates.

    Hosts are the exact host, then suffixes of the last five labels (never the bare TLD, none
    for an IP address); for each host the paths are the exact path with its query, the exact
    path, ``/``, then ``/a/``, ``/a/b/``, ``/a/b/c/``.
    """
    parts = split_url(url)
    paths = _path_prefixes(parts.path, parts.query)
    return [host + path for host in _host_suffixes(parts.host, parts.is_ip) for path in paths]


def expression_hashes(url: str | bytes) -> list[bytes]:
    """Return the full SHA-256 digest of each expression of ``url``, in the same order."""
    return [hashlib.sha256(expr.encode("ascii")).digest() for expr in expressions(url)]


def hash_prefix(expr: str, length: int = 4) -> bytes:
    """Return the first ``length`` bytes (4 to 32) of the SHA-256 digest of ``expr``."""
    if not 4 <= length <= 32:
        raise ValueError(f"a hash prefix is 4 to 32 bytes long, not {length}")
    return hashlib.sha256(expr.encode("utf-8")).digest()[:length]


def _host_suffixes(host: str, is_ip: bool) -> list[str]:
    if is_ip:
        return [host]
    labels = host.split(".")
    first = max(1, len(labels) - MAX_HOST_SUFFIX_LABELS)
    return [host] + [".".join(labels[i:]) for i in range(first, len(labels) - 1)]


def _path_prefixes(path: str, query: str | None) -> list[str]:
    # An empty query ("/q?") adds nothing: the documentation asks for the path "including query
    # parameters", and Google's clients skip it when there are none.
    paths = [f"{path}?{query}", path] if query else [path]
    if path != "/":
        paths.append("/")
        # Canonical paths have no empty segments, only a possible trailing "/".
        segments = path.strip("/").split("/")
        for depth in range(1, min(len(segments), MAX_DIRECTORY_PREFIXES + 1)):
            paths.append("/" + "/".join(segments[:depth]) + "/")
    return paths
