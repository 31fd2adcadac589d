"""decide(): from a trace's facts and the rules in force to steps, without a database."""

from __future__ import annotations

import uuid

from takedown.routing.decide import decide
from takedown.routing.models import PoliceTimeout, RouteKind, StepAction, StepStatus
from takedown.routing.schemas import Decision, OrgInfo, RoutingContext
from takedown.tracing.schemas import OrgRef

from .support import (
    CDN,
    CDN_EDGE,
    DE_HOST,
    HOME,
    NL_HOST,
    US,
    Host,
    ref,
    rule,
    trace_data,
)

POLICE = OrgInfo(uuid.uuid4(), "Politie")
ECO = OrgInfo(uuid.uuid4(), "eco")
NO_POLICE_FIRST = {HOME: rule(HOME, police_first=False, list_url=False)}


def context(**kw: object) -> RoutingContext:
    values: dict[str, object] = {"home_country": HOME, "police": POLICE} | kw
    return RoutingContext(**values)  # type: ignore[arg-type]


def shape(decision: Decision) -> list[tuple[int, str, str | None, str, int | None]]:
    """(seq, action, organization, status, after_seq) of every step."""
    return [
        (s.seq, s.action.value, s.org.name if s.org else None, s.status.value, s.after_seq)
        for s in decision.steps
    ]


def test_home_asks_police_first_and_the_notice_waits() -> None:
    decision = decide(trace_data(NL_HOST), context())
    assert decision.kind is RouteKind.HOME
    assert shape(decision) == [
        (1, "police_deconfliction", "Politie", "planned", None),
        (2, "notice", "Example Hosting", "waiting", 1),
    ]
    police, notice = decision.steps
    assert police.data == {
        "wait_seconds": 86400,
        "on_timeout": "proceed",
        "addresses": ["192.0.2.10"],
        "countries": ["NL"],
    }
    assert police.org == POLICE
    assert "(built-in) asks police first" in police.reason
    assert notice.data["ask"] == ["remove"]
    assert notice.data["addresses"] == ["192.0.2.10"]
    assert notice.country == "NL"
    assert "waits for police" in notice.reason
    assert decision.missing == ()
    group = decision.groups[0].as_data()
    assert group["outcome"] == "home"
    assert group["asns"] == [64500]
    assert group["rule"]["source"] == "built-in"
    assert group["rule"]["police_first"] is True


def test_home_without_police_first_notices_at_once() -> None:
    decision = decide(trace_data(NL_HOST), context(rules=NO_POLICE_FIRST))
    assert shape(decision) == [(1, "notice", "Example Hosting", "planned", None)]


def test_police_first_without_police_in_the_directory_says_so() -> None:
    decision = decide(trace_data(NL_HOST), context(police=None))
    assert shape(decision)[0] == (1, "police_deconfliction", None, "planned", None)
    assert decision.missing == ("a police organization serving NL",)


def test_home_behind_a_cdn_with_unknown_origin_asks_the_cdn() -> None:
    decision = decide(trace_data(CDN_EDGE, cdn=True), context(rules=NO_POLICE_FIRST))
    assert shape(decision) == [(1, "notice", "Cloudy CDN", "planned", None)]
    notice = decision.steps[0]
    assert notice.org is not None
    assert notice.org.id == CDN.id
    assert notice.data == {
        "role": "cdn",
        "ask": ["remove", "disclose_origin"],
        "addresses": ["192.0.2.200"],
        "countries": ["NL"],
    }
    assert "origin is unknown" in notice.reason


def test_home_behind_a_cdn_with_known_origin_notices_host_and_cdn() -> None:
    data = trace_data(CDN_EDGE, origin=[NL_HOST], cdn=True)
    decision = decide(data, context())
    assert shape(decision) == [
        (1, "police_deconfliction", "Politie", "planned", None),
        (2, "notice", "Example Hosting", "waiting", 1),
        (3, "notice", "Cloudy CDN", "waiting", 1),
    ]
    host, cdn = decision.steps[1:]
    assert host.data["ask"] == ["remove"]
    assert host.data["addresses"] == ["192.0.2.10"]
    assert "behind CDN Cloudy CDN" in host.reason
    assert "asked separately to remove its cached copies" in host.reason
    assert cdn.data == {
        "role": "cdn",
        "ask": ["remove"],
        "addresses": ["192.0.2.200"],
        "countries": ["NL"],
    }
    assert decision.groups[0].asns == (64500,)


