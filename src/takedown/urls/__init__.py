"""URLs: Safe Browsing v4 canonicalization and expressions, registered domains, public addresses.

What each entry point gives::

    canonicalize("HTTP://Example.COM:8080/a/../b#x")               -> "http://example.com/b"
    canonicalize("HTTP://Example.COM:8080/a/../b", keep_port=True) -> "http://example.com:8080/b"
    parse_url(url).sha256                     -> the dedup key of a case (hex SHA-256 of .url)
    expressions("http://a.b.c/1/2.html?p=1")  -> ["a.b.c/1/2.html?p=1", "a.b.c/1/2.html", ...]
    registered_domain("a.b.example.co.uk")    -> "example.co.uk"
    is_public_address("10.0.0.1")             -> False
"""

from takedown.urls.addresses import is_public_address
from takedown.urls.canonical import CanonicalURL, canonicalize, parse_url
from takedown.urls.domains import public_suffix, registered_domain
from takedown.urls.expressions import expression_hashes, expressions, hash_prefix

__all__ = [
    "CanonicalURL",
    "canonicalize",
    "expression_hashes",
    "expressions",
    "hash_prefix",
    "is_public_address",
    "parse_url",
    "public_suffix",
    "registered_domain",
]
