"""The ``takedown`` command on a database it cannot use: one line and exit 1, no traceback.

The first test runs the command for real (``python -m takedown`` in a subprocess), as a new
user runs it; the others invoke it in-process, through the same top-level error handling.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.exc import OperationalError

from takedown.cli.errors import database_problem
from takedown.cli.main import main
from takedown.db import migrate
from takedown.db.session import create_db_engine
from tests.conftest import empty_database


def takedown(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the command with only the given TAKEDOWN_* variables set."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TAKEDOWN_")}
    return subprocess.run(
        [sys.executable, "-m", "takedown", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, **env},
        cwd=cwd,
        check=False,
    )


def invoke(*args: str, env: dict[str, str]) -> Result:
    """Run the command in-process with only the given TAKEDOWN_* variables set."""
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("TAKEDOWN_")}
    return CliRunner().invoke(main, list(args), env={**unset, **env})


def one_line_error(result: subprocess.CompletedProcess[str] | Result) -> str:
    real = isinstance(result, subprocess.CompletedProcess)
    code = result.returncode if real else result.exit_code
    assert code == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    """A database with no tables: a fresh SQLite file, or a new schema on the test server."""
    with empty_database(tmp_path / "empty.sqlite3", prefix="e") as url:
        yield url


def test_an_unmigrated_database_says_what_to_run_and_is_left_alone(
    empty_database_url: str, tmp_path: Path
) -> None:
    env = {"TAKEDOWN_DATABASE_URL": empty_database_url, "TAKEDOWN_DATA_DIR": str(tmp_path)}
    line = one_line_error(takedown("banks", "list", env=env, cwd=tmp_path))
    assert line == "Error: the database has no tables yet: run `takedown db upgrade` first"
    for command in (("orgs", "list"), ("audit", "verify"), ("worker",)):
        assert one_line_error(invoke(*command, env=env)) == line
    engine = create_db_engine(empty_database_url)
    try:
        assert migrate.current_revision(engine) is None  # an explicit database is never migrated
    finally:
        engine.dispose()

    upgraded = invoke("db", "upgrade", env=env)
    assert upgraded.exit_code == 0, upgraded.output
    assert upgraded.stdout == f"database upgraded from nothing to {migrate.head_revision()}\n"
    again = invoke("db", "upgrade", env=env)
    assert again.stdout == f"database already at {migrate.head_revision()}\n"
    listed = invoke("banks", "list", env=env)
    assert listed.exit_code == 0, listed.output


def test_db_upgrade_prints_no_alembic_narration(tmp_path: Path) -> None:
    env = {"TAKEDOWN_DATABASE_URL": f"sqlite:///{tmp_path / 'new.sqlite3'}"}
    upgraded = takedown("db", "upgrade", env=env, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout == f"database upgraded from nothing to {migrate.head_revision()}\n"
    assert upgraded.stderr == ""


def test_a_database_behind_the_code_names_both_revisions(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = create_db_engine(url)
    migrate.upgrade(engine, "0007_lists")
    engine.dispose()
    env = {"TAKEDOWN_DATABASE_URL": url, "TAKEDOWN_DATA_DIR": str(tmp_path)}
    line = one_line_error(invoke("orgs", "list", env=env))
    assert "at revision 0007_lists but this version needs" in line
    assert line.endswith("run `takedown db upgrade` first")


def test_the_development_default_is_migrated_on_first_use(tmp_path: Path) -> None:
    """The embedded SQLite in the data directory belongs to this machine: no step to forget."""
    env = {"TAKEDOWN_DATA_DIR": str(tmp_path / "data")}
    result = invoke("banks", "create", "local", env=env)
    assert result.exit_code == 0, result.output
    assert "migrated the SQLite database in" in result.stderr
    assert result.stdout.startswith("created bank local")
    again = invoke("banks", "list", env=env)
    assert again.exit_code == 0
    assert "migrated" not in again.stderr
    assert again.stdout.startswith("local ")


def test_an_unreachable_database_is_one_line_without_the_password(tmp_path: Path) -> None:
    # Port 9 (discard) on loopback: nothing listens there, the connection is refused.
    url = "postgresql+psycopg://takedown:s3cret@127.0.0.1:9/takedown?connect_timeout=5"
    env = {"TAKEDOWN_DATABASE_URL": url, "TAKEDOWN_DATA_DIR": str(tmp_path)}
    line = one_line_error(invoke("banks", "list", env=env))
    assert line.startswith("Error: cannot connect to the database postgresql+psycopg://takedown:")
    assert "s3cret" not in line


def test_a_data_directory_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    env = {"TAKEDOWN_DATA_DIR": str(blocker / "data")}
    line = one_line_error(invoke("banks", "list", env=env))
    assert str(blocker) in line


def test_a_bad_database_url_is_one_line(tmp_path: Path) -> None:
    env = {"TAKEDOWN_DATABASE_URL": "not a url", "TAKEDOWN_DATA_DIR": str(tmp_path)}
    line = one_line_error(invoke("banks", "list", env=env))
    assert "TAKEDOWN_DATABASE_URL" in line


def test_a_missing_table_at_run_time_says_to_upgrade() -> None:
    error = OperationalError("SELECT 1 FROM banks", {}, Exception("no such table: banks"))
    message = database_problem(error, "sqlite:///x")
    assert message is not None
    assert message.endswith("run `takedown db upgrade`")
    readonly = OperationalError(
        "INSERT INTO banks", {}, Exception("attempt to write a readonly database")
    )
    assert "read-only for this user" in (database_problem(readonly, "sqlite:///x") or "")
    # A failing statement that is not about the schema is a bug: it keeps its traceback.
    other = OperationalError("SELECT 1", {}, Exception("disk I/O error"))
    assert database_problem(other, "sqlite:///x") is None
