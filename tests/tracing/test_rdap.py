"""The RDAP client against a local RDAP server: parsing, caching, limits and failures."""

from __future__ import annotations

import json
import socket
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.clock import FrozenClock
from takedown.config import Settings
from takedown.errors import ConfigurationError, ValidationFailed
from takedown.sandbox.rdap import (
    APNIC_IP,
    ARIN_IP,
    ASN,
    DOMAIN,
    ERROR_IP,
    FTP_REDIRECT_IP,
    GZIP_IP,
    HTML_IP,
    HUGE_IP,
    HUGE_UNDECLARED_IP,
    JSON_LIST_IP,
    RATE_LIMITED_IP,
    REDIRECT_LOOP_IP,
    RIPE_IP,
    SLOW_IP,
    UNKNOWN_IP,
    RdapServer,
)
from takedown.tracing.interfaces import RdapResult
from takedown.tracing.models import RdapCacheEntry
from takedown.tracing.rdap import RdapClient, TokenBucket
from tests.tracing.rdap_support import make_client, rdap_client, rdap_server

__all__ = ["rdap_client", "rdap_server"]  # fixtures, imported for pytest to find


def cache_row(db: Session, key: str) -> RdapCacheEntry | None:
    return db.scalars(
        select(RdapCacheEntry)
        .where(RdapCacheEntry.key == key)
        .execution_options(populate_existing=True)
    ).one_or_none()


# Parsing of each recorded shape


def test_ripe_network_with_abuse_nested_in_the_org(
    db: Session, rdap_client: RdapClient, rdap_server: RdapServer, clock: FrozenClock
) -> None:
    result = rdap_client.ip(db, RIPE_IP, now=clock.now())

    assert result == RdapResult(
        ok=True,
        kind="ip",
        query=RIPE_IP,
        status=200,
        name="EXAMPLE-HOSTING-NET",
        handle="192.0.2.0 - 192.0.2.255",
        country="NL",
        # Not the technical contact's noc@ address, which sits shallower in the tree.
        abuse_email="abuse@hosting.example",
        raw={
            "name": "EXAMPLE-HOSTING-NET",
            "handle": "192.0.2.0 - 192.0.2.255",
            "country": "NL",
            "startAddress": "192.0.2.0",
            "endAddress": "192.0.2.255",
        },
    )
    path, headers = rdap_server.requests[0]
    assert path == f"/ip/{RIPE_IP}"
    assert headers["accept"] == "application/rdap+json, application/json"
    assert headers["user-agent"].startswith("TakedownTest/1.0")


def test_arin_network_keeps_only_a_small_subset(
    db: Session, rdap_client: RdapClient, clock: FrozenClock
) -> None:
    result = rdap_client.ip(db, ARIN_IP, now=clock.now())

    assert result.ok
    assert (result.name, result.handle) == ("EXAMPLE-CLOUD", "NET-198-51-100-0-1")
    assert result.country is None  # ARIN networks carry no country
    assert result.abuse_email == "abuse@cloud.example"
    assert set(result.raw) == {"name", "handle", "startAddress", "endAddress"}


def test_apnic_network_with_top_level_abuse_and_ipv6_in_canonical_form(
    db: Session, rdap_client: RdapClient, rdap_server: RdapServer, clock: FrozenClock
) -> None:
    result = rdap_client.ip(db, "2001:DB8:0:0::1", now=clock.now())

    assert result.query == APNIC_IP
    assert rdap_server.count(f"/ip/{APNIC_IP}") == 1
    assert result.name == "EXAMPLE-V6-AP"
    assert result.country == "JP"
    assert result.abuse_email == "abuse@v6.example"  # "mailto:" taken off


def test_autnum(db: Session, rdap_client: RdapClient, clock: FrozenClock) -> None:
    result = rdap_client.autnum(db, ASN, now=clock.now())

    assert result.ok
    assert result.kind == "autnum"
    assert result.query == str(ASN)
    assert (result.name, result.handle) == ("EXAMPLE-TRANSIT-AS", "AS64500")
    assert result.abuse_email == "abuse@transit.example"