def test_abroad_with_a_partner_forwards_and_lists() -> None:
    decision = decide(trace_data(DE_HOST), context(partners={"DE": ECO}))
    assert decision.kind is RouteKind.PARTNER
    assert shape(decision) == [
        (1, "forward_to_partner", "eco", "planned", None),
        (2, "list_url", None, "planned", None),
    ]
    assert decision.steps[0].reason == "eco is the partner hotline for DE: forwarded for takedown."


def test_abroad_with_a_partner_and_a_rule_that_does_not_list() -> None:
    rules = {"DE": rule("DE", list_url=False)}
    decision = decide(trace_data(DE_HOST), context(partners={"DE": ECO}, rules=rules))
    assert shape(decision) == [(1, "forward_to_partner", "eco", "planned", None)]
    assert decision.groups[0].listed is False


def test_abroad_without_a_partner_notices_refers_and_lists() -> None:
    decision = decide(trace_data(US), context())
    assert decision.kind is RouteKind.ABROAD
    assert shape(decision) == [
        (1, "notice", "US Host Inc", "planned", None),
        (2, "police_referral", "Politie", "planned", None),
        (3, "list_url", None, "planned", None),
    ]
    assert decision.steps[1].reason == "No partner hotline covers US: referred to Politie."


def test_a_rule_that_does_not_forward_notices_the_host_directly() -> None:
    rules = {"DE": rule("DE", forward_to_partner=False)}
    decision = decide(trace_data(DE_HOST), context(partners={"DE": ECO}, rules=rules))
    assert decision.kind is RouteKind.ABROAD
    assert [a for _, a, *_ in shape(decision)] == ["notice", "police_referral", "list_url"]
    assert "notices hosts directly, not through eco" in decision.steps[1].reason


def test_a_foreign_rule_with_police_first_makes_the_notice_wait() -> None:
    rules = {"US": rule("US", police_first=True, on_police_timeout=PoliceTimeout.REMIND)}
    decision = decide(trace_data(US), context(rules=rules))
    assert shape(decision) == [
        (1, "police_deconfliction", "Politie", "planned", None),
        (2, "notice", "US Host Inc", "waiting", 1),
        (3, "police_referral", "Politie", "planned", None),
        (4, "list_url", None, "waiting", 1),
    ]
    assert decision.steps[0].data["on_timeout"] == "remind"
    # Every step names the hosting country it is about; the police are ours all the same.
    assert decision.steps[0].country == "US"
    assert decision.steps[0].data["countries"] == ["US"]


def test_one_police_request_waits_as_long_as_the_strictest_rule() -> None:
    quick = rule(
        "US", police_first=True, police_wait_seconds=3600, on_police_timeout=PoliceTimeout.REMIND
    )
    decision = decide(trace_data(NL_HOST, US), context(rules={"US": quick}))
    assert shape(decision) == [
        (1, "police_deconfliction", "Politie", "planned", None),
        (2, "notice", "Example Hosting", "waiting", 1),
        (3, "notice", "US Host Inc", "waiting", 1),
        (4, "police_referral", "Politie", "planned", None),
        (5, "list_url", None, "waiting", 1),
    ]
    police = decision.steps[0]
    # NL's built-in rule waits 24 h then proceeds; US's waits 1 h then reminds: no notice may
    # go before either rule allows it.
    assert (police.data["wait_seconds"], police.data["on_timeout"]) == (86400, "remind")
    assert police.data["countries"] == ["NL", "US"]
    assert "The rule for NL (built-in)" in police.reason
    assert "The rule for US (country rule)" in police.reason


def test_home_and_abroad_is_mixed_with_both_step_sets() -> None:
    decision = decide(trace_data(NL_HOST, DE_HOST), context(partners={"DE": ECO}))
    assert decision.kind is RouteKind.MIXED
    assert shape(decision) == [
        (1, "police_deconfliction", "Politie", "planned", None),
        (2, "notice", "Example Hosting", "waiting", 1),
        (3, "forward_to_partner", "eco", "planned", None),
        (4, "list_url", None, "planned", None),
    ]
    assert [g.outcome for g in decision.groups] == ["home", "partner"]


def test_no_trace_is_undetermined() -> None:
    decision = decide(None, context())
    assert decision.kind is RouteKind.UNDETERMINED
    assert decision.steps == ()
    assert decision.missing == ("a trace of the host",)


