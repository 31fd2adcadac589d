"""Hashing, matching and banks over the JSON API.

"Known material" is the benign bridge photo from ``tests/data/pdq``: put in a bank, it
must be found again after resizing, re-encoding and rotation.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from takedown.app import create_app
from takedown.auth.models import Role
from takedown.clock import FrozenClock
from takedown.config import Settings
from takedown.db.session import Database
from takedown.orgs.models import OrgKind
from tests import factories
from tests.factories import bearer

from .support import BRIDGE, PDQ_DATA, encode, pattern
from .test_image_decoding import png_declaring


def login(client: TestClient, database: Database, role: Role = Role.SUPERVISOR) -> None:
    """Sign in a new user of ``role``; the client then sends its CSRF token on every call."""
    user = factories.user(database, f"u-{role.value}", role)
    response = client.post(
        "/api/v1/auth/login", json=factories.credentials(client, database, user.username)
    )
    assert response.status_code == 200, response.text
    client.headers["X-CSRF-Token"] = response.json()["csrf_token"]


def upload(data: bytes, name: str = "photo.jpg", field: str = "file") -> dict[str, object]:
    return {"files": {field: (name, data, "application/octet-stream")}}


def bank_photo(
    client: TestClient, bank: str = "known", classification: str = "", **extra: object
) -> dict[str, object]:
    """Create ``bank`` (with ``extra`` settings) and add the bridge photo's signals to it."""
    created = client.post("/api/v1/banks", json={"name": bank, **extra})
    assert created.status_code == 201, created.text
    added = client.post(
        f"/api/v1/banks/{bank}/entries/upload",
        data={"classification": classification},
        **upload(BRIDGE.read_bytes()),
    )
    assert added.status_code == 201, added.text
    body: dict[str, object] = added.json()
    return body


@pytest.fixture
def staff(client: TestClient, database: Database) -> TestClient:
    login(client, database)
    return client


def _edited(edit: str) -> bytes:
    image = Image.open(BRIDGE).convert("RGB")
    if edit == "resized":
        return encode(image.resize((533, 335), Image.Resampling.LANCZOS), "PNG")
    if edit == "jpeg-quality-25":
        return encode(image, "JPEG", quality=25)
    if edit == "rotated-90":
        return encode(image.transpose(Image.Transpose.ROTATE_90), "JPEG", quality=85)
    if edit == "mirrored":
        return encode(image.transpose(Image.Transpose.FLIP_LEFT_RIGHT), "WEBP", quality=80)
    raise AssertionError(edit)


@pytest.mark.parametrize(
    ("edit", "variant"),
    [
        ("resized", "original"),
        ("jpeg-quality-25", "original"),
        ("rotated-90", "rotate90"),
        # A left-right mirror, named like tests/data/pdq/dih/bridge-6-flipy.jpg.
        ("mirrored", "flipy"),
    ],
)
def test_banked_photo_is_found_after_edits(staff: TestClient, edit: str, variant: str) -> None:
    added = bank_photo(staff, classification="A1")
    entries = added["added"]
    assert isinstance(entries, list)
    assert {e["signal_type"] for e in entries} == {"md5", "sha1", "sha256", "pdq"}
    assert {e["classification"] for e in entries} == {"A1"}
    response = staff.post("/api/v1/match", **upload(_edited(edit)))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["known"] is True
    # The edit changed the bytes: only the perceptual hash can match.
    [match] = body["matches"]
    assert match["bank"] == "known"
    assert match["bank_role"] == "block_list"
    assert match["signal_type"] == "pdq"
    assert match["variant"] == variant
    assert 0 <= match["distance"] <= 31
    assert match["cancelled_by"] == []
    assert match["classification"] == "A1"
    assert body["hash"]["signals"]["pdq"]["quality"] >= 50


def test_identical_file_matches_every_signal(staff: TestClient) -> None:
    bank_photo(staff)
    body = staff.post("/api/v1/match", **upload(BRIDGE.read_bytes())).json()
    assert {(m["signal_type"], m["distance"]) for m in body["matches"]} == {
        ("md5", 0),
        ("sha1", 0),
        ("sha256", 0),
        ("pdq", 0),
    }


def test_unrelated_photos_do_not_match(staff: TestClient) -> None:
    bank_photo(staff)
    for name in ("labelme-subset/q0122.jpg", "labelme-subset/q1050.jpg", "pen-and-coaster.png"):
        body = staff.post("/api/v1/match", **upload((PDQ_DATA / name).read_bytes())).json()
        assert body == {**body, "known": False, "matches": []}


