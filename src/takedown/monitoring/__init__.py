"""Monitoring: re-checks of reported URLs, removal detection, and the SSRF-guarded fetcher.

What each entry point gives::

    GuardedFetcher(SystemResolver()).fetch(url)   -> FetchResult (final response, under limits)
    GuardedFetcher(StaticResolver({...}), allow_hosts={"images.test"})  -> the sandbox's fetcher
    StaticFetcher({url: FetchResult(...)})        -> canned answers for tests of the callers
    extract_media(html, base_url)                 -> the media URLs an HTML page shows
"""

from takedown.monitoring.errors import (
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
from takedown.monitoring.fetcher import Fetcher, FetchResult, GuardedFetcher, StaticFetcher
from takedown.monitoring.limits import DEFAULT_CONTENT_TYPES
from takedown.monitoring.media import extract_media
from takedown.monitoring.resolver import Resolver, StaticResolver, SystemResolver

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
