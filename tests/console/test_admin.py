"""The admin pages: who may open them, users, organizations and keys, banks, routing, jobs, CSRF."""

from __future__ import annotations

import hashlib
import re
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from takedown.audit.models import AuditRecord
from takedown.auth import service as auth
from takedown.auth.models import Role, User, UserSession
from takedown.config import Settings
from takedown.db.session import Database
from takedown.jobs import service as jobs
from takedown.jobs.models import Job, JobStatus
from takedown.matching import banks
from takedown.matching.models import Bank
from takedown.orgs import service as orgs
from takedown.orgs.models import ApiKey, Organization, OrgKind
from takedown.routing import rules
from takedown.routing.models import PoliceTimeout, RoutingRule
from takedown.runtime import RuntimeSetting
from tests.console.support import csrf_of, sign_in
from tests.factories import ACTOR, NOW, PASSWORD, org, user

ADMIN = "/console/admin"
NEW_PASSWORD = "a long enough passphrase"
_KEY = re.compile(r'id="new-key"[^>]*value="(td_[^"]+)"')

# Every admin form, with a body that would change something if it were accepted.
ADMIN_POSTS = [
    (f"{ADMIN}/users", {"username": "eve", "role": "admin", "password": NEW_PASSWORD}),
    (f"{ADMIN}/users/{{user}}/role", {"role": "admin"}),
    (f"{ADMIN}/users/{{user}}/active", {"active": "no"}),
    (f"{ADMIN}/users/{{user}}/reset-totp", {}),
    (f"{ADMIN}/orgs", {"name": "Evil Org", "kind": "other", "country": "NL"}),
    (f"{ADMIN}/orgs/{{org}}/keys", {"scopes": "reports:write"}),
    (f"{ADMIN}/keys/{{key}}/revoke", {}),
    (f"{ADMIN}/banks", {"name": "evil", "role": "block_list", "pdq_threshold": "31"}),
    (f"{ADMIN}/banks/known/enabled", {"enabled": "no"}),
    (
        f"{ADMIN}/routing",
        {"country": "DE", "police_wait": "1h", "on_timeout": "proceed", "police_first": "on"},
    ),
    (f"{ADMIN}/routing/delete", {"country": "FR"}),
    (f"{ADMIN}/settings", {"deadline_public": "2h"}),
    (f"{ADMIN}/settings/reset", {"key": "deadline_police"}),
    (f"{ADMIN}/jobs/{{job}}/retry", {}),
]


def audit_actions(database: Database) -> list[str]:
    with database.transaction() as session:
        return list(session.scalars(select(AuditRecord.action).order_by(AuditRecord.seq)))


def fixtures(database: Database) -> dict[str, str]:
    """Something for every admin form to act on: a user, an org with a key, a bank, rules, a
    changed setting and a failed job."""
    target = user(database, "target", Role.ANALYST)
    with database.transaction() as session:
        owner = org(session, "Keyholder", OrgKind.HOSTING_PROVIDER)
        _, key = orgs.create_key(session, ACTOR, owner, scopes=["reports:write"], now=NOW)
        banks.create_bank(session, ACTOR, name="known", now=NOW)
        rules.set_rule(session, ACTOR, "FR", now=NOW, home_country="NL", police_first=True)
        session.add(
            RuntimeSetting(key="deadline_police", value="PT2H", updated_by="x", updated_at=NOW)
        )
        job = failed_job(session)
        return {"user": str(target.id), "org": str(owner.id), "key": str(key.id), "job": str(job)}


def failed_job(session: Session) -> uuid.UUID:
    job = jobs.enqueue(session, "tests.flaky", {"n": 1}, run_at=NOW)
    job.status = JobStatus.FAILED
    job.attempts = 6
    job.last_error = "ConnectionError: the <relay> went away"
    session.flush()
    return job.id


