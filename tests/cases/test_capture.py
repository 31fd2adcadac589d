"""Capture: a reported page on a local test server, its media hashed and matched.

Every image here is a benign sample photo; "known" means its hash is in a test bank.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from takedown.auth.principal import PUBLIC
from takedown.cases import service as cases
from takedown.cases.models import Case, CaseEvent, CaseItem, CaseState, ItemVerdict
from takedown.clock import FrozenClock
from takedown.config import Settings
from takedown.db.session import Database
from takedown.intake import service as intake
from takedown.intake.schemas import ReportIn
from takedown.jobs.registry import load_handlers
from takedown.jobs.worker import Worker
from takedown.matching import banks, hash_bytes
from tests.conftest import TESTDATA
from tests.factories import ACTOR, NOW

PDQ = TESTDATA / "pdq"
KNOWN = (PDQ / "dih" / "bridge-1-original.jpg").read_bytes()
KNOWN_ROTATED = (PDQ / "dih" / "bridge-2-rotate-90.jpg").read_bytes()
UNKNOWN = (PDQ / "labelme-subset" / "q0003.jpg").read_bytes()


class Site:
    """A tiny web host on 127.0.0.1: path → (content type, body), and the paths it was asked."""

    def __init__(self) -> None:
        self.pages: dict[str, tuple[str, bytes]] = {}
        self.requested: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                site.requested.append(self.path)
                content_type, body = site.pages.get(self.path, ("text/plain", b""))
                self.send_response(200 if self.path in site.pages else 404)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}"

    def page(self, path: str, *images: str) -> str:
        tags = "".join(f'<img src="{src}" alt="">' for src in images)
        self.pages[path] = (
            "text/html; charset=utf-8",
            f"<html><body>{tags}</body></html>".encode(),
        )
        return self.base + path


@pytest.fixture
def site() -> Iterator[Site]:
    served = Site()
    thread = threading.Thread(target=served.server.serve_forever, daemon=True)
    thread.start()
    served.pages["/known.jpg"] = ("image/jpeg", KNOWN)
    served.pages["/known-rotated.jpg"] = ("image/jpeg", KNOWN_ROTATED)
    served.pages["/unknown.jpg"] = ("image/jpeg", UNKNOWN)
    yield served
    served.server.shutdown()
    served.server.server_close()


@pytest.fixture
def capture_settings(settings: Settings, site: Site) -> Settings:
    host = site.base.removeprefix("http://")
    return settings.model_copy(update={"fetch_allow_hosts": [host]})


@pytest.fixture
def known_bank(database: Database, capture_settings: Settings) -> None:
    signal = hash_bytes(KNOWN).pdq
    assert signal is not None
    with database.transaction() as session:
        bank = banks.create_bank(session, ACTOR, name="test-known", now=NOW)
        banks.add_entry(
            session,
            ACTOR,
            bank,
            signal_type="pdq",
            value=signal.value,
            quality=signal.quality,
            classification="A1",
            source="tests",
            now=NOW,
        )


def report_and_capture(database: Database, settings: Settings, url: str) -> Case:
    with database.transaction() as session:
        result = intake.submit_one(session, settings, PUBLIC, ReportIn(url=url), now=NOW)
    worker = Worker(database, settings, clock=FrozenClock(NOW), registry=load_handlers(settings))
    assert worker.run_once()
    with database.sessions() as session:
        assert result.case_id is not None
        return session.get_one(Case, result.case_id)


def case_items(database: Database, case_id: uuid.UUID) -> list[CaseItem]:
    with database.sessions() as session:
        return list(cases.items(session, case_id))


@pytest.mark.usefixtures("known_bank")
def test_a_page_of_known_images_is_confirmed_without_anyone_looking(
    database: Database, capture_settings: Settings, site: Site
) -> None:
    url = site.page("/gallery.html", "/known.jpg", "/known-rotated.jpg", "/known.jpg")
    case = report_and_capture(database, capture_settings, url)
    assert case.state == CaseState.CONFIRMED
    items = case_items(database, case.id)
    assert len(items) == 2  # the same file shown twice is one item
    assert all(i.verdict is ItemVerdict.KNOWN and i.automatic for i in items)
    assert {i.classification for i in items} == {"A1"}
    rotated = next(i for i in items if i.url.endswith("known-rotated.jpg"))
    assert rotated.match["bank"] == "test-known"
    assert rotated.match["variant"] not in (None, "original")
    with database.sessions() as session:
        kinds = [e.kind for e in cases.timeline(session, case, [])]
    assert kinds[-2:] == ["captured", "state_changed"]


@pytest.mark.usefixtures("known_bank")
def test_unknown_items_wait_for_an_analyst(
    database: Database, capture_settings: Settings, site: Site
) -> None:
    url = site.page("/mixed.html", "/known.jpg", "/unknown.jpg")
    case = report_and_capture(database, capture_settings, url)
    assert case.state == CaseState.AWAITING_ASSESSMENT
    items = case_items(database, case.id)
    assert [i.verdict for i in items] == [ItemVerdict.UNKNOWN, ItemVerdict.KNOWN]
    assert items[0].url == site.base + "/unknown.jpg"
    assert items[0].pdq is not None
    assert items[0].automatic is False


@pytest.mark.usefixtures("known_bank")
def test_a_direct_image_url_is_captured_too(
    database: Database, capture_settings: Settings, site: Site
) -> None:
    case = report_and_capture(database, capture_settings, site.base + "/known-rotated.jpg")
    assert case.state == CaseState.CONFIRMED


def test_a_host_that_is_not_allowed_is_never_contacted(
    database: Database, settings: Settings, site: Site
) -> None:
    url = site.page("/private.html", "/known.jpg")
    case = report_and_capture(database, settings, url)  # 127.0.0.1 is not allow-listed here
    assert case.state == CaseState.AWAITING_ASSESSMENT
    assert site.requested == []
    with database.sessions() as session:
        captured = session.scalars(select(CaseEvent).where(CaseEvent.kind == "captured")).one()
    assert "127.0.0.1 is not a public address" in captured.data["failures"][0]
    assert case_items(database, case.id) == []
