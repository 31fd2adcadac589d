"""The lists over the API: staff keep entries, members download signed files with ETags."""

from __future__ import annotations

import base64
import csv
import io
import json

from fastapi.testclient import TestClient
from sqlalchemy import select

from takedown.auth.models import Role
from takedown.db.session import Database
from takedown.lists import signing
from takedown.lists.models import ListDownload
from takedown.matching import banks
from takedown.matching.models import BankRole
from takedown.orgs.models import Organization, OrgKind
from tests.factories import ACTOR, NOW, api_key, bearer, login

PAGE = "http://abroad.example.test/gallery/p.html"


def _member_key(database: Database, client: TestClient, staff: dict[str, str], lst: str) -> str:
    key = api_key(database, "Example ISP", OrgKind.ISP, scopes=("lists:read",))
    with database.sessions() as session:
        org_id = session.scalars(
            select(Organization.id).where(Organization.name == "Example ISP")
        ).one()
    response = client.put(f"/api/v1/lists/{lst}/members/{org_id}", json={}, headers=staff)
    assert response.status_code == 200, response.text
    return key


def _publish(client: TestClient, headers: dict[str, str], lst: str = "urls") -> dict:
    response = client.post(f"/api/v1/lists/{lst}/publish", json={}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_member_downloads_signed_files_with_etags(client: TestClient, database: Database) -> None:
    staff = login(client, database, Role.SUPERVISOR)
    added = client.post(
        "/api/v1/lists/urls/entries",
        json={"expression": "abroad.example.test/gallery/", "reason": "dedicated directory"},
        headers=staff,
    )
    assert added.status_code == 201, added.text
    assert _publish(client, staff)["version"]["number"] == 1
    key = _member_key(database, client, staff, "urls")

    first = client.get("/api/v1/lists/urls/latest?format=txt", headers=bearer(key))
    assert first.status_code == 200, first.text
    lines = [ln for ln in first.text.splitlines() if not ln.startswith("#")]
    assert lines == ["abroad.example.test/gallery/"]
    public = client.get("/api/v1/lists/public-key").content
    signature = first.headers["Takedown-Signature"].encode()
    assert signing.verify(first.content, signature, public)
    assert not signing.verify(first.content + b"x", signature, public)

    again = client.get(
        "/api/v1/lists/urls/latest?format=txt",
        headers=bearer(key) | {"If-None-Match": first.headers["ETag"]},
    )
    assert again.status_code == 304
    assert again.content == b""

    as_csv = client.get("/api/v1/lists/urls/latest?format=csv", headers=bearer(key))
    assert as_csv.headers["ETag"] != first.headers["ETag"]
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [r["expression"] for r in rows] == ["abroad.example.test/gallery/"]

    with database.sessions() as session:
        logged = session.scalars(select(ListDownload).order_by(ListDownload.at)).all()
        assert sorted((d.format, d.status) for d in logged) == [
            ("csv", 200),
            ("txt", 200),
            ("txt", 304),
        ]
        assert len({d.org_id for d in logged}) == 1
        assert None not in {d.org_id for d in logged}


def test_diff_since_a_version(client: TestClient, database: Database) -> None:
    staff = login(client, database, Role.SUPERVISOR)
    for expression in ("one.example.test/a.html", "two.example.test/b.html"):
        response = client.post(
            "/api/v1/lists/urls/entries",
            json={"expression": expression, "reason": "r"},
            headers=staff,
        )
        assert response.status_code == 201
        _publish(client, staff)
    one = client.get("/api/v1/lists/urls/entries", headers=staff).json()["items"]
    first = next(e for e in one if e["expression"].startswith("one."))
    withdrawn = client.post(
        f"/api/v1/lists/urls/entries/{first['id']}/withdraw",
        json={"reason": "content removed"},
        headers=staff,
    )
    assert withdrawn.json()["status"] == "withdrawn"
    _publish(client, staff)

    key = _member_key(database, client, staff, "urls")
    diff = client.get("/api/v1/lists/urls/diff?since=1", headers=bearer(key))
    assert diff.status_code == 200, diff.text
    document = diff.json()
    assert (document["from"], document["to"]) == (1, 3)
    assert [r["expression"] for r in document["added"]] == ["two.example.test/b.html"]
    assert [r["expression"] for r in document["removed"]] == ["one.example.test/a.html"]
    public = client.get("/api/v1/lists/public-key").content
    assert signing.verify(diff.content, diff.headers["Takedown-Signature"].encode(), public)
    assert client.get("/api/v1/lists/urls/diff?since=9", headers=bearer(key)).status_code == 404


def test_only_members_download(client: TestClient, database: Database) -> None:
    staff = login(client, database, Role.SUPERVISOR)
    client.post(
        "/api/v1/lists/urls/entries",
        json={"expression": "x.example.test/a.html", "reason": "r"},
        headers=staff,
    )
    _publish(client, staff)
    outsider = api_key(database, "Other ISP", OrgKind.ISP, scopes=("lists:read",))
    refused = client.get("/api/v1/lists/urls/latest", headers=bearer(outsider))
    assert refused.status_code == 403
    unscoped = api_key(database, "Flagger")
    assert client.get("/api/v1/lists/urls/latest", headers=bearer(unscoped)).status_code == 403
    bad = client.get("/api/v1/lists/urls/latest?format=exe", headers=staff)
    assert bad.status_code == 422
    assert client.get("/api/v1/lists/nope/latest", headers=staff).status_code == 404
    client.cookies.clear()
    assert client.get("/api/v1/lists/urls/latest").status_code == 401


def test_hash_list_follows_the_members_banks(client: TestClient, database: Database) -> None:
    staff = login(client, database, Role.SUPERVISOR)
    with database.transaction() as session:
        for name, value in (("ours", "a" * 64), ("theirs", "b" * 64)):
            bank = banks.create_bank(session, ACTOR, name=name, role=BankRole.BLOCK_LIST, now=NOW)
            banks.add_entry(
                session,
                ACTOR,
                bank,
                signal_type="sha256",
                value=value,
                classification="A1",
                now=NOW,
            )
        allow = banks.create_bank(session, ACTOR, name="benign", role=BankRole.ALLOW_LIST, now=NOW)
        banks.add_entry(session, ACTOR, allow, signal_type="sha256", value="c" * 64, now=NOW)
    _publish(client, staff, "hashes")
    key = api_key(database, "Example Host", OrgKind.HOSTING_PROVIDER, scopes=("lists:read",))
    with database.sessions() as session:
        org_id = session.scalars(
            select(Organization.id).where(Organization.name == "Example Host")
        ).one()
    put = client.put(
        f"/api/v1/lists/hashes/members/{org_id}", json={"banks": ["ours"]}, headers=staff
    )
    assert put.status_code == 200, put.text
    bad = client.put(
        f"/api/v1/lists/hashes/members/{org_id}", json={"banks": ["benign"]}, headers=staff
    )
    assert bad.status_code == 422

    got = client.get("/api/v1/lists/hashes/latest?format=jsonl", headers=bearer(key))
    assert got.status_code == 200, got.text
    values = [json.loads(line)["value"] for line in got.text.splitlines() if line.strip()]
    assert values == ["a" * 64]


def test_guard_and_four_eyes_over_the_api(client: TestClient, database: Database) -> None:
    analyst = login(client, database, Role.ANALYST)
    host = client.post(
        "/api/v1/lists/urls/entries",
        json={"expression": "google.com", "reason": "mistake", "dedicated_site": True},
        headers=analyst,
    )
    assert host.status_code == 201
    entry_id = host.json()["id"]
    assert host.json()["status"] == "pending"
    assert (
        client.post(f"/api/v1/lists/urls/entries/{entry_id}/approve", headers=analyst).status_code
        == 409
    )
    # Analysts do not publish.
    assert client.post("/api/v1/lists/urls/publish", json={}, headers=analyst).status_code == 403
    supervisor = login(client, database, Role.SUPERVISOR)
    approved = client.post(f"/api/v1/lists/urls/entries/{entry_id}/approve", headers=supervisor)
    assert approved.json()["status"] == "active"
    refused = client.post("/api/v1/lists/urls/publish", json={}, headers=supervisor)
    assert refused.status_code == 409
    assert refused.json()["violations"][0]["rule"] == "protected_domain"
    draft = client.get("/api/v1/lists/urls/draft", headers=supervisor).json()
    assert draft["violations"][0]["rule"] == "protected_domain"
    assert client.get("/api/v1/lists/urls/versions", headers=supervisor).json()["items"] == []
    # An approval names the draft it approves.
    unnamed = client.post("/api/v1/lists/urls/publish", json={"approve": True}, headers=supervisor)
    assert unnamed.status_code == 422
    stale = client.post(
        "/api/v1/lists/urls/publish",
        json={"approve": True, "reviewed": "0" * 64},
        headers=supervisor,
    )
    assert stale.status_code == 409
    assert client.get("/api/v1/lists/urls/versions", headers=supervisor).json()["items"] == []
    forced = client.post(
        "/api/v1/lists/urls/publish",
        json={"approve": True, "reviewed": draft["digest"]},
        headers=supervisor,
    )
    assert forced.status_code == 200
    assert forced.json()["version"]["approved_by"] == "u-supervisor"


def test_keywords_over_the_api(client: TestClient, database: Database) -> None:
    staff = login(client, database, Role.ANALYST)
    made = client.post(
        "/api/v1/lists/keywords/terms",
        json={"term": "<b>term</b>", "reason": "seen in reports"},
        headers=staff,
    )
    assert made.status_code == 201
    assert made.json()["term"] == "<b>term</b>"  # data, escaped wherever it is shown
    assert (
        client.post(
            "/api/v1/lists/keywords/terms", json={"term": "", "reason": "x"}, headers=staff
        ).status_code
        == 422
    )
    listed = client.get("/api/v1/lists/keywords/terms", headers=staff).json()["items"]
    assert [k["term"] for k in listed] == ["<b>term</b>"]
    removed = client.delete(f"/api/v1/lists/keywords/terms/{made.json()['id']}", headers=staff)
    assert removed.json()["removed_by"] == "u-analyst"


def test_signature_header_is_base64_of_64_bytes(client: TestClient, database: Database) -> None:
    staff = login(client, database, Role.SUPERVISOR)
    client.post("/api/v1/lists/keywords/terms", json={"term": "t", "reason": "r"}, headers=staff)
    _publish(client, staff, "keywords")
    got = client.get("/api/v1/lists/keywords/latest?format=json", headers=staff)
    assert len(base64.b64decode(got.headers["Takedown-Signature"])) == 64
    assert got.headers["Takedown-List-Version"] == "1"