def test_domain_registrar_and_its_abuse_contact(
    db: Session, rdap_client: RdapClient, rdap_server: RdapServer, clock: FrozenClock
) -> None:
    result = rdap_client.domain(db, "Example.COM.", now=clock.now())

    assert rdap_server.count(f"/domain/{DOMAIN}") == 1
    assert result.ok
    assert result.query == DOMAIN
    assert result.name == "example.com"
    assert result.handle == "2336799_DOMAIN_COM-VRSN"
    assert result.registrar_name == "Example Registrar, Inc."
    assert result.registrar_iana_id == "9999"
    assert result.registrar_abuse_email == "abuse@registrar.example"
    assert result.abuse_email == "abuse@registrar.example"
    assert result.raw == {"ldhName": "EXAMPLE.COM", "handle": "2336799_DOMAIN_COM-VRSN"}


def test_unicode_domain_is_asked_in_idna_form(
    db: Session, rdap_client: RdapClient, rdap_server: RdapServer, clock: FrozenClock
) -> None:
    result = rdap_client.domain(db, "Bücher.example", now=clock.now())

    assert result.query == "xn--bcher-kva.example"
    assert rdap_server.count("/domain/xn--bcher-kva.example") == 1


def test_gzip_answer_is_decoded(db: Session, rdap_client: RdapClient, clock: FrozenClock) -> None:
    result = rdap_client.ip(db, GZIP_IP, now=clock.now())

    assert result.ok
    assert result.abuse_email == "abuse@hosting.example"


def test_the_shallowest_abuse_entity_with_an_email_wins(
    db: Session, rdap_client: RdapClient, rdap_server: RdapServer, clock: FrozenClock
) -> None:
    def abuse(email: str | None, **more: Any) -> dict[str, Any]:
        card: list[Any] = [["version", {}, "text", "4.0"]]
        if email is not None:
            card.append(["email", {}, "text", email])
        return {"roles": ["Abuse"], "vcardArray": ["vcard", card], **more}

    document = {
        "objectClassName": "ip network",
        "name": "NESTED",
        "entities": [
            {"roles": ["registrant"], "entities": [abuse("deep@nested.example")]},
            abuse(None),  # shallow, but without an address
            abuse("not an address"),
            abuse("shallow@nested.example"),
            {"roles": ["technical"], "entities": [{"entities": [abuse("deeper@x.example")]}]},
        ],
    }
    rdap_server.answer("/ip/192.0.2.77", document)

    assert rdap_client.ip(db, "192.0.2.77", now=clock.now()).abuse_email == "shallow@nested.example"


HOSTILE: list[Any] = [
    {"name": 5, "handle": ["x"], "country": {"a": 1}, "entities": "everyone"},
    {"entities": [1, "two", None, [], {"roles": "abuse"}]},
    {"entities": [{"roles": ["abuse"], "vcardArray": "BEGIN:VCARD"}]},
    {"entities": [{"roles": ["abuse"], "vcardArray": ["vcard", "email"]}]},
    {"entities": [{"roles": ["abuse"], "vcardArray": ["vcard", [["email"], ["email", {}]]]}]},
    {"entities": [{"roles": ["abuse"], "vcardArray": ["vcard", [["email", {}, "text", 42]]]}]},
    {"entities": [{"roles": [None, 3], "vcardArray": ["jcard", []]}]},
    {"entities": [{"roles": ["registrar"], "publicIds": [{"type": 1}, "x", {"identifier": "1"}]}]},
    {"ldhName": None, "country": 31, "startAddress": 7},
]


@pytest.mark.parametrize("document", HOSTILE)
def test_wrong_types_give_no_facts_and_no_error(
    db: Session,
    rdap_client: RdapClient,
    rdap_server: RdapServer,
    clock: FrozenClock,
    document: Any,
) -> None:
    rdap_server.answer("/domain/hostile.example", document)

    result = rdap_client.domain(db, "hostile.example", now=clock.now())

    assert result.ok
    facts = (result.name, result.handle, result.country, result.abuse_email)
    registrar = (result.registrar_name, result.registrar_iana_id, result.registrar_abuse_email)
    assert facts == (None, None, None, None)
    assert registrar == (None, None, None)
    assert result.raw == {}


