"""The annual transparency report: figures of a seeded year, suppression, safe formats."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from takedown.app import create_app
from takedown.auth.models import Role
from takedown.cli.main import main
from takedown.clock import FrozenClock
from takedown.config import Settings
from takedown.db.session import Database
from takedown.orgs.models import OrgKind
from takedown.stats import report
from takedown.stats.report import WITHHELD, suppress
from tests import factories
from tests.stats.seed import SPECS, seed

NOW = datetime(2027, 2, 1, tzinfo=UTC)
HOSTILE = '=HYPERLINK("http://x.test")<script>alert(1)</script>'


def _build(db: Session, below: int) -> report.Report:
    return report.build(db, 2026, below=below, hotline="Test hotline", now=NOW)


def _rows(document: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return next(t for t in document["tables"] if t["name"] == name)["rows"]


def _json(built: report.Report) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(report.render(built, "json"))
    return document


def test_the_year_matches_the_seed(db: Session) -> None:
    seed(db)
    document = _json(_build(db, below=1))  # nothing suppressed: every figure is visible
    counts = {r["figure"]: r["count"] for r in _rows(document, "counts")}
    year = [s for s in SPECS if s.reported.year == 2026]
    decided = [s for s in year if s.decided]
    assert counts["Cases opened (distinct URLs)"] == len(year)
    assert counts["Reports received"] == len(year) + sum(len(s.duplicates) for s in year)
    assert counts["Cases assessed (first decision)"] == len(decided)
    assert counts["… assessed automatically (every item matched a hash bank)"] == sum(
        s.by_system for s in decided
    )
    assert counts["… confirmed as illegal"] == sum(s.verdict == "confirmed" for s in decided)
    assert counts["Notices sent"] == sum(s.noticed is not None for s in year)

    # Every confirmed case of 2026 came down before the year ended: nearest-rank median.
    removal = sorted(s.removed for s in year if s.verdict == "confirmed" and s.removed)
    times = {r["time"]: r for r in _rows(document, "times_year")}
    to_removal = times["First report to removal (confirmed cases)"]
    assert to_removal["cases"] == len(removal)
    assert to_removal["median_seconds"] == int(removal[1].total_seconds())  # ceil(4 * 0.5)
    assert to_removal["within_24h"] == sum(d.total_seconds() <= 86400 for d in removal)
    assert to_removal["within_3d"] == sum(d.total_seconds() <= 3 * 86400 for d in removal)

    months = {r["month"]: r for r in _rows(document, "months")}
    assert [months[f"2026-{m:02d}"]["cases_opened"] for m in (10, 11, 12)] == [1, 5, 0]
    assert sum(r["cases_opened"] for r in months.values()) == counts["Cases opened (distinct URLs)"]


def test_small_counts_show_as_below_the_threshold_in_every_format(db: Session) -> None:
    seed(db)
    built = _build(db, below=5)
    # Host A got three notices (cases a, b and f).
    notices = {r["organization"]: r for r in _rows(_json(built), "notices_by_organization")}
    assert notices["Host A"]["notices"] == "< 5"
    rows = list(csv.reader(io.StringIO(report.render(built, "csv").decode())))
    assert ["notices_by_organization", "Host A", "notices", "< 5"] in rows
    page = report.render(built, "html").decode()
    host_a = page[page.index('<th scope="row">Host A</th>') :].split("</tr>")[0]
    assert "&lt; 5" in host_a
    assert ">3<" not in host_a


def test_a_total_minus_the_other_parts_does_not_give_a_hidden_count_away(db: Session) -> None:
    seed(db)
    counts = {r["figure"]: r["count"] for r in _rows(_json(_build(db, below=5)), "counts")}
    # 7 reports, 6 cases opened, 1 duplicate: showing 7 and 6 would give the 1 away.
    assert counts["Reports received"] == 7
    assert counts["Duplicate reports folded into a case"] == "< 5"
    assert counts["Cases opened (distinct URLs)"] == WITHHELD
    for total, parts in (
        (
            "Reports received",
            ["Cases opened (distinct URLs)", "Duplicate reports folded into a case"],
        ),
        ("Cases assessed (first decision)", ["… confirmed as illegal", "… not illegal"]),
    ):
        _assert_not_pinned(counts[total], [counts[p] for p in parts])


def _assert_not_pinned(total: object, parts: list[object]) -> None:
    """Every hidden part can take at least two values that fit the total and the rest."""
    if not isinstance(total, int):
        return
    ranges = [
        [p] if isinstance(p, int) else (range(1, 5) if p == "< 5" else range(total + 1))
        for p in parts
    ]
    fits = [combo for combo in itertools.product(*ranges) if sum(combo) == total]
    for index, part in enumerate(parts):
        if not isinstance(part, int):
            assert len({combo[index] for combo in fits}) > 1, (total, parts)


def test_suppress_withholds_a_partner_or_the_total() -> None:
    assert suppress({"t": 7, "a": 6, "b": 1}, [("t", ["a", "b"])], 5) == {
        "b": "< 5",
        "a": WITHHELD,
    }
    # Two counts of 1 adding up to a shown 2 would each be 1: the total goes.
    assert suppress({"t": 2, "a": 1, "b": 1}, [("t", ["a", "b"])], 5) == {
        "a": "< 5",
        "b": "< 5",
        "t": "< 5",
    }
    assert suppress({"t": 20, "a": 10, "b": 10}, [("t", ["a", "b"])], 5) == {}
    assert suppress({"t": 14, "a": 2, "b": 2, "c": 10}, [("t", ["a", "b", "c"])], 5) == {
        "a": "< 5",
        "b": "< 5",
    }


def test_csv_is_spreadsheet_safe_and_html_escapes_hostile_names(db: Session) -> None:
    hostile = factories.org(db, HOSTILE, OrgKind.HOSTING_PROVIDER, "DE")
    seed(db, {"Host A": hostile})
    built = _build(db, below=1)
    rows = list(csv.reader(io.StringIO(report.render(built, "csv").decode())))
    labels = {row[1] for row in rows[1:]}
    assert "'" + HOSTILE in labels
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    page = report.render(built, "html").decode()
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # Standalone: nothing is loaded from anywhere, and the one style is what CSP allows.
    assert all(link.startswith("#") for link in re.findall(r'(?:src|href)="([^"]*)"', page))
    assert page.count("<style>") == 1
    assert report.CSP.startswith("default-src 'none'; style-src 'sha256-")


def test_the_transparency_page_is_off_unless_switched_on(
    settings: Settings, database: Database
) -> None:
    with database.transaction() as session:
        seed(session)
    clock = FrozenClock(NOW)  # 2026 is the latest complete year
    with TestClient(create_app(settings, database=database, clock=clock)) as client:
        answer = client.get("/transparency")
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("application/problem+json")
    switched_on = settings.model_copy(update={"transparency_page": True})
    with TestClient(create_app(switched_on, database=database, clock=clock)) as client:
        answer = client.get("/transparency")
    assert answer.status_code == 200
    assert "transparency report 2026" in answer.text
    assert answer.headers["content-security-policy"] == report.CSP
    # Suppressed as in every format: Host A's three notices.
    host_a = answer.text[answer.text.index('<th scope="row">Host A</th>') :].split("</tr>")[0]
    assert "&lt; 5" in host_a


def test_supervisors_download_the_report_from_the_console(
    client: TestClient, database: Database
) -> None:
    with database.transaction() as session:
        seed(session)
    factories.login(client, database, Role.ANALYST)
    assert client.get("/console/transparency/report", params={"year": 2026}).status_code == 403
    factories.login(client, database, Role.SUPERVISOR)
    assert client.get("/console/transparency").status_code == 200
    answer = client.get("/console/transparency/report", params={"year": 2026, "format": "csv"})
    assert answer.status_code == 200
    assert "transparency-report-2026.csv" in answer.headers["content-disposition"]
    assert "notices_by_organization,Host A,notices,< 5" in answer.text


def test_the_cli_writes_the_report_and_a_providers_statements(
    database_url: str, committed: Database, tmp_path: Path
) -> None:
    with committed.transaction() as session:
        seed(session)
    env = {"TAKEDOWN_DATABASE_URL": database_url, "TAKEDOWN_DATA_DIR": str(tmp_path)}
    out = tmp_path / "report.json"
    runner = CliRunner()
    args = ["stats", "report", "--year", "2026", "--format", "json", "--out", str(out)]
    result = runner.invoke(main, args, env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    notices = {
        r["organization"]: r for r in _rows(json.loads(out.read_text()), "notices_by_organization")
    }
    assert notices["Host A"]["notices"] == "< 5"
    result = runner.invoke(
        main,
        ["stats", "statements", "--org", "Host A", "--from", "2026-01-01", "--to", "2026-12-31"],
        env=env,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["statements"]) == 3
