"""Shapes of the routing domain: a decision as data (what ``Route.data`` holds), and the
bodies of the routing API.

The decision types are plain frozen dataclasses so :func:`takedown.routing.decide.decide`
stays a pure function over plain data, easy to test without a database.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from takedown.orgs.models import Organization
from takedown.routing.models import PoliceTimeout, RouteKind, StepAction, StepStatus
from takedown.routing.rules import (
    MAX_NOTES_CHARS,
    MAX_POLICE_WAIT_SECONDS,
    EffectiveRule,
    builtin_rule,
)
from takedown.textfields import Text
from takedown.tracing.schemas import OrgRef

# What was decided for one hosting group; "unknown" when its country is not known.
GroupKind = Literal["home", "partner", "abroad", "unknown"]


@dataclass(frozen=True)
class OrgInfo:
    """An organization a step is addressed to: from the directory (``id``) or only by name."""

    id: uuid.UUID | None
    name: str
    abuse_email: str | None = None

    def __post_init__(self) -> None:
        # Names come from RDAP and DNS too: keep them on one line (the explanation is
        # line-based) and within ``route_steps.org_name``.
        object.__setattr__(self, "name", " ".join(self.name.split())[:200])

    @classmethod
    def of(cls, org: Organization | OrgRef) -> OrgInfo:
        return cls(org.id, org.name, org.abuse_email)

    @property
    def key(self) -> str:
        return str(self.id) if self.id else f"name:{self.name}"

    def as_data(self) -> dict[str, Any]:
        return {"id": str(self.id) if self.id else None, "name": self.name}


@dataclass(frozen=True)
class RoutingContext:
    """What :func:`decide` needs besides the trace; countries without a rule get built-ins."""

    home_country: str
    rules: Mapping[str, EffectiveRule] = field(default_factory=dict)
    # The partner hotline per foreign country, already chosen (rule's partner, else directory).
    partners: Mapping[str, OrgInfo] = field(default_factory=dict)
    # Police serving the home country: deconfliction and referrals go to them.
    police: OrgInfo | None = None

    def rule(self, country: str) -> EffectiveRule:
        found = self.rules.get(country)
        return found or builtin_rule(country, home_country=self.home_country)


@dataclass(frozen=True)
class PlannedStep:
    """A step as decided, before it is stored."""

    seq: int
    action: StepAction
    status: StepStatus
    after_seq: int | None
    org: OrgInfo | None
    country: str | None
    reason: str
    data: dict[str, Any]

    def as_data(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "action": self.action.value,
            "status": self.status.value,
            "after_seq": self.after_seq,
            "org": self.org.as_data() if self.org else None,
            "country": self.country,
            "reason": self.reason,
            "data": self.data,
        }


@dataclass(frozen=True)
class GroupOutcome:
    """What was decided for one hosting group, with the facts the explanation names."""

    country: str | None
    org: OrgInfo | None
    addresses: tuple[str, ...]
    asns: tuple[int, ...]
    outcome: GroupKind
    rule: EffectiveRule | None = None
    partner: OrgInfo | None = None
    # Who gets the direct notice (the host, or the CDN when the origin is unknown).
    notice_to: OrgInfo | None = None
    # The CDN in front of the content, and whether the origin behind it is known.
    cdn: str | None = None
    origin_known: bool = False
    listed: bool = False

    def as_data(self) -> dict[str, Any]:
        def ref(org: OrgInfo | None) -> dict[str, Any] | None:
            return org.as_data() if org else None

        return {
            "country": self.country,
            "org": ref(self.org),
            "addresses": list(self.addresses),
            "asns": list(self.asns),
            "rule": self.rule.as_data() if self.rule else None,
            "outcome": self.outcome,
            "partner": ref(self.partner),
            "notice_to": ref(self.notice_to),
            "cdn": self.cdn,
            "origin_known": self.origin_known,
            "listed": self.listed,
        }


@dataclass(frozen=True)
class Decision:
    """A route before it is stored: its kind, the groups, the steps, and what is missing."""

    kind: RouteKind
    groups: tuple[GroupOutcome, ...]
    steps: tuple[PlannedStep, ...]
    missing: tuple[str, ...]

    def as_data(self, *, home_country: str, trace_id: uuid.UUID | None) -> dict[str, Any]:
        return {
            "home_country": home_country,
            "trace_id": str(trace_id) if trace_id else None,
            "groups": [g.as_data() for g in self.groups],
            "steps": [s.as_data() for s in self.steps],
            "missing": list(self.missing),
        }


# Bodies of the routing API.


class RuleIn(BaseModel):
    """A rule to set. Fields left out keep their value (a new rule: the value in force now)."""

    model_config = ConfigDict(extra="forbid")

    police_first: bool | None = None
    police_wait_seconds: int | None = Field(default=None, ge=0, le=MAX_POLICE_WAIT_SECONDS)
    on_police_timeout: PoliceTimeout | None = None
    # A hotline from the directory; null clears it (then the directory is searched).
    partner_org_id: uuid.UUID | None = None
    list_url: bool | None = None
    forward_to_partner: bool | None = None
    notes: Text | None = Field(default=None, max_length=MAX_NOTES_CHARS)

    @model_validator(mode="after")
    def _no_null(self) -> RuleIn:
        nulls = sorted(
            name
            for name in self.model_fields_set
            if name != "partner_org_id" and getattr(self, name) is None
        )
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null; leave a field out to keep it")
        return self

    def fields(self) -> dict[str, Any]:
        """The fields the caller gave, for ``rules.set_rule``."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class _RuleValues(BaseModel):
    """What a rule says, stored or in force."""

    model_config = ConfigDict(from_attributes=True)

    country: str
    police_first: bool
    police_wait_seconds: int
    on_police_timeout: PoliceTimeout
    partner_org_id: uuid.UUID | None
    list_url: bool
    forward_to_partner: bool
    notes: str


class RuleOut(_RuleValues):
    """A stored rule."""

    id: uuid.UUID
    created_at: datetime
    updated_at: datetime


class EffectiveRuleOut(_RuleValues):
    """The rule in force for a country, and where it comes from."""

    source: str


class RuleListOut(BaseModel):
    """Stored rules, and the built-in defaults that apply where no rule does."""

    home_country: str
    rules: list[RuleOut]
    built_in_home: EffectiveRuleOut
    built_in_abroad: EffectiveRuleOut


class RouteStepOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    seq: int
    action: StepAction
    status: StepStatus
    after_seq: int | None
    org_id: uuid.UUID | None
    org_name: str | None
    country: str | None
    reason: str
    data: dict[str, Any]
    updated_at: datetime


class RouteOut(BaseModel):
    """A case's route: the explanation for people, ``data`` and the steps for programs."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    case_id: uuid.UUID
    trace_id: uuid.UUID | None
    kind: RouteKind
    decided_at: datetime
    explanation: str
    data: dict[str, Any]
    steps: list[RouteStepOut]