def test_entity_nesting_is_walked_only_so_deep(
    db: Session, rdap_client: RdapClient, rdap_server: RdapServer, clock: FrozenClock
) -> None:
    entity: dict[str, Any] = {
        "roles": ["abuse"],
        "vcardArray": ["vcard", [["email", {}, "text", "abuse@deep.example"]]],
    }
    for _ in range(50):
        entity = {"roles": ["registrant"], "entities": [entity]}
    rdap_server.answer("/ip/192.0.2.78", {"name": "DEEP", "entities": [entity]})

    result = rdap_client.ip(db, "192.0.2.78", now=clock.now())

    assert (result.ok, result.name, result.abuse_email) == (True, "DEEP", None)


def test_text_is_cleaned_and_bounded(
    db: Session, rdap_client: RdapClient, rdap_server: RdapServer, clock: FrozenClock
) -> None:
    document = {"name": " EVIL\x1b[31m-NET\r\n", "handle": "H" * 5000, "country": "NLD"}
    rdap_server.answer("/ip/192.0.2.79", document)

    result = rdap_client.ip(db, "192.0.2.79", now=clock.now())

    assert result.name == "EVIL[31m-NET"
    assert result.handle == "H" * 255
    assert result.country is None  # not an ISO 3166 alpha-2 code
    assert result.raw["country"] == "NLD"  # raw says what the server said


def test_personal_data_is_not_cached(
    db: Session, rdap_client: RdapClient, clock: FrozenClock
) -> None:
    rdap_client.ip(db, RIPE_IP, now=clock.now())

    row = cache_row(db, f"ip/{RIPE_IP}")
    assert row is not None
    stored = json.dumps(row.body)
    assert "abuse@hosting.example" in stored
    for personal in ("Voorbeeldstraat", "noc@hosting.example", "+31 20", "Example Hosting B.V."):
        assert personal not in stored


# The cache


def test_a_cached_answer_is_returned_without_asking(
    db: Session, rdap_client: RdapClient, rdap_server: RdapServer, clock: FrozenClock
) -> None:
    first = rdap_client.ip(db, RIPE_IP, now=clock.now())
    second = rdap_client.ip(db, RIPE_IP, now=clock.now())

    assert rdap_server.count(f"/ip/{RIPE_IP}") == 1
    assert not first.cached
    assert second.cached
    assert second == RdapResult(**{**first.__dict__, "cached": True})
    row = cache_row(db, f"ip/{RIPE_IP}")
    assert row is not None
    assert (row.status, row.fetched_at) == (200, clock.now())
    assert row.expires_at == clock.now() + timedelta(days=1)


def test_an_expired_entry_is_asked_again_and_replaced(
    db: Session, rdap_client: RdapClient, rdap_server: RdapServer, clock: FrozenClock
) -> None:
    rdap_client.autnum(db, ASN, now=clock.now())
    clock.advance(timedelta(days=1) - timedelta(seconds=1))
    assert rdap_client.autnum(db, ASN, now=clock.now()).cached
    assert rdap_server.count(f"/autnum/{ASN}") == 1

    clock.advance(timedelta(seconds=1))
    again = rdap_client.autnum(db, ASN, now=clock.now())

    assert not again.cached
    assert again.abuse_email == "abuse@transit.example"
    assert rdap_server.count(f"/autnum/{ASN}") == 2
    row = cache_row(db, f"autnum/{ASN}")
    assert row is not None
    assert (row.fetched_at, row.expires_at) == (clock.now(), clock.now() + timedelta(days=1))