def snapshot(database: Database) -> tuple[object, ...]:
    """What the admin forms change, to compare before and after a refused request."""
    with database.transaction() as session:
        return (
            session.scalar(select(func.count()).select_from(User)),
            sorted((u.username, u.role.value, u.is_active) for u in session.scalars(select(User))),
            session.scalar(select(func.count()).select_from(Organization)),
            sorted((k.prefix, k.revoked_at is None) for k in session.scalars(select(ApiKey))),
            sorted((b.name, b.enabled) for b in session.scalars(select(Bank))),
            sorted(r.country for r in session.scalars(select(RoutingRule))),
            sorted(s.key for s in session.scalars(select(RuntimeSetting))),
            sorted(j.status.value for j in session.scalars(select(Job))),
        )


# -- who may open what -----------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.ANALYST, Role.POLICE])
def test_analysts_and_police_cannot_open_admin_pages(
    client: TestClient, database: Database, role: Role
) -> None:
    sign_in(client, database, role)
    for path in ("", "/users", "/orgs", "/banks", "/routing", "/settings", "/jobs"):
        response = client.get(ADMIN + path)
        assert response.status_code == 403, path
        assert "cannot open this page" in response.text
    assert 'href="/console/admin"' not in client.get(ADMIN).text


def test_police_cannot_open_the_queue(client: TestClient, database: Database) -> None:
    sign_in(client, database, Role.POLICE)
    response = client.get("/console/queue")
    assert response.status_code == 403


@pytest.mark.parametrize(("path", "form"), ADMIN_POSTS)
def test_an_analyst_cannot_post_to_admin_routes(
    client: TestClient, database: Database, path: str, form: dict[str, str]
) -> None:
    ids = fixtures(database)
    _, csrf = sign_in(client, database, Role.ANALYST)
    before = snapshot(database)

    response = client.post(path.format(**ids), data={"csrf_token": csrf, **form})

    assert response.status_code == 403
    assert snapshot(database) == before


@pytest.mark.parametrize(("path", "form"), ADMIN_POSTS)
def test_every_admin_post_needs_the_csrf_token(
    client: TestClient, database: Database, path: str, form: dict[str, str]
) -> None:
    ids = fixtures(database)
    sign_in(client, database, Role.ADMIN)
    before = snapshot(database)

    missing = client.post(path.format(**ids), data=form)
    wrong = client.post(path.format(**ids), data={"csrf_token": "not-the-token", **form})

    assert (missing.status_code, wrong.status_code) == (403, 403)
    assert "security token" in missing.text
    assert snapshot(database) == before


def test_a_supervisor_sees_the_banks_and_jobs_only(client: TestClient, database: Database) -> None:
    sign_in(client, database, Role.SUPERVISOR)
    index = client.get(ADMIN)
    assert index.status_code == 200
    assert 'href="/console/admin/banks"' in index.text
    assert 'href="/console/admin/jobs"' in index.text
    assert 'href="/console/admin/users"' not in index.text
    assert client.get(f"{ADMIN}/users").status_code == 403
    assert client.get(f"{ADMIN}/settings").status_code == 403
    assert client.get(f"{ADMIN}/banks").status_code == 200


def test_the_admin_index_links_every_page(client: TestClient, database: Database) -> None:
    sign_in(client, database, Role.ADMIN)
    index = client.get(ADMIN)
    assert index.status_code == 200
    for path in ("/users", "/orgs", "/banks", "/routing", "/settings", "/jobs"):
        assert f'href="{ADMIN}{path}"' in index.text
        assert client.get(ADMIN + path).status_code == 200, path


# -- users -----------------------------------------------------------------------------------


