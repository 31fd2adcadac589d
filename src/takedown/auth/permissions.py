"""Which role may do what."""

from __future__ import annotations

from takedown.auth.models import Role
from takedown.auth.principal import Permission as P

ROLE_PERMISSIONS: dict[Role, frozenset[P]] = {
    Role.ADMIN: frozenset(P),
    Role.SUPERVISOR: frozenset(
        {
            P.REPORTS_WRITE,
            P.CASES_READ,
            P.CASES_ASSESS,
            P.CASES_SUPERVISE,
            P.JOBS_READ,
            P.JOBS_MANAGE,
            P.AUDIT_READ,
        }
    ),
    Role.ANALYST: frozenset({P.REPORTS_WRITE, P.CASES_READ, P.CASES_ASSESS}),
    # Police see cases (for deconfliction) but do not assess them.
    Role.POLICE: frozenset({P.CASES_READ}),
}

# What an organization's API key may be granted. Keys never manage users or read the audit log.
KEY_SCOPES: frozenset[P] = frozenset({P.REPORTS_WRITE, P.CASES_READ})
DEFAULT_KEY_SCOPES: frozenset[P] = frozenset({P.REPORTS_WRITE})
