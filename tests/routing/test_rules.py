"""Rules: which one is in force for a country, and what may be stored."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.audit.models import AuditRecord
from takedown.errors import NotFound, ValidationFailed
from takedown.orgs.models import OrgKind
from takedown.routing import rules
from takedown.routing.models import PoliceTimeout, RoutingRule
from tests import factories
from tests.factories import ACTOR, NOW

from .support import HOME


def set_rule(session: Session, country: str, **fields: object) -> RoutingRule:
    return rules.set_rule(session, ACTOR, country, now=NOW, home_country=HOME, **fields)


def test_built_in_defaults() -> None:
    home = rules.builtin_rule("NL", home_country="NL")
    assert (home.police_first, home.police_wait_seconds, home.list_url) == (True, 86400, False)
    assert home.on_police_timeout is PoliceTimeout.PROCEED
    abroad = rules.builtin_rule("DE", home_country="NL")
    assert (abroad.police_first, abroad.list_url, abroad.forward_to_partner) == (False, True, True)
    assert abroad.source == home.source == "built-in"


def test_country_rule_wins_over_default_rule_over_built_in(db: Session) -> None:
    assert rules.get_rule(db, "DE", home_country=HOME).source == "built-in"
    set_rule(db, "*", list_url=False)
    fallback = rules.get_rule(db, "DE", home_country=HOME)
    assert (fallback.source, fallback.list_url, fallback.country) == ("default rule", False, "DE")
    set_rule(db, "DE", list_url=True, notes="listed by agreement")
    own = rules.get_rule(db, "de", home_country=HOME)
    assert (own.source, own.list_url, own.notes) == ("country rule", True, "listed by agreement")
    assert rules.get_rule(db, "FR", home_country=HOME).source == "default rule"


def test_the_default_rule_does_not_apply_at_home(db: Session) -> None:
    set_rule(db, "*", police_first=False)
    home = rules.get_rule(db, HOME, home_country=HOME)
    assert (home.source, home.police_first) == ("built-in", True)
    set_rule(db, HOME, police_first=False)
    assert rules.get_rule(db, HOME, home_country=HOME).police_first is False


def test_set_changes_only_the_fields_given(db: Session) -> None:
    set_rule(db, "*", list_url=False)
    # A new rule starts from the rule in force: here the "*" rule's list_url.
    created = set_rule(db, "DE", police_wait_seconds=3600)
    assert (created.list_url, created.police_wait_seconds, created.police_first) == (
        False,
        3600,
        False,
    )
    changed = set_rule(db, "DE", on_police_timeout="remind")
    assert changed.id == created.id
    assert (changed.on_police_timeout, changed.police_wait_seconds) == (PoliceTimeout.REMIND, 3600)
    # A new home rule starts from the home built-ins, not from "*".
    assert set_rule(db, "nl", list_url=True).police_first is True
    assert [r.country for r in rules.list_rules(db)] == ["*", "DE", "NL"]


def test_set_and_delete_are_audited(db: Session) -> None:
    set_rule(db, "DE", list_url=False)
    set_rule(db, "DE", list_url=True)
    rules.delete_rule(db, ACTOR, "de", now=NOW)
    records = db.scalars(
        select(AuditRecord)
        .where(AuditRecord.object_type == "routing_rule")
        .order_by(AuditRecord.seq)
    ).all()
    assert [r.action for r in records] == ["routing_rule.set"] * 2 + ["routing_rule.delete"]
    assert records[1].details["before"]["list_url"] is False
    assert records[1].details["after"]["list_url"] is True
    assert records[2].object_id == "DE"
    assert rules.get_rule(db, "DE", home_country=HOME).source == "built-in"


def test_delete_of_a_missing_rule_is_not_found(db: Session) -> None:
    with pytest.raises(NotFound):
        rules.delete_rule(db, ACTOR, "DE", now=NOW)


@pytest.mark.parametrize("country", ["XX", "NLD", "", "N1", "UK", "**"])
def test_countries_must_be_iso_codes_or_star(db: Session, country: str) -> None:
    with pytest.raises(ValidationFailed, match="ISO 3166-1 alpha-2"):
        set_rule(db, country, list_url=True)
    assert rules.list_rules(db) == []


def test_default_is_another_name_for_star(db: Session) -> None:
    assert set_rule(db, "default", list_url=False).country == "*"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"police_wait_seconds": -1}, "0 or more"),
        ({"police_wait_seconds": 10**12}, "at most"),
        ({"police_wait_seconds": "soon"}, "whole number"),
        ({"on_police_timeout": "panic"}, "on_police_timeout must be one of"),
        ({"police_first": "yes"}, "police_first must be true or false"),
        ({"colour": "red"}, "unknown rule fields"),
        ({"notes": "x" * 5000}, "at most 4000"),
    ],
)
def test_bad_values_are_refused(db: Session, fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        set_rule(db, "DE", **fields)
    assert rules.list_rules(db) == []


def test_the_partner_must_be_a_hotline(db: Session) -> None:
    host = factories.org(db, "Example Hosting", OrgKind.HOSTING_PROVIDER, "DE")
    with pytest.raises(ValidationFailed, match="must be a hotline; Example Hosting is a hosting"):
        set_rule(db, "DE", partner_org_id=host.id)
    with pytest.raises(ValidationFailed, match="no organization"):
        set_rule(db, "DE", partner_org_id=uuid.uuid4())
    eco = factories.org(db, "eco", OrgKind.HOTLINE, "DE")
    assert set_rule(db, "DE", partner_org_id=eco.id).partner_org_id == eco.id
    assert set_rule(db, "DE", partner_org_id=None).partner_org_id is None
