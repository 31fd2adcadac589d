"""The HMA-compatible endpoints answer in HMA's shapes (OpenMediaMatch 1.1 blueprints)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from takedown.auth.models import Role
from takedown.db.session import Database
from takedown.matching import hash_bytes
from takedown.orgs.models import OrgKind
from tests import factories
from tests.factories import bearer

from .support import BRIDGE, PDQ_DATA, encode
from .test_bank_api import login

BRIDGE_HASHES = hash_bytes(BRIDGE.read_bytes())
PDQ = BRIDGE_HASHES.pdq.value  # type: ignore[union-attr]


def photo(data: bytes, field: str = "photo") -> dict[str, object]:
    return {"files": {field: ("image.jpg", data, "image/jpeg")}}


@pytest.fixture
def staff(client: TestClient, database: Database) -> TestClient:
    login(client, database, Role.SUPERVISOR)
    return client


def create_bank(client: TestClient, name: str = "TEST_BANK") -> None:
    response = client.post("/c/banks", json={"name": name})
    assert response.status_code == 201, response.text
    assert response.json() == {"name": name, "matching_enabled_ratio": 1.0}


def add_signal(client: TestClient, bank: str, signals: dict[str, str]) -> int:
    response = client.post(f"/c/bank/{bank}/signal", json=signals)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) >= {"id", "signals"}
    content_id: int = body["id"]
    return content_id


def test_hash_photo_and_video(staff: TestClient) -> None:
    response = staff.post("/h/hash", **photo(BRIDGE.read_bytes()))
    assert response.status_code == 200, response.text
    assert response.json() == BRIDGE_HASHES.values()
    only = staff.post("/h/hash", params={"types": "pdq"}, **photo(BRIDGE.read_bytes()))
    assert only.json() == {"pdq": PDQ}
    video = staff.post("/h/hash", **photo(b"\x00\x00\x00\x18ftypmp42", field="video"))
    assert list(video.json()) == ["video_md5"]
    unknown = staff.post("/h/hash", params={"types": "tmk"}, **photo(BRIDGE.read_bytes()))
    assert unknown.status_code == 400
    assert unknown.json()["message"]


def test_low_quality_pdq_is_empty_like_pytx(staff: TestClient) -> None:
    dark = (PDQ_DATA / "misc-images" / "small.jpg").read_bytes()  # quality 0
    assert staff.post("/h/hash", **photo(dark)).json()["pdq"] == ""


def test_banks_and_signals(staff: TestClient) -> None:
    create_bank(staff)
    duplicate = staff.post("/c/banks", json={"name": "TEST_BANK"})
    assert duplicate.status_code == 403
    assert duplicate.json()["message"] == "Bank already exists"
    off = staff.post("/c/banks", json={"name": "OFF", "enabled_ratio": 0.0})
    assert off.json() == {"name": "OFF", "matching_enabled_ratio": 0.0}
    assert staff.post("/c/banks", json={"name": "HALF", "enabled_ratio": 0.5}).status_code == 400
    assert staff.get("/c/banks").json() == [
        {"name": "OFF", "matching_enabled_ratio": 0.0},
        {"name": "TEST_BANK", "matching_enabled_ratio": 1.0},
    ]
    response = staff.post("/c/bank/TEST_BANK/signal", json={"pdq": PDQ.upper()})
    assert response.json() == {
        "id": response.json()["id"],
        "ids": {"pdq": response.json()["id"]},
        "signals": {"pdq": PDQ},
    }
    missing = staff.post("/c/bank/NOPE/signal", json={"pdq": PDQ})
    assert missing.status_code == 404
    assert missing.json()["message"]
    invalid = staff.post("/c/bank/TEST_BANK/signal", json={"pdq": "nothex"})
    assert invalid.status_code == 400
    assert "pdq" in invalid.json()["message"]


def test_raw_lookup_and_lookup(staff: TestClient) -> None:
    create_bank(staff)
    content_id = add_signal(staff, "TEST_BANK", {"pdq": PDQ})
    query = {"signal_type": "pdq", "signal": PDQ}
    assert staff.get("/m/raw_lookup", params=query).json() == {"matches": [content_id]}
    with_distance = staff.get("/m/raw_lookup", params={**query, "include_distance": "true"})
    assert with_distance.json() == {"matches": [{"bank_content_id": content_id, "distance": "0"}]}
    assert staff.get("/m/lookup", params=query).json() == {
        "TEST_BANK": [{"bank_content_id": content_id, "distance": "0"}]
    }
    assert staff.get("/m/lookup", params={**query, "banks": "OTHER"}).json() == {}
    unrelated = hash_bytes((PDQ_DATA / "labelme-subset" / "q1050.jpg").read_bytes())
    assert staff.get("/m/lookup", params={**query, "signal": unrelated.pdq.value}).json() == {}  # type: ignore[union-attr]
    assert staff.get("/m/lookup", params={"signal": PDQ}).status_code == 400
    assert staff.get("/m/lookup", params={"url": "http://example.com/a.jpg"}).status_code == 400
    bad = staff.get("/m/raw_lookup", params={"signal_type": "pdq", "signal": "123"})
    assert bad.status_code == 400
    assert bad.json()["message"]


def test_video_md5_is_our_md5(staff: TestClient) -> None:
    create_bank(staff)
    digest = BRIDGE_HASHES.md5
    content_id = add_signal(staff, "TEST_BANK", {"video_md5": digest})
    found = staff.get("/m/lookup", params={"signal_type": "video_md5", "signal": digest})
    assert found.json() == {"TEST_BANK": [{"bank_content_id": content_id, "distance": "0"}]}


def test_lookup_file_finds_a_rotated_copy(staff: TestClient) -> None:
    create_bank(staff)
    content_id = add_signal(staff, "TEST_BANK", {"pdq": PDQ})
    rotated = Image.open(BRIDGE).convert("RGB").transpose(Image.Transpose.ROTATE_270)
    response = staff.post("/m/lookup", **photo(encode(rotated, "JPEG", quality=90)))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"md5", "sha1", "sha256", "pdq"}
    [match] = body["pdq"]["TEST_BANK"]
    assert match["bank_content_id"] == content_id
    assert int(match["distance"]) <= 31
    assert body["md5"] == {}


def test_allow_listed_content_is_not_reported_by_lookup(staff: TestClient) -> None:
    create_bank(staff)
    add_signal(staff, "TEST_BANK", {"pdq": PDQ})
    staff.post("/api/v1/banks", json={"name": "FALSE_POSITIVES", "role": "allow_list"})
    allow_id = add_signal(staff, "FALSE_POSITIVES", {"pdq": PDQ})
    query = {"signal_type": "pdq", "signal": PDQ}
    assert staff.get("/m/lookup", params=query).json() == {}
    # The raw lookup still shows every hit.
    assert allow_id in staff.get("/m/raw_lookup", params=query).json()["matches"]


def test_compare(staff: TestClient) -> None:
    other = hash_bytes((PDQ_DATA / "bridge-mods" / "blur-a-little.jpg").read_bytes())
    response = staff.post("/m/compare", json={"pdq": [PDQ, other.pdq.value]})  # type: ignore[union-attr]
    assert response.status_code == 200, response.text
    [matched, info] = response.json()["pdq"]
    assert matched is True
    assert 0 < info["distance"] <= 31
    exact = staff.post("/m/compare", json={"md5": ["0" * 32, "1" * 32]}).json()
    assert exact == {"md5": [False, {}]}
    assert staff.post("/m/compare", json={"pdq": [PDQ]}).status_code == 400
    assert staff.post("/m/compare", json={"pdq": [PDQ, "zz"]}).status_code == 400
    assert staff.post("/m/compare", json={"raw_text": ["a", "b"]}).status_code == 400


def test_hma_endpoints_need_our_credentials(client: TestClient, database: Database) -> None:
    query = {"signal_type": "pdq", "signal": PDQ}
    assert client.get("/m/lookup", params=query).status_code == 401
    assert client.post("/h/hash", **photo(BRIDGE.read_bytes())).status_code == 401
    assert client.get("/c/banks").status_code == 401
    reporter = factories.api_key(database, "Flagger", scopes=("reports:write",))
    assert client.get("/m/lookup", params=query, headers=bearer(reporter)).status_code == 403
    host = factories.api_key(database, "Host", OrgKind.HOSTING_PROVIDER, scopes=("match",))
    assert client.get("/m/lookup", params=query, headers=bearer(host)).json() == {}
    assert client.get("/c/banks", headers=bearer(host)).status_code == 403
    refused = client.post("/c/banks", json={"name": "X"}, headers=bearer(host))
    assert refused.status_code == 403
