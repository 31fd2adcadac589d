"""Jurisdiction rules: what the hotline does with content hosted in each country.

A rule is looked up in this order:

1. the country's own row in ``routing_rules``;
2. for any country but the home country, the ``*`` row (the default rule);
3. the built-in defaults below.

The ``*`` row never applies to the home country: it describes "anywhere else", and an admin
tuning it for foreign hosting must not switch off police deconfliction at home by accident.
Set a row for the home country to change what happens there.

Built-in defaults, used when no row applies:

- **home country** (``settings.home_country``): police first (deconfliction) with a 24 h
  wait, on timeout proceed with the notice; URLs not listed (the host is noticed at once
  after police, and a listing would warn the host before police have answered).
- **any other country**: no police first; forward to the partner hotline that covers the
  country when there is one; list the URL while removal is pursued (IWF practice for
  content hosted abroad).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

import pycountry
from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.audit import service as audit
from takedown.auth.principal import Principal
from takedown.errors import NotFound, ValidationFailed
from takedown.orgs.models import Organization, OrgKind
from takedown.routing.models import (
    BUILTIN_POLICE_WAIT_SECONDS,
    DEFAULT_COUNTRY,
    PoliceTimeout,
    RoutingRule,
)

RuleSource = Literal["country rule", "default rule", "built-in"]

# A wait longer than this is a typing mistake, and would not fit the column on PostgreSQL
# (INTEGER) for long: refused with a clear message instead of a database error.
MAX_POLICE_WAIT_SECONDS = 365 * 24 * 3600
MAX_NOTES_CHARS = 4000
# Fields of a rule an admin sets; anything else given to set_rule is refused.
RULE_FIELDS = frozenset(
    {
        "police_first",
        "police_wait_seconds",
        "on_police_timeout",
        "partner_org_id",
        "list_url",
        "forward_to_partner",
        "notes",
    }
)


@dataclass(frozen=True)
class EffectiveRule:
    """The rule in force for one country, with where each value came from (``source``)."""

    country: str
    police_first: bool
    police_wait_seconds: int
    on_police_timeout: PoliceTimeout
    partner_org_id: uuid.UUID | None
    list_url: bool
    forward_to_partner: bool
    notes: str
    source: RuleSource

    def as_data(self) -> dict[str, Any]:
        """JSON-ready form, kept in ``Route.data`` so a route shows the rule it applied."""
        return _json_ready(asdict(self))


def builtin_rule(country: str, *, home_country: str) -> EffectiveRule:
    """The built-in defaults (see the module docstring) for ``country``."""
    home = country == home_country
    return EffectiveRule(
        country=country,
        police_first=home,
        police_wait_seconds=BUILTIN_POLICE_WAIT_SECONDS,
        on_police_timeout=PoliceTimeout.PROCEED,
        partner_org_id=None,
        list_url=not home,
        forward_to_partner=True,
        notes="",
        source="built-in",
    )


def _effective(row: RoutingRule, country: str, source: RuleSource) -> EffectiveRule:
    return EffectiveRule(
        country=country,
        police_first=row.police_first,
        police_wait_seconds=row.police_wait_seconds,
        on_police_timeout=row.on_police_timeout,
        partner_org_id=row.partner_org_id,
        list_url=row.list_url,
        forward_to_partner=row.forward_to_partner,
        notes=row.notes,
        source=source,
    )


def normalize_country(country: str) -> str:
    """An ISO 3166-1 alpha-2 code in upper case, or ``*`` (also spelled ``default``)."""
    code = country.strip().upper()
    if code in {DEFAULT_COUNTRY, "DEFAULT"}:
        return DEFAULT_COUNTRY
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise ValidationFailed(
            f"country must be an ISO 3166-1 alpha-2 code (e.g. NL) or '*', not {country!r}"
        )
    return code


def _row(session: Session, country: str) -> RoutingRule | None:
    return session.scalar(select(RoutingRule).where(RoutingRule.country == country))


def get_rule(session: Session, country: str, *, home_country: str) -> EffectiveRule:
    """The rule in force for ``country``: its own row, else ``*`` (not at home), else built-in."""
    country = country.strip().upper()
    own = _row(session, country)
    if own is not None:
        return _effective(own, country, "country rule")
    if country != home_country:
        default = _row(session, DEFAULT_COUNTRY)
        if default is not None:
            return _effective(default, country, "default rule")
    return builtin_rule(country, home_country=home_country)


def list_rules(session: Session) -> Sequence[RoutingRule]:
    """Every stored rule, the ``*`` rule first, then by country."""
    return session.scalars(select(RoutingRule).order_by(RoutingRule.country)).all()


def _check(session: Session, values: dict[str, Any]) -> None:
    for flag in ("police_first", "list_url", "forward_to_partner"):
        if not isinstance(values[flag], bool):
            raise ValidationFailed(f"{flag} must be true or false")
    wait = values["police_wait_seconds"]
    if isinstance(wait, bool) or not isinstance(wait, int) or wait < 0:
        raise ValidationFailed("police_wait_seconds must be a whole number of seconds, 0 or more")
    if wait > MAX_POLICE_WAIT_SECONDS:
        raise ValidationFailed(f"police_wait_seconds must be at most {MAX_POLICE_WAIT_SECONDS}")
    try:
        values["on_police_timeout"] = PoliceTimeout(values["on_police_timeout"])
    except ValueError:
        allowed = ", ".join(t.value for t in PoliceTimeout)
        raise ValidationFailed(f"on_police_timeout must be one of: {allowed}") from None
    if len(values["notes"]) > MAX_NOTES_CHARS:
        raise ValidationFailed(f"notes have at most {MAX_NOTES_CHARS} characters")
    partner_id = values["partner_org_id"]
    if partner_id is not None:
        if not isinstance(partner_id, uuid.UUID):
            raise ValidationFailed("partner_org_id must be an organization id")
        partner = session.get(Organization, partner_id)
        if partner is None:
            raise ValidationFailed(f"no organization {partner_id}")
        if partner.kind is not OrgKind.HOTLINE:
            raise ValidationFailed(
                f"the partner must be a hotline; {partner.name} is a {partner.kind.label.lower()}"
            )


def _fields(rule: RoutingRule | EffectiveRule) -> dict[str, Any]:
    return {name: getattr(rule, name) for name in sorted(RULE_FIELDS)}


def _json_ready(values: dict[str, Any]) -> dict[str, Any]:
    """A rule's values with ids and enums as strings: for routes and the audit log."""
    return {
        k: (str(v) if isinstance(v, uuid.UUID | PoliceTimeout) else v) for k, v in values.items()
    }


