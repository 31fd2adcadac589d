"""Match latency in /metrics: each match lookup is one observation of its histogram.

The known content is the benign bridge photo from ``tests/data/pdq``.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from takedown.db.session import Database
from tests.matching.support import BRIDGE
from tests.matching.test_bank_api import bank_photo, login, upload
from tests.metrics.conftest import AUTH, sample

COUNT = "takedown_match_duration_seconds_count"


def test_a_match_request_is_observed(metrics_client: TestClient, database: Database) -> None:
    login(metrics_client, database)
    bank_photo(metrics_client)
    before = metrics_client.get("/metrics", headers=AUTH).text
    # Announced before the first match, so a dashboard shows it from the start.
    assert sample(before, COUNT) == 0

    found = metrics_client.post("/api/v1/match", **upload(BRIDGE.read_bytes()))
    assert found.status_code == 200, found.text
    assert found.json()["known"] is True
    by_signal = metrics_client.post("/api/v1/match", json={"signals": {"md5": "00" * 16}})
    assert by_signal.status_code == 200, by_signal.text
    # Refused for an unknown bank: no lookup ran to the end, nothing to time.
    refused = metrics_client.post("/api/v1/match?bank=nope", json={"signals": {"md5": "00" * 16}})
    assert refused.status_code == 404

    after = metrics_client.get("/metrics", headers=AUTH).text
    assert sample(after, COUNT) == 2
    total = sample(after, "takedown_match_duration_seconds_sum")
    assert total is not None
    assert total > 0
    # Every observation falls in some bucket up to +Inf.
    assert sample(after, "takedown_match_duration_seconds_bucket", le="+Inf") == 2
