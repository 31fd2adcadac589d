"""The ``takedown`` command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from takedown.audit.models import AuditRecord
from takedown.cli.main import main
from takedown.db.session import Database
from takedown.orgs import service as orgs
from takedown.words import plural
from tests.factories import NOW


@pytest.fixture
def run(database_url: str, committed: Database, tmp_path: object) -> object:
    """Invoke the command in-process against the test database; returns the result."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> object:
        env = {"TAKEDOWN_DATABASE_URL": database_url, "TAKEDOWN_DATA_DIR": str(tmp_path)}
        return runner.invoke(main, list(args), env=env, input=input, catch_exceptions=False)

    return invoke


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


@pytest.mark.parametrize("path", _commands(main))
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_url_commands() -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["url", "canonical", "http://www.GOOgle.com/blah/.."])
    assert result.output == "http://www.google.com/\n"
    result = runner.invoke(main, ["url", "expressions", "http://a.b.c/1/2.html?param=1"])
    assert set(result.output.split()) == {
        "a.b.c/1/2.html?param=1",
        "a.b.c/1/2.html",
        "a.b.c/",
        "a.b.c/1/",
        "b.c/1/2.html?param=1",
        "b.c/1/2.html",
        "b.c/",
        "b.c/1/",
    }
    bad = runner.invoke(main, ["url", "canonical", "ftp://x.example/"])
    assert bad.exit_code == 1
    assert "Error:" in bad.output


def test_orgs_keys_users_and_audit(run: object, committed: Database) -> None:
    invoke = run  # type: ignore[assignment]
    added = invoke("orgs", "add", "--name", "Hotline DE", "--kind", "hotline", "--country", "de")
    assert added.exit_code == 0, added.output
    assert "Hotline DE (hotline, DE)" in added.output
    duplicate = invoke(
        "orgs", "add", "--name", "Hotline DE", "--kind", "hotline", "--country", "DE"
    )
    assert duplicate.exit_code == 1
    assert "exists already" in duplicate.output
    bad_country = invoke("orgs", "add", "--name", "X", "--kind", "cdn", "--country", "Germany")
    assert bad_country.exit_code == 1
    assert "ISO 3166" in bad_country.output

    created = invoke("keys", "create", "--org", "Hotline DE", "--scope", "cases:read")
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    assert key.startswith("td_")
    with committed.transaction() as session:
        principal = orgs.authenticate_key(session, key, now=NOW)
        assert [p.value for p in principal.permissions] == ["cases:read"]
    listed = invoke("keys", "list", "--org", "Hotline DE")
    assert key not in listed.output
    assert "active" in listed.output

    user = invoke(
        "users",
        "create",
        "ana",
        "--role",
        "analyst",
        input="a long password 1\na long password 1\n",
    )
    assert user.exit_code == 0, user.output
    short = invoke("users", "create", "bo", "--role", "analyst", "--password", "short")
    assert short.exit_code == 1
    assert "12 characters" in short.output

    intact = invoke("audit", "verify")
    assert intact.exit_code == 0
    assert "intact: 3 records" in intact.output
    with committed.transaction() as session:
        first = session.scalars(select(AuditRecord).order_by(AuditRecord.seq)).first()
        assert first is not None
        session.execute(
            update(AuditRecord)
            .where(AuditRecord.seq == first.seq)
            .values(actor_label="someone else")
        )
    broken = invoke("audit", "verify")
    assert broken.exit_code == 1
    assert f"record {first.seq}: its content does not match its hash: edited" in broken.output


def test_console_script_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "takedown", "url", "canonical", "http://3279880203/blah"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout == "http://195.127.0.11/blah\n"


def test_rpz_export_works_with_default_settings(run: object, tmp_path: Path) -> None:
    """The README's quick reference, as a new user types it: publish, then export the RPZ."""
    invoke = run  # type: ignore[assignment]
    published = invoke("lists", "publish", "urls")
    assert published.exit_code == 0, published.output
    zone = tmp_path / "urls.rpz"
    exported = invoke("lists", "export", "urls", "--format", "rpz", "--out", str(zone))
    assert exported.exit_code == 0, exported.output
    assert "; warning: splash.takedown.invalid is a development placeholder" in zone.read_text()
    assert (tmp_path / "urls.rpz.sig").is_file()


def test_counts_are_worded_in_the_singular_and_plural() -> None:
    assert (plural(0, "file"), plural(1, "file"), plural(2, "file")) == (
        "0 files",
        "1 file",
        "2 files",
    )
    assert plural(1, "entry", "entries") == "1 entry"
    assert plural(3, "case waits", "cases wait") == "3 cases wait"


def test_one_bad_directory_entry_is_worded_as_one(run: object, tmp_path: Path) -> None:
    invoke = run  # type: ignore[assignment]
    bad = tmp_path / "directory.yaml"
    bad.write_text("- name: Nowhere Hosting\n  kind: hosting_provider\n  country: ZZ\n")
    result = invoke("orgs", "import", str(bad), "--partial")
    assert result.exit_code == 1
    assert result.stderr.endswith("Error: 1 entry not imported\n")
