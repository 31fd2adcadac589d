"""Who is acting: a staff user, an organization's API key, the anonymous public, or the system."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum


class Permission(StrEnum):
    """What an action needs. Roles and API key scopes are sets of these."""

    REPORTS_WRITE = "reports:write"
    CASES_READ = "cases:read"
    CASES_ASSESS = "cases:assess"
    CASES_SUPERVISE = "cases:supervise"
    JOBS_READ = "jobs:read"
    JOBS_MANAGE = "jobs:manage"
    # The directory: who hosts, routes, registers; staff need it to follow a case.
    ORGS_READ = "orgs:read"
    ORGS_MANAGE = "orgs:manage"
    USERS_MANAGE = "users:manage"
    AUDIT_READ = "audit:read"
    # Hash matching: see banks and their entries; curate them; hash and match content.
    BANKS_READ = "banks:read"
    BANKS_WRITE = "banks:write"
    MATCH = "match"
    # Police deconfliction: clear a case for notices or hold it.
    POLICE_ACT = "police:act"
    # An organization answers the notices sent to it (acknowledged, removed, ...).
    NOTICES_ANSWER = "notices:answer"
    # Lists: download them (members' keys, staff); add and withdraw entries and keywords, be the
    # second person on a whole host; publish past the guard, manage members, decide appeals.
    LISTS_READ = "lists:read"
    LISTS_WRITE = "lists:write"
    LISTS_PUBLISH = "lists:publish"


@dataclass(frozen=True)
class Principal:
    """The authenticated party behind a request, a job or a command."""

    kind: str  # "user", "api_key", "public", "system"
    id: str | None
    label: str
    permissions: frozenset[Permission] = field(default_factory=frozenset)
    user_id: uuid.UUID | None = None
    org_id: uuid.UUID | None = None
    org_kind: str | None = None
    api_key_id: uuid.UUID | None = None

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions


PUBLIC = Principal(kind="public", id=None, label="public reporter")
SYSTEM = Principal(kind="system", id=None, label="system", permissions=frozenset(Permission))


def cli_principal(name: str) -> Principal:
    """The operator running a ``takedown`` command on the server."""
    return Principal(kind="cli", id=None, label=f"cli:{name}", permissions=frozenset(Permission))
