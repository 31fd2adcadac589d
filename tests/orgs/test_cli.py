"""``takedown orgs ...``: add, list, show, import, export, lookup."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from takedown.audit.models import AuditRecord
from takedown.cli.main import main
from takedown.db.session import Database
from takedown.orgs import service as orgs

from .support import NET_A

Run = Callable[..., Result]


@pytest.fixture
def run(database_url: str, committed: Database, tmp_path: Path) -> Run:
    """Invoke ``takedown`` in-process against the test database."""
    runner = CliRunner()
    env = {"TAKEDOWN_DATABASE_URL": database_url, "TAKEDOWN_DATA_DIR": str(tmp_path / "data")}

    def invoke(*args: str) -> Result:
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    return invoke


def _names(database: Database) -> list[str]:
    with database.transaction() as session:
        return [org.name for org in orgs.list_orgs(session)]


def test_add_show_list_and_lookup(run: Run, committed: Database) -> None:
    added = run(
        "orgs", "add", "Example Hosting",
        "--kind", "hosting_provider", "--country", "nl",
        "--abuse-email", "abuse@hosting.example",
        "--webhook-url", "https://hooks.hosting.example/",
        "--webhook-secret", "a-secret-of-twenty-chars",
        "--asn", "64496", "--asn", "AS64497",
        "--network", NET_A, "--network", "2001:db8::/32",
        "--domain", "hosting.example",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "added Example Hosting (hosting_provider, NL)" in added.output
    run("orgs", "add", "Hotline AT", "--kind", "hotline", "--country", "AT", "--serves", "at")

    shown = run("orgs", "show", "example hosting")
    assert shown.exit_code == 0, shown.output
    assert "ASNs:           AS64496 AS64497" in shown.output
    assert f"networks:       {NET_A} 2001:db8::/32" in shown.output
    assert "webhook secret: set" in shown.output
    assert "a-secret-of-twenty-chars" not in shown.output

    listed = run("orgs", "list", "--kind", "hotline")
    assert "Hotline AT" in listed.output
    assert "Example Hosting" not in listed.output
    assert "Example Hosting" in run("orgs", "list", "--country", "NL").output

    found = run("orgs", "lookup", "192.0.2.200")
    assert found.output == f"192.0.2.200: {NET_A} of Example Hosting (hosting_provider, NL)\n"
    assert run("orgs", "lookup", "203.0.113.1").output == "203.0.113.1: not in the directory\n"
    bad = run("orgs", "lookup", "nope")
    assert bad.exit_code == 1
    assert "'nope' is not an IP address" in bad.output


def test_refused_adds_change_nothing(run: Run, committed: Database) -> None:
    run("orgs", "add", "Holder", "--kind", "isp", "--country", "DE", "--network", NET_A)
    overlap = run(
        "orgs", "add", "Other", "--kind", "cdn", "--country", "DE", "--network", "192.0.2.0/25"
    )
    assert overlap.exit_code == 1
    assert f"Error: networks: 192.0.2.0/25 is inside {NET_A} of 'Holder'" in overlap.output
    bad = run("orgs", "add", "Other", "--kind", "cdn", "--country", "DE", "--asn", "0")
    assert bad.exit_code == 1
    assert "asns: '0' is not an AS number" in bad.output
    nameless = run("orgs", "add", "--kind", "cdn", "--country", "DE")
    assert nameless.exit_code == 2
    assert _names(committed) == ["Holder"]


def test_import_prints_every_error_and_fails(run: Run, committed: Database, tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("- name: A\n  kind: cdn\n  country: NL\n  asns: [64496]\n")
    imported = run("orgs", "import", str(good))
    assert imported.exit_code == 0, imported.output
    assert imported.output == "created 1, updated 0\n"

    bad = tmp_path / "bad.csv"
    bad.write_text("name,kind,country,asns\nA,cdn,NL,\nB,cdn,XX,\nC,cdn,DE,64496 64497\n")
    refused = run("orgs", "import", str(bad))
    assert refused.exit_code == 1
    assert "line 3: country: unknown country code 'XX'" in refused.output
    assert "Error: 1 problem in the file; nothing was imported" in refused.output
    assert _names(committed) == ["A"]

    partial = run("orgs", "import", str(bad), "--partial")
    assert partial.exit_code == 1
    assert "line 3: country: unknown country code 'XX'" in partial.output
    assert "created 1, updated 1" in partial.stdout
    assert _names(committed) == ["A", "C"]

    unknown = tmp_path / "directory.txt"
    unknown.write_text("[]")
    assert run("orgs", "import", str(unknown)).exit_code == 2
    assert run("orgs", "import", str(unknown), "--format", "yaml").exit_code == 0


def test_export_to_a_file_and_back(run: Run, committed: Database, tmp_path: Path) -> None:
    run("orgs", "add", "A", "--kind", "cdn", "--country", "NL", "--webhook-secret", "s" * 16)
    out = tmp_path / "directory.csv"
    assert run("orgs", "export", "--out", str(out)).exit_code == 0
    assert out.read_text().splitlines() == [
        "name,kind,country,abuse_email,webhook_url,language,notes,asns,networks,domains,tlds,countries",
        "A,cdn,NL,,,en,,,,,,",
    ]
    with_secrets = run("orgs", "export", "--include-secrets").stdout
    assert with_secrets.startswith("- name: A\n")
    assert "webhook_secret: ssssssssssssssss" in with_secrets
    with committed.transaction() as session:
        audited = select(AuditRecord.action).where(AuditRecord.action.like("directory.%"))
        assert session.scalars(audited).all() == ["directory.export_secrets"]
    again = run("orgs", "import", str(out))
    assert again.output == "created 0, updated 1\n"
