"""Media extraction from HTML pages: every supported reference, malformed markup, the bounds."""

from __future__ import annotations

import pytest

from takedown.fetch import extract_media
from takedown.fetch.media import largest_candidate

from .conftest import FetcherFactory
from .support import PAGE, PAGE_MEDIA, LocalServer, png_bytes

BASE = "http://images.test:8080/gallery/page.html"


def test_the_test_page_yields_every_kind_of_reference_in_page_order() -> None:
    html = PAGE.format(port=8080)

    media = extract_media(html, "http://images.test:8080/page.html")

    assert media == [f"http://images.test:8080{path}" for path in PAGE_MEDIA]


def test_relative_urls_resolve_against_the_page_and_base_href() -> None:
    html = """
    <img src="a.png"><img src="../b.png"><img src="//cdn.test/c.png">
    <base href="https://static.test/assets/"><img src="d.png"><base href="/ignored/">
    <img src="e.png">
    """

    assert extract_media(html, BASE) == [
        "http://images.test:8080/gallery/a.png",
        "http://images.test:8080/b.png",
        "http://cdn.test/c.png",
        "https://static.test/assets/d.png",
        "https://static.test/assets/e.png",
    ]


@pytest.mark.parametrize(
    ("srcset", "largest"),
    [
        ("a.png 320w, b.png 1280w, c.png 640w", "b.png"),
        ("a.png, b.png 2x, c.png 1.5x", "b.png"),
        ("a.png 1x,b.png 3x", "b.png"),
        (
            "https://cdn.test/w_100,h_100/a.png 100w, https://cdn.test/w_900,h_900/a.png 900w",
            "https://cdn.test/w_900,h_900/a.png",
        ),
        ("only.png", "only.png"),
        ("a.png,b.png", "a.png,b.png"),  # commas inside a URL without spaces stay in it
        ("a.png 100w (max-width: 10px, 20px), b.png 50w", "a.png"),
        ("a.png bogus, b.png 2x", "b.png"),
        (" , ,", None),
        ("", None),
    ],
)
def test_the_largest_srcset_candidate_is_chosen(srcset: str, largest: str | None) -> None:
    assert largest_candidate(srcset) == largest


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        # An attribute never closed swallows the rest of the page, as in a browser.
        ('<img src="a.png><p>unterminated attribute', []),
        ('<img src="a.png"<img src="b.png">', ["a.png"]),
        ("<div><img src=a.png><img src=b.png></span></div></div>", ["a.png", "b.png"]),
        # A tag cut off by the end of the page is dropped, as in a browser.
        ('<!-- <img src="c.png"> --><img src=a.png><img src=b.png', ["a.png"]),
        ("<![if !IE]><img src=a.png><![endif]><img src='b.png'", ["a.png"]),
        ("<script>s = '<img src=\"c.png\">';</script><img src=a.png>", ["a.png"]),
        (
            "<style>img { content: url(c.png) }</style><IMG SRC=a.png><Img Src=b.png>",
            ["a.png", "b.png"],
        ),
        ("<img src=a.png src=c.png><img/src=b.png>", ["a.png", "b.png"]),
    ],
)
def test_malformed_html_does_not_break_extraction(html: str, expected: list[str]) -> None:
    media = extract_media(html, BASE)

    assert media == [f"http://images.test:8080/gallery/{name}" for name in expected]


@pytest.mark.parametrize(
    "html",
    ["", "<", "<img", "<img src>", "<img src=''>", "&#x;&#99999999999;<a href=", "\x00\x01<p"],
)
def test_degenerate_input_gives_an_empty_or_partial_list(html: str) -> None:
    assert extract_media(html, BASE) == []


def test_only_http_and_https_urls_are_kept_without_fragments() -> None:
    html = """
    <img src="data:image/png;base64,AAAA"><img src="blob:http://x/1"><img src="file:///etc/x.png">
    <img src="ftp://host/a.png"><img src="javascript:void(0)"><img src="http://[::1/">
    <img src="  https://ok.test/a.png#top  "><img src="https://ok.test/a.png#other">
    <img src="ht\ttp://ok.test/b.png">
    """

    assert extract_media(html, BASE) == ["https://ok.test/a.png", "http://ok.test/b.png"]


def test_entities_in_attributes_are_unescaped() -> None:
    media = extract_media('<img src="/img?id=1&amp;size=2">', BASE)
    assert media == ["http://images.test:8080/img?id=1&size=2"]


def test_links_count_only_when_they_name_an_image_file() -> None:
    html = """
    <a href="photo.JPEG">a</a><a href="photo.webp?x=1">b</a><a href="page.html">c</a>
    <a href="/dir.png/">d</a><a href="/file.pdf">e</a><a href="/noext">f</a><a>g</a>
    """

    assert extract_media(html, BASE) == [
        "http://images.test:8080/gallery/photo.JPEG",
        "http://images.test:8080/gallery/photo.webp?x=1",
    ]


def test_the_limit_bounds_the_result_and_stops_parsing() -> None:
    html = "".join(f'<img src="/{n}.png">' for n in range(10_000))

    assert extract_media(html, BASE, limit=5) == [
        f"http://images.test:8080/{n}.png" for n in range(5)
    ]
    assert len(extract_media(html, BASE)) == 50
    assert extract_media(html, BASE, limit=0) == []


def test_duplicates_count_once_toward_the_limit() -> None:
    html = '<img src="/a.png">' * 100 + '<img src="/b.png">'
    assert extract_media(html, BASE, limit=2) == [
        "http://images.test:8080/a.png",
        "http://images.test:8080/b.png",
    ]


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ('<meta charset="windows-1252"><img src="/caf\xe9.png">'.encode("cp1252"), None),
        ('<img src="/caf\xe9.png">'.encode("latin-1"), "iso-8859-1"),
        (b"\xef\xbb\xbf" + '<img src="/caf\xe9.png">'.encode(), "latin-1"),
        ('<meta charset="utf-16"><img src="/caf\xe9.png">'.encode(), None),
        ('<meta charset="bogus"><img src="/caf\xe9.png">'.encode(), "base64"),
    ],
)
def test_bytes_are_decoded_with_the_declared_charset(data: bytes, encoding: str | None) -> None:
    assert extract_media(data, BASE, encoding=encoding) == ["http://images.test:8080/caf\xe9.png"]


def test_a_captured_page_and_its_media_can_all_be_fetched(
    server: LocalServer, make_fetcher: FetcherFactory
) -> None:
    # The capture flow end to end on loopback: fetch the page, extract, fetch each image.
    fetcher = make_fetcher()
    page = fetcher.fetch(server.url("/page.html"))

    media = extract_media(page.body, page.final_url, encoding=page.charset)

    assert media == [server.url(path) for path in PAGE_MEDIA]
    assert all(fetcher.fetch(url).body == png_bytes() for url in media)
