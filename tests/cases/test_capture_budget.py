"""A hostile page cannot hold a worker: capture works within a budget, and a dead capture is seen.

The "hostile" page shows many large-pixel images (benign generated patterns, tiny as PNG bytes
but millions of pixels each), served from 127.0.0.1. The tests count decoded pixels and items
left unhashed; they never measure time.
"""

from __future__ import annotations

import io
import itertools
import uuid
from collections.abc import Iterator
from functools import cache

import pytest
from PIL import Image
from sqlalchemy import select

from takedown.auth.principal import PUBLIC
from takedown.cases import capture as capture_module
from takedown.cases import service as cases
from takedown.cases.capture import CaptureBudget, capture
from takedown.cases.models import Case, CaseEvent, CaseItem, CaseState, ItemVerdict
from takedown.clock import FrozenClock
from takedown.config import Settings
from takedown.db.session import Database
from takedown.fetch.build import build_fetcher
from takedown.intake import service as intake
from takedown.intake.schemas import ReportIn
from takedown.jobs.models import Job, JobStatus
from takedown.jobs.registry import load_handlers
from takedown.jobs.worker import Worker
from takedown.matching.lookup import index_of
from tests.factories import NOW
from tests.monitoring.support import Site

SIDE = 2000  # 4 million pixels an image; a few hundred bytes as PNG
IMAGES = 12


@cache
def large_png(shade: int) -> bytes:
    """A benign flat-colour square with one stripe, different per ``shade`` (distinct files)."""
    image = Image.new("RGB", (SIDE, SIDE), (shade, 128, 255 - shade))
    image.paste((0, 0, 0), (0, shade, SIDE, shade + 40))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def site() -> Iterator[Site]:
    served = Site().start()
    yield served
    served.close()


@pytest.fixture
def hostile_page(site: Site) -> str:
    paths = [f"/big-{i}.png" for i in range(IMAGES)]
    for i, path in enumerate(paths):
        site.serve(path, large_png(10 + 15 * i), "image/png")
    return site.page("/hostile.html", *paths)


def budget_settings(settings: Settings, site: Site, **limits: object) -> Settings:
    return settings.model_copy(update={"fetch_allow_hosts": [site.host], **limits})


def open_case(database: Database, settings: Settings, url: str) -> uuid.UUID:
    with database.transaction() as session:
        result = intake.submit_one(session, settings, PUBLIC, ReportIn(url=url), now=NOW)
    assert result.case_id is not None
    return result.case_id


def run_capture(
    database: Database, settings: Settings, case_id: uuid.UUID, budget: CaptureBudget
) -> list[CaseItem]:
    with database.transaction() as session:
        case = session.get_one(Case, case_id)
        return capture(
            session,
            case,
            fetcher=build_fetcher(settings),
            settings=settings,
            index=index_of(database, settings),
            now=NOW,
            budget=budget,
        )


def captured_event(database: Database, case_id: uuid.UUID) -> CaseEvent:
    with database.sessions() as session:
        query = select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.kind == "captured")
        return session.scalars(query).one()


def test_pixels_decoded_per_capture_stay_within_the_budget(
    database: Database, settings: Settings, site: Site, hostile_page: str
) -> None:
    limit = 3 * SIDE * SIDE  # room for three of the twelve images
    capture_settings = budget_settings(settings, site, capture_max_pixels=limit)
    case_id = open_case(database, capture_settings, hostile_page)
    budget = CaptureBudget.of(capture_settings)
    run_capture(database, capture_settings, case_id, budget)

    assert budget.pixels.decoded == limit
    assert budget.pixels.images == 3
    assert budget.pixels.skipped == IMAGES - 3
    with database.sessions() as session:
        items = list(cases.items(session, case_id))
        case = session.get_one(Case, case_id)
    # Every image is an item with its byte hashes; only the ones within budget have a PDQ.
    assert len(items) == IMAGES
    assert all(i.md5 and i.sha256 for i in items)
    assert sum(1 for i in items if i.pdq is not None) == 3
    assert all(i.verdict is ItemVerdict.UNKNOWN for i in items)
    assert case.state == CaseState.AWAITING_ASSESSMENT  # left for the analyst
    event = captured_event(database, case_id)
    assert len(event.data["not_hashed"]) == IMAGES - 3
    assert all(line.endswith("not hashed: budget") for line in event.data["not_hashed"])
    assert event.data["pixels_decoded"] == limit
    assert "left for the analyst" in event.message


