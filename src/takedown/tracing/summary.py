"""One readable paragraph about a trace, for the timeline and the console."""

from __future__ import annotations

from takedown.tracing.models import TraceStatus
from takedown.tracing.schemas import AddressFacts, TraceData


def _address(fact: AddressFacts) -> str:
    if not fact.public and fact.org is None:
        return f"{fact.ip} (not public)"
    parts = [fact.country or "country unknown"]
    if fact.asn is not None:
        parts.append(f"AS{fact.asn}")
    owner = fact.org.name if fact.org else (fact.rdap_name or fact.as_name)
    if owner:
        parts.append(owner)
    return f"{fact.ip} ({', '.join(parts)})"


def summarize(data: TraceData, status: TraceStatus) -> str:
    """E.g. "www.example → cdn.example.net: 192.0.2.1 (NL, AS64500, Example Hosting); ..."."""
    chain = " → ".join([data.host, *data.cname_chain])
    if status is TraceStatus.FAILED:
        return f"{chain}: DNS did not answer; will retry"
    if status is TraceStatus.UNRESOLVED:
        return f"{chain}: does not resolve; will retry"
    text = f"{chain}: " + "; ".join(_address(f) for f in data.addresses)
    if status is TraceStatus.PRIVATE:
        text += " (only private or reserved addresses; will retry)"
    if data.cdn is not None:
        origin = ", ".join(_address(f) for f in data.origin) if data.origin else "unknown"
        text += f". Behind {data.cdn.name} (via {data.cdn.via} {data.cdn.detail}); origin {origin}"
    if data.domain is not None:
        registrar = data.domain.registrar_name or "registrar unknown"
        registry = data.domain.registry.name if data.domain.registry else "registry not listed"
        text += f". {data.domain.registered_domain}: {registrar}; .{data.domain.tld}: {registry}"
    return text