def test_match_by_signals_as_json(staff: TestClient) -> None:
    bank_photo(staff)
    pdq = staff.post("/api/v1/hash", **upload(BRIDGE.read_bytes())).json()["signals"]["pdq"]
    response = staff.post("/api/v1/match", json={"signals": {"pdq": pdq["value"].upper()}})
    assert response.status_code == 200, response.text
    assert [m["signal_type"] for m in response.json()["matches"]] == ["pdq"]
    bad = staff.post("/api/v1/match", json={"signals": {"pdq": "zz"}})
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    unknown = staff.post("/api/v1/match", json={"signals": {"photodna": "00"}})
    assert unknown.status_code == 422


def test_allow_list_cancels_block_list(staff: TestClient) -> None:
    bank_photo(staff, bank="known")
    bank_photo(staff, bank="false-positives", role="allow_list")
    body = staff.post("/api/v1/match", **upload(_edited("resized"))).json()
    assert body["known"] is False
    assert body["allowed"] is True
    roles = {m["bank"]: m for m in body["matches"]}
    assert roles["known"]["cancelled_by"] == [
        {"bank": "false-positives", "entry_id": roles["false-positives"]["entry_id"]}
    ]


def test_per_bank_threshold(staff: TestClient) -> None:
    # The resized copy is a few bits from the original: a threshold of 0 misses it.
    bank_photo(staff, bank="strict", pdq_threshold=0)
    body = staff.post("/api/v1/match", **upload(_edited("jpeg-quality-25"))).json()
    assert body["matches"] == []
    staff.patch("/api/v1/banks/strict", json={"pdq_threshold": 31})
    assert staff.post("/api/v1/match", **upload(_edited("jpeg-quality-25"))).json()["known"]


def test_hash_returns_every_signal(staff: TestClient) -> None:
    response = staff.post("/api/v1/hash", **upload(BRIDGE.read_bytes()))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body["signals"]) == {"md5", "sha1", "sha256", "pdq"}
    assert len(body["signals"]["pdq"]["variants"]) == 8
    assert body["image"] == {"width": 1600, "height": 1004, "format": "JPEG", "mode": "RGB"}
    assert body["pdq_usable"] is True


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"", 400),
        (encode(pattern(), "PNG")[:200], 400),
        (b"just some text, not a picture\n", 415),
        (png_declaring(20_000, 20_000), 413),
    ],
    ids=["zero-byte", "truncated", "not-an-image", "decompression-bomb"],
)
def test_bad_files_get_a_clear_4xx(staff: TestClient, data: bytes, status: int) -> None:
    for path in ("/api/v1/hash", "/api/v1/match"):
        response = staff.post(path, **upload(data))
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"]


@pytest.fixture
def small_client(
    tmp_path: Path, database_url: str, database: Database, clock: FrozenClock
) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path, database_url=database_url, max_image_bytes=50_000)
    with TestClient(create_app(settings, database=database, clock=clock)) as client:
        yield client


def test_oversize_upload_is_refused(small_client: TestClient, database: Database) -> None:
    login(small_client, database)
    response = small_client.post("/api/v1/hash", **upload(BRIDGE.read_bytes()))
    assert response.status_code == 413
    assert "50000" in response.json()["detail"]


def test_upload_needs_exactly_one_file(staff: TestClient) -> None:
    assert staff.post("/api/v1/hash", data={"x": "1"}).status_code in (400, 415)
    wrong = staff.post("/api/v1/hash", **upload(BRIDGE.read_bytes(), field="photo"))
    assert wrong.status_code == 400
    assert "'file'" in wrong.json()["detail"]


def test_bank_crud(staff: TestClient) -> None:
    assert staff.post("/api/v1/banks", json={"name": "a b"}).status_code == 422
    assert staff.post("/api/v1/banks", json={"name": "NCMEC_PDQ"}).status_code == 201
    assert staff.post("/api/v1/banks", json={"name": "NCMEC_PDQ"}).status_code == 409
    renamed = staff.patch("/api/v1/banks/NCMEC_PDQ", json={"name": "ncmec", "enabled": False})
    assert renamed.json()["name"] == "ncmec"
    assert renamed.json()["enabled"] is False
    assert staff.get("/api/v1/banks/NCMEC_PDQ").status_code == 404
    [listed] = staff.get("/api/v1/banks").json()
    assert listed["entries"] == 0
    assert listed["pdq_threshold"] == 31
    assert staff.delete("/api/v1/banks/ncmec").status_code == 204
    assert staff.get("/api/v1/banks").json() == []


