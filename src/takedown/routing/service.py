"""Routing a confirmed case: who must act, in what order, and why.

:func:`decide` is a pure function from a trace's facts and the rules in force to a
:class:`Decision`; :func:`route_case` loads rules, partners and police from the database,
calls it, and keeps the result as a ``Route`` with its ``RouteStep``s.

Per hosting group of the trace (one per country and organization):

- **at home**: police deconfliction first when the rule asks for it, then a notice to the
  host that waits for police; behind a CDN with an unknown origin the notice goes to the CDN,
  asking it to remove the content or disclose the origin; with a known origin the host gets
  the notice and the CDN another one to remove its cached copies;
- **abroad, a partner hotline covers the country** (and the rule forwards): forward to it, and
  list the URL if the rule lists;
- **abroad otherwise**: notice the host directly (with the same CDN handling), refer the case
  to our police, list the URL if the rule lists;
- **country unknown**: no step; the route names what is missing.

A rule with ``police_first`` for a foreign country makes its direct notices wait for
deconfliction too: the rule says police come before any notice to hosts there.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from takedown.audit import service as audit
from takedown.auth.principal import Principal
from takedown.cases import service as cases
from takedown.cases.models import Case
from takedown.cases.states import TRACEABLE
from takedown.config import Settings
from takedown.errors import Conflict
from takedown.orgs.models import Organization, OrgCountry, OrgKind
from takedown.routing import explain, rules
from takedown.routing.models import (
    PoliceTimeout,
    Route,
    RouteKind,
    RouteStep,
    StepAction,
    StepStatus,
)
from takedown.routing.rules import EffectiveRule
from takedown.routing.schemas import (
    Decision,
    GroupKind,
    GroupOutcome,
    OrgInfo,
    PlannedStep,
    RoutingContext,
)
from takedown.tracing.models import Trace
from takedown.tracing.schemas import CdnFacts, HostingFacts, TraceData

_OPEN = (StepStatus.PLANNED, StepStatus.WAITING)


@dataclass
class _Draft:
    action: StepAction
    org: OrgInfo | None
    country: str
    reasons: list[str]
    addresses: list[str]
    countries: list[str]
    data: dict[str, Any]
    after: str | None


def _extend(target: list[Any], values: Sequence[Any]) -> None:
    target.extend(v for v in values if v not in target)


class _Plan:
    """Steps being collected; the same action towards the same organization is one step."""

    def __init__(self) -> None:
        self.drafts: dict[str, _Draft] = {}
        self.missing: list[str] = []

    def add(self, draft: _Draft) -> str:
        """Add a step, or merge it into the same action towards the same organization."""
        org, action = draft.org, draft.action
        # One URL is listed once, whatever the number of countries asking for it.
        who = "url" if action is StepAction.LIST_URL else (org.key if org else f"?{draft.country}")
        key = f"{action.value}/{who}"
        found = self.drafts.setdefault(key, draft)
        if found is not draft:
            _extend(found.reasons, draft.reasons)
            _extend(found.addresses, draft.addresses)
            _extend(found.countries, draft.countries)
            if "ask" in draft.data:
                _extend(found.data.setdefault("ask", []), draft.data["ask"])
            # Waiting wins: if one group needs police first, nobody acts before police.
            found.after = found.after or draft.after
        return key

    def steps(self) -> tuple[PlannedStep, ...]:
        # Deconfliction comes first so every step waits only for a step numbered before it.
        order = sorted(
            self.drafts.items(), key=lambda kv: kv[1].action is not StepAction.POLICE_DECONFLICTION
        )
        seqs = {key: n for n, (key, _) in enumerate(order, start=1)}
        return tuple(
            PlannedStep(
                seq=seqs[key],
                action=d.action,
                status=StepStatus.WAITING if d.after else StepStatus.PLANNED,
                after_seq=seqs[d.after] if d.after else None,
                org=d.org,
                country=d.country,
                reason=" ".join(d.reasons),
                data={**d.data, "addresses": d.addresses, "countries": d.countries},
            )
            for key, d in order
        )


def _step(
    action: StepAction,
    org: OrgInfo | None,
    country: str,
    reason: str,
    addresses: Sequence[str],
    after: str | None = None,
    **data: Any,
) -> _Draft:
    return _Draft(action, org, country, [reason], list(addresses), [country], data, after)


def _asns(facts: TraceData, addresses: Sequence[str]) -> tuple[int, ...]:
    found: list[int] = []
    _extend(found, [f.asn for f in [*facts.addresses, *facts.origin] if f.ip in addresses])
    return tuple(asn for asn in found if asn is not None)


def _is_cdn_edge(group: HostingFacts, cdn: CdnFacts, facts: TraceData) -> bool:
    """Whether a group is the CDN's own addresses (asked when the origin is unknown)."""
    if any(f.cdn is not None for f in facts.addresses if f.ip in group.addresses):
        return True
    if cdn.org is None or group.org is None:
        return False
    return OrgInfo.of(cdn.org).key == OrgInfo.of(group.org).key


