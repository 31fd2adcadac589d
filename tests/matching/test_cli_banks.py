"""`takedown hash` and `takedown banks ...`, run in-process against the test database."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from takedown.cli.main import main
from takedown.db.session import Database
from takedown.matching import hash_bytes

from .support import BRIDGE, PDQ_DATA

Run = Callable[..., Result]
PDQ_A = "ab" * 32
MD5 = "b5579578c96b1a529a08558844ad6bc9"


@pytest.fixture
def run(database_url: str, committed: Database, tmp_path: Path) -> Run:
    """Invoke the command with committed data visible to it; returns the click Result."""

    def invoke(*args: str, input: str | None = None) -> Result:
        env = {"TAKEDOWN_DATABASE_URL": database_url, "TAKEDOWN_DATA_DIR": str(tmp_path)}
        return CliRunner().invoke(main, list(args), env=env, input=input, catch_exceptions=False)

    return invoke


def test_hash_prints_signals(run: Run, tmp_path: Path) -> None:
    corrupt = tmp_path / "broken.jpg"
    corrupt.write_bytes(BRIDGE.read_bytes()[:500])
    expected = hash_bytes(BRIDGE.read_bytes())
    result = run("hash", str(BRIDGE), str(corrupt))
    assert result.exit_code == 1
    assert f"  pdq     {expected.pdq.value}  quality 100" in result.stdout  # type: ignore[union-attr]
    assert f"  md5     {expected.md5}" in result.stdout
    assert f"error: {corrupt}:" in result.stderr
    as_json = run("hash", "--json", str(BRIDGE))
    assert as_json.exit_code == 0
    body = json.loads(as_json.stdout)
    assert body["file"] == str(BRIDGE)
    assert body["signals"]["sha256"]["value"] == expected.sha256


def test_bank_commands(run: Run, tmp_path: Path) -> None:
    assert run("banks", "create", "known", "--threshold", "20").exit_code == 0
    assert run("banks", "create", "benign", "--role", "allow_list").exit_code == 0
    assert run("banks", "create", "known").exit_code == 1
    added = run("banks", "add", "known", "--file", str(BRIDGE), "--classification", "A1")
    assert added.exit_code == 0, added.output
    assert added.stdout.count("added entry") == 4
    again = run("banks", "add", "known", "--file", str(BRIDGE))
    assert again.stdout.count("already there") == 4
    one = run("banks", "add", "known", "--signal-type", "md5", "--value", MD5)
    assert one.exit_code == 0
    assert run("banks", "add", "known", "--value", MD5).exit_code == 2
    listing = run("banks", "list").stdout
    assert "known" in listing
    assert "5 entries (5 enabled)" in listing
    assert "allow_list" in listing
    assert run("banks", "rename", "known", "ncmec").exit_code == 0
    exported = tmp_path / "out.jsonl"
    result = run("banks", "export", "ncmec", "--format", "jsonl", "-o", str(exported))
    assert result.exit_code == 0
    rows = [json.loads(line) for line in exported.read_text().splitlines()]
    assert {r["signal_type"] for r in rows} == {"md5", "sha1", "sha256", "pdq"}
    assert run("banks", "delete", "ncmec", input="n\n").exit_code == 1
    deleted = run("banks", "delete", "ncmec", "--yes")
    assert deleted.stdout == "deleted bank ncmec and its 5 entries\n"
    assert run("banks", "delete", "ncmec", "--yes").exit_code == 1


def test_import_reports_bad_lines(run: Run, tmp_path: Path) -> None:
    run("banks", "create", "list")
    listing = tmp_path / "list.csv"
    listing.write_text(f"signal_type,value\npdq,{PDQ_A}\npdq,xyz\nmd5,{MD5}\n")
    strict = run("banks", "import", "list", str(listing), "--strict")
    assert strict.exit_code == 1
    assert f"{listing}:3: " in strict.stderr
    assert "0 entries" in run("banks", "list").stdout
    loose = run("banks", "import", "list", str(listing))
    assert loose.exit_code == 0
    assert f"{listing}:3: " in loose.stderr
    assert "2 added, 0 already there, 1 bad line" in loose.stdout


def test_import_pytx_hash_list(run: Run) -> None:
    run("banks", "create", "needles")
    needles = PDQ_DATA / "hash-lists" / "needles.txt"
    result = run("banks", "import", "needles", str(needles), "--signal-type", "pdq")
    assert result.exit_code == 0, result.output
    assert "100 added" in result.stdout
