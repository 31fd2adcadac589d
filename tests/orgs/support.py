"""Helpers for directory tests, also meant for other domains' tests (tracing, routing).

``directory_org`` adds an organization with identifiers in one call (``tests.factories.login``
signs a staff user in through the API). Addresses and names are from the documentation ranges
(RFC 5737, RFC 3849, RFC 5398 ASNs, RFC 2606 names), so nothing here points at a real network.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy.orm import Session

from takedown.orgs import service as orgs
from takedown.orgs.api import router
from takedown.orgs.models import Organization, OrgKind
from tests.factories import ACTOR, NOW

# Documentation address space and AS numbers.
NET_A = "192.0.2.0/24"
NET_B = "198.51.100.0/24"
NET_C = "203.0.113.0/24"
NET6_A = "2001:db8::/32"
ASN_A, ASN_B = 64496, 64497


def directory_org(
    session: Session,
    name: str = "Example Hosting",
    kind: OrgKind = OrgKind.HOSTING_PROVIDER,
    country: str = "NL",
    **fields: Any,
) -> Organization:
    """An organization with any of ``add_org``'s fields (asns, networks, domains, ...)."""
    return orgs.add_org(session, ACTOR, name=name, kind=kind, country=country, now=NOW, **fields)


def with_orgs_api(app: FastAPI) -> FastAPI:
    """``app`` serving ``/api/v1/orgs``, whether or not the app factory registers it yet."""
    if not any(getattr(r, "path", "").startswith("/api/v1/orgs") for r in app.routes):
        app.include_router(router)
    return app
