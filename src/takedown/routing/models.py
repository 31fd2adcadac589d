"""Models of the routing domain: jurisdiction rules, and the routes and steps they produce."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from takedown.db.base import Base, Timestamped, UUIDPrimaryKey, enum_column

# The rule for every country that has no rule of its own.
DEFAULT_COUNTRY = "*"
# How long notices wait for police when no rule says otherwise (see ``rules``).
BUILTIN_POLICE_WAIT_SECONDS = 24 * 3600


class PoliceTimeout(StrEnum):
    """What happens when police have not answered a deconfliction request in time."""

    PROCEED = "proceed"  # send the notice
    REMIND = "remind"  # keep waiting and remind police


class RoutingRule(UUIDPrimaryKey, Timestamped, Base):
    """What the hotline does with content hosted in one country (or ``*``: any other).

    Edited by admins through the API, the CLI or the console; the next route decided uses it.
    """

    __tablename__ = "routing_rules"

    # ISO 3166-1 alpha-2, or "*" for the default rule.
    country: Mapped[str] = mapped_column(String(2), unique=True)
    # Police must be consulted (deconfliction) before a notice goes to the host.
    police_first: Mapped[bool] = mapped_column(default=False)
    police_wait_seconds: Mapped[int] = mapped_column(default=BUILTIN_POLICE_WAIT_SECONDS)
    on_police_timeout: Mapped[PoliceTimeout] = mapped_column(
        enum_column(PoliceTimeout, "police_timeout"), default=PoliceTimeout.PROCEED
    )
    # The partner hotline for the country; none means: look in the directory for one.
    partner_org_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL")
    )
    # Put URLs hosted there on the URL list while removal is pursued.
    list_url: Mapped[bool] = mapped_column(default=False)
    # Forward to a partner hotline when there is one (off: notice the host directly).
    forward_to_partner: Mapped[bool] = mapped_column(default=True)
    notes: Mapped[str] = mapped_column(Text, default="")


class RouteKind(StrEnum):
    """The shape of a route."""

    HOME = "home"  # hosted here: (police first), notice to the host
    PARTNER = "partner"  # hosted abroad where a partner hotline covers the country
    ABROAD = "abroad"  # abroad, not forwarded (no partner, or the rule): notice, referral, list
    MIXED = "mixed"  # addresses in several of the above
    UNDETERMINED = "undetermined"  # no hosting country known yet

    @property
    def label(self) -> str:
        return self.value.capitalize()


class Route(UUIDPrimaryKey, Base):
    """The decision what to do with a confirmed case, given its trace and the rules.

    ``explanation`` is for people, ``data`` (facts, the rules applied and every reason) for
    programs. A case keeps its earlier routes; a new one supersedes their open steps.
    """

    __tablename__ = "routes"
    __table_args__ = (Index("ix_routes_case_id_decided_at", "case_id", "decided_at"),)

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    trace_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("traces.id", ondelete="SET NULL"))
    kind: Mapped[RouteKind] = mapped_column(enum_column(RouteKind, "route_kind"))
    decided_at: Mapped[datetime]
    explanation: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]]


class StepAction(StrEnum):
    """One thing a route asks for."""

    POLICE_DECONFLICTION = "police_deconfliction"
    NOTICE = "notice"
    FORWARD_TO_PARTNER = "forward_to_partner"
    POLICE_REFERRAL = "police_referral"
    LIST_URL = "list_url"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class StepStatus(StrEnum):
    """Where a step is. The notices and lists work moves steps past ``planned``."""

    PLANNED = "planned"  # decided; carried out by the job that handles its action
    WAITING = "waiting"  # waits for an earlier step (a notice waits for police)
    IN_PROGRESS = "in_progress"
    DONE = "done"
    SUPERSEDED = "superseded"  # a newer route replaced this one


class RouteStep(UUIDPrimaryKey, Base):
    """One step of a route: an action towards one organization, and why."""

    __tablename__ = "route_steps"
    __table_args__ = (UniqueConstraint("route_id", "seq"),)

    route_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("routes.id", ondelete="CASCADE"))
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int]
    action: Mapped[StepAction] = mapped_column(enum_column(StepAction, "step_action"))
    status: Mapped[StepStatus] = mapped_column(enum_column(StepStatus, "step_status"))
    # The step this one waits for (its ``seq``), e.g. the notice waits for police.
    after_seq: Mapped[int | None]
    org_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL")
    )
    # Kept beside the id: the route must stay readable if the organization is deleted.
    org_name: Mapped[str | None] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(2))
    reason: Mapped[str] = mapped_column(Text)
    # What the step needs beyond the organization (addresses, asks, deadlines).
    data: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]
