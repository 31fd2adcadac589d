"""What the admin sections share: the permission each page needs, and refused forms."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any, Final

from fastapi import Depends

from takedown.auth.principal import Permission
from takedown.console.deps import Viewer, page
from takedown.errors import TakedownError

ADMIN: Final = "/console/admin"

# Every staff role reads cases; the index then checks for an admin permission itself.
Staff = Annotated[Viewer, Depends(page(Permission.CASES_READ))]
UserAdmin = Annotated[Viewer, Depends(page(Permission.USERS_MANAGE))]
OrgAdmin = Annotated[Viewer, Depends(page(Permission.ORGS_MANAGE))]
BankAdmin = Annotated[Viewer, Depends(page(Permission.BANKS_WRITE))]
JobReader = Annotated[Viewer, Depends(page(Permission.JOBS_READ))]
JobAdmin = Annotated[Viewer, Depends(page(Permission.JOBS_MANAGE))]
SettingsAdmin = UserAdmin


@dataclass
class FormState:
    """A form as shown again after it was refused: errors by field, and what was typed."""

    errors: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    # 422 for a value refused, 409 for a conflict with what exists (a name taken).
    status_code: int = 422

    def refused(self, name: str, exc: TakedownError) -> None:
        self.errors[name] = exc.message
        self.status_code = exc.status_code


def _field_of(exc: TakedownError, fields: Iterable[str], default: str) -> str:
    """The form field an error is about: the ``field`` it carries (orgs' checks set it), else
    the field its message starts with (``"name: ..."``, ``"notes must be..."``), else
    ``default``."""
    known = set(fields)
    named = exc.extra.get("field")
    if isinstance(named, str) and named in known:
        return named
    first = exc.message.split(" ", 1)[0].rstrip(":")
    return first if first in known else default