def test_the_upsert_replaces_an_existing_row(
    db: Session, rdap_client: RdapClient, clock: FrozenClock
) -> None:
    # As another worker would have left it: the same key, expired, a different answer.
    stale = clock.now() - timedelta(days=3)
    db.add(
        RdapCacheEntry(
            key=f"ip/{ARIN_IP}",
            fetched_at=stale,
            expires_at=stale + timedelta(days=1),
            status=404,
            body={},
        )
    )
    db.flush()

    result = rdap_client.ip(db, ARIN_IP, now=clock.now())

    assert (result.ok, result.status, result.cached) == (True, 200, False)
    row = cache_row(db, f"ip/{ARIN_IP}")
    assert row is not None
    assert (row.status, row.fetched_at) == (200, clock.now())
    assert row.body["abuse_email"] == "abuse@cloud.example"
    assert db.scalars(select(RdapCacheEntry.key)).all() == [f"ip/{ARIN_IP}"]


def test_nothing_registered_is_an_answer_and_cached(
    db: Session, rdap_client: RdapClient, rdap_server: RdapServer, clock: FrozenClock
) -> None:
    first = rdap_client.ip(db, UNKNOWN_IP, now=clock.now())
    second = rdap_client.ip(db, UNKNOWN_IP, now=clock.now())

    assert first == RdapResult(ok=True, kind="ip", query=UNKNOWN_IP, status=404)
    assert (second.ok, second.status, second.cached) == (True, 404, True)
    assert rdap_server.count(f"/ip/{UNKNOWN_IP}") == 1


# Failures: not cached, asked again next time


@pytest.mark.parametrize(
    ("address", "error"),
    [
        (RATE_LIMITED_IP, "rate limited by the server (HTTP 429)"),
        (ERROR_IP, "HTTP 500"),
        (SLOW_IP, "timed out after 0.3 s"),
        (HUGE_IP, "answer larger than 1 MiB"),
        (HUGE_UNDECLARED_IP, "answer larger than 1 MiB"),
        (HTML_IP, "answer is not JSON"),
        (JSON_LIST_IP, "answer is not an RDAP object"),
        (REDIRECT_LOOP_IP, "more than 3 redirects"),
        (FTP_REDIRECT_IP, "redirect to a URL that is not http(s)"),
    ],
)
def test_failures_are_reported_and_not_cached(
    db: Session, rdap_server: RdapServer, clock: FrozenClock, address: str, error: str
) -> None:
    with make_client(rdap_server.base_url, timeout=0.3) as client:
        first = client.ip(db, address, now=clock.now())
        second = client.ip(db, address, now=clock.now())

    assert first == RdapResult(ok=False, kind="ip", query=address, error=error)
    assert not second.ok
    assert cache_row(db, f"ip/{address}") is None
    expected = 8 if address == REDIRECT_LOOP_IP else 2  # the first request and 3 redirects
    assert rdap_server.count(f"/ip/{address}") == expected


def test_a_closed_port_is_reported(db: Session, clock: FrozenClock) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with make_client(f"http://127.0.0.1:{port}") as client:
        result = client.ip(db, RIPE_IP, now=clock.now())

    assert (result.ok, result.error) == (False, "could not connect")


def test_redirects_are_followed_like_rdap_org(
    db: Session, rdap_server: RdapServer, clock: FrozenClock
) -> None:
    with make_client(rdap_server.bootstrap_url) as client:
        result = client.domain(db, DOMAIN, now=clock.now())

    assert result.ok
    assert result.registrar_name == "Example Registrar, Inc."
    assert rdap_server.count(f"/bootstrap/domain/{DOMAIN}") == 1
    assert rdap_server.count(f"/domain/{DOMAIN}") == 1


# The local rate limit


def test_without_a_token_in_time_it_gives_up(
    db: Session, rdap_server: RdapServer, clock: FrozenClock
) -> None:
    with make_client(rdap_server.base_url, rate_per_second=0.2, timeout=0.2) as client:
        started = time.monotonic()
        first = client.ip(db, RIPE_IP, now=clock.now())
        limited = client.ip(db, ARIN_IP, now=clock.now())
        cached = client.ip(db, RIPE_IP, now=clock.now())  # takes no token
        elapsed = time.monotonic() - started

    assert first.ok
    assert limited == RdapResult(ok=False, kind="ip", query=ARIN_IP, error="rate limited locally")
    assert (cached.ok, cached.cached) == (True, True)
    assert rdap_server.count(f"/ip/{ARIN_IP}") == 0
    assert elapsed < 1.0  # gave up at once rather than waiting five seconds