def set_rule(
    session: Session,
    actor: Principal,
    country: str,
    *,
    now: datetime,
    home_country: str,
    **fields: Any,
) -> RoutingRule:
    """Create or change the rule for ``country`` (or ``*``); routes decided after use it.

    Fields not given keep their value; a new rule starts from the rule in force now (the
    ``*`` rule or the built-in defaults), so setting one field changes only that field.
    """
    unknown = sorted(set(fields) - RULE_FIELDS)
    if unknown:
        raise ValidationFailed(f"unknown rule fields {unknown}")
    code = normalize_country(country)
    row = _row(session, code)
    if row is not None:
        before = _fields(row)
    else:
        # "*" is never the home country, so a new "*" rule starts from the foreign defaults.
        before = _fields(get_rule(session, code, home_country=home_country))
    values = before | fields
    if isinstance(values["notes"], str):
        values["notes"] = values["notes"].strip()
    else:
        raise ValidationFailed("notes must be text")
    _check(session, values)
    created = row is None
    if row is None:
        row = RoutingRule(country=code, created_at=now)
        session.add(row)
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_at = now
    session.flush()
    audit.record(
        session,
        actor,
        "routing_rule.set",
        "routing_rule",
        code,
        at=now,
        details={
            "country": code,
            "created": created,
            "before": _json_ready(before),
            "after": _json_ready(values),
        },
    )
    return row


def delete_rule(session: Session, actor: Principal, country: str, *, now: datetime) -> None:
    """Remove the rule for ``country``; the ``*`` rule or the built-in defaults apply again."""
    code = normalize_country(country)
    row = _row(session, code)
    if row is None:
        raise NotFound(f"no routing rule for {code}")
    details = {"country": code, "before": _json_ready(_fields(row))}
    session.delete(row)
    session.flush()
    audit.record(
        session, actor, "routing_rule.delete", "routing_rule", code, at=now, details=details
    )