def test_entries_add_disable_remove(staff: TestClient) -> None:
    staff.post("/api/v1/banks", json={"name": "md5s"})
    digest = "b5579578c96b1a529a08558844ad6bc9"
    entry = staff.post(
        "/api/v1/banks/md5s/entries",
        json={"signal_type": "md5", "value": digest.upper(), "classification": "B"},
    )
    assert entry.status_code == 201, entry.text
    entry_id = entry.json()["id"]
    assert entry.json()["value"] == digest
    again = staff.post("/api/v1/banks/md5s/entries", json={"signal_type": "md5", "value": digest})
    assert again.status_code == 409
    signals = {"signals": {"md5": digest}}
    assert staff.post("/api/v1/match", json=signals).json()["known"] is True
    staff.patch(f"/api/v1/banks/md5s/entries/{entry_id}", json={"enabled": False})
    assert staff.post("/api/v1/match", json=signals).json()["matches"] == []
    staff.patch(f"/api/v1/banks/md5s/entries/{entry_id}", json={"enabled": True})
    assert staff.post("/api/v1/match", json=signals).json()["known"] is True
    page = staff.get("/api/v1/banks/md5s/entries").json()
    assert [e["id"] for e in page["items"]] == [entry_id]
    assert staff.delete(f"/api/v1/banks/md5s/entries/{entry_id}").status_code == 204
    assert staff.post("/api/v1/match", json=signals).json()["matches"] == []
    assert staff.get(f"/api/v1/banks/md5s/entries/{entry_id}").status_code == 404


def test_import_and_streamed_export(staff: TestClient) -> None:
    staff.post("/api/v1/banks", json={"name": "list"})
    lines = (
        "signal_type,value,classification,note\n"
        f"pdq,{'ab' * 32},A1,first\n"
        "pdq,not-a-hash,,\n"
        f"md5,{'cd' * 16},,\n"
    )
    response = staff.post("/api/v1/banks/list/import", **upload(lines.encode(), "list.csv"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["added"], body["error_count"]) == (2, 1)
    assert body["errors"][0]["line"] == 3
    strict = staff.post(
        "/api/v1/banks/list/import?strict=true", **upload(lines.encode(), "list.csv")
    )
    assert strict.status_code == 422
    assert strict.json()["errors"] == [{"line": 3, "message": body["errors"][0]["message"]}]
    exported = staff.get("/api/v1/banks/list/export", params={"format": "jsonl"})
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/x-ndjson")
    assert [line.count('"signal_type"') for line in exported.text.splitlines()] == [1, 1]
    csv_out = staff.get("/api/v1/banks/list/export").text.splitlines()
    assert csv_out[0].startswith("signal_type,value,quality")
    assert len(csv_out) == 3


def test_permissions(client: TestClient, database: Database) -> None:
    image = upload(BRIDGE.read_bytes())
    assert client.post("/api/v1/hash", **image).status_code == 401
    assert client.post("/api/v1/match", json={"signals": {"md5": "00" * 16}}).status_code == 401
    assert client.get("/api/v1/banks").status_code == 401
    reporter = factories.api_key(database, "Flagger", scopes=("reports:write",))
    assert client.post("/api/v1/hash", headers=bearer(reporter), **image).status_code == 403
    host = factories.api_key(database, "Host", OrgKind.HOSTING_PROVIDER, scopes=("match",))
    assert client.post("/api/v1/hash", headers=bearer(host), **image).status_code == 200
    # A key may match but never read or curate the banks themselves.
    assert client.get("/api/v1/banks", headers=bearer(host)).status_code == 403
    refused = client.post("/api/v1/banks", json={"name": "x"}, headers=bearer(host))
    assert refused.status_code == 403
    login(client, database, Role.ANALYST)
    assert client.get("/api/v1/banks").status_code == 200
    assert client.post("/api/v1/banks", json={"name": "x"}).status_code == 403


def test_keys_do_not_see_staff_notes(client: TestClient, database: Database) -> None:
    login(client, database)
    bank_photo(client)
    host = factories.api_key(database, "Host", OrgKind.HOSTING_PROVIDER, scopes=("match",))
    staff_view = client.post("/api/v1/match", **upload(BRIDGE.read_bytes())).json()
    assert staff_view["matches"][0]["added_by"].startswith("u-supervisor")
    client.cookies.clear()
    key_view = client.post(
        "/api/v1/match", headers=bearer(host), **upload(BRIDGE.read_bytes())
    ).json()
    assert key_view["known"] is True
    assert {m["added_by"] for m in key_view["matches"]} == {None}
    assert {m["note"] for m in key_view["matches"]} == {None}
    assert {m["value"] for m in key_view["matches"]} == {None}


def test_image_bytes_never_touch_disk(staff: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("an upload was spooled to a temporary file")

    # Where Starlette's form parser would put any file over 1 MB.
    monkeypatch.setattr("starlette.formparsers.SpooledTemporaryFile", refuse)
    monkeypatch.setattr("tempfile.SpooledTemporaryFile", refuse)
    big = encode(Image.open(BRIDGE).convert("RGB"), "PNG")  # a few MB, above Starlette's 1 MB
    assert len(big) > 1024 * 1024
    assert staff.post("/api/v1/hash", **upload(big, "big.png")).status_code == 200