def test_it_waits_for_a_token(db: Session, rdap_server: RdapServer, clock: FrozenClock) -> None:
    with make_client(rdap_server.base_url, rate_per_second=10.0, timeout=1.0) as client:
        started = time.monotonic()
        results = [client.ip(db, f"192.0.2.{n}", now=clock.now()) for n in range(1, 5)]
        elapsed = time.monotonic() - started

    assert all(result.ok for result in results)
    # A burst of two, then one every 0.1 s.
    assert elapsed >= 0.18


def test_token_bucket_schedule() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds

    bucket = TokenBucket(2.0, 2.0, monotonic=lambda: now[0], sleep=sleep)

    assert [bucket.acquire(1.0) for _ in range(4)] == [True] * 4
    assert slept == [0.5, 0.5]
    assert not bucket.acquire(0.4)  # would need 0.5 s
    assert slept == [0.5, 0.5]
    now[0] += 10  # refills up to the burst only
    assert [bucket.acquire(0.0) for _ in range(3)] == [True, True, False]


# Inputs and settings


BAD_IPS: list[Any] = ["999.1.1.1", "example.com", "", "192.0.2.0/24", "fe80::1%eth0", 3232235777]
BAD_ASNS: list[Any] = [0, -1, 2**32, True, "64500", 64500.0]
BAD_DOMAINS: list[Any] = [
    "",
    "com",
    "a..example",
    "exa mple.com",
    "-x.example",
    "a_b.example",
    "192.0.2.1",
    "x" * 64 + ".com",
    "example.com..",
    "xn--zz.example",
    None,
]


@pytest.mark.parametrize(
    ("kind", "value"),
    [("ip", v) for v in BAD_IPS]
    + [("autnum", v) for v in BAD_ASNS]
    + [("domain", v) for v in BAD_DOMAINS],
)
def test_bad_input_is_refused_before_any_request(
    db: Session,
    rdap_client: RdapClient,
    rdap_server: RdapServer,
    clock: FrozenClock,
    kind: str,
    value: Any,
) -> None:
    with pytest.raises(ValidationFailed):
        getattr(rdap_client, kind)(db, value, now=clock.now())
    assert rdap_server.total == 0


def test_a_naive_now_is_refused(
    db: Session, rdap_client: RdapClient, rdap_server: RdapServer, clock: FrozenClock
) -> None:
    with pytest.raises(ValidationFailed):
        rdap_client.ip(db, RIPE_IP, now=clock.now().replace(tzinfo=None))
    assert rdap_server.total == 0


def test_from_settings(settings: Settings, rdap_server: RdapServer) -> None:
    assert RdapClient.from_settings(settings.model_copy(update={"rdap_base_url": ""})) is None
    configured = settings.model_copy(
        update={"rdap_base_url": rdap_server.bootstrap_url + "/", "rdap_timeout": 3.0}
    )
    client = RdapClient.from_settings(configured)
    assert client is not None
    with client:
        assert client.base_url == rdap_server.bootstrap_url
        assert client.timeout == 3.0
        assert client.cache_ttl == settings.rdap_cache_ttl


@pytest.mark.parametrize(
    "options",
    [
        {"base_url": "ftp://rdap.example"},
        {"base_url": "rdap.example"},
        {"timeout": 0.0},
        {"rate_per_second": 0.0},
        {"cache_ttl": timedelta(0)},
    ],
)
def test_bad_configuration_is_refused(options: dict[str, Any]) -> None:
    base_url = options.pop("base_url", "https://rdap.example")
    with pytest.raises(ConfigurationError):
        make_client(base_url, **options)
