"""The answer page of a notice whose case is already closed says so, and offers no form.

The notice and its case are fictional (``files.example``); nothing is fetched or shown.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from takedown.cases.models import Case
from takedown.config import Settings
from takedown.db.session import Database
from tests.factories import NOW

from .test_answer_page import sent


def test_a_removed_and_closed_case_is_shown_as_resolved_without_a_form(
    client: TestClient, database: Database, settings: Settings
) -> None:
    link = sent(database, settings)
    with database.transaction() as session:
        case = session.get_one(Case, link.case_id)
        case.removed_at = case.closed_at = NOW + timedelta(hours=3)
    response = client.get(link.path)
    assert response.status_code == 200, response.text
    page = response.text
    assert "<h2>Resolved</h2>" in page
    assert "2026-11-22 12:00 UTC and the content is gone" in page
    assert "no answer is needed" in page
    assert "<form" not in page
    assert 'name="kind"' not in page
    assert link.reference in page  # the notice itself is still shown
    assert response.headers["cache-control"] == "no-store"


def test_a_case_closed_without_removal_asks_nothing_more(
    client: TestClient, database: Database, settings: Settings
) -> None:
    link = sent(database, settings)
    with database.transaction() as session:
        session.get_one(Case, link.case_id).closed_at = NOW + timedelta(hours=2)
    page = client.get(link.path).text
    assert "This case was closed on 2026-11-22 11:00 UTC" in page
    assert "<form" not in page


def test_an_open_case_still_offers_the_form(
    client: TestClient, database: Database, settings: Settings
) -> None:
    page = client.get(sent(database, settings).path).text
    assert "<form" in page
    assert "Resolved" not in page
