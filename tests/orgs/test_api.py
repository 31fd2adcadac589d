"""The directory over the API: who may read and write, and secrets that never come back."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from takedown.auth.models import Role
from takedown.db.session import Database
from tests import factories
from tests.factories import bearer, login

from .support import NET_A

SECRET = "a-webhook-secret-nobody-reads"
HOST: dict[str, object] = {
    "name": "Example Hosting",
    "kind": "hosting_provider",
    "country": "nl",
    "abuse_email": "abuse@hosting.example",
    "webhook_url": "https://hooks.hosting.example/takedown",
    "webhook_secret": SECRET,
    "asns": [64496, "AS64497"],
    "networks": [NET_A, "2001:db8::/32"],
    "domains": ["hosting.example"],
}


@pytest.fixture
def admin(orgs_client: TestClient, database: Database) -> TestClient:
    orgs_client.headers.update(login(orgs_client, database, Role.ADMIN))
    return orgs_client


def _create(client: TestClient, body: dict[str, object] = HOST) -> dict[str, object]:
    response = client.post("/api/v1/orgs", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


def test_reading_needs_staff_with_orgs_read(orgs_client: TestClient, database: Database) -> None:
    assert orgs_client.get("/api/v1/orgs").status_code == 401
    key = factories.api_key(database, scopes=("reports:write", "cases:read", "match"))
    keyed = orgs_client.get("/api/v1/orgs", headers=bearer(key))
    assert keyed.status_code == 403
    assert keyed.json()["detail"] == "this needs the 'orgs:read' permission"
    assert (
        orgs_client.get("/api/v1/orgs/lookup?ip=192.0.2.1", headers=bearer(key)).status_code == 403
    )
    login(orgs_client, database, Role.POLICE)
    assert orgs_client.get("/api/v1/orgs").status_code == 403
    for role in (Role.ANALYST, Role.SUPERVISOR):
        login(orgs_client, database, role)
        assert orgs_client.get("/api/v1/orgs").status_code == 200, role


def test_analysts_read_but_do_not_write(admin: TestClient, database: Database) -> None:
    org_id = _create(admin)["id"]
    headers = login(admin, database, Role.ANALYST)
    assert admin.get(f"/api/v1/orgs/{org_id}", headers=headers).status_code == 200
    assert admin.get("/api/v1/orgs/export", headers=headers).status_code == 200
    refused = [
        admin.post("/api/v1/orgs", json={**HOST, "name": "Other"}, headers=headers),
        admin.patch(f"/api/v1/orgs/{org_id}", json={"notes": "x"}, headers=headers),
        admin.delete(f"/api/v1/orgs/{org_id}", headers=headers),
        admin.post("/api/v1/orgs/import", content=b"[]", headers=headers),
    ]
    assert [r.status_code for r in refused] == [403, 403, 403, 403]
    assert refused[0].json()["detail"] == "this needs the 'orgs:manage' permission"


def test_create_show_and_list_without_the_secret(admin: TestClient) -> None:
    created = _create(admin)
    assert created["country"] == "NL"
    assert created["country_name"] == "Netherlands"
    assert created["kind_label"] == "Hosting provider"
    assert created["asns"] == [64496, 64497]
    assert created["networks"] == [NET_A, "2001:db8::/32"]
    assert created["webhook_secret_set"] is True
    assert "webhook_secret" not in created
    shown = admin.get(f"/api/v1/orgs/{created['id']}")
    listed = admin.get("/api/v1/orgs", params={"kind": "hosting_provider", "q": "hosting"})
    exported = admin.get("/api/v1/orgs/export")
    for response in (shown, listed, exported):
        assert response.status_code == 200
        assert SECRET not in response.text
    assert listed.json()["total"] == 1
    assert listed.json()["items"][0]["webhook_secret_set"] is True


def test_update_and_delete(admin: TestClient) -> None:
    org_id = _create(admin)["id"]
    changed = admin.patch(
        f"/api/v1/orgs/{org_id}",
        json={"abuse_email": None, "webhook_secret": None, "networks": ["198.51.100.0/24"]},
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["abuse_email"], body["webhook_secret_set"]) == (None, False)
    assert body["networks"] == ["198.51.100.0/24"]
    assert body["asns"] == [64496, 64497]  # not given: kept
    assert admin.delete(f"/api/v1/orgs/{org_id}").status_code == 204
    missing = admin.get(f"/api/v1/orgs/{org_id}")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


def test_bad_values_and_conflicts_are_problems(admin: TestClient) -> None:
    _create(admin)
    bad = admin.post("/api/v1/orgs", json={**HOST, "name": "Other", "country": "XX"})
    assert bad.status_code == 422
    assert bad.json()["detail"] == "country: unknown country code 'XX'"
    assert bad.json()["field"] == "country"
    taken = admin.post(
        "/api/v1/orgs",
        json={"name": "Other", "kind": "cdn", "country": "DE", "networks": ["192.0.2.64/26"]},
    )
    assert taken.status_code == 409
    assert (
        taken.json()["detail"] == f"networks: 192.0.2.64/26 is inside {NET_A} of 'Example Hosting'"
    )
    unknown = admin.post("/api/v1/orgs", json={**HOST, "name": "Other", "colour": "blue"})
    assert unknown.status_code == 422


def test_lookup(admin: TestClient) -> None:
    org_id = _create(admin)["id"]
    found = admin.get("/api/v1/orgs/lookup", params={"ip": "2001:db8::7"}).json()
    assert found["network"] == "2001:db8::/32"
    assert found["org"]["id"] == org_id
    assert admin.get("/api/v1/orgs/lookup", params={"ip": "203.0.113.1"}).json() == {
        "ip": "203.0.113.1",
        "network": None,
        "org": None,
    }
    assert admin.get("/api/v1/orgs/lookup", params={"ip": "not-an-ip"}).status_code == 422


def test_import_and_export(admin: TestClient) -> None:
    csv_file = "name,kind,country,asns\nExample CDN,cdn,US,64500\nExample Host,isp,DE,\n"
    imported = admin.post("/api/v1/orgs/import?format=csv", content=csv_file.encode())
    assert imported.status_code == 200, imported.text
    assert imported.json() == {"created": 2, "updated": 0, "error_count": 0, "errors": []}
    exported = admin.get("/api/v1/orgs/export", params={"format": "csv", "kind": "cdn"})
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.text.splitlines()[1] == "Example CDN,cdn,US,,,en,,64500,,,,"
    yaml_export = admin.get("/api/v1/orgs/export")
    assert yaml_export.headers["content-type"].startswith("application/yaml")
    assert "- name: Example CDN" in yaml_export.text


def test_a_failed_import_lists_the_lines(admin: TestClient) -> None:
    text = b"- name: A\n  kind: cdn\n  country: XX\n- name: B\n  kind: cdn\n  country: NL\n"
    failed = admin.post("/api/v1/orgs/import", content=text)
    assert failed.status_code == 422
    problem = failed.json()
    assert problem["title"] == "Import failed"
    assert problem["detail"] == "1 problem in the file; nothing was imported"
    assert problem["errors"] == [{"line": 3, "message": "country: unknown country code 'XX'"}]
    assert admin.get("/api/v1/orgs").json()["total"] == 0
    partial = admin.post("/api/v1/orgs/import", params={"partial": "true"}, content=text)
    assert partial.status_code == 200
    assert partial.json()["created"] == 1
    assert partial.json()["errors"] == problem["errors"]
    assert [o["name"] for o in admin.get("/api/v1/orgs").json()["items"]] == ["B"]
