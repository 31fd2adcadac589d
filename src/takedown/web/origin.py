"""Is a state-changing request from one of our own pages? ``Origin`` and ``Sec-Fetch-Site``.

A browser attaches a session cookie to a request whatever site started it; the CSRF token is
the first defence against forged requests, and this is the second, in case a token leaks
(a page cached somewhere, a log, a screenshot). Both headers are set by the browser and cannot
be changed by a page's script.

- ``Sec-Fetch-Site``: ``same-origin`` and ``none`` (the user typed or bookmarked the address)
  pass; ``same-site`` (a sibling subdomain, which may be somebody else's) and ``cross-site``
  are refused. Absent (an older browser, curl) passes, and ``Origin`` decides.
- ``Origin``: it must be the request's own origin (scheme, host and port it arrived at) or the
  origin of ``TAKEDOWN_PUBLIC_BASE_URL``, which is what browsers see behind a TLS proxy.
  ``null`` passes: browsers send it for a same-origin form under ``Referrer-Policy:
  no-referrer``, which every page of ours has; ``Sec-Fetch-Site`` still catches cross-site
  ones. Absent passes (not a browser, or a very old one): the CSRF token still decides.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Request

from takedown.config import Settings
from takedown.errors import Forbidden

_ALLOWED_FETCH_SITES = frozenset({"same-origin", "none"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a URL or serialized origin, the default port filled in."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def cross_site_reason(request: Request, settings: Settings) -> str | None:
    """Why the request looks forged by another site, or None when nothing says so."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site.strip().lower() not in _ALLOWED_FETCH_SITES:
        return "the request came from another site (Sec-Fetch-Site)"
    origin = request.headers.get("origin")
    if origin is None or origin.strip() == "null":
        return None
    given = _origin(origin)
    own = _origin(f"{request.url.scheme}://{request.url.netloc}")
    if given is None or given not in (own, _origin(settings.public_base_url)):
        return "the request came from another site (Origin does not match)"
    return None


def check_same_origin(request: Request, settings: Settings) -> None:
    """Refuse (403) a state change that another site's page started."""
    reason = cross_site_reason(request, settings)
    if reason is not None:
        raise Forbidden(reason)
