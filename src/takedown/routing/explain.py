"""The human explanation of a route: a summary line, one line per hosting group, and what
is missing.

For example::

    Home route: police deconfliction with Politie, notice to Example Hosting after police.
    Hosted in NL by Example Hosting (AS64500); NL is home: police first (wait 24 h), then notice to Example Hosting.

    Partner route: forward to eco, list the URL.
    Hosted in DE by Hetzner Online GmbH (AS24940); DE has partner hotline eco; forwarded and listed.

    Home route: notice to Cloudflare.
    Behind CDN Cloudflare in NL (AS13335), origin unknown; NL is home: notice to Cloudflare asking to remove or disclose the origin.

The first line goes on the case's timeline. Text is plain (names come from the directory,
RDAP and DNS, so whoever renders it escapes it); names are kept on one line.
"""  # noqa: E501 - the examples are whole lines

from __future__ import annotations

from typing import TYPE_CHECKING

from takedown.routing.models import PoliceTimeout, RouteKind, StepAction, StepStatus

if TYPE_CHECKING:
    from takedown.routing.schemas import Decision, GroupOutcome, OrgInfo, PlannedStep


_UNKNOWN_HOST = "the host (organization unknown)"


def format_wait(seconds: int) -> str:
    """A wait in the largest whole unit: "24 h", "90 min", "45 s"."""
    if seconds and seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds and seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def _name(org: OrgInfo | None, unknown: str) -> str:
    return org.name if org else unknown


def _step(step: PlannedStep) -> str:
    org = step.org
    text = {
        StepAction.POLICE_DECONFLICTION: "police deconfliction"
        + (f" with {org.name}" if org else ""),
        StepAction.NOTICE: f"notice to {_name(org, _UNKNOWN_HOST)}",
        StepAction.FORWARD_TO_PARTNER: f"forward to {_name(org, 'the partner hotline')}",
        StepAction.POLICE_REFERRAL: "police referral" + (f" to {org.name}" if org else ""),
        StepAction.LIST_URL: "list the URL",
    }[step.action]
    return f"{text} after police" if step.status is StepStatus.WAITING else text


def summary_line(decision: Decision) -> str:
    """E.g. "Partner route: forward to eco, list the URL."."""
    if decision.kind is RouteKind.UNDETERMINED or not decision.steps:
        return f"{decision.kind.label} route: no step until the hosting country is known."
    return f"{decision.kind.label} route: {', '.join(_step(s) for s in decision.steps)}."


def _where(group: GroupOutcome) -> str:
    asns = f" ({', '.join(f'AS{asn}' for asn in group.asns)})" if group.asns else ""
    if group.cdn and not group.origin_known:
        return f"Behind CDN {group.cdn} in {group.country}{asns}, origin unknown"
    behind = f" behind CDN {group.cdn}" if group.cdn else ""
    return (
        f"Hosted in {group.country} by {_name(group.org, 'an unknown organization')}{asns}{behind}"
    )


def _notice(group: GroupOutcome) -> str:
    to = _name(group.notice_to, _UNKNOWN_HOST)
    if group.cdn and not group.origin_known:
        return f"notice to {to} asking to remove or disclose the origin"
    if group.cdn:
        return f"notice to {to}, and to {group.cdn} to remove cached copies"
    return f"notice to {to}"


def group_line(group: GroupOutcome) -> str:
    """One sentence about one hosting group: where it is, which rule applied, what follows."""
    if group.country is None or group.rule is None:
        by = f" ({group.org.name})" if group.org else ""
        return f"Addresses {', '.join(group.addresses)}{by}: country unknown; no step for them."
    rule, country = group.rule, group.country
    if group.outcome == "partner":
        listed = "forwarded and listed" if group.listed else "forwarded, not listed"
        return (
            f"{_where(group)}; {country} has partner hotline {_name(group.partner, '?')}; {listed}."
        )
    if group.outcome == "home":
        context = f"{country} is home"
    elif group.partner is None:
        context = f"{country} has no partner hotline"
    else:
        context = (
            f"{country} has partner hotline {group.partner.name} but its rule notices directly"
        )
    actions = _notice(group)
    if rule.police_first:
        remind = ", then remind" if rule.on_police_timeout is PoliceTimeout.REMIND else ""
        actions = (
            f"police first (wait {format_wait(rule.police_wait_seconds)}{remind}), then {actions}"
        )
    if group.outcome == "abroad":
        actions += ", police referral"
    if group.listed:
        actions += ", listed"
    return f"{_where(group)}; {context}: {actions}."


def explain(decision: Decision) -> str:
    """The whole explanation: summary line, group lines, and a "Missing:" line if needed."""
    lines = [summary_line(decision), *(group_line(g) for g in decision.groups)]
    if decision.missing:
        lines.append(f"Missing: {'; '.join(decision.missing)}.")
    return "\n".join(lines)