def test_an_admin_creates_a_user_who_can_sign_in(client: TestClient, database: Database) -> None:
    _, csrf = sign_in(client, database, Role.ADMIN)

    response = client.post(
        f"{ADMIN}/users",
        data={
            "csrf_token": csrf,
            "username": "bea",
            "display_name": "Bea B.",
            "role": "supervisor",
            "password": NEW_PASSWORD,
        },
        follow_redirects=False,
    )

    assert response.status_code == 303
    assert response.headers["location"] == f"{ADMIN}/users"
    with database.transaction() as session:
        created = auth.authenticate(session, "bea", NEW_PASSWORD, now=NOW)
        assert (created.role, created.display_name) == (Role.SUPERVISOR, "Bea B.")
        assert NEW_PASSWORD not in created.password_hash
    assert "user.create" in audit_actions(database)
    assert "bea" in client.get(f"{ADMIN}/users").text


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"username": "bea", "role": "analyst", "password": "short"}, "password", "12 characters"),
        ({"username": "", "role": "analyst", "password": NEW_PASSWORD}, "username", "username"),
        (
            {"username": "c-admin", "role": "analyst", "password": NEW_PASSWORD},
            "username",
            "exists",
        ),
        ({"username": "bea", "role": "owner", "password": NEW_PASSWORD}, "role", "choose a role"),
    ],
    ids=["short-password", "no-username", "taken", "bad-role"],
)
def test_a_refused_user_shows_the_error_beside_the_field(
    client: TestClient, database: Database, form: dict[str, str], field: str, message: str
) -> None:
    _, csrf = sign_in(client, database, Role.ADMIN)
    before = snapshot(database)

    response = client.post(f"{ADMIN}/users", data={"csrf_token": csrf, **form})

    assert response.status_code in (409, 422)
    error = response.text.split(f'id="{field}-error">', 1)[1].split("</span>", 1)[0]
    assert message in error
    # What was typed comes back, except the password.
    assert NEW_PASSWORD not in response.text
    assert snapshot(database) == before


def test_an_admin_changes_roles_deactivates_and_resets_the_second_factor(
    client: TestClient, database: Database, settings: Settings
) -> None:
    target = user(database, "target", Role.ANALYST)
    with database.transaction() as session:
        row = session.get_one(User, target.id)
        row.totp_secret = "encrypted-seed"
        row.totp_enrolled_at = NOW
        auth.start_session(session, row, settings, now=NOW)
    _, csrf = sign_in(client, database, Role.ADMIN)
    base = f"{ADMIN}/users/{target.id}"

    assert client.post(f"{base}/role", data={"csrf_token": csrf, "role": "supervisor"}).is_success
    assert client.post(f"{base}/reset-totp", data={"csrf_token": csrf}).is_success
    assert client.post(f"{base}/active", data={"csrf_token": csrf, "active": "no"}).is_success

    with database.transaction() as session:
        row = session.get_one(User, target.id)
        assert (row.role, row.is_active) == (Role.SUPERVISOR, False)
        assert (row.totp_secret, row.totp_enrolled_at) == (None, None)
        sessions = select(func.count()).where(UserSession.user_id == target.id)
        assert session.scalar(sessions) == 0
    assert audit_actions(database)[-3:] == ["user.role", "user.totp_reset", "user.deactivate"]

    assert client.post(f"{base}/active", data={"csrf_token": csrf, "active": "yes"}).is_success
    with database.transaction() as session:
        assert session.get_one(User, target.id).is_active is True


def test_an_admin_cannot_lock_themselves_out(client: TestClient, database: Database) -> None:
    admin, csrf = sign_in(client, database, Role.ADMIN)

    demoted = client.post(
        f"{ADMIN}/users/{admin.id}/role", data={"csrf_token": csrf, "role": "analyst"}
    )
    disabled = client.post(
        f"{ADMIN}/users/{admin.id}/active", data={"csrf_token": csrf, "active": "no"}
    )

    assert (demoted.status_code, disabled.status_code) == (409, 409)
    assert "your own account" in demoted.text
    with database.transaction() as session:
        row = session.get_one(User, admin.id)
        assert (row.role, row.is_active) == (Role.ADMIN, True)


# -- organizations and API keys --------------------------------------------------------------


