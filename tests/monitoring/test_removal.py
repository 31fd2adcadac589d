"""Removal detection against a real local web host on 127.0.0.1.

Every image is a benign sample photo; "known" means the photo's hashes are a case item's.
"""

from __future__ import annotations

import base64
import io
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from takedown.config import Settings
from takedown.fetch import FetchTimeout, GuardedFetcher, StaticFetcher, SystemResolver
from takedown.fetch.build import build_fetcher
from takedown.fetch.fetcher import Fetcher
from takedown.matching import hash_bytes
from takedown.monitoring.removal import KnownItem, RecheckOutcome, RecheckStatus, recheck
from tests.conftest import TESTDATA
from tests.factories import NOW

from .support import Site

PDQ = TESTDATA / "pdq"
KNOWN = (PDQ / "dih" / "bridge-1-original.jpg").read_bytes()
ROTATED = (PDQ / "dih" / "bridge-2-rotate-90.jpg").read_bytes()
OTHER = (PDQ / "labelme-subset" / "q0003.jpg").read_bytes()
ANOTHER = (PDQ / "labelme-subset" / "q0004.jpg").read_bytes()

LIVE, REMOVED, UNREACHABLE = RecheckStatus.LIVE, RecheckStatus.REMOVED, RecheckStatus.UNREACHABLE


