"""The admin pages: staff users, organizations and API keys, banks, routing rules, deadlines and
caps, background jobs.

Each page needs the permission its API needs: ``users:manage`` for users, ``orgs:manage`` for
the directory, its keys and the routing rules (as ``routing/api.py``), ``banks:write`` for
banks, ``jobs:manage`` to retry jobs. The deadlines and caps have no permission of their own;
``users:manage`` guards them because only administrators hold it. The index is open to anyone
holding one of these, and lists what they may use.

Every form carries the CSRF token (checked by ``page``). A refused form is shown again with the
error beside its field and what was typed; each change runs in a savepoint, so a change refused
halfway leaves nothing behind although the page is rendered in a committed transaction. Every
change is audited by the service that makes it.
"""

from __future__ import annotations

from fastapi import APIRouter

from takedown.console.admin import banks, index, jobs, orgs, routing, settings, users

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
router.include_router(index.router)
router.include_router(users.router)
router.include_router(orgs.router)
router.include_router(banks.router)
router.include_router(routing.router)
router.include_router(settings.router)
router.include_router(jobs.router)
