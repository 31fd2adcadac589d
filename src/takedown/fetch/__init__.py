"""Fetching from the internet, guarded: every request that leaves for a reported or
configured address (capture, re-checks, previews, webhooks, RDAP) goes through here.

It refuses private and internal addresses at every hop, bounds sizes, redirects and time,
and answers with what was fetched. An integration used by several domains, below them all.

What each entry point gives::

    GuardedFetcher(SystemResolver()).fetch(url)   -> FetchResult (final response, under limits)
    GuardedFetcher(StaticResolver({...}), allow_hosts={"images.test"})  -> the sandbox's fetcher
    StaticFetcher({url: FetchResult(...)})        -> canned answers for tests of the callers
    extract_media(html, base_url)                 -> the media URLs an HTML page shows
"""

from takedown.fetch.errors import (
    BadResponse,
    ConnectionFailed,
    DNSFailure,
    FetchError,
    FetchRefused,
    FetchTimeout,
    NonPublicAddress,
    ResponseTooLarge,
    TooManyRedirects,
    UnsupportedContentType,
    UnsupportedScheme,
)
from takedown.fetch.fetcher import Fetcher, FetchResult, GuardedFetcher, StaticFetcher
from takedown.fetch.limits import DEFAULT_CONTENT_TYPES
from takedown.fetch.media import extract_media
from takedown.fetch.resolver import Resolver, StaticResolver, SystemResolver

__all__ = [
    "DEFAULT_CONTENT_TYPES",
    "BadResponse",
    "ConnectionFailed",
    "DNSFailure",
    "FetchError",
    "FetchRefused",
    "FetchResult",
    "FetchTimeout",
    "Fetcher",
    "GuardedFetcher",
    "NonPublicAddress",
    "Resolver",
    "ResponseTooLarge",
    "StaticFetcher",
    "StaticResolver",
    "SystemResolver",
    "TooManyRedirects",
    "UnsupportedContentType",
    "UnsupportedScheme",
    "extract_media",
]
