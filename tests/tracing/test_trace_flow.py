"""End to end: a case is confirmed, traced on the local DNS and RDAP servers, and routed.

The host resolves to addresses in two countries (NL and DE). The addresses are real
public ones so that the offline dataset (geoip2fast) knows their country and AS name, but
nothing is ever sent to them: DNS, IP-to-ASN and RDAP answers all come from servers on
127.0.0.1, and the directory's organizations are invented.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from takedown.app import create_app
from takedown.auth.models import Role
from takedown.auth.principal import PUBLIC
from takedown.clock import FrozenClock
from takedown.config import Settings
from takedown.db.session import Database
from takedown.intake import service as intake
from takedown.intake.schemas import ReportIn
from takedown.jobs.registry import load_handlers
from takedown.jobs.worker import Worker
from takedown.orgs.models import OrgKind
from takedown.sandbox.dns import AuthoritativeDnsServer
from takedown.sandbox.rdap import RdapServer
from takedown.tracing.dns import asn_query_name
from tests.factories import NOW, credentials, login
from tests.orgs.support import directory_org
from tests.tracing.rdap_support import rdap_server  # noqa: F401

NL_IP, DE_IP, DE_IP6, CDN_IP = "193.0.6.139", "5.9.1.1", "2a01:4f8::1", "104.16.1.1"
ORIGIN = {
    NL_IP: "3333 | 193.0.0.0/21 | NL | ripencc | 1993-09-01",
    DE_IP: "24940 | 5.9.0.0/16 | DE | ripencc | 2011-01-01",
    DE_IP6: "24940 | 2a01:4f8::/32 | DE | ripencc | 2007-03-14",
    CDN_IP: "13335 | 104.16.0.0/12 | US | arin | 2014-03-28",
}
ZONES = ("example.com", "example.net", "cdn.test", "origin.asn.cymru.com", "origin6.asn.cymru.com")


@pytest.fixture
def dns() -> Iterator[AuthoritativeDnsServer]:
    with AuthoritativeDnsServer(ZONES) as server:
        server.set("www.example.com", "CNAME", "web.example.com")
        server.set("web.example.com", "A", NL_IP, DE_IP)
        server.set("web.example.com", "AAAA", DE_IP6)
        server.set("img.example.net", "CNAME", "site.cdn.test")
        server.set("site.cdn.test", "A", CDN_IP)
        for ip, record in ORIGIN.items():
            server.set(asn_query_name(ip), "TXT", record)
        yield server


@pytest.fixture
def flow_settings(
    settings: Settings,
    dns: AuthoritativeDnsServer,
    rdap_server: RdapServer,  # noqa: F811
) -> Settings:
    return settings.model_copy(
        update={
            "home_country": "NL",
            "dns_nameservers": [dns.host],
            "dns_port": dns.port,
            "rdap_base_url": rdap_server.base_url,
            "rdap_rate_per_second": 1000.0,
        }
    )


@pytest.fixture
def directory(database: Database) -> dict[str, uuid.UUID]:
    with database.transaction() as session:
        orgs = [
            directory_org(
                session,
                "Example Hosting NL",
                networks=["193.0.0.0/21"],
                abuse_email="abuse@hosting-nl.example",
            ),
            directory_org(
                session,
                "Example Hosting DE",
                country="DE",
                asns=[24940],
                abuse_email="abuse@hosting-de.example",
            ),
            directory_org(session, "Example Police NL", OrgKind.POLICE, countries=["NL"]),
            directory_org(session, "Example Hotline DE", OrgKind.HOTLINE, "DE", countries=["DE"]),
            directory_org(session, "Example Registry", OrgKind.REGISTRY, "US", tlds=["com"]),
            # The name the local RDAP server gives as example.com's registrar.
            directory_org(session, "Example Registrar, Inc.", OrgKind.REGISTRAR, "US"),
            directory_org(
                session,
                "Example CDN",
                OrgKind.CDN,
                "US",
                domains=["cdn.test"],
                abuse_email="abuse@cdn.example",
            ),
        ]
        return {org.name: org.id for org in orgs}


@pytest.fixture
def flow_client(
    flow_settings: Settings, database: Database, clock: FrozenClock
) -> Iterator[TestClient]:
    app: FastAPI = create_app(flow_settings, database=database, clock=clock)
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


class Flow:
    """Report, confirm as an analyst, run the jobs, read the trace and route via the API."""

    def __init__(self, database: Database, settings: Settings, client: TestClient) -> None:
        self.database, self.settings, self.client = database, settings, client
        self.users: set[Role] = set()
        self.worker = Worker(
            database, settings, clock=FrozenClock(NOW), registry=load_handlers(settings)
        )

    def sign_in(self, role: Role) -> dict[str, str]:
        """Sign in as a user of ``role`` (created once); returns the CSRF header."""
        if role not in self.users:
            self.users.add(role)
            return login(self.client, self.database, role)
        username = f"u-{role.value}"
        response = self.client.post(
            "/api/v1/auth/login", json=credentials(self.client, self.database, username)
        )
        assert response.status_code == 200, response.text
        return {"X-CSRF-Token": response.json()["csrf_token"]}

    def run_jobs(self) -> None:
        while self.worker.run_once():
            pass

    def confirmed_case(self, url: str) -> str:
        with self.database.transaction() as session:
            result = intake.submit_one(session, self.settings, PUBLIC, ReportIn(url=url), now=NOW)
        assert result.case_id is not None
        self.run_jobs()  # capture: the static fetch resolver cannot reach it; left for an analyst
        headers = self.sign_in(Role.ANALYST)
        response = self.client.post(
            f"/api/v1/cases/{result.case_id}/assessment",
            json={
                "decision": "confirm",
                "classification": {"inhope": "baseline", "media": "photographic"},
            },
            headers=headers,
        )
        assert response.status_code == 200, response.text
        self.run_jobs()
        return str(result.case_id)

    def get(self, path: str) -> Any:
        response = self.client.get(path)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def flow(
    database: Database,
    flow_settings: Settings,
    flow_client: TestClient,
    directory: dict[str, uuid.UUID],
) -> Flow:
    return Flow(database, flow_settings, flow_client)


def by_ip(trace: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {fact["ip"]: fact for fact in trace["data"]["addresses"]}


def test_a_host_in_two_countries_is_traced_and_routed_by_the_rules(
    flow: Flow, directory: dict[str, uuid.UUID]
) -> None:
    case_id = flow.confirmed_case("http://www.example.com/gallery/1.html")

    trace = flow.get(f"/api/v1/cases/{case_id}/trace")
    assert trace["status"] == "complete"
    assert trace["countries"] == ["DE", "NL"]
    assert trace["data"]["cname_chain"] == ["web.example.com"]
    facts = by_ip(trace)
    assert set(facts) == {NL_IP, DE_IP, DE_IP6}
    expected = {
        NL_IP: ("NL", 3333, "Example Hosting NL", "ip_range"),
        DE_IP: ("DE", 24940, "Example Hosting DE", "asn"),
        DE_IP6: ("DE", 24940, "Example Hosting DE", "asn"),
    }
    for ip, (country, asn, org, match) in expected.items():
        fact = facts[ip]
        assert (fact["country"], fact["asn"], fact["org"]["name"], fact["org_match"]) == (
            country,
            asn,
            org,
            match,
        ), fact
        assert fact["as_name"]  # from the offline dataset
    assert trace["data"]["cdn"] is None
    domain = trace["data"]["domain"]
    assert domain["registered_domain"] == "example.com"
    assert domain["registry"]["name"] == "Example Registry"
    assert domain["registrar"]["id"] == str(directory["Example Registrar, Inc."])
    assert domain["registrar_iana_id"]
    sources = {entry["source"] for entry in trace["evidence"]}
    assert {"dns", "directory", "rdap"} <= sources

    route = flow.get(f"/api/v1/cases/{case_id}/route")
    steps = [(s["action"], s["org_name"], s["status"]) for s in route["steps"]]
    # Police are asked first at home; the forward abroad and the listing of the URL hosted
    # abroad do not wait for them.
    assert steps == [
        ("police_deconfliction", "Example Police NL", "in_progress"),
        ("notice", "Example Hosting NL", "waiting"),
        ("forward_to_partner", "Example Hotline DE", "in_progress"),
        ("list_url", None, "done"),
    ]
    lines = route["explanation"].splitlines()
    assert (
        "Hosted in NL by Example Hosting NL (AS3333); NL is home: police first (wait 24 h), "
        "then notice to Example Hosting NL." in lines
    )
    assert (
        "Hosted in DE by Example Hosting DE (AS24940); DE has partner hotline "
        "Example Hotline DE; forwarded and listed." in lines
    )
    assert route["data"]["groups"], "the route is readable by a program too"


def test_a_host_behind_a_cdn_names_the_cdn_and_asks_it_for_the_origin(flow: Flow) -> None:
    case_id = flow.confirmed_case("http://img.example.net/x.jpg")

    trace = flow.get(f"/api/v1/cases/{case_id}/trace")
    cdn = trace["data"]["cdn"]
    assert (cdn["name"], cdn["via"], cdn["detail"]) == ("Example CDN", "directory", "site.cdn.test")
    assert by_ip(trace)[CDN_IP]["asn"] == 13335
    route = flow.get(f"/api/v1/cases/{case_id}/route")
    assert [(s["action"], s["org_name"]) for s in route["steps"]] == [
        ("notice", "Example CDN"),
        ("police_referral", "Example Police NL"),
        ("list_url", None),
    ]
    assert "asking to remove or disclose the origin" in route["explanation"]


def test_changing_a_rule_changes_the_route_of_the_next_case(flow: Flow) -> None:
    first = flow.confirmed_case("http://www.example.com/gallery/1.html")
    before = flow.get(f"/api/v1/cases/{first}/route")

    admin = flow.sign_in(Role.ADMIN)
    for country, body in (
        ("NL", {"police_first": False}),
        ("DE", {"forward_to_partner": False, "list_url": False}),
    ):
        response = flow.client.put(f"/api/v1/routing/rules/{country}", json=body, headers=admin)
        assert response.status_code == 200, response.text

    second = flow.confirmed_case("http://www.example.com/gallery/2.html")
    after = flow.get(f"/api/v1/cases/{second}/route")
    assert [(s["action"], s["org_name"], s["status"]) for s in after["steps"]] == [
        ("notice", "Example Hosting NL", "in_progress"),
        ("notice", "Example Hosting DE", "in_progress"),
        ("police_referral", "Example Police NL", "in_progress"),
    ]
    assert (
        "DE has partner hotline Example Hotline DE but its rule notices directly"
        in (after["explanation"])
    )
    # The first case keeps the route it was given.
    assert flow.get(f"/api/v1/cases/{first}/route") == before
