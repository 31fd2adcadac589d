"""Console sign-in (password, then TOTP), sign-out, and the TOTP requirement of the API login."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pyotp
import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from takedown.app import create_app
from takedown.audit.models import AuditRecord
from takedown.auth import totp
from takedown.auth.models import User, UserSession
from takedown.cli.main import main
from takedown.clock import FrozenClock
from takedown.config import Settings
from takedown.console.auth_views import (
    FORM_COOKIE,
    PENDING_COOKIE,
    WRONG_CODE,
    WRONG_CREDENTIALS,
    safe_next,
)
from takedown.db.session import Database
from takedown.errors import ConfigurationError
from takedown.web.deps import SESSION_COOKIE
from tests.console.support import csrf_of
from tests.factories import NOW, PASSWORD, credentials, enrol_totp, user

_KEY = re.compile(r'id="totp-key">([A-Z2-7 ]+)<')


def _password_step(
    client: TestClient, username: str, password: str = PASSWORD, next_path: str | None = None
) -> TestClient:
    query = {"next": next_path} if next_path is not None else {}
    form = client.get("/console/login", params=query)
    assert form.status_code == 200
    response = client.post(
        "/console/login",
        data={
            "username": username,
            "password": password,
            "csrf_token": csrf_of(form.text),
            "next": next_path or "/console",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith("/console/login/totp")
    return client


def _code_step(client: TestClient, code: str, next_path: str = "/console") -> httpx.Response:
    form = client.get("/console/login/totp", params={"next": next_path})
    assert form.status_code == 200, form.text
    return client.post(
        "/console/login/totp",
        data={"code": code, "csrf_token": csrf_of(form.text), "next": next_path},
        follow_redirects=False,
    )


def _sign_in(client: TestClient, username: str, secret: str, next_path: str = "/console") -> str:
    """Both steps for an enrolled user; returns where the browser is sent."""
    _password_step(client, username, next_path=next_path)
    response = _code_step(client, pyotp.TOTP(secret).at(NOW), next_path)
    assert response.status_code == 303, response.text
    return response.headers["location"]


def _audited(database: Database, action: str) -> list[dict[str, object]]:
    """The details of the audit records of ``action``."""
    with database.transaction() as session:
        query = select(AuditRecord.details).where(AuditRecord.action == action)
        return [dict(d or {}) for d in session.scalars(query)]


def _sessions(database: Database) -> int:
    with database.transaction() as session:
        return session.scalar(select(func.count()).select_from(UserSession)) or 0


def _user(database: Database, username: str) -> User:
    with database.transaction() as session:
        found = session.scalars(select(User).where(User.username == username)).one()
        session.expunge(found)
        return found


# -- the console sign-in ---------------------------------------------------------------------


def test_first_sign_in_enrols_the_second_factor(
    client: TestClient, database: Database, settings: Settings
) -> None:
    user(database, "ana")
    _password_step(client, "ana")
    assert client.cookies.get(SESSION_COOKIE) is None  # the password alone signs nobody in

    page_ = client.get("/console/login/totp")
    assert "Set up your second factor" in page_.text
    assert 'src="data:image/svg+xml' in page_.text
    found = _KEY.search(page_.text)
    assert found is not None
    secret = found.group(1).replace(" ", "")
    assert len(secret) == 32

    response = client.post(
        "/console/login/totp",
        data={"code": pyotp.TOTP(secret).at(NOW), "csrf_token": csrf_of(page_.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/console"
    assert client.cookies.get(SESSION_COOKIE)
    cookie = response.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookie if c.startswith(f"{SESSION_COOKIE}="))
    assert "HttpOnly" in session_cookie
    assert "SameSite=strict" in session_cookie

    stored = _user(database, "ana")
    assert stored.totp_enrolled_at == NOW
    # Stored encrypted, and only the secret key's derived key opens it.
    assert stored.totp_secret is not None
    assert secret not in stored.totp_secret
    assert totp.decrypt_secret(stored.totp_secret, settings) == secret
    assert _sessions(database) == 1


def test_the_enrolment_page_never_shows_a_seed_twice(
    client: TestClient, database: Database
) -> None:
    user(database, "ana")
    _password_step(client, "ana")
    first = _KEY.search(client.get("/console/login/totp").text)
    second = _KEY.search(client.get("/console/login/totp").text)
    assert first is not None
    assert second is not None
    assert first.group(1) != second.group(1)


def test_a_wrong_code_during_enrolment_never_shows_that_seed_again(
    client: TestClient, database: Database
) -> None:
    """Whoever else has the password could post a wrong code to read the seed the user is
    scanning; so a refusal shows a new seed, and the old one no longer enrols."""
    user(database, "ana")
    _password_step(client, "ana")
    page_ = client.get("/console/login/totp")
    shown = _KEY.search(page_.text)
    assert shown is not None
    refused = client.post(
        "/console/login/totp",
        data={"code": "000000", "csrf_token": csrf_of(page_.text)},
        follow_redirects=False,
    )
    assert refused.status_code == 401
    assert "the key has changed" in refused.text
    again = _KEY.search(refused.text)
    assert again is not None
    assert again.group(1) != shown.group(1)
    assert _user(database, "ana").totp_enrolled_at is None
    old_code = pyotp.TOTP(shown.group(1).replace(" ", "")).at(NOW)
    stale = client.post(
        "/console/login/totp",
        data={"code": old_code, "csrf_token": csrf_of(refused.text)},
        follow_redirects=False,
    )
    assert stale.status_code == 401
    assert _user(database, "ana").totp_enrolled_at is None


def test_an_enrolled_user_is_asked_only_for_the_code(
    client: TestClient, database: Database, settings: Settings
) -> None:
    user(database, "ana")
    secret = enrol_totp(database, "ana", settings)
    _password_step(client, "ana")
    page_ = client.get("/console/login/totp")
    assert "Your code" in page_.text
    assert "data:image" not in page_.text
    assert _KEY.search(page_.text) is None
    assert _sign_in(client, "ana", secret) == "/console"
    assert client.cookies.get(SESSION_COOKIE)


def test_a_wrong_code_signs_nobody_in(
    client: TestClient, database: Database, settings: Settings
) -> None:
    user(database, "ana")
    secret = enrol_totp(database, "ana", settings)
    _password_step(client, "ana")
    wrong = pyotp.TOTP(secret).at(NOW - timedelta(minutes=5))
    response = _code_step(client, wrong)
    assert response.status_code == 401
    assert WRONG_CODE in response.text
    assert client.cookies.get(SESSION_COOKIE) is None
    assert _sessions(database) == 0
    # Kept in the audit log: a wrong code after the right password may mean the password is
    # known to somebody else.
    assert _audited(database, "user.login_refused") == [{"factor": "totp"}]


def test_the_last_sign_in_is_recorded_only_after_the_code(
    client: TestClient, database: Database, settings: Settings
) -> None:
    # The password alone is not a sign-in: a stolen password whose owner's code is missing
    # must not show up as the owner's last sign-in.
    user(database, "ana")
    secret = enrol_totp(database, "ana", settings)
    _password_step(client, "ana")
    assert _user(database, "ana").last_login_at is None
    assert _code_step(client, pyotp.TOTP(secret).at(NOW - timedelta(minutes=5))).status_code == 401
    assert _user(database, "ana").last_login_at is None
    assert _code_step(client, pyotp.TOTP(secret).at(NOW)).status_code == 303
    assert _user(database, "ana").last_login_at == NOW


def test_a_code_is_accepted_once(
    client: TestClient, app: FastAPI, database: Database, settings: Settings
) -> None:
    user(database, "ana")
    secret = enrol_totp(database, "ana", settings)
    _sign_in(client, "ana", secret)
    # Someone who saw the code typed tries it within the same 30 seconds, from elsewhere.
    with TestClient(app, base_url="http://testserver") as other:
        _password_step(other, "ana")
        response = _code_step(other, pyotp.TOTP(secret).at(NOW))
        assert response.status_code == 401
        assert other.cookies.get(SESSION_COOKIE) is None
    assert _sessions(database) == 1


def test_codes_of_the_neighbouring_steps_count_but_not_further(
    database: Database, settings: Settings
) -> None:
    user(database, "ana")
    secret = enrol_totp(database, "ana", settings)
    otp = pyotp.TOTP(secret)
    with database.transaction() as session:
        ana = session.scalars(select(User).where(User.username == "ana")).one()
        assert not totp.verify(ana, otp.at(NOW - timedelta(seconds=60)), NOW, settings)
        assert not totp.verify(ana, otp.at(NOW + timedelta(seconds=60)), NOW, settings)
        assert not totp.verify(ana, "12345", NOW, settings)
        assert not totp.verify(ana, "abcdef", NOW, settings)
        assert totp.verify(ana, otp.at(NOW - timedelta(seconds=30)), NOW, settings)
        code = otp.at(NOW)
        assert totp.verify(ana, f"{code[:3]} {code[3:]}", NOW, settings)
        # Once a step is used, it and every older one are spent.
        assert not totp.verify(ana, otp.at(NOW - timedelta(seconds=30)), NOW, settings)
        assert not totp.verify(ana, code, NOW, settings)
        assert totp.verify(ana, otp.at(NOW + timedelta(seconds=30)), NOW, settings)


def test_wrong_password_and_unknown_user_read_the_same(
    client: TestClient, database: Database
) -> None:
    user(database, "ana")
    answers = []
    for username, password in (("ana", "not the password!"), ("nobody", PASSWORD)):
        form = client.get("/console/login")
        response = client.post(
            "/console/login",
            data={"username": username, "password": password, "csrf_token": csrf_of(form.text)},
            follow_redirects=False,
        )
        assert response.status_code == 401
        assert WRONG_CREDENTIALS in response.text
        assert client.cookies.get(PENDING_COOKIE) is None
        answers.append(response.text.replace(username, "NAME").replace(csrf_of(response.text), ""))
    assert answers[0] == answers[1]


def test_the_password_form_needs_its_token(client: TestClient, database: Database) -> None:
    user(database, "ana")
    # As a form posted from another site: no token cookie, no token field.
    response = client.post(
        "/console/login",
        data={"username": "ana", "password": PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert client.cookies.get(PENDING_COOKIE) is None
    form = client.get("/console/login")
    forged = client.post(
        "/console/login",
        data={"username": "ana", "password": PASSWORD, "csrf_token": "x" + csrf_of(form.text)},
        follow_redirects=False,
    )
    assert forged.status_code == 403


def test_the_code_form_needs_its_token(
    client: TestClient, database: Database, settings: Settings
) -> None:
    user(database, "ana")
    secret = enrol_totp(database, "ana", settings)
    _password_step(client, "ana")
    client.cookies.delete(FORM_COOKIE, path="/")
    response = client.post(
        "/console/login/totp",
        data={"code": pyotp.TOTP(secret).at(NOW), "csrf_token": "made-up"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert client.cookies.get(SESSION_COOKIE) is None


def test_the_half_done_sign_in_expires(
    client: TestClient, database: Database, settings: Settings, clock: FrozenClock
) -> None:
    user(database, "ana")
    enrol_totp(database, "ana", settings)
    _password_step(client, "ana", next_path="/console/queue")
    clock.advance(timedelta(minutes=5, seconds=1))
    response = client.get("/console/login/totp", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/login")
    assert not response.headers["location"].startswith("/console/login/totp")


def test_a_forged_pending_cookie_is_refused(client: TestClient, database: Database) -> None:
    staff = user(database, "ana")
    client.cookies.set(PENDING_COOKIE, f"{staff.id}:9999999999.forged", path="/")
    response = client.get("/console/login/totp", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, "/console"),
        ("", "/console"),
        ("https://evil.example/console", "/console"),
        ("//evil.example", "/console"),
        ("//evil.example/console", "/console"),
        ("/\\evil.example", "/console"),
        ("/console@evil.example", "/console"),
        ("/consoles", "/console"),
        ("/report", "/console"),
        ("javascript:alert(1)", "/console"),
        ("/console/queue", "/console/queue"),
        ("/console/cases/1?tab=notes", "/console/cases/1?tab=notes"),
        ("/console/../report\n", "/console"),
    ],
)
def test_next_is_a_console_path_or_nothing(given: str | None, expected: str) -> None:
    assert safe_next(given) == expected


@pytest.mark.parametrize("evil", ["https://evil.example", "//evil.example"])
def test_sign_in_never_redirects_off_site(
    client: TestClient, database: Database, settings: Settings, evil: str
) -> None:
    user(database, "ana")
    secret = enrol_totp(database, "ana", settings)
    form = client.get("/console/login", params={"next": evil})
    assert "evil.example" not in form.text
    assert _sign_in(client, "ana", secret, next_path=evil) == "/console"


def test_sign_in_returns_to_the_page_asked_for(
    client: TestClient, database: Database, settings: Settings
) -> None:
    user(database, "ana")
    secret = enrol_totp(database, "ana", settings)
    assert _sign_in(client, "ana", secret, next_path="/console/queue?x=1") == "/console/queue?x=1"


def test_an_expired_session_goes_back_to_sign_in(
    client: TestClient, database: Database, settings: Settings, clock: FrozenClock
) -> None:
    user(database, "ana")
    secret = enrol_totp(database, "ana", settings)
    _sign_in(client, "ana", secret)
    assert client.get("/console/queue", follow_redirects=False).status_code == 200
    clock.advance(settings.session_ttl + timedelta(seconds=1))
    response = client.get("/console/queue", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?next=/console/queue"


def test_signed_in_visitors_skip_the_sign_in_page(
    client: TestClient, database: Database, settings: Settings
) -> None:
    user(database, "ana")
    secret = enrol_totp(database, "ana", settings)
    _sign_in(client, "ana", secret)
    response = client.get("/console/login?next=/console/queue", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/queue"


def test_sign_out_needs_the_csrf_token(
    client: TestClient, database: Database, settings: Settings
) -> None:
    user(database, "ana")
    secret = enrol_totp(database, "ana", settings)
    _sign_in(client, "ana", secret)
    with database.transaction() as session:
        csrf = session.scalars(select(UserSession.csrf_token)).one()

    refused = client.post("/console/logout", data={}, follow_redirects=False)
    assert refused.status_code == 403
    assert _sessions(database) == 1

    done = client.post("/console/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"] == "/console/login"
    assert client.cookies.get(SESSION_COOKIE) is None
    assert _sessions(database) == 0
    assert len(_audited(database, "user.logout")) == 1


# -- the API sign-in -------------------------------------------------------------------------


def test_the_api_needs_the_code_once_enrolled(
    client: TestClient, database: Database, settings: Settings
) -> None:
    user(database, "ana")
    secret = enrol_totp(database, "ana", settings)
    body = {"username": "ana", "password": PASSWORD}
    missing = client.post("/api/v1/auth/login", json=body)
    assert missing.status_code == 401
    assert "totp" in missing.json()["detail"]
    wrong = client.post("/api/v1/auth/login", json=body | {"totp": "000000"})
    assert wrong.status_code == 401
    assert _user(database, "ana").last_login_at is None  # the password alone is no sign-in
    good = client.post("/api/v1/auth/login", json=body | {"totp": pyotp.TOTP(secret).at(NOW)})
    assert good.status_code == 200, good.text
    assert _user(database, "ana").last_login_at == NOW
    again = client.post("/api/v1/auth/login", json=body | {"totp": pyotp.TOTP(secret).at(NOW)})
    assert again.status_code == 401  # the same code, the same step: used up


def test_the_api_refuses_users_without_a_second_factor(
    client: TestClient, database: Database
) -> None:
    user(database, "ana")
    response = client.post("/api/v1/auth/login", json={"username": "ana", "password": PASSWORD})
    assert response.status_code == 403
    assert "enrol a second factor by signing in to the console first" in response.json()["detail"]
    # A wrong password still reads as a wrong password, not as a missing second factor.
    wrong = client.post("/api/v1/auth/login", json={"username": "ana", "password": "x" * 12})
    assert wrong.status_code == 401


def test_without_totp_required_a_password_is_enough_for_the_api(
    settings: Settings, database: Database, clock: FrozenClock
) -> None:
    relaxed = create_app(
        settings.model_copy(update={"totp_required": False}), database=database, clock=clock
    )
    user(database, "ana")
    with TestClient(relaxed, base_url="http://testserver") as client:
        response = client.post("/api/v1/auth/login", json={"username": "ana", "password": PASSWORD})
        assert response.status_code == 200, response.text
        # Once enrolled, the code is needed all the same.
        enrol_totp(database, "ana", settings)
        refused = client.post("/api/v1/auth/login", json={"username": "ana", "password": PASSWORD})
        assert refused.status_code == 401
        assert client.post(
            "/api/v1/auth/login", json=credentials(client, database, "ana")
        ).is_success


def test_a_wrong_secret_key_cannot_read_the_seed(settings: Settings) -> None:
    stored = totp.encrypt_secret("JBSWY3DPEHPK3PXP", settings)
    other = settings.model_copy(
        update={"secret_key": "another-secret-key-of-32-characters-or-more"}
    )
    with pytest.raises(ConfigurationError, match="reset-totp"):
        totp.decrypt_secret(stored, other)


# -- the administrator's reset ---------------------------------------------------------------


def test_reset_totp_makes_the_user_enrol_again(
    database_url: str, committed: Database, settings: Settings, tmp_path: object
) -> None:
    user(committed, "ana")
    enrol_totp(committed, "ana", settings)
    env = {"TAKEDOWN_DATABASE_URL": database_url, "TAKEDOWN_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(main, ["users", "reset-totp", "ana"], env=env)
    assert result.exit_code == 0, result.output
    reset = _user(committed, "ana")
    assert reset.totp_secret is None
    assert reset.totp_enrolled_at is None
    unknown = CliRunner().invoke(main, ["users", "reset-totp", "nobody"], env=env)
    assert unknown.exit_code != 0
    assert "no user named" in unknown.output