def test_a_host_that_does_not_resolve_is_undetermined() -> None:
    decision = decide(trace_data(), context())
    assert decision.kind is RouteKind.UNDETERMINED
    assert decision.missing == ("hosting facts: the host does not resolve",)


def test_a_group_without_a_country_gets_no_steps() -> None:
    nowhere = Host("192.0.2.99", None, None, ref("Somewhere Networks"))
    alone = decide(trace_data(nowhere), context())
    assert alone.kind is RouteKind.UNDETERMINED
    assert alone.steps == ()
    assert alone.missing == ("the country of 192.0.2.99",)
    beside = decide(trace_data(nowhere, NL_HOST), context(rules=NO_POLICE_FIRST))
    assert beside.kind is RouteKind.HOME
    assert shape(beside) == [(1, "notice", "Example Hosting", "planned", None)]
    assert [g.outcome for g in beside.groups] == ["unknown", "home"]


def test_a_host_without_an_organization_still_gets_a_notice_step() -> None:
    unknown = Host("192.0.2.50", "NL", 64499, None)
    decision = decide(trace_data(unknown), context(rules=NO_POLICE_FIRST))
    assert shape(decision) == [(1, "notice", None, "planned", None)]
    assert decision.missing == ("the organization hosting 192.0.2.50 in NL",)


def test_a_host_known_only_from_rdap_keeps_its_abuse_address() -> None:
    owner = OrgRef(name="RDAP Net", abuse_email="abuse@rdap.example")
    rdap = Host("192.0.2.60", "NL", 64498, owner)
    decision = decide(trace_data(rdap), context(rules=NO_POLICE_FIRST))
    assert decision.steps[0].org == OrgInfo(None, "RDAP Net", "abuse@rdap.example")
    assert decision.steps[0].data["abuse_email"] == "abuse@rdap.example"


def test_one_list_step_for_the_url_and_one_step_per_organization() -> None:
    fr = ref("Global Host", country="FR")
    in_fr = Host("198.51.100.40", "FR", 64510, fr)
    in_us = Host("203.0.113.41", "US", 64510, fr)
    decision = decide(trace_data(DE_HOST, in_fr, in_us), context(partners={"DE": ECO}))
    assert decision.kind is RouteKind.MIXED
    assert shape(decision) == [
        (1, "forward_to_partner", "eco", "planned", None),
        (2, "list_url", None, "planned", None),
        (3, "notice", "Global Host", "planned", None),
        (4, "police_referral", "Politie", "planned", None),
    ]
    listing, notice, referral = decision.steps[1], decision.steps[2], decision.steps[3]
    assert listing.data["countries"] == ["DE", "FR", "US"]
    assert listing.data["addresses"] == ["198.51.100.20", "198.51.100.40", "203.0.113.41"]
    assert notice.data["addresses"] == ["198.51.100.40", "203.0.113.41"]
    assert notice.data["countries"] == ["FR", "US"]
    assert notice.data["ask"] == ["remove"]
    assert referral.data["addresses"] == ["198.51.100.40", "203.0.113.41"]


def test_a_merged_notice_waits_if_any_of_its_groups_waits() -> None:
    shared = ref("Global Host", country="NL")
    at_home = Host("192.0.2.70", "NL", 64511, shared)
    abroad = Host("203.0.113.71", "US", 64511, shared)
    decision = decide(trace_data(abroad, at_home), context())
    assert shape(decision) == [
        (1, "police_deconfliction", "Politie", "planned", None),
        (2, "notice", "Global Host", "waiting", 1),
        (3, "police_referral", "Politie", "planned", None),
        (4, "list_url", None, "planned", None),
    ]
    assert decision.steps[1].data["addresses"] == ["203.0.113.71", "192.0.2.70"]


def test_route_data_is_json_ready() -> None:
    decision = decide(trace_data(NL_HOST, DE_HOST), context(partners={"DE": ECO}))
    trace_id = uuid.uuid4()
    data = decision.as_data(home_country=HOME, trace_id=trace_id)
    assert set(data) == {"home_country", "trace_id", "groups", "steps", "missing"}
    assert data["trace_id"] == str(trace_id)
    assert [g["country"] for g in data["groups"]] == ["NL", "DE"]
    assert data["groups"][1]["partner"] == {"id": str(ECO.id), "name": "eco"}
    assert data["steps"][1]["status"] == StepStatus.WAITING.value
    assert data["steps"][1]["action"] == StepAction.NOTICE.value