def resized(data: bytes) -> bytes:
    """The photo at half size, re-encoded: other bytes, the same picture."""
    image = Image.open(io.BytesIO(data))
    out = io.BytesIO()
    image.resize((image.width // 2, image.height // 2)).save(out, format="JPEG", quality=70)
    return out.getvalue()


def item(data: bytes, url: str, id: str = "item-1", *, pdq: bool = True) -> KnownItem:
    hashed = hash_bytes(data)
    signal = hashed.pdq if pdq else None
    return KnownItem(
        id=id,
        sha256=hashed.sha256,
        md5=hashed.md5,
        url=url,
        pdq=signal.value if signal else None,
    )


def check(
    fetcher: Fetcher, url: str, known: list[KnownItem], *, max_media: int = 10
) -> RecheckOutcome:
    return recheck(fetcher, url, known, max_media=max_media, now=NOW)


@pytest.fixture
def site() -> Iterator[Site]:
    local = Site().start()
    yield local
    local.close()


@pytest.fixture
def fetcher(settings: Settings, site: Site) -> GuardedFetcher:
    return build_fetcher(settings.model_copy(update={"fetch_allow_hosts": [site.host]}))


def test_a_page_still_serving_a_known_image_is_live(site: Site, fetcher: GuardedFetcher) -> None:
    site.serve("/other.jpg", OTHER)
    known = [item(KNOWN, site.serve("/known.jpg", KNOWN))]
    url = site.page("/gallery.html", "/other.jpg", "/known.jpg")
    outcome = check(fetcher, url, known)
    assert (outcome.status, outcome.reason) == (LIVE, "known_items_served")
    assert outcome.http_status == 200
    assert outcome.matched_items == ["item-1"]


def test_a_known_image_moved_to_a_new_url_on_the_page_is_still_live(
    site: Site, fetcher: GuardedFetcher
) -> None:
    known = [item(KNOWN, site.url("/old/known.jpg"))]  # its own URL answers 404 now
    site.serve("/new/photo.jpg", KNOWN)
    outcome = check(fetcher, site.page("/gallery.html", "/new/photo.jpg"), known)
    assert (outcome.status, outcome.matched_items) == (LIVE, ["item-1"])
    [moved] = [m for m in outcome.evidence["media"] if m["checked_as"] == ["page_media"]]
    assert moved["matches"] == [{"item": "item-1", "by": "sha256", "distance": 0}]


@pytest.mark.parametrize("status", [404, 410])
def test_a_page_that_answers_gone_is_removed(
    site: Site, fetcher: GuardedFetcher, status: int
) -> None:
    known = [item(KNOWN, site.url("/known.jpg"))]  # the file went too
    url = site.status("/gallery.html", status)
    outcome = check(fetcher, url, known)
    assert (outcome.status, outcome.reason) == (REMOVED, f"http_{status}")
    assert outcome.http_status == status
    assert outcome.matched_items == []


def test_a_known_image_replaced_by_another_is_removed(site: Site, fetcher: GuardedFetcher) -> None:
    url = site.page("/gallery.html", "/photo.jpg")
    known = [item(KNOWN, site.serve("/photo.jpg", KNOWN))]
    assert check(fetcher, url, known).status is LIVE
    site.serve("/photo.jpg", OTHER)  # the host swapped the file, same URL
    outcome = check(fetcher, url, known)
    assert (outcome.status, outcome.reason) == (REMOVED, "no_known_items")
    assert outcome.http_status == 200
    assert [m["sha256"] for m in outcome.evidence["media"]] == [hash_bytes(OTHER).sha256]


def test_a_page_gone_while_the_file_stays_is_live(site: Site, fetcher: GuardedFetcher) -> None:
    known = [item(KNOWN, site.serve("/files/known.jpg", KNOWN))]
    url = site.status("/gallery.html", 404)
    outcome = check(fetcher, url, known)
    assert (outcome.status, outcome.reason) == (LIVE, "known_items_served")
    assert outcome.http_status == 404
    [kept] = outcome.evidence["media"]
    assert kept["checked_as"] == ["item"]
    assert kept["matches"][0]["item"] == "item-1"


def test_a_direct_image_url_is_live_until_removed(site: Site, fetcher: GuardedFetcher) -> None:
    url = site.serve("/known.jpg", KNOWN)
    known = [item(KNOWN, url)]  # capture stores a direct file under the case's own URL
    assert check(fetcher, url, known).status is LIVE
    assert site.requested == ["/known.jpg"]  # the page and the item are one fetch
    site.remove("/known.jpg")
    outcome = check(fetcher, url, known)
    assert (outcome.status, outcome.reason) == (REMOVED, "http_404")


def test_a_direct_image_url_now_serving_another_image_is_removed(
    site: Site, fetcher: GuardedFetcher
) -> None:
    url = site.serve("/photo.jpg", OTHER)
    outcome = check(fetcher, url, [item(KNOWN, url)])
    assert (outcome.status, outcome.reason) == (REMOVED, "no_known_items")
    assert outcome.evidence["page"]["sha256"] == hash_bytes(OTHER).sha256


def test_a_host_that_no_longer_resolves_is_removed(settings: Settings, site: Site) -> None:
    port = site.server_address[1]
    fetcher = build_fetcher(
        settings.model_copy(
            update={
                "fetch_static_hosts": {"images.test": ["127.0.0.1"]},
                "fetch_allow_hosts": [f"images.test:{port}"],
            }
        )
    )
    site.serve("/known.jpg", KNOWN)
    known = [item(KNOWN, f"http://images.test:{port}/known.jpg")]
    assert check(fetcher, f"http://images.test:{port}/known.jpg", known).status is LIVE
    gone = [item(KNOWN, f"http://gone.test:{port}/known.jpg")]
    outcome = check(fetcher, f"http://gone.test:{port}/gallery.html", gone)
    assert (outcome.status, outcome.reason) == (REMOVED, "nxdomain")
    assert outcome.http_status is None
    assert site.requested == ["/known.jpg"]


@pytest.mark.parametrize(
    ("code", "message", "status", "reason"),
    [
        (socket.EAI_NONAME, "Name or service not known", REMOVED, "nxdomain"),
        (socket.EAI_AGAIN, "Temporary failure in name resolution", UNREACHABLE, "dns_failure"),
    ],
)
def test_only_a_name_that_does_not_exist_is_removal(
    code: int, message: str, status: RecheckStatus, reason: str
) -> None:
    def getaddrinfo(host: str, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        raise socket.gaierror(code, message)

    fetcher = GuardedFetcher(SystemResolver(getaddrinfo=getaddrinfo))
    known = [item(KNOWN, "http://images.example/known.jpg")]
    outcome = check(fetcher, "http://images.example/gallery.html", known)
    assert (outcome.status, outcome.reason) == (status, reason)


def test_a_server_error_is_unreachable_not_removed(site: Site, fetcher: GuardedFetcher) -> None:
    known = [item(KNOWN, site.url("/known.jpg"))]  # even with the file's own URL 404
    outcome = check(fetcher, site.status("/gallery.html", 500), known)
    assert (outcome.status, outcome.reason) == (UNREACHABLE, "server_error")
    assert outcome.http_status == 500


def test_a_forbidden_page_is_unreachable_not_removed(site: Site, fetcher: GuardedFetcher) -> None:
    # A 403 is as often a bot wall put up after a notice as a removal.
    known = [item(KNOWN, site.url("/known.jpg"))]
    outcome = check(fetcher, site.status("/gallery.html", 403), known)
    assert (outcome.status, outcome.reason) == (UNREACHABLE, "http_403")


def test_a_refused_connection_is_unreachable(settings: Settings) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Closed now: nothing listens on the port.
    fetcher = build_fetcher(
        settings.model_copy(update={"fetch_allow_hosts": [f"127.0.0.1:{port}"]})
    )
    base = f"http://127.0.0.1:{port}"
    outcome = check(fetcher, f"{base}/gallery.html", [item(KNOWN, f"{base}/known.jpg")])
    assert (outcome.status, outcome.reason) == (UNREACHABLE, "connection_failed")
    assert outcome.http_status is None
    assert outcome.evidence["errors"]


def test_a_timeout_is_unreachable() -> None:
    url = "http://images.test/gallery.html"
    fetcher = StaticFetcher({url: FetchTimeout(f"fetching {url} took too long", url=url)})
    outcome = check(fetcher, url, [item(KNOWN, "http://images.test/known.jpg")])
    assert (outcome.status, outcome.reason) == (UNREACHABLE, "timeout")


def test_a_redirect_to_a_404_is_removed(site: Site, fetcher: GuardedFetcher) -> None:
    known = [item(KNOWN, site.url("/known.jpg"))]
    url = site.redirect("/gallery.html", "/removed-by-host.html")
    outcome = check(fetcher, url, known)
    assert (outcome.status, outcome.reason) == (REMOVED, "http_404")
    page = outcome.evidence["page"]
    assert page["final_url"] == site.url("/removed-by-host.html")
    assert page["redirects"] == [site.url("/removed-by-host.html")]


def test_media_that_cannot_be_checked_keep_the_case_open(
    site: Site, fetcher: GuardedFetcher
) -> None:
    site.serve("/other.jpg", OTHER)
    url = site.page("/gallery.html", "/other.jpg")
    known = [item(KNOWN, site.status("/known.jpg", 503))]
    outcome = check(fetcher, url, known)
    assert (outcome.status, outcome.reason) == (UNREACHABLE, "media_unreachable")
    site.status("/known.jpg", 404)
    assert check(fetcher, url, known).reason == "no_known_items"


def test_an_md5_alone_is_an_exact_match(site: Site, fetcher: GuardedFetcher) -> None:
    url = site.serve("/known.jpg", KNOWN)
    by_md5 = KnownItem(id="item-1", sha256="0" * 64, md5=hash_bytes(KNOWN).md5, url=url)
    outcome = check(fetcher, url, [by_md5])
    assert (outcome.status, outcome.matched_items) == (LIVE, ["item-1"])
    assert outcome.evidence["page"]["matches"] == [{"item": "item-1", "by": "md5", "distance": 0}]


@pytest.mark.parametrize("copy", [resized(KNOWN), ROTATED], ids=["resized", "rotated"])
def test_a_near_copy_matches_by_pdq(site: Site, fetcher: GuardedFetcher, copy: bytes) -> None:
    url = site.page("/gallery.html", "/copy.jpg")
    site.serve("/copy.jpg", copy)
    outcome = check(fetcher, url, [item(KNOWN, site.url("/known.jpg"))])
    assert (outcome.status, outcome.matched_items) == (LIVE, ["item-1"])
    [hit] = outcome.evidence["media"][0]["matches"]
    assert hit["by"] == "pdq"
    assert hit["distance"] <= 31
    # Without a PDQ hash only exact hashes count, and the copy is other bytes.
    exact_only = check(fetcher, url, [item(KNOWN, site.url("/known.jpg"), pdq=False)])
    assert (exact_only.status, exact_only.reason) == (REMOVED, "no_known_items")


def test_with_nothing_known_only_the_urls_answer_counts(
    site: Site, fetcher: GuardedFetcher
) -> None:
    site.serve("/other.jpg", OTHER)
    url = site.page("/gallery.html", "/other.jpg")
    outcome = check(fetcher, url, [])
    assert (outcome.status, outcome.reason) == (LIVE, "page_up_no_items_known")
    assert site.requested == ["/gallery.html"]  # nothing to compare, nothing more fetched
    site.remove("/gallery.html")
    assert check(fetcher, url, []).reason == "http_404"


def test_at_most_max_media_of_the_page_are_fetched(site: Site, fetcher: GuardedFetcher) -> None:
    for name in ("a", "b", "c"):
        site.serve(f"/{name}.jpg", OTHER)
    url = site.page("/gallery.html", "/a.jpg", "/b.jpg", "/c.jpg")
    outcome = check(fetcher, url, [item(KNOWN, site.url("/known.jpg"))], max_media=2)
    assert site.requested == ["/gallery.html", "/a.jpg", "/b.jpg", "/known.jpg"]
    assert outcome.evidence["page"]["media_listed"] == 2
    assert outcome.evidence["page"]["more_media"] is True


def test_the_evidence_is_json_and_holds_no_bytes(site: Site, fetcher: GuardedFetcher) -> None:
    site.serve("/other.jpg", OTHER)
    site.serve("/known.jpg", KNOWN)
    site.status("/broken.jpg", 404)
    url = site.page("/gallery.html", "/other.jpg", "/known.jpg", "/broken.jpg")
    known = [item(KNOWN, site.url("/known.jpg")), item(ANOTHER, site.url("/gone.jpg"), "item-2")]
    outcome = check(fetcher, url, known)
    assert outcome.matched_items == ["item-1"]

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            assert all(isinstance(key, str) for key in value)
            value = list(value.values())
        if isinstance(value, list):
            for inner in value:
                walk(inner)
        else:
            assert value is None or isinstance(value, str | int | float | bool), repr(value)[:80]

    walk(outcome.evidence)
    text = json.dumps(outcome.evidence)
    assert json.loads(text) == outcome.evidence
    seen = {m["sha256"] for m in outcome.evidence["media"]} - {None}
    assert seen == {hash_bytes(OTHER).sha256, hash_bytes(KNOWN).sha256}
    # Only SHA-256 of what was served, never other hashes or any part of a body.
    served = hash_bytes(KNOWN)
    assert served.md5 not in text
    assert served.pdq is not None
    assert served.pdq.value not in text
    for body in (KNOWN, OTHER):
        assert body[200:232].hex() not in text
        assert base64.b64encode(body[200:248]).decode() not in text
    assert "<img" not in text
    assert outcome.evidence["url"] == url
    assert outcome.evidence["checked_at"] == NOW.isoformat()
    assert {m["url"]: m["status"] for m in outcome.evidence["media"]} == {
        site.url("/other.jpg"): 200,
        site.url("/known.jpg"): 200,
        site.url("/broken.jpg"): 404,
        site.url("/gone.jpg"): 404,
    }
