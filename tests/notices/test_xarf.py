"""X-ARF v4 documents: one csam report per URL, valid under the xarf package's own validator."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import idna
import pytest
import xarf

from takedown.notices.documents import KINDS, NoticeContent, NoticeItem, most_severe
from takedown.notices.xarf import ITEMS_FIELD, InvalidXarf, build_xarf, validate_xarf

from .support import NOW, REFERENCE, content, item, settings


def walk(value: Any) -> list[tuple[str, Any]]:
    """Every (key, value) pair in a JSON-like document, at any depth."""
    found: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            found.append((key, inner))
            found.extend(walk(inner))
    elif isinstance(value, list):
        for inner in value:
            found.extend(walk(inner))
    return found


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_gives_one_valid_csam_report_per_url(kind: str) -> None:
    notice = content(kind=kind)

    docs = build_xarf(notice, settings())

    assert [doc["url"] for doc in docs] == list(notice.urls)
    for doc in docs:
        assert validate_xarf(doc) == []
        parsed = xarf.parse(doc)
        assert parsed.errors == []
        assert isinstance(parsed.report, xarf.CsamReport)
        assert (doc["category"], doc["type"]) == ("content", "csam")
        assert f"notice:{kind}" in doc["tags"]


def test_reporter_and_sender_are_the_hotline() -> None:
    doc = build_xarf(content(), settings())[0]

    hotline = {
        "org": "Example Hotline",
        "contact": "hotline@hotline.example.com",
        "domain": "hotline.example.com",
    }
    assert doc["reporter"] == hotline
    assert doc["sender"] == hotline


def test_documents_are_stable_so_a_resend_repeats_them() -> None:
    first = build_xarf(content(), settings())
    again = build_xarf(content(), settings())

    assert first == again
    assert first[0]["report_id"] != first[1]["report_id"]
    assert first[0]["timestamp"] == "2026-11-22T09:00:00Z"
    assert (
        build_xarf(content(reference="N-AAAAA-BBBBB"), settings())[0]["report_id"]
        != (first[0]["report_id"])
    )


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (["B2", "A2", "B1"], "A2"),
        (["B2", "A1", "A2"], "A1"),
        (["baseline", "B2"], "B2"),
        (["baseline", None], "baseline"),
        ([None, "national only"], "baseline"),
        (["b1 "], "B1"),
        ([], "baseline"),
    ],
)
def test_classification_is_the_most_severe(labels: list[str | None], expected: str) -> None:
    items = [item(f"file-{n}", label) for n, label in enumerate(labels)]
    notice = content(items=items, detection_method="hash_match" if items else "manual_review")

    doc = build_xarf(notice, settings())[0]

    assert doc["classification"] == expected
    assert most_severe(items) == expected
    assert validate_xarf(doc) == []


def test_hash_values_are_those_of_the_first_most_severe_item() -> None:
    items = [item("mild", "B2"), item("worst", "A1"), item("also-worst", "A1")]

    doc = build_xarf(content(items=items), settings())[0]

    worst = items[1]
    assert doc["hash_values"] == {"md5": worst.md5, "sha1": worst.sha1, "sha256": worst.sha256}
    assert [entry["sha256"] for entry in doc[ITEMS_FIELD]] == [i.sha256 for i in items]
    assert doc[ITEMS_FIELD][0] == {
        "sha256": items[0].sha256,
        "md5": items[0].md5,
        "sha1": items[0].sha1,
        "pdq": items[0].pdq,
        "classification": "B2",
        "media_type": "image",
    }


def test_media_type_is_mixed_when_items_differ() -> None:
    same = build_xarf(content(items=[item("a", "B1"), item("b", "B2")]), settings())[0]
    mixed = build_xarf(content(), settings())[0]  # an image and a video

    assert same["media_type"] == "image"
    assert mixed["media_type"] == "mixed"


def test_no_items_means_no_hashes_and_still_valid() -> None:
    doc = build_xarf(content(items=[], detection_method="manual_review"), settings())[0]

    assert "hash_values" not in doc
    assert ITEMS_FIELD not in doc
    assert doc["detection_method"] == "manual_review"
    assert validate_xarf(doc) == []


def test_no_image_payloads_or_internal_metadata() -> None:
    docs = build_xarf(content(), settings())

    for doc in docs:
        keys = {key for key, _ in walk(doc)}
        assert not keys & {"evidence", "payload", "_internal", "screenshot_url"}
        # Only text: hashes, names, URLs. The longest value is the description.
        values = [value for _, value in walk(doc) if isinstance(value, str)]
        assert max(len(value) for value in values) <= 1000
    # The notice itself has no field that could hold bytes.
    fields = dataclasses.fields(NoticeContent) + dataclasses.fields(NoticeItem)
    assert not any("bytes" in str(f.type) for f in fields)


@pytest.mark.parametrize(
    "url",
    [
        "http://xn--80ak6aa92e.xn--p1ai/gallery/1",
        # The same name as typed, in Unicode (Cyrillic letters that look like "apple").
        f"http://{idna.decode('xn--80ak6aa92e.xn--p1ai')}/gallery/1",
    ],
)
def test_idn_host_leaves_domain_out(url: str) -> None:
    doc = build_xarf(content(urls=[url], host="xn--80ak6aa92e.xn--p1ai"), settings())[0]

    assert "domain" not in doc
    assert doc["source_identifier"] == "xn--80ak6aa92e.xn--p1ai"
    assert validate_xarf(doc) == []
    # The xarf schema itself is why: it refuses the punycode name as a domain.
    assert validate_xarf({**doc, "domain": "xn--80ak6aa92e.xn--p1ai"}) != []


def test_plain_host_gets_lowercase_domain_and_dns_records() -> None:
    doc = build_xarf(content(urls=["http://Files.Example.COM/x"]), settings())[0]

    assert doc["domain"] == "files.example.com"
    assert doc["source_identifier"] == "files.example.com"
    assert doc["dns_records"] == {"a": ["192.0.2.10"], "aaaa": ["2001:db8::10"]}


def test_ip_url_is_its_own_source_without_domain() -> None:
    doc = build_xarf(content(urls=["http://192.0.2.55:8080/x"]), settings())[0]

    assert doc["source_identifier"] == "192.0.2.55"
    assert "domain" not in doc
    assert "dns_records" not in doc
    assert validate_xarf(doc) == []


def test_reference_is_in_description_and_tags() -> None:
    doc = build_xarf(content(country="DE"), settings())[0]

    assert REFERENCE in doc["description"]
    assert "reference:n-7kq2m-9xd4a" in doc["tags"]
    assert "jurisdiction:de" in doc["tags"]
    assert "classification:a2" in doc["tags"]


def valid_doc() -> dict[str, Any]:
    return build_xarf(content(), settings())[0]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.update(classification="Z9"), "classification"),
        (lambda d: d.pop("url"), "url"),
        (lambda d: d.update(detection_method="guesswork"), "detection_method"),
        (lambda d: d["hash_values"].update(sha256="not-a-hash"), "sha256"),
        (lambda d: d.update(tags=["No Namespace"]), "tags"),
        (
            lambda d: d.update(evidence=[{"content_type": "text/plain", "payload": "eA=="}]),
            "evidence",
        ),
        (lambda d: d.update(_internal={"ticket": "1"}), "_internal"),
    ],
)
def test_broken_document_gives_errors(change: Any, field: str) -> None:
    doc = copy.deepcopy(valid_doc())
    change(doc)

    errors = validate_xarf(doc)

    assert any(field in error for error in errors), errors


def test_unknown_fields_are_warnings_not_errors() -> None:
    doc = valid_doc()

    assert ITEMS_FIELD in doc
    assert xarf.parse(doc).warnings  # the extension field is reported ...
    assert validate_xarf(doc) == []  # ... but is not an error


def test_settings_the_schema_refuses_fail_loudly() -> None:
    with pytest.raises(InvalidXarf, match="reporter"):
        build_xarf(content(), settings(hotline_name="x" * 201))


def test_sent_at_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        content(sent_at=NOW.replace(tzinfo=None))


def test_bad_hash_is_refused_when_the_item_is_made() -> None:
    with pytest.raises(ValueError, match="sha256"):
        NoticeItem(sha256="abc")
