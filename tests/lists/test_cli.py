"""``takedown lists publish|export|verify|public-key`` against a real database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from takedown.cli.main import main
from takedown.config import Settings
from takedown.db.session import Database
from takedown.lists import entries
from tests.factories import ACTOR, NOW

Run = Callable[..., Result]


@pytest.fixture
def run(database_url: str, committed: Database, tmp_path: Path) -> Run:
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        env = {
            "TAKEDOWN_DATABASE_URL": database_url,
            "TAKEDOWN_DATA_DIR": str(tmp_path),
            "TAKEDOWN_SPLASH_HOST": "blocked.hotline.test",
        }
        return runner.invoke(main, list(args), env=env)

    return invoke


def test_publish_export_and_verify(
    run: Run, committed: Database, settings: Settings, tmp_path: Path
) -> None:
    with committed.transaction() as session:
        entries.add_entry(session, "cli.example.test/dir/", actor=ACTOR, reason="r", now=NOW)
        host = entries.add_entry(
            session, "dedicated.example.test/", actor=ACTOR, reason="r", now=NOW
        )
        host.status = entries.EntryStatus.ACTIVE  # approved by a second person
    published = run("lists", "publish", "urls")
    assert published.exit_code == 0, published.output
    assert "version 1: 2 entries (+2 -0)" in published.output
    assert "nothing published" in run("lists", "publish", "urls").output

    key = tmp_path / "public.pem"
    key.write_text(run("lists", "public-key").output)
    outputs = {}
    for fmt in ("txt", "csv", "json", "sha256", "rpz", "rpz-a", "rpz-nxdomain"):
        out = tmp_path / f"urls.{fmt}"
        result = run("lists", "export", "urls", "--format", fmt, "--out", str(out))
        assert result.exit_code == 0, result.output
        outputs[fmt] = out.read_text()
        good = run("lists", "verify", str(out), "--signature", f"{out}.sig", "--key", str(key))
        assert good.exit_code == 0, good.output
    assert "cli.example.test/dir/" in outputs["txt"]
    assert "cli.example.test/dir/" in outputs["csv"]
    assert "cli.example.test/dir/" in outputs["json"]
    # RPZ sees host-level entries only; the zone's serial is the version number.
    assert "dedicated.example.test" in outputs["rpz"]
    assert "cli.example.test" not in outputs["rpz"]
    assert " 1 " in outputs["rpz-a"].split("SOA", 1)[1].splitlines()[0] + " "

    tampered = tmp_path / "urls.txt"
    tampered.write_text(outputs["txt"] + "evil.example.test/\n")
    bad = run("lists", "verify", str(tampered), "--signature", f"{tampered}.sig", "--key", str(key))
    assert bad.exit_code == 1
    assert "BAD" in bad.output

    assert run("lists", "export", "urls", "--version", "7").exit_code == 1
    wrong = run("lists", "export", "keywords", "--format", "rpz")
    assert wrong.exit_code == 1
    assert "not 'rpz'" in wrong.output
