"""The shipped alert rules and dashboard: valid, and naming only metrics the app exports."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from takedown import metrics
from takedown.config import Settings
from takedown.db.session import Database
from takedown.matching.lookup import index_of
from tests.metrics.conftest import AUTH
from tests.system import tool

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "takedown.json"
NAME = re.compile(r"\btakedown_[a-z_]+\b")


def test_promtool_accepts_the_rules() -> None:
    promtool = tool("promtool", "prometheus")
    result = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def expressions() -> list[str]:
    rules = yaml.safe_load(RULES.read_text())
    found = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    dashboard = json.loads(DASHBOARD.read_text())
    found += [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    return found


def test_rules_cover_what_the_issue_asks() -> None:
    rules = yaml.safe_load(RULES.read_text())
    names = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    assert {
        "TakedownAssessmentDeadlinePassed",
        "TakedownDeadJobs",
        "TakedownListNotPublished",
        "TakedownDatabaseUnavailable",
        "TakedownSheddingLoad",
    } <= names


def test_every_metric_named_is_exported(
    metrics_client: TestClient, database: Database, metrics_settings: Settings
) -> None:
    # One of everything, so that every family has a sample to show.
    metrics_client.get("/healthz")
    metrics.observe_job("tests.deploy", True, 0.1)
    metrics.count_notice("email", "sent")
    metrics.count_shed()
    metrics.count_database_unavailable()
    with database.transaction() as session:
        index_of(database, metrics_settings).sync(session)
    body = metrics_client.get("/metrics", headers=AUTH).text
    exported = {
        sample.name for family in text_string_to_metric_families(body) for sample in family.samples
    }
    # A gauge family with no series yet (no list published) still announces its name.
    exported |= set(re.findall(r"^# TYPE (\S+)", body, re.MULTILINE))
    named = {name for expr in expressions() for name in NAME.findall(expr)}
    assert named, "no expression names a metric"
    assert named - exported == set()
