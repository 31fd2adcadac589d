"""`takedown routing ...`, run in-process against the test database."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from takedown.auth.principal import SYSTEM
from takedown.cli.routing import routing_group
from takedown.config import Settings
from takedown.db.session import Database
from takedown.orgs.models import OrgKind
from takedown.routing import rules, service
from tests.factories import NOW

from .support import HOME, NL_HOST, add_trace, confirmed_case, serving, trace_data

Run = Callable[..., Result]


@pytest.fixture
def run(database_url: str, committed: Database, tmp_path: Path) -> Run:
    """Invoke ``takedown routing`` with committed data visible to it."""

    def invoke(*args: str) -> Result:
        env = {"TAKEDOWN_DATABASE_URL": database_url, "TAKEDOWN_DATA_DIR": str(tmp_path)}
        return CliRunner().invoke(routing_group, list(args), env=env, catch_exceptions=False)

    return invoke


def test_rules_set_list_delete(run: Run, committed: Database) -> None:
    with committed.transaction() as session:
        serving(session, "eco", OrgKind.HOTLINE, "DE")
        serving(session, "Example Hosting", OrgKind.HOSTING_PROVIDER, country="DE")
    listed = run("rules", "list")
    assert listed.exit_code == 0
    assert listed.stdout.splitlines() == [
        "built-in for NL (home): police first (wait 24 h, then proceed), forward to a partner "
        "from the directory, do not list URLs",
        "built-in for other countries: no police first, forward to a partner from the "
        "directory, list URLs",
    ]
    result = run("rules", "set", "de", "--no-list", "--partner", "eco", "--police-wait", "2h")
    assert result.exit_code == 0, result.output
    assert result.stdout == "DE: no police first, forward to eco, do not list URLs\n"
    assert run("rules", "set", "default", "--no-forward", "--notes", "MoU 2026").exit_code == 0
    assert run("rules", "list").stdout.splitlines()[:2] == [
        "*   no police first, notice hosts directly, list URLs  (MoU 2026)",
        "DE  no police first, forward to eco, do not list URLs",
    ]
    with committed.sessions() as session:
        rule = rules.get_rule(session, "DE", home_country=HOME)
    assert (rule.police_wait_seconds, rule.list_url, rule.source) == (7200, False, "country rule")
    deleted = run("rules", "delete", "DE")
    assert (deleted.exit_code, deleted.stdout) == (0, "deleted the rule for DE\n")
    again = run("rules", "delete", "DE")
    assert again.exit_code == 1
    assert "no routing rule for DE" in again.output


def test_rules_set_refuses_bad_input(run: Run, committed: Database) -> None:
    with committed.transaction() as session:
        serving(session, "Example Hosting", OrgKind.HOSTING_PROVIDER, country="DE")
    bad_country = run("rules", "set", "XX", "--list")
    assert bad_country.exit_code == 1
    assert "ISO 3166-1 alpha-2" in bad_country.output
    not_hotline = run("rules", "set", "DE", "--partner", "Example Hosting")
    assert not_hotline.exit_code == 1
    assert "must be a hotline" in not_hotline.output
    assert run("rules", "set", "DE", "--partner", "Nobody").exit_code == 1
    assert run("rules", "set", "DE", "--police-wait", "soon").exit_code == 2
    assert run("rules", "set", "DE", "--partner", "x", "--no-partner").exit_code == 2
    assert "built-in" in run("rules", "list").stdout.splitlines()[0]


@pytest.mark.parametrize(("given", "seconds"), [("90", 90), ("30m", 1800), ("1d", 86400)])
def test_police_wait_takes_units(run: Run, committed: Database, given: str, seconds: int) -> None:
    assert run("rules", "set", "NL", "--police-wait", given).exit_code == 0
    with committed.sessions() as session:
        assert rules.get_rule(session, "NL", home_country=HOME).police_wait_seconds == seconds


def test_show_prints_the_explanation_and_steps(
    run: Run, committed: Database, settings: Settings
) -> None:
    with committed.transaction() as session:
        serving(session, "Politie", OrgKind.POLICE, "NL")
        case = confirmed_case(session)
        trace = add_trace(session, case, trace_data(NL_HOST))
        route = service.route_case(session, case, trace, settings=settings, now=NOW, actor=SYSTEM)
        explanation = route.explanation
    result = run("show", str(case.id))
    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    assert out[0] == "Home route decided 2026-11-22 09:00:00 UTC"
    assert out[1:3] == explanation.splitlines()
    assert out[3] == "Steps:"
    assert out[4] == "  1. Police deconfliction → Politie [planned]"
    assert out[6] == "  2. Notice → Example Hosting [waiting after step 1]"
    assert out[7].strip().startswith("Example Hosting hosts the content at 192.0.2.10")
    missing = run("show", str(uuid.uuid4()))
    assert missing.exit_code == 1
    assert "has no route" in missing.output