class _Noticed(NamedTuple):
    to: OrgInfo | None
    cdn: str | None
    origin_known: bool


def _notices(plan: _Plan, group: HostingFacts, facts: TraceData, after: str | None) -> _Noticed:
    """Direct notices for a group: to its host, or to the CDN in front of it."""
    country, addresses, cdn = group.country or "", group.addresses, facts.cdn
    notice = StepAction.NOTICE
    waits = " It waits for police deconfliction." if after else ""
    cdn_org = (OrgInfo.of(cdn.org) if cdn.org else OrgInfo(None, cdn.name)) if cdn else None
    cdn_name = OrgInfo(None, cdn.name).name if cdn else ""
    if cdn and cdn_org and not facts.origin and _is_cdn_edge(group, cdn, facts):
        reason = (
            f"{cdn_name} serves the content from its CDN and the origin is unknown: "
            f"asked to remove it or disclose the origin.{waits}"
        )
        ask = ["remove", "disclose_origin"]
        plan.add(_step(notice, cdn_org, country, reason, addresses, after, role="cdn", ask=ask))
        return _Noticed(cdn_org, cdn_name, origin_known=False)
    host = OrgInfo.of(group.org) if group.org else None
    where = f"{', '.join(addresses)} in {country}"
    if host is None:
        plan.missing.append(f"the organization hosting {where}")
    name = host.name if host else "The hosting organization (unknown: find its abuse contact)"
    front = f" behind CDN {cdn_name}" if cdn else ""
    cached = f"; {cdn_name} is asked separately to remove its cached copies" if cdn else ""
    reason = f"{name} hosts the content at {where}{front}: asked to remove it{cached}.{waits}"
    # A host known only from RDAP has no directory entry: keep the contact RDAP gave.
    extra = {"abuse_email": host.abuse_email} if host and not host.id and host.abuse_email else {}
    draft = _step(notice, host, country, reason, addresses, after, role="host", ask=["remove"])
    plan.add(replace(draft, data=draft.data | extra))
    if cdn and cdn_org:
        edge = [f.ip for f in facts.addresses if f.public]
        reason = f"{cdn_name} caches the content in front of the origin: asked to remove it.{waits}"
        plan.add(_step(notice, cdn_org, country, reason, edge, after, role="cdn", ask=["remove"]))
    return _Noticed(host, cdn_name or None, origin_known=True)


def _need_police(plan: _Plan, ctx: RoutingContext) -> None:
    if ctx.police is None:
        plan.missing.append(f"a police organization serving {ctx.home_country}")


def _police_first(
    plan: _Plan, rule: EffectiveRule, ctx: RoutingContext, group: HostingFacts
) -> str:
    _need_police(plan, ctx)
    police, home = ctx.police, ctx.home_country
    who = f"{police.name} is" if police else "police are"
    then = "proceed" if rule.on_police_timeout is PoliceTimeout.PROCEED else "police are reminded"
    reason = (
        f"The rule for {rule.country} ({rule.source}) asks police first: {who} asked whether "
        f"a notice would disturb an investigation; notices wait "
        f"{explain.format_wait(rule.police_wait_seconds)}, then {then}."
    )
    data = {"wait_seconds": rule.police_wait_seconds, "on_timeout": rule.on_police_timeout.value}
    draft = _step(StepAction.POLICE_DECONFLICTION, police, home, reason, group.addresses)
    return plan.add(replace(draft, data=data))


def _list(plan: _Plan, rule: EffectiveRule, addresses: Sequence[str], after: str | None) -> None:
    reason = f"The rule for {rule.country} ({rule.source}) lists URLs while removal is pursued."
    plan.add(_step(StepAction.LIST_URL, None, rule.country, reason, addresses, after))


