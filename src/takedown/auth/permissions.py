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
            P.BANKS_READ,
            P.BANKS_WRITE,
            P.MATCH,
            P.ORGS_READ,
            P.LISTS_READ,
            P.LISTS_WRITE,
            P.LISTS_PUBLISH,
        }
    ),
    # Analysts see what matched and why, and who hosts a case; curating banks is a
    # supervisor's decision, editing the directory an administrator's.
    Role.ANALYST: frozenset(
        {
            P.REPORTS_WRITE,
            P.CASES_READ,
            P.CASES_ASSESS,
            P.BANKS_READ,
            P.MATCH,
            P.ORGS_READ,
            P.LISTS_READ,
            P.LISTS_WRITE,
        }
    ),
    # Police see cases (for deconfliction) but do not assess them.
    Role.POLICE: frozenset({P.CASES_READ, P.POLICE_ACT}),
}

# What an organization's API key may be granted. Keys never manage users or read the audit log,
# and never read the directory (other organizations' contacts and webhooks are not theirs).
# ``match`` lets a hosting provider check its storage against the banks; keys never read or
# curate banks, so the hash lists themselves do not leave the hotline through the API
# (HMA #1978: match-as-a-service keeps lists from leaking).
# ``lists:read`` lets a member download the lists it is entitled to (see lists.members).
KEY_SCOPES: frozenset[P] = frozenset(
    {P.REPORTS_WRITE, P.CASES_READ, P.MATCH, P.NOTICES_ANSWER, P.LISTS_READ}
)
DEFAULT_KEY_SCOPES: frozenset[P] = frozenset({P.REPORTS_WRITE})
