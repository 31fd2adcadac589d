"""Exports of list versions: every format parses back to the rows it was made from."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone

import pytest

from takedown.config import Settings
from takedown.lists.exports import FORMATS, ExportError, filename, media_type, render
from takedown.lists.models import ListName
from takedown.lists.rows import COLUMNS, Row, pack, unpack
from takedown.urls import hash_prefix

PUBLISHED = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)

URL_ROWS: list[Row] = [
    ("blocked.example.test/", "", "2026-11-20T08:00:00+00:00"),
    (
        "files.example.test/gallery/",
        "4f6c1c6e-0000-4000-8000-000000000001",
        "2026-11-21T10:00:00+00:00",
    ),
    (
        "other.example.test/page.html?id=7",
        "4f6c1c6e-0000-4000-8000-000000000002",
        "2026-11-21T11:00:00+00:00",
    ),
]
HASH_ROWS: list[Row] = [
    ("hotline-bank", "pdq", "f" * 64, "A1"),
    ("partner-bank", "md5", "0" * 32, "B2"),
]
KEYWORD_ROWS: list[Row] = [
    ("#fictional-tag", "seen in reports", "2026-11-01T00:00:00+00:00"),
    ("made up term", 'a reason, with a comma and "quotes"', "2026-11-02T00:00:00+00:00"),
]
ROWS = {ListName.URLS: URL_ROWS, ListName.HASHES: HASH_ROWS, ListName.KEYWORDS: KEYWORD_ROWS}


def export(
    settings: Settings, name: ListName, fmt: str, rows: Sequence[Row] | None = None
) -> bytes:
    return render(name, 42, PUBLISHED, ROWS[name] if rows is None else rows, fmt, settings)


def header(text: str) -> dict[str, str]:
    """The ``# key: value`` lines at the top of a text export."""
    fields = {}
    for line in text.splitlines():
        if not line.startswith("# "):
            break
        key, _, value = line[2:].partition(": ")
        fields[key] = value
    return fields


def body(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith("# ")]


def test_formats_per_list() -> None:
    assert FORMATS == {
        ListName.URLS: ("rpz", "rpz-a", "rpz-nxdomain", "txt", "csv", "json", "sha256"),
        ListName.HASHES: ("csv", "jsonl"),
        ListName.KEYWORDS: ("txt", "csv", "json"),
    }


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        (ListName.HASHES, "txt"),
        (ListName.KEYWORDS, "rpz"),
        (ListName.URLS, "jsonl"),
        (ListName.URLS, "xml"),
    ],
)
def test_a_format_the_list_does_not_have_is_refused(
    settings: Settings, name: ListName, fmt: str
) -> None:
    with pytest.raises(ExportError, match="unknown export format"):
        export(settings, name, fmt)
    with pytest.raises(ValueError, match="unknown export format"):  # ExportError is a ValueError
        filename(name, 42, fmt)


def test_unknown_media_type_is_refused() -> None:
    with pytest.raises(ExportError):
        media_type("xml")


def test_naive_published_time_is_refused(settings: Settings) -> None:
    with pytest.raises(ExportError, match="timezone"):
        render(ListName.URLS, 1, datetime(2026, 11, 22, 9), URL_ROWS, "txt", settings)


def test_media_types_and_filenames() -> None:
    assert media_type("json") == "application/json"
    assert media_type("csv").startswith("text/csv")
    assert media_type("rpz") == "text/dns"
    assert media_type("jsonl") == "application/x-ndjson"
    assert filename(ListName.URLS, 42, "txt") == "urls-42.txt"
    assert filename(ListName.URLS, 42, "rpz-a") == "urls-42.rpz-a.zone"
    assert filename(ListName.HASHES, 3, "jsonl") == "hashes-3.jsonl"
    names = {filename(ListName.URLS, 42, fmt) for fmt in FORMATS[ListName.URLS]}
    assert len(names) == len(FORMATS[ListName.URLS])  # every format downloads under its own name


def test_url_txt_has_a_header_then_one_expression_a_line(settings: Settings) -> None:
    text = export(settings, ListName.URLS, "txt").decode()

    assert header(text) == {
        "list": "urls",
        "version": "42",
        "published": "2026-11-22T09:00:00+00:00",
        "count": "3",
    }
    assert body(text) == [row[0] for row in URL_ROWS]
    assert text.endswith("\n")


def test_published_time_is_written_in_utc(settings: Settings) -> None:
    cet = datetime(2026, 11, 22, 10, 0, tzinfo=timezone(timedelta(hours=1)))
    text = render(ListName.URLS, 1, cet, URL_ROWS, "txt", settings).decode()
    assert header(text)["published"] == "2026-11-22T09:00:00+00:00"


def test_keyword_txt_keeps_terms_that_start_with_a_hash(settings: Settings) -> None:
    text = export(settings, ListName.KEYWORDS, "txt").decode()
    lines = text.splitlines()
    assert header(text)["count"] == "2"
    assert lines[4:] == ["#fictional-tag", "made up term"]


def test_empty_version(settings: Settings) -> None:
    text = export(settings, ListName.URLS, "txt", []).decode()
    assert header(text)["count"] == "0"
    assert body(text) == []
    document = json.loads(export(settings, ListName.URLS, "json", []))
    assert document["count"] == 0
    assert document["entries"] == []