def _group(plan: _Plan, group: HostingFacts, facts: TraceData, ctx: RoutingContext) -> GroupOutcome:
    country, addresses = group.country, group.addresses
    org = OrgInfo.of(group.org) if group.org else None
    base = GroupOutcome(country, org, tuple(addresses), _asns(facts, addresses), "unknown")
    if country is None:
        plan.missing.append(f"the country of {', '.join(addresses)}")
        return base
    rule = ctx.rule(country)
    home = country == ctx.home_country
    partner = None if home else ctx.partners.get(country)
    if partner is not None and rule.forward_to_partner:
        reason = f"{partner.name} is the partner hotline for {country}: forwarded for takedown."
        plan.add(_step(StepAction.FORWARD_TO_PARTNER, partner, country, reason, addresses))
        if rule.list_url:
            _list(plan, rule, addresses, None)
        return replace(base, outcome="partner", rule=rule, partner=partner, listed=rule.list_url)
    after = _police_first(plan, rule, ctx, group) if rule.police_first else None
    noticed = _notices(plan, group, facts, after)
    if not home:
        _need_police(plan, ctx)
        police = ctx.police.name if ctx.police else "police"
        why = f"No partner hotline covers {country}"
        if partner is not None:
            why = f"The rule for {country} notices hosts directly, not through {partner.name}"
        reason = f"{why}: referred to {police}."
        plan.add(_step(StepAction.POLICE_REFERRAL, ctx.police, country, reason, addresses))
    if rule.list_url:
        _list(plan, rule, addresses, after)
    outcome: GroupKind = "home" if home else "abroad"
    return replace(
        base,
        outcome=outcome,
        rule=rule,
        partner=partner,
        notice_to=noticed.to,
        cdn=noticed.cdn,
        origin_known=noticed.origin_known,
        listed=rule.list_url,
    )


def decide(facts: TraceData | None, context: RoutingContext) -> Decision:
    """The route for a trace's facts under the rules in ``context``. Pure: no database."""
    plan = _Plan()
    if facts is None:
        plan.missing.append("a trace of the host")
        groups: list[GroupOutcome] = []
    else:
        if not facts.hosting:
            private = any(not a.public for a in facts.addresses)
            plan.missing.append(
                "hosting facts: the host resolves only to private or reserved addresses"
                if private
                else "hosting facts: the host does not resolve"
            )
        groups = [_group(plan, g, facts, context) for g in facts.hosting]
    outcomes = {g.outcome for g in groups} - {"unknown"}
    if not outcomes:
        kind = RouteKind.UNDETERMINED
    elif len(outcomes) == 1:
        kind = RouteKind(outcomes.pop())
    else:
        kind = RouteKind.MIXED
    missing = tuple(dict.fromkeys(plan.missing))
    return Decision(kind=kind, groups=tuple(groups), steps=plan.steps(), missing=missing)


# The database side.


def _serving(session: Session, kind: OrgKind, country: str) -> Organization | None:
    return session.scalars(
        select(Organization)
        .join(OrgCountry, OrgCountry.org_id == Organization.id)
        .where(Organization.kind == kind, OrgCountry.country == country)
        .order_by(Organization.name)
        .limit(1)
    ).first()


def partner_for(
    session: Session, country: str, *, preferred: uuid.UUID | None = None
) -> Organization | None:
    """The partner hotline for ``country``: the rule's (``preferred``), else the first by name
    of the hotlines serving the country in the directory."""
    if preferred is not None:
        chosen = session.get(Organization, preferred)
        if chosen is not None and chosen.kind is OrgKind.HOTLINE:
            return chosen
    return _serving(session, OrgKind.HOTLINE, country)


def partner_org_name(session: Session, org_id: uuid.UUID | None) -> str | None:
    """The name of a rule's partner hotline, for display."""
    org = session.get(Organization, org_id) if org_id is not None else None
    return org.name if org else None


def police_for(session: Session, country: str) -> Organization | None:
    """The police organization serving ``country`` (first by name): deconfliction, referrals."""
    return _serving(session, OrgKind.POLICE, country)


def load_context(session: Session, facts: TraceData | None, *, home_country: str) -> RoutingContext:
    """The rules, partners and police that :func:`decide` needs for these facts."""
    countries = sorted({g.country for g in facts.hosting if g.country} if facts else set())
    found = {c: rules.get_rule(session, c, home_country=home_country) for c in countries}
    partners: dict[str, OrgInfo] = {}
    for country in countries:
        if country == home_country:
            continue
        partner = partner_for(session, country, preferred=found[country].partner_org_id)
        if partner is not None:
            partners[country] = OrgInfo.of(partner)
    police = police_for(session, home_country)
    return RoutingContext(
        home_country=home_country,
        rules=found,
        partners=partners,
        police=OrgInfo.of(police) if police else None,
    )