def test_media_per_page_are_capped(
    database: Database, settings: Settings, site: Site, hostile_page: str
) -> None:
    capture_settings = budget_settings(settings, site, capture_max_media_per_page=4)
    case_id = open_case(database, capture_settings, hostile_page)
    run_capture(database, capture_settings, case_id, CaptureBudget.of(capture_settings))
    image_requests = [p for p in site.requested if p.startswith("/big-")]
    assert len(image_requests) == 4


def test_a_capture_out_of_time_starts_nothing_new(
    database: Database, settings: Settings, site: Site, hostile_page: str
) -> None:
    capture_settings = budget_settings(settings, site, capture_max_seconds=5.0)
    case_id = open_case(database, capture_settings, hostile_page)
    # A fake monotonic clock: one second per look, so the budget ends after a few steps.
    ticks = itertools.count()
    budget = CaptureBudget.of(capture_settings, monotonic=lambda: float(next(ticks)))
    run_capture(database, capture_settings, case_id, budget)

    image_requests = [p for p in site.requested if p.startswith("/big-")]
    assert 0 < len(image_requests) < IMAGES
    event = captured_event(database, case_id)
    not_fetched = [s for s in event.data["not_hashed"] if s.endswith("not fetched: time budget")]
    assert len(not_fetched) == IMAGES - len(image_requests)
    assert budget.pixels.images <= len(image_requests)


def test_reduced_decode_takes_fewer_pixels_from_the_budget_for_jpeg(
    database: Database, settings: Settings, site: Site
) -> None:
    image = Image.new("RGB", (SIDE, SIDE), (90, 140, 200))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    url = site.serve("/big.jpg", out.getvalue(), "image/jpeg")
    capture_settings = budget_settings(settings, site)
    case_id = open_case(database, capture_settings, url)
    budget = CaptureBudget.of(capture_settings)
    run_capture(database, capture_settings, case_id, budget)
    assert budget.pixels.images == 1
    assert budget.pixels.decoded <= (SIDE // 2) ** 2  # decoded at 1/2 scale or less
    with database.sessions() as session:
        (item,) = cases.items(session, case_id)
    assert (item.width, item.height) == (SIDE, SIDE)  # the item keeps the real size


def test_a_dead_capture_sends_its_case_to_the_analysts_with_the_reason(
    database: Database, settings: Settings, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the capture broke")

    monkeypatch.setattr(capture_module, "capture", broken)
    one_attempt = budget_settings(settings, site, job_max_attempts=1)
    case_id = open_case(database, one_attempt, site.url("/anything"))
    worker = Worker(database, one_attempt, clock=FrozenClock(NOW), registry=load_handlers(settings))
    assert worker.run_once()

    with database.sessions() as session:
        case = session.get_one(Case, case_id)
        job = session.scalars(select(Job).where(Job.name == "cases.capture")).one()
        events = list(cases.timeline(session, case, []))
    assert job.status is JobStatus.DEAD
    assert case.state == CaseState.AWAITING_ASSESSMENT
    moved = events[-1]
    assert moved.kind == "state_changed"
    assert moved.data["note"] == "capture failed: RuntimeError: the capture broke"
    assert moved.data["capture_failed"] is True


def test_a_stored_unfetchable_url_is_a_capture_failure_not_a_dead_job(
    database: Database, settings: Settings, site: Site
) -> None:
    """A case opened before intake refused such URLs: recorded, and on to the analysts."""
    capture_settings = budget_settings(settings, site)
    case_id = open_case(database, capture_settings, site.url("/x"))
    with database.transaction() as session:
        session.get_one(Case, case_id).url = "http://a.example/x\ny"
    worker = Worker(
        database, capture_settings, clock=FrozenClock(NOW), registry=load_handlers(settings)
    )
    assert worker.run_once()
    with database.sessions() as session:
        assert session.get_one(Case, case_id).state == CaseState.AWAITING_ASSESSMENT
        assert session.scalars(select(Job.status)).one() is JobStatus.SUCCEEDED
    assert "control character" in captured_event(database, case_id).data["failures"][0]
