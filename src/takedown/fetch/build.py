"""The resolver and the fetcher the settings ask for."""

from __future__ import annotations

from takedown.config import Settings
from takedown.fetch.fetcher import GuardedFetcher
from takedown.fetch.resolver import Resolver, StaticResolver, SystemResolver


def build_resolver(settings: Settings) -> Resolver:
    """The static table (sandbox, tests) or the system's resolver, as ``fetch_resolver`` says."""
    if settings.fetch_resolver == "static":
        return StaticResolver(settings.fetch_static_hosts)
    return SystemResolver()


def build_fetcher(settings: Settings) -> GuardedFetcher:
    return GuardedFetcher(
        build_resolver(settings),
        allow_hosts=frozenset(settings.fetch_allow_hosts),
        max_bytes=min(settings.fetch_max_bytes, settings.max_image_bytes),
        max_redirects=settings.fetch_max_redirects,
        connect_timeout=settings.fetch_connect_timeout,
        read_timeout=settings.fetch_read_timeout,
        total_timeout=settings.fetch_total_timeout,
        user_agent=settings.fetch_user_agent,
    )
