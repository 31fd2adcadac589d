"""Hash lists a parser chokes on, and hashes that would match every empty file.

A JSON line nested 50,000 deep (``RecursionError`` in json) and a CSV field over csv's
131,072-character limit (``_csv.Error``) are bad lines like any other: named by number, the
good lines load, and with ``strict`` nothing does. The file hashes of zero bytes are refused
as bank entries wherever they come from. Everything here is made-up text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient

from takedown.cli.main import main
from takedown.db.session import Database

from .test_bank_api import login, upload

Run = Callable[..., Result]
PDQ = "ab" * 32
MD5 = hashlib.md5(b"a made-up file", usedforsecurity=False).hexdigest()
EMPTY = {
    "md5": "d41d8cd98f00b204e9800998ecf8427e",
    "sha1": "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
}
NESTED = "[" * 50_000 + "]" * 50_000
HUGE = "x" * 140_000


def jsonl() -> str:
    return (
        f'{{"signal_type": "pdq", "value": "{PDQ}"}}\n'
        f'{{"signal_type": "md5", "value": {NESTED}}}\n'
        f"{NESTED}\n"
        f'{{"signal_type": "md5", "value": "{MD5}"}}\n'
    )


def csv_text() -> str:
    return f"signal_type,value,note\npdq,{PDQ},\nmd5,{MD5},{HUGE}\nmd5,{MD5},fine\n"


@pytest.fixture
def staff(client: TestClient, database: Database) -> TestClient:
    login(client, database)
    assert client.post("/api/v1/banks", json={"name": "list"}).status_code == 201
    return client


@pytest.fixture
def run(database_url: str, committed: Database, tmp_path: Path) -> Run:
    def invoke(*args: str) -> Result:
        env = {"TAKEDOWN_DATABASE_URL": database_url, "TAKEDOWN_DATA_DIR": str(tmp_path)}
        return CliRunner().invoke(main, list(args), env=env)

    return invoke


def test_api_reports_a_deeply_nested_json_line_and_loads_the_rest(staff: TestClient) -> None:
    strict = staff.post(
        "/api/v1/banks/list/import?strict=true", **upload(jsonl().encode(), "list.jsonl")
    )
    assert strict.status_code == 422, strict.text
    assert [e["line"] for e in strict.json()["errors"]] == [2, 3]
    assert "nested too deeply" in strict.json()["errors"][0]["message"]
    assert staff.get("/api/v1/banks/list/entries").json()["items"] == []
    loose = staff.post("/api/v1/banks/list/import", **upload(jsonl().encode(), "list.jsonl"))
    assert loose.status_code == 200, loose.text
    body = loose.json()
    assert (body["added"], body["error_count"]) == (2, 2)


def test_api_reports_an_oversized_csv_field_and_loads_the_rest(staff: TestClient) -> None:
    strict = staff.post(
        "/api/v1/banks/list/import?strict=true", **upload(csv_text().encode(), "list.csv")
    )
    assert strict.status_code == 422, strict.text
    assert strict.json()["errors"][0]["line"] == 3
    assert "field larger than field limit" in strict.json()["errors"][0]["message"]
    assert staff.get("/api/v1/banks/list/entries").json()["items"] == []
    loose = staff.post("/api/v1/banks/list/import", **upload(csv_text().encode(), "list.csv"))
    assert loose.status_code == 200, loose.text
    assert (loose.json()["added"], loose.json()["error_count"]) == (2, 1)


def test_api_refuses_an_oversized_header_and_loads_nothing(staff: TestClient) -> None:
    text = f"signal_type,value,{HUGE}\npdq,{PDQ},\n"
    response = staff.post("/api/v1/banks/list/import", **upload(text.encode(), "list.csv"))
    assert response.status_code == 200, response.text
    assert (response.json()["added"], response.json()["errors"][0]["line"]) == (0, 1)


def test_cli_names_the_bad_lines_without_a_traceback(run: Run, tmp_path: Path) -> None:
    assert run("banks", "create", "list").exit_code == 0
    nested = tmp_path / "list.jsonl"
    nested.write_text(jsonl())
    strict = run("banks", "import", "list", str(nested), "--strict")
    assert strict.exit_code == 1
    assert strict.exception is None or isinstance(strict.exception, SystemExit)
    assert f"{nested}:2: not JSON we read: nested too deeply" in strict.stderr
    assert "Error: 2 bad lines; nothing was imported (strict)" in strict.stderr
    assert "0 entries" in run("banks", "list").stdout

    wide = tmp_path / "list.csv"
    wide.write_text(csv_text())
    loose = run("banks", "import", "list", str(wide))
    assert loose.exit_code == 0, loose.output
    assert f"{wide}:3: not CSV we read: field larger than field limit" in loose.stderr
    assert "imported into list: 2 added, 0 already there, 1 bad line\n" in loose.stdout


def test_cli_refuses_a_file_that_is_not_text(run: Run, tmp_path: Path) -> None:
    assert run("banks", "create", "list").exit_code == 0
    binary = tmp_path / "list.csv"
    binary.write_bytes(f"signal_type,value\npdq,{PDQ}\n".encode() + b"md5,\xff\xfe\n")
    result = run("banks", "import", "list", str(binary))
    assert result.exit_code == 1
    assert (
        result.stderr
        == f"Error: {binary} is not UTF-8 text (invalid start byte); nothing was imported\n"
    )
    assert "0 entries" in run("banks", "list").stdout


@pytest.mark.parametrize("signal_type", sorted(EMPTY))
def test_the_hashes_of_an_empty_file_are_refused(staff: TestClient, signal_type: str) -> None:
    value = EMPTY[signal_type]
    added = staff.post(
        "/api/v1/banks/list/entries", json={"signal_type": signal_type, "value": value.upper()}
    )
    assert added.status_code == 422, added.text
    assert "empty file" in added.json()["detail"]
    lines = f"signal_type,value\n{signal_type},{value}\nmd5,{MD5}\n"
    imported = staff.post("/api/v1/banks/list/import", **upload(lines.encode(), "list.csv"))
    assert imported.json()["added"] == 1
    assert imported.json()["errors"][0]["line"] == 2
    assert "empty file" in imported.json()["errors"][0]["message"]


def test_cli_refuses_the_empty_file_md5(run: Run) -> None:
    assert run("banks", "create", "list").exit_code == 0
    result = run("banks", "add", "list", "--signal-type", "md5", "--value", EMPTY["md5"])
    assert result.exit_code == 1
    assert "is the md5 of an empty file" in result.stderr
    assert "Traceback" not in result.output


def test_export_to_a_file_says_what_it_wrote(run: Run, tmp_path: Path) -> None:
    assert run("banks", "create", "list").exit_code == 0
    assert run("banks", "add", "list", "--signal-type", "md5", "--value", MD5).exit_code == 0
    out = tmp_path / "list.csv"
    result = run("banks", "export", "list", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr == f"wrote {out} (1 entry of list)\n"
    assert out.read_text().splitlines()[1].startswith(f"md5,{MD5},")
    to_stdout = run("banks", "export", "list", "--format", "jsonl")
    assert to_stdout.stderr == ""
    assert MD5 in to_stdout.stdout
