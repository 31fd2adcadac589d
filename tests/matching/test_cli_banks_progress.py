"""`takedown banks import|export` show progress on a terminal's stderr, and nothing otherwise."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from takedown.cli import progress
from takedown.cli.main import main
from takedown.db.session import Database

MD5S = [f"{n:032x}" for n in range(1, 51)]


def _run(database_url: str, tmp_path: Path, *args: str) -> Result:
    env = {"TAKEDOWN_DATABASE_URL": database_url, "TAKEDOWN_DATA_DIR": str(tmp_path)}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.mark.parametrize("terminal", [True, False])
def test_import_and_export_progress_only_on_a_terminal(
    database_url: str,
    committed: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    terminal: bool,
) -> None:
    monkeypatch.setattr(progress, "on_terminal", lambda: terminal)
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"{md5}\n" for md5 in MD5S))
    assert _run(database_url, tmp_path, "banks", "create", "known").exit_code == 0

    imported = _run(
        database_url, tmp_path, "banks", "import", "known", str(listing), "--signal-type", "md5"
    )
    assert imported.exit_code == 0, imported.output
    assert "50 added" in imported.stdout
    out = tmp_path / "known.csv"
    exported = _run(database_url, tmp_path, "banks", "export", "known", "-o", str(out))
    assert exported.exit_code == 0, exported.output
    assert out.read_text().count("\n") == 51  # the header and every entry, bar or not

    if terminal:
        # The bar's last state: every byte of the file read, every line written.
        assert "100%" in imported.stderr
        assert "51line" in exported.stderr
    else:
        assert imported.stderr == ""
        assert exported.stderr == f"wrote {out} (50 entries of known)\n"


def test_lines_pass_through_unchanged() -> None:
    shown, hidden = io.StringIO(), io.StringIO()
    lines = ["a\n", "bé\n"]
    assert list(progress.lines_read(lines, 6, show=True, stream=shown)) == lines
    assert list(progress.counted(lines, "line", show=False, stream=hidden)) == lines
    assert "100%" in shown.getvalue()
    assert hidden.getvalue() == ""
