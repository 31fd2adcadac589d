"""Console test helpers: a signed-in browser-like client without going through the forms.

The sign-in pages themselves (password, TOTP) are tested in test_auth.py; other page tests
start from a session made directly, as the sign-in would make it.
"""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from takedown.auth import service as auth
from takedown.auth.models import Role, User
from takedown.db.session import Database
from takedown.web.deps import SESSION_COOKIE
from tests.factories import NOW, user

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def sign_in(
    client: TestClient, database: Database, role: Role, username: str | None = None
) -> tuple[User, str]:
    """A new user of ``role`` with a session cookie on ``client``; returns (user, CSRF token)."""
    staff = user(database, username or f"c-{role.value}", role)
    with database.transaction() as session:
        fresh = session.get_one(User, staff.id)
        token, row = auth.start_session(session, fresh, client.app.state.takedown.settings, now=NOW)
        csrf = row.csrf_token
    client.cookies.set(SESSION_COOKIE, token)
    return staff, csrf


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = _CSRF.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)
