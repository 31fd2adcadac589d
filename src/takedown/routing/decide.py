"""The route for a trace's facts under the rules in force: who must act, in what order, why.

:func:`decide` is a pure function from a trace's facts and a :class:`RoutingContext` (the
rules, partners and police, loaded by :mod:`takedown.routing.service`) to a
:class:`Decision`. Nothing here touches the database.

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

A rule with ``police_first`` for a foreign country makes its direct notices (and its listing)
wait for deconfliction too: the rule says police come before any notice to hosts there.
Forwarding to a partner does not wait: the partner deconflicts with its own police.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from takedown.routing import explain
from takedown.routing.models import PoliceTimeout, RouteKind, StepAction, StepStatus
from takedown.routing.rules import EffectiveRule
from takedown.routing.schemas import (
    Decision,
    GroupKind,
    GroupOutcome,
    OrgInfo,
    PlannedStep,
    RoutingContext,
)
from takedown.tracing.schemas import CdnFacts, HostingFacts, TraceData


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


def _key(draft: _Draft) -> str:
    """Drafts with the same key are one step."""
    if draft.action is StepAction.LIST_URL:
        # One URL is listed once, whatever the number of countries asking for it.
        who = "url"
    elif draft.action is StepAction.POLICE_DECONFLICTION:
        # One request to our police covers every group whose rule asks police first.
        who = "police"
    else:
        who = draft.org.key if draft.org else f"?{draft.country}"
    return f"{draft.action.value}/{who}"


def _merge_wait(found: dict[str, Any], other: dict[str, Any]) -> None:
    """Merge the police wait of two rules into one deconfliction step.

    Every notice waiting for the step must wait as long as any of their rules asks, and a
    rule that never proceeds unanswered (``remind``) wins over one that does.
    """
    found["wait_seconds"] = max(found["wait_seconds"], other["wait_seconds"])
    if other["on_timeout"] == PoliceTimeout.REMIND.value:
        found["on_timeout"] = PoliceTimeout.REMIND.value


class _Plan:
    """Steps being collected; the same action towards the same organization is one step."""

    def __init__(self) -> None:
        self.drafts: dict[str, _Draft] = {}
        self.missing: list[str] = []

    def add(self, draft: _Draft) -> str:
        """Add a step, or merge it into the same action towards the same organization."""
        key = _key(draft)
        found = self.drafts.setdefault(key, draft)
        if found is not draft:
            _extend(found.reasons, draft.reasons)
            _extend(found.addresses, draft.addresses)
            _extend(found.countries, draft.countries)
            if "ask" in draft.data:
                _extend(found.data.setdefault("ask", []), draft.data["ask"])
            if draft.action is StepAction.POLICE_DECONFLICTION:
                _merge_wait(found.data, draft.data)
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
    plan.add(
        _step(notice, host, country, reason, addresses, after, role="host", ask=["remove"], **extra)
    )
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
    police = ctx.police
    who = f"{police.name} is" if police else "police are"
    then = "proceed" if rule.on_police_timeout is PoliceTimeout.PROCEED else "police are reminded"
    reason = (
        f"The rule for {rule.country} ({rule.source}) asks police first: {who} asked whether "
        f"a notice would disturb an investigation; notices wait "
        f"{explain.format_wait(rule.police_wait_seconds)}, then {then}."
    )
    # The step's country is the hosting country, like every step's: the police are ours.
    return plan.add(
        _step(
            StepAction.POLICE_DECONFLICTION,
            police,
            rule.country,
            reason,
            group.addresses,
            wait_seconds=rule.police_wait_seconds,
            on_timeout=rule.on_police_timeout.value,
        )
    )


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