def test_an_admin_adds_an_org_and_creates_a_key_shown_once(
    client: TestClient, database: Database
) -> None:
    _, csrf = sign_in(client, database, Role.ADMIN)

    added = client.post(
        f"{ADMIN}/orgs",
        data={
            "csrf_token": csrf,
            "name": "Example Hosting",
            "kind": "hosting_provider",
            "country": "nl",
            "abuse_email": "abuse@hosting.example",
        },
        follow_redirects=False,
    )
    assert added.status_code == 303
    org_page = added.headers["location"]
    with database.transaction() as session:
        created = session.scalars(select(Organization)).one()
        assert (created.name, created.country, created.abuse_email) == (
            "Example Hosting",
            "NL",
            "abuse@hosting.example",
        )
    assert org_page == f"{ADMIN}/orgs/{created.id}"

    response = client.post(
        f"{org_page}/keys",
        data={"csrf_token": csrf, "label": "ingest", "scopes": ["reports:write", "cases:read"]},
    )

    assert response.status_code == 200
    found = _KEY.search(response.text)
    assert found is not None
    key = found.group(1)
    assert "shown this once" in response.text
    with database.transaction() as session:
        row = session.scalars(select(ApiKey)).one()
        # Only the hash is stored; the clear key is nowhere in the row.
        assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
        assert key not in repr([getattr(row, c) for c in ("prefix", "key_hash", "label")])
        assert (row.label, row.scopes) == ("ingest", ["cases:read", "reports:write"])
    # Authenticates, and is never shown again.
    assert (
        client.get("/api/v1/cases", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    )
    again = client.get(org_page)
    assert key not in again.text
    assert "ingest" in again.text
    assert {"org.create", "api_key.create"} <= set(audit_actions(database))

    revoked = client.post(
        f"{ADMIN}/keys/{row.id}/revoke", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert revoked.status_code == 303
    assert (
        client.get("/api/v1/cases", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    )


def test_a_refused_org_or_key_saves_nothing(client: TestClient, database: Database) -> None:
    _, csrf = sign_in(client, database, Role.ADMIN)
    bad = client.post(
        f"{ADMIN}/orgs",
        data={"csrf_token": csrf, "name": "Example", "kind": "hosting_provider", "country": "XX"},
    )
    assert bad.status_code == 422
    assert "country" in bad.text.split('id="country-error">', 1)[1].split("</span>")[0]
    email = client.post(
        f"{ADMIN}/orgs",
        data={
            "csrf_token": csrf,
            "name": "Example",
            "kind": "hosting_provider",
            "country": "NL",
            "abuse_email": "not an address",
        },
    )
    assert email.status_code == 422
    assert 'id="abuse_email-error"' in email.text
    with database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Organization)) == 0
        owner = org(session, "Keyless")
    no_scopes = client.post(f"{ADMIN}/orgs/{owner.id}/keys", data={"csrf_token": csrf})
    assert no_scopes.status_code == 422
    assert 'id="scopes-error"' in no_scopes.text
    bad_scope = client.post(
        f"{ADMIN}/orgs/{owner.id}/keys", data={"csrf_token": csrf, "scopes": "users:manage"}
    )
    assert bad_scope.status_code == 422
    with database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(ApiKey)) == 0


# -- banks, routing, jobs --------------------------------------------------------------------


def test_an_admin_creates_disables_and_enables_a_bank(
    client: TestClient, database: Database
) -> None:
    _, csrf = sign_in(client, database, Role.ADMIN)
    created = client.post(
        f"{ADMIN}/banks",
        data={"csrf_token": csrf, "name": "partner-x", "role": "block_list", "pdq_threshold": "20"},
        follow_redirects=False,
    )
    assert created.status_code == 303
    refused = client.post(
        f"{ADMIN}/banks", data={"csrf_token": csrf, "name": "partner-x", "role": "block_list"}
    )
    assert refused.status_code == 409
    assert "exists already" in refused.text.split('id="name-error">', 1)[1]
    too_far = client.post(
        f"{ADMIN}/banks",
        data={"csrf_token": csrf, "name": "other", "role": "block_list", "pdq_threshold": "300"},
    )
    assert too_far.status_code == 422
    assert 'id="pdq_threshold-error"' in too_far.text

    client.post(f"{ADMIN}/banks/partner-x/enabled", data={"csrf_token": csrf, "enabled": "no"})
    with database.transaction() as session:
        bank = session.scalars(select(Bank)).one()
        assert (bank.name, bank.pdq_threshold, bank.enabled) == ("partner-x", 20, False)
    client.post(f"{ADMIN}/banks/partner-x/enabled", data={"csrf_token": csrf, "enabled": "yes"})
    with database.transaction() as session:
        assert session.scalars(select(Bank)).one().enabled is True
    assert audit_actions(database).count("bank.update") == 2


