"""Bank import and export: line-numbered errors, strict mode, pytx lists, round trips."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from takedown.db.session import Database
from takedown.errors import ValidationFailed
from takedown.matching import bankio, banks
from takedown.matching.bankio import ExportFormat, ImportFormat, ImportReport
from takedown.matching.models import Bank
from tests.factories import ACTOR, NOW

from .support import PDQ_DATA

PDQ_A = "ab" * 32
PDQ_B = "cd" * 32
MD5 = "b5579578c96b1a529a08558844ad6bc9"


def make_bank(session: Session, name: str = "list") -> Bank:
    return banks.create_bank(session, ACTOR, name=name, now=NOW)


def load(
    session: Session, bank: Bank, text: str, fmt: ImportFormat, **options: object
) -> ImportReport:
    return bankio.import_entries(
        session,
        ACTOR,
        bank,
        io.StringIO(text, newline=""),
        fmt=fmt,
        now=NOW,
        **options,  # type: ignore[arg-type]
    )


def values(session: Session, bank: Bank) -> list[tuple[str, str]]:
    return [(e.signal_type, e.value) for e in banks.list_entries(session, bank, limit=10_000)]


def test_csv_bad_lines_are_numbered_and_good_lines_load(db: Session) -> None:
    bank = make_bank(db)
    text = (
        "signal_type,value,quality,classification\n"  # line 1
        f"pdq,{PDQ_A},90,A1\n"
        "\n"  # blank lines are skipped, but still counted
        "pdq,nothex,,\n"  # line 4
        f"md5,{MD5.upper()},,B\n"
        f"pdq,{PDQ_B},high,\n"  # line 6
        f"vpdq,{PDQ_B},,\n"  # line 7
        f"pdq,{PDQ_A},,\n"  # a repeat: a duplicate, not an error
        f"md5,{MD5},,,surplus\n"  # line 9: more fields than the header
    )
    report = load(db, bank, text, ImportFormat.CSV)
    assert (report.added, report.duplicates, report.error_count) == (2, 1, 4)
    assert [e.line for e in report.errors] == [4, 6, 7, 9]
    assert "64 hex" in report.errors[0].message
    assert "quality" in report.errors[1].message
    assert "vpdq" in report.errors[2].message
    assert values(db, bank) == [("pdq", PDQ_A), ("md5", MD5)]
    again = load(db, bank, text, ImportFormat.CSV)
    assert (again.added, again.duplicates) == (0, 3)


def test_strict_import_loads_nothing(database: Database) -> None:
    with database.transaction() as s:
        make_bank(s)
    text = f"signal_type,value\npdq,{PDQ_A}\nmd5,xyz\nsha1,{'0' * 39}\n"
    with pytest.raises(ValidationFailed) as refused, database.transaction() as s:
        load(s, banks.get_bank(s, "list"), text, ImportFormat.CSV, strict=True)
    assert [e["line"] for e in refused.value.extra["errors"]] == [3, 4]
    with database.transaction() as s:
        assert values(s, banks.get_bank(s, "list")) == []
        report = load(s, banks.get_bank(s, "list"), text, ImportFormat.CSV)
        assert report.added == 1


def test_csv_without_the_required_columns(db: Session) -> None:
    report = load(db, make_bank(db), "hash,kind\nab,pdq\n", ImportFormat.CSV)
    assert [(e.line, e.message) for e in report.errors] == [
        (1, "the header must name signal_type and value")
    ]


def test_pytx_dataset_csv_loads(db: Session) -> None:
    """The CSV that `threatexchange dataset -P --csv` writes."""
    text = (
        "collab,signal_type,signal_str,category,tags\n"
        f"Sample Data,pdq,{PDQ_A},POSITIVE_CLASS,known sample\n"
        f"Sample Data,video_md5,{MD5},POSITIVE_CLASS,\n"
        "Sample Data,raw_text,some words,POSITIVE_CLASS,\n"
    )
    bank = make_bank(db)
    report = load(db, bank, text, ImportFormat.PYTX)
    assert report.added == 2
    assert [(e.line, e.message.split(" (")[0]) for e in report.errors] == [
        (4, "unsupported signal type 'raw_text'")
    ]
    pdq, md5 = banks.list_entries(db, bank)
    assert (pdq.signal_type, pdq.source, pdq.note) == (
        "pdq",
        "Sample Data",
        "category: POSITIVE_CLASS; tags: known sample",
    )
    assert (md5.signal_type, md5.value) == ("md5", MD5)


def test_pytx_rows_without_header_and_local_file_lines(db: Session) -> None:
    text = f"pdq,{PDQ_A},extra,columns\nvideo_md5 {MD5}\n# a comment\nHASH_PDQ,{PDQ_B}\npdq\n"
    bank = make_bank(db)
    report = load(db, bank, text, ImportFormat.PYTX)
    assert values(db, bank) == [("pdq", PDQ_A), ("md5", MD5), ("pdq", PDQ_B)]
    assert [e.line for e in report.errors] == [5]


def test_bare_hash_lists_need_a_signal_type(db: Session) -> None:
    needles = (PDQ_DATA / "hash-lists" / "needles.txt").read_text()
    bank = make_bank(db)
    refused = load(db, bank, needles, ImportFormat.PYTX)
    assert (refused.added, refused.error_count) == (0, 100)
    report = load(db, bank, needles, ImportFormat.PYTX, signal_type="pdq")
    assert (report.added, report.error_count) == (100, 0)


def test_jsonl_errors(db: Session) -> None:
    text = "\n".join(
        [
            json.dumps({"signal_type": "md5", "value": MD5, "enabled": False}),
            "{not json",
            "[1, 2]",
            json.dumps({"signal_type": "pdq", "value": PDQ_A, "quality": "x"}),
            json.dumps({"signal_type": "pdq", "value": PDQ_A, "quality": True}),
            json.dumps({"signal_type": "pdq", "value": 12}),
            json.dumps({"signal_type": "pdq", "value": PDQ_A, "added_at": "yesterday"}),
        ]
    )
    bank = make_bank(db)
    report = load(db, bank, text, ImportFormat.JSONL)
    assert report.added == 1
    assert [e.line for e in report.errors] == [2, 3, 4, 5, 6, 7]
    [entry] = banks.list_entries(db, bank)
    assert entry.enabled is False


@pytest.mark.parametrize("fmt", list(ExportFormat))
def test_export_round_trip_keeps_metadata(database: Database, fmt: ExportFormat) -> None:
    with database.transaction() as s:
        source = make_bank(s, "source")
        text = "\n".join(
            json.dumps(row)
            for row in [
                {
                    "signal_type": "pdq",
                    "value": PDQ_A,
                    "quality": 87,
                    "source": 'Partner hotline, "HL"',
                    "classification": "A1",
                    "added_by": "analyst 7",
                    "added_at": "2025-03-04T05:06:07.123456+00:00",
                    "note": "two\nlines, with a comma and a \u2028 line separator",
                    "enabled": True,
                },
                {"signal_type": "md5", "value": MD5, "enabled": False},
                {"signal_type": "sha256", "value": "0" * 64, "added_at": "2025-01-01T00:00:00"},
            ]
        )
        assert load(s, source, text, ImportFormat.JSONL).added == 3
        source_id = source.id
    exported = "".join(bankio.export_lines(database, source_id, fmt, batch=2))
    with database.transaction() as s:
        copy = make_bank(s, "copy")
        lines = exported.splitlines(keepends=True)
        assert bankio.detect_format(f"x.{fmt.value}", lines[0]).value == fmt.value
        report = load(s, copy, exported, ImportFormat(fmt.value))
        assert (report.added, report.error_count) == (3, 0)
        copy_id = copy.id
    assert "".join(bankio.export_lines(database, copy_id, fmt)) == exported
    with database.transaction() as s:
        first = banks.list_entries(s, banks.get_bank(s, "copy"))[0]
        assert first.added_at == datetime(2025, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)
        assert (first.quality, first.added_by) == (87, "analyst 7")


def test_detect_format() -> None:
    assert bankio.detect_format("x.jsonl", "") is ImportFormat.JSONL
    assert bankio.detect_format("x", '{"signal_type": "md5"}') is ImportFormat.JSONL
    assert bankio.detect_format("x.csv", "signal_type,value,note\n") is ImportFormat.CSV
    assert bankio.detect_format("x.csv", "collab,signal_type,signal_str\n") is ImportFormat.PYTX
    assert bankio.detect_format("needles.txt", PDQ_A) is ImportFormat.PYTX
