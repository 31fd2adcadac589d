"""The API fuzzed from its own OpenAPI document: no 5xx, and every answer as documented.

Schemathesis generates requests for every operation from ``/openapi.json`` (valid ones and,
for a share, invalid ones) and sends them to the app in-process, three ways: with an API key
holding every scope, with an administrator's session, and with no credentials. Each answer
must not be a server error, and its status, media type and body must be what the document
says for that operation (``web/openapi.py`` documents the errors).

The budget keeps ``make test`` reasonable: a few examples per operation and way of calling,
derandomized, so a run is repeatable and a failure comes back on the next run. Nothing
leaves the machine: the fetcher uses the static resolver (no DNS), notices and captures are
only enqueued as jobs, and no worker runs here.

Select it alone with ``-m fuzz``; it runs by default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from takedown.auth import service as auth
from takedown.auth.models import Role, User
from takedown.auth.permissions import KEY_SCOPES
from takedown.db.session import Database
from takedown.web.deps import CSRF_HEADER, SESSION_COOKIE
from tests import factories

pytestmark = pytest.mark.fuzz

# Examples per operation and way of calling; about 110 operations, three ways.
EXAMPLES = 6
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@dataclass
class Credentials:
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)


def _key(database: Database) -> Credentials:
    key = factories.api_key(database, "Fuzz hotline", scopes=tuple(sorted(KEY_SCOPES)))
    return Credentials(headers=factories.bearer(key))


def _staff(database: Database, app: FastAPI) -> Credentials:
    # A session made as the sign-in makes it (the API sign-in needs a TOTP code).
    admin = factories.user(database, "fuzz-admin", Role.ADMIN)
    with database.transaction() as session:
        token, row = auth.start_session(
            session, session.get_one(User, admin.id), app.state.takedown.settings, now=factories.NOW
        )
        csrf = row.csrf_token
    return Credentials(headers={CSRF_HEADER: csrf}, cookies={SESSION_COOKIE: token})


@pytest.fixture(params=["api_key", "staff", "anonymous"])
def credentials(request: pytest.FixtureRequest, database: Database, app: FastAPI) -> Credentials:
    if request.param == "api_key":
        return _key(database)
    if request.param == "staff":
        return _staff(database, app)
    return Credentials()


@pytest.fixture
def operations(app: FastAPI) -> list[Any]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


def test_every_operation_answers_as_documented(
    operations: list[Any], credentials: Credentials
) -> None:
    failures: list[str] = []
    for operation in operations:
        strategy = st.one_of(
            operation.as_strategy(schemathesis.GenerationMode.POSITIVE),
            operation.as_strategy(schemathesis.GenerationMode.NEGATIVE),
        )

        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def call(case: schemathesis.Case) -> None:
            case.call_and_validate(
                headers=credentials.headers, cookies=credentials.cookies, checks=CHECKS
            )

        try:
            call()
        except (Exception, BaseExceptionGroup) as exc:  # all operations tried, failures reported
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)