def test_an_admin_sets_and_deletes_a_routing_rule(client: TestClient, database: Database) -> None:
    with database.transaction() as session:
        partner = org(session, "Partner Hotline DE", OrgKind.HOTLINE, "DE")
    _, csrf = sign_in(client, database, Role.ADMIN)
    form = {
        "csrf_token": csrf,
        "country": "de",
        "police_first": "on",
        "police_wait": "2h",
        "on_timeout": "remind",
        "partner": str(partner.id),
        "forward_to_partner": "on",
        "notes": "agreed with the partner",
    }

    saved = client.post(f"{ADMIN}/routing", data=form, follow_redirects=False)

    assert saved.status_code == 303
    with database.transaction() as session:
        rule = session.scalars(select(RoutingRule)).one()
        assert (rule.country, rule.police_first, rule.police_wait_seconds) == ("DE", True, 7200)
        assert (rule.on_police_timeout, rule.partner_org_id) == (PoliceTimeout.REMIND, partner.id)
        assert (rule.forward_to_partner, rule.list_url) == (True, False)
    edit = client.get(f"{ADMIN}/routing", params={"country": "DE"})
    assert 'value="2h"' in edit.text
    assert "Partner Hotline DE" in edit.text

    bad_wait = client.post(f"{ADMIN}/routing", data=form | {"police_wait": "soon"})
    assert bad_wait.status_code == 422
    assert "not a duration" in bad_wait.text.split('id="police_wait-error">', 1)[1]
    bad_country = client.post(f"{ADMIN}/routing", data=form | {"country": "Germany"})
    assert bad_country.status_code == 422
    assert 'id="country-error"' in bad_country.text
    with database.transaction() as session:
        assert session.scalars(select(RoutingRule)).one().police_wait_seconds == 7200

    deleted = client.post(
        f"{ADMIN}/routing/delete",
        data={"csrf_token": csrf, "country": "DE"},
        follow_redirects=False,
    )
    assert deleted.status_code == 303
    with database.transaction() as session:
        assert session.scalars(select(RoutingRule)).all() == []
    assert audit_actions(database)[-2:] == ["routing_rule.set", "routing_rule.delete"]


def test_an_admin_retries_a_failed_job(client: TestClient, database: Database) -> None:
    with database.transaction() as session:
        job_id = failed_job(session)
        done = jobs.enqueue(session, "tests.fine", run_at=NOW)
        done.status = JobStatus.SUCCEEDED
    _, csrf = sign_in(client, database, Role.ADMIN)

    listed = client.get(f"{ADMIN}/jobs", params={"status": "failed"})
    assert listed.status_code == 200
    assert "tests.flaky" in listed.text
    assert "tests.fine" not in listed.text
    # The error is shown as text.
    assert "the &lt;relay&gt; went away" in listed.text

    retried = client.post(
        f"{ADMIN}/jobs/{job_id}/retry",
        data={"csrf_token": csrf, "status": "failed"},
        follow_redirects=False,
    )

    assert retried.status_code == 303
    assert retried.headers["location"] == f"{ADMIN}/jobs?status=failed"
    with database.transaction() as session:
        job = session.get_one(Job, job_id)
        assert (job.status, job.attempts, job.run_at) == (JobStatus.QUEUED, 0, NOW)
    assert audit_actions(database)[-1] == "job.retry"
    again = client.post(f"{ADMIN}/jobs/{job_id}/retry", data={"csrf_token": csrf})
    assert again.status_code == 409
    assert "only failed or dead jobs" in again.text


def test_users_page_keeps_passwords_out(client: TestClient, database: Database) -> None:
    sign_in(client, database, Role.ADMIN)
    page = client.get(f"{ADMIN}/users")
    assert PASSWORD not in page.text
    assert csrf_of(page.text)