def latest_trace(session: Session, case_id: uuid.UUID) -> Trace | None:
    return session.scalars(
        select(Trace).where(Trace.case_id == case_id).order_by(Trace.traced_at.desc()).limit(1)
    ).first()


def current_route(session: Session, case_id: uuid.UUID) -> Route | None:
    """The case's newest route (earlier ones are kept, their open steps superseded)."""
    return session.scalars(
        select(Route).where(Route.case_id == case_id).order_by(Route.decided_at.desc()).limit(1)
    ).first()


def route_steps(session: Session, route_id: uuid.UUID) -> Sequence[RouteStep]:
    return session.scalars(
        select(RouteStep).where(RouteStep.route_id == route_id).order_by(RouteStep.seq)
    ).all()


def _decided_at(session: Session, case_id: uuid.UUID, now: datetime) -> datetime:
    previous = current_route(session, case_id)
    if previous is not None and previous.decided_at >= now:
        # Two decisions in the same instant (a frozen or coarse clock): "newest decided_at"
        # must still name the current route, without a sequence column.
        return previous.decided_at + timedelta(microseconds=1)
    return now


def _store_steps(session: Session, route: Route, decision: Decision, now: datetime) -> None:
    # A trace names directory organizations by id; one deleted since keeps its name only.
    ids = {s.org.id for s in decision.steps if s.org and s.org.id}
    known = set(session.scalars(select(Organization.id).where(Organization.id.in_(ids))))
    session.add_all(
        RouteStep(
            route_id=route.id,
            case_id=route.case_id,
            seq=step.seq,
            action=step.action,
            status=step.status,
            after_seq=step.after_seq,
            org_id=step.org.id if step.org and step.org.id in known else None,
            org_name=step.org.name if step.org else None,
            country=step.country,
            reason=step.reason,
            data=step.data,
            updated_at=now,
        )
        for step in decision.steps
    )


def route_case(
    session: Session,
    case: Case,
    trace: Trace | None,
    *,
    settings: Settings,
    now: datetime,
    actor: Principal,
) -> Route:
    """Decide and keep the case's route; open steps of earlier routes become superseded.

    The first line of the explanation goes on the case's timeline; the audit log records
    the route and its steps. Nothing is enqueued: later work carries the steps out.
    """
    if case.state not in TRACEABLE:
        raise Conflict(f"only confirmed cases are routed; case {case.id} is {case.state.value}")
    home = settings.home_country
    facts = TraceData.model_validate(trace.data) if trace is not None else None
    decision = decide(facts, load_context(session, facts, home_country=home))
    text = explain.explain(decision)
    trace_id = trace.id if trace is not None else None
    route = Route(
        case_id=case.id,
        trace_id=trace_id,
        kind=decision.kind,
        decided_at=_decided_at(session, case.id, now),
        explanation=text,
        data=decision.as_data(home_country=home, trace_id=trace_id),
    )
    session.execute(
        update(RouteStep)
        .where(RouteStep.case_id == case.id, RouteStep.status.in_(_OPEN))
        .values(status=StepStatus.SUPERSEDED, updated_at=now)
    )
    session.add(route)
    session.flush()
    _store_steps(session, route, decision, now)
    summary = {
        "route_id": str(route.id),
        "kind": decision.kind.value,
        "trace_id": str(trace_id) if trace_id else None,
        "steps": [f"{s.action.value}:{s.org.name if s.org else '-'}" for s in decision.steps],
        "missing": list(decision.missing),
    }
    first_line = text.splitlines()[0]
    cases.add_event(session, case, "routed", first_line, actor=actor.label, at=now, data=summary)
    audit.record(session, actor, "case.route", "case", case.id, at=now, details=summary)
    session.flush()
    return route


def reroute(
    session: Session, case_id: uuid.UUID, *, settings: Settings, now: datetime, actor: Principal
) -> Route:
    """Decide the case's route again from its latest trace (rules or the directory changed)."""
    case = cases.get_case(session, case_id)
    return route_case(
        session, case, latest_trace(session, case_id), settings=settings, now=now, actor=actor
    )