def test_a_line_break_inside_an_entry_cannot_add_lines(settings: Settings) -> None:
    rows = [("fake.example.test/\n# count: 0", "", "")]
    with pytest.raises(ExportError, match="line break"):
        export(settings, ListName.URLS, "txt", rows)
    with pytest.raises(ExportError, match="line break"):
        export(settings, ListName.URLS, "txt", [("a.example.test/\rb.example.test/", "", "")])


@pytest.mark.parametrize("name", list(ListName))
def test_csv_round_trip(settings: Settings, name: ListName) -> None:
    data = export(settings, name, "csv")

    parsed = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))

    assert parsed[0] == list(COLUMNS[name])
    assert [tuple(row) for row in parsed[1:]] == ROWS[name]


@pytest.mark.parametrize(
    "dangerous", ["=1+1", "+1", "-1", "@SUM(A1)", '=HYPERLINK("http://x.example")']
)
def test_csv_fields_a_spreadsheet_would_run_are_made_text(
    settings: Settings, dangerous: str
) -> None:
    rows = [(dangerous, "reason", "2026-11-01T00:00:00+00:00"), ("plain", dangerous, dangerous)]

    parsed = list(
        csv.reader(io.StringIO(export(settings, ListName.KEYWORDS, "csv", rows).decode()))
    )

    assert parsed[1] == ["'" + dangerous, "reason", "2026-11-01T00:00:00+00:00"]
    assert parsed[2] == ["plain", "'" + dangerous, "'" + dangerous]


def test_csv_quotes_commas_quotes_and_line_breaks(settings: Settings) -> None:
    rows = [("term", 'line one\nline two, "quoted"', "2026-11-01T00:00:00+00:00")]
    parsed = list(
        csv.reader(
            io.StringIO(export(settings, ListName.KEYWORDS, "csv", rows).decode(), newline="")
        )
    )
    assert parsed[1] == list(rows[0])
    assert len(parsed) == 2


def test_csv_refuses_a_row_of_the_wrong_width(settings: Settings) -> None:
    with pytest.raises(ExportError, match="fields"):
        export(settings, ListName.URLS, "csv", [("a.example.test/", "")])


@pytest.mark.parametrize("name", [ListName.URLS, ListName.KEYWORDS])
def test_json_round_trip(settings: Settings, name: ListName) -> None:
    document = json.loads(export(settings, name, "json"))

    assert document["list"] == name.value
    assert document["version"] == 42
    assert datetime.fromisoformat(document["published_at"]) == PUBLISHED
    assert document["count"] == len(ROWS[name])
    columns = COLUMNS[name]
    assert [tuple(entry[c] for c in columns) for entry in document["entries"]] == ROWS[name]
    assert all(list(entry) == list(columns) for entry in document["entries"])


def test_json_keeps_every_value_exactly(settings: Settings) -> None:
    rows = [("=1+1", 'reason with "quotes" and \u00e9', "2026-11-01T00:00:00+00:00")]
    document = json.loads(export(settings, ListName.KEYWORDS, "json", rows))
    assert document["entries"] == [{"term": "=1+1", "reason": rows[0][1], "added_at": rows[0][2]}]


def test_json_refuses_a_row_of_the_wrong_width(settings: Settings) -> None:
    with pytest.raises(ExportError):
        export(settings, ListName.URLS, "json", [("a.example.test/", "", "", "extra")])


def test_jsonl_round_trip(settings: Settings) -> None:
    lines = export(settings, ListName.HASHES, "jsonl").decode().splitlines()

    assert [json.loads(line) for line in lines] == [
        dict(zip(COLUMNS[ListName.HASHES], row, strict=True)) for row in HASH_ROWS
    ]


def test_sha256_lines_are_prefix_and_hash_of_each_expression_sorted(settings: Settings) -> None:
    text = export(settings, ListName.URLS, "sha256").decode()
    lines = body(text)

    expected = sorted(hashlib.sha256(row[0].encode()).hexdigest() for row in URL_ROWS)
    assert [line.split(" ")[1] for line in lines] == expected
    by_hash = {hashlib.sha256(row[0].encode()).hexdigest(): row[0] for row in URL_ROWS}
    for line in lines:
        prefix, full = line.split(" ")
        assert len(prefix) == 8
        assert bytes.fromhex(prefix) == hash_prefix(by_hash[full])
    assert header(text)["count"] == "3"


def test_sha256_known_vector(settings: Settings) -> None:
    # sha256("abc") = ba7816bf 8f01cfea ..., the published Safe Browsing example.
    text = export(settings, ListName.URLS, "sha256", [("abc", "", "")]).decode()
    assert body(text) == [
        "ba7816bf ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    ]


def test_exports_are_a_pure_function_of_the_version(settings: Settings) -> None:
    # The rows as stored and read back give byte-identical exports (and so signatures).
    stored = unpack(pack(ListName.URLS, reversed(URL_ROWS)).content)
    for fmt in FORMATS[ListName.URLS]:
        if fmt.startswith("rpz"):
            continue
        assert export(settings, ListName.URLS, fmt, stored) == export(
            settings, ListName.URLS, fmt, sorted(URL_ROWS)
        )


def test_rpz_formats_are_zone_files(settings: Settings) -> None:
    configured = settings.model_copy(update={"splash_host": "splash.hotline.test"})
    for fmt in ("rpz", "rpz-a", "rpz-nxdomain"):
        zone = export(configured, ListName.URLS, fmt).decode()
        assert "\n@ SOA " in zone
        assert "blocked.example.test " in zone
        assert "files.example.test" not in zone  # a directory entry: RPZ sees no paths
