"""The explanation people read: a summary line, one line per hosting group, what is missing."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import pytest

from takedown.routing.decide import decide
from takedown.routing.explain import explain, format_wait
from takedown.routing.models import PoliceTimeout
from takedown.routing.schemas import OrgInfo, RoutingContext

from .support import CDN_EDGE, DE_HOST, HOME, NL_HOST, US, Host, ref, rule, trace_data

POLICE = OrgInfo(uuid.uuid4(), "Politie")
ECO = OrgInfo(uuid.uuid4(), "eco")


def lines(*hosts: Host, origin: Sequence[Host] = (), cdn: bool = False, **kw: object) -> list[str]:
    """The explanation of routing ``hosts`` under the context given by ``kw``, line by line."""
    values: dict[str, object] = {"home_country": HOME, "police": POLICE} | kw
    context = RoutingContext(**values)  # type: ignore[arg-type]
    return explain(decide(trace_data(*hosts, origin=origin, cdn=cdn), context)).splitlines()


def test_home_with_police_first() -> None:
    assert lines(NL_HOST) == [
        "Home route: police deconfliction with Politie, notice to Example Hosting after police.",
        "Hosted in NL by Example Hosting (AS64500); NL is home: police first (wait 24 h), "
        "then notice to Example Hosting.",
    ]


def test_home_with_a_reminding_rule_and_a_short_wait() -> None:
    reminding = rule(
        HOME,
        police_first=True,
        police_wait_seconds=5400,
        on_police_timeout=PoliceTimeout.REMIND,
        list_url=False,
    )
    rules = {HOME: reminding}
    assert lines(NL_HOST, rules=rules)[1] == (
        "Hosted in NL by Example Hosting (AS64500); NL is home: police first (wait 90 min, "
        "then remind), then notice to Example Hosting."
    )


def test_partner() -> None:
    assert lines(DE_HOST, partners={"DE": ECO}) == [
        "Partner route: forward to eco, list the URL.",
        "Hosted in DE by Beispiel Hosting GmbH (AS64501); DE has partner hotline eco; "
        "forwarded and listed.",
    ]
    unlisted = lines(DE_HOST, partners={"DE": ECO}, rules={"DE": rule("DE", list_url=False)})
    assert unlisted[1].endswith("DE has partner hotline eco; forwarded, not listed.")


def test_abroad_without_partner() -> None:
    assert lines(US) == [
        "Abroad route: notice to US Host Inc, police referral to Politie, list the URL.",
        "Hosted in US by US Host Inc (AS64503); US has no partner hotline: notice to "
        "US Host Inc, police referral, listed.",
    ]


def test_behind_a_cdn() -> None:
    no_police = {HOME: rule(HOME, police_first=False, list_url=False)}
    assert lines(CDN_EDGE, cdn=True, rules=no_police) == [
        "Home route: notice to Cloudy CDN.",
        "Behind CDN Cloudy CDN in NL (AS64502), origin unknown; NL is home: notice to "
        "Cloudy CDN asking to remove or disclose the origin.",
    ]
    assert lines(CDN_EDGE, origin=[NL_HOST], cdn=True, rules=no_police)[1] == (
        "Hosted in NL by Example Hosting (AS64500) behind CDN Cloudy CDN; NL is home: "
        "notice to Example Hosting, and to Cloudy CDN to remove cached copies."
    )


def test_mixed_with_a_group_of_unknown_country_and_no_police() -> None:
    nowhere = Host("192.0.2.99", None, None, None)
    assert lines(NL_HOST, DE_HOST, nowhere, partners={"DE": ECO}, police=None) == [
        "Mixed route: police deconfliction, notice to Example Hosting after police, "
        "forward to eco, list the URL.",
        "Hosted in NL by Example Hosting (AS64500); NL is home: police first (wait 24 h), "
        "then notice to Example Hosting.",
        "Hosted in DE by Beispiel Hosting GmbH (AS64501); DE has partner hotline eco; "
        "forwarded and listed.",
        "Addresses 192.0.2.99: country unknown; no step for them.",
        "Missing: a police organization serving NL; the country of 192.0.2.99.",
    ]


def test_names_stay_on_one_line() -> None:
    sneaky = Host("192.0.2.80", "NL", None, ref("Evil\nHosting\r\n  Ltd"))
    rules = {HOME: rule(HOME, police_first=False, list_url=False)}
    assert lines(sneaky, rules=rules) == [
        "Home route: notice to Evil Hosting Ltd.",
        "Hosted in NL by Evil Hosting Ltd; NL is home: notice to Evil Hosting Ltd.",
    ]


@pytest.mark.parametrize(
    ("seconds", "text"), [(86400, "24 h"), (5400, "90 min"), (45, "45 s"), (0, "0 s")]
)
def test_format_wait(seconds: int, text: str) -> None:
    assert format_wait(seconds) == text
