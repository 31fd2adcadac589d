"""The admin index: open to anyone holding one admin permission, it lists what they may use."""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from takedown.auth.principal import Permission
from takedown.console.admin.common import ADMIN, Staff
from takedown.console.deps import PageForbidden, view

router = APIRouter(include_in_schema=False)
# What opens the index: any one of these.
ADMIN_PERMISSIONS: Final = (
    Permission.USERS_MANAGE,
    Permission.ORGS_MANAGE,
    Permission.BANKS_WRITE,
    Permission.JOBS_MANAGE,
)


@router.get(ADMIN, response_class=HTMLResponse)
def admin_index(request: Request, viewer: Staff) -> HTMLResponse:
    if not any(viewer.can(p) for p in ADMIN_PERMISSIONS):
        raise PageForbidden(f"Your role ({viewer.user.role.label}) cannot open this page.")
    return view(request, "console/admin_index.html", viewer, {})
