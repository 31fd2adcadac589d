"""RPZ zone files: whole hosts only, strictly checked names, one variant per resolver kind."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

import dns.name
import dns.rdatatype
import dns.zone
import pytest

from takedown.config import Settings
from takedown.errors import ConfigurationError
from takedown.lists.rpz import VARIANTS, ZoneError, render_zone, select_hosts, splash_host

PUBLISHED = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
ORIGIN = "rpz.hotline.test"
# Every line after the header: a relative owner, a type, one value.
RECORD_LINE = re.compile(r"(\*\.)?[a-z0-9_-]+(\.[a-z0-9_-]+)* (CNAME|A|AAAA) \S+")


@pytest.fixture
def rpz_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"rpz_zone": ORIGIN, "splash_host": "splash.hotline.test"})


def zone_text(
    settings: Settings, expressions: list[str], variant: str = "rpz", version: int = 7
) -> str:
    return render_zone(variant, version, PUBLISHED, expressions, settings).decode("ascii")


def parse(text: str) -> dns.zone.Zone:
    """The zone as a DNS library reads it: proof the file is a loadable zone."""
    return dns.zone.from_text(text, origin=ORIGIN, relativize=True, check_origin=True)


def owners(text: str) -> set[str]:
    """The relative owner names below the apex."""
    return {name.to_text() for name in parse(text).nodes if name != dns.name.empty}


def records(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith((";", "$", "@"))]


def test_whole_host_becomes_name_and_wildcard(rpz_settings: Settings) -> None:
    text = zone_text(rpz_settings, ["blocked.example.test/"])

    assert owners(text) == {"blocked.example.test", "*.blocked.example.test"}
    assert records(text) == [
        "blocked.example.test CNAME splash.hotline.test.",
        "*.blocked.example.test CNAME splash.hotline.test.",
    ]


def test_soa_serial_is_the_version_and_origin_is_the_setting(rpz_settings: Settings) -> None:
    text = zone_text(rpz_settings, ["blocked.example.test/"], version=1234)
    zone = parse(text)

    soa = zone.find_rdataset("@", dns.rdatatype.SOA)[0]
    assert soa.serial == 1234
    assert soa.rname.to_text() == "hostmaster.takedown.invalid."
    assert zone.find_rdataset("@", dns.rdatatype.NS)[0].target.to_text() == "localhost."
    assert f"$ORIGIN {ORIGIN}.\n" in text
    assert "$TTL 300\n" in text


def test_owner_names_are_relative_to_the_origin(rpz_settings: Settings) -> None:
    text = zone_text(rpz_settings, ["blocked.example.test/", "other.example.test/"])
    for line in records(text):
        assert not line.split(" ")[0].endswith(".")
    names = {
        name.to_text() for name in dns.zone.from_text(text, origin=ORIGIN, relativize=False).nodes
    }
    assert "blocked.example.test.rpz.hotline.test." in names
    assert "*.other.example.test.rpz.hotline.test." in names


def test_path_entries_are_skipped(rpz_settings: Settings) -> None:
    text = zone_text(
        rpz_settings,
        [
            "blocked.example.test/",
            "pages.example.test/a/b.html",
            "dir.example.test/gallery/",
            "q.example.test/?x=1",
        ],
    )

    assert owners(text) == {"blocked.example.test", "*.blocked.example.test"}
    assert "pages.example.test" not in text
    assert "dir.example.test" not in text
    assert "3 path entries" in text


@pytest.mark.parametrize("host", ["198.51.100.7", "[2001:db8::1]", "10.0.0.1"])
def test_ip_address_hosts_are_skipped(rpz_settings: Settings, host: str) -> None:
    text = zone_text(rpz_settings, [f"{host}/"])
    assert owners(text) == set()
    assert "rpz-ip" not in text
    assert "1 IP-address hosts" in text


@pytest.mark.parametrize("host", ["com", "co.uk", "blogspot.com", "test"])
def test_public_suffixes_are_never_blocked_whole(rpz_settings: Settings, host: str) -> None:
    text = zone_text(rpz_settings, [f"{host}/", "blocked.example.test/"])
    assert owners(text) == {"blocked.example.test", "*.blocked.example.test"}
    assert "1 public suffixes" in text


HOSTILE = [
    "evil.example.test\n$INCLUDE /etc/passwd\n/",
    "evil.example.test\nx.example.test CNAME rpz-passthru./",
    "evil.example.test CNAME rpz-passthru./",
    "evil.example.test\tA\t192.0.2.1/",
    "evil.example.test;comment/",
    "evil.example.test./",  # absolute: would leave the policy zone
    "evil..example.test/",
    ".evil.example.test/",
    "@/",
    "*.evil.example.test/",
    "(evil.example.test/",
    "evil.example.test)/",
    "\\046evil.example.test/",
    '"evil".example.test/',
    "Evil.Example.Test/",  # canonical expressions are lower case
    "%01%80.example.test/",
    "évil.example.test/",
    "32.7.100.51.198.rpz-ip/",  # a response-IP trigger under the origin
    "ns.example.rpz-nsdname/",
    "24.0.2.0.192.rpz-client-ip/",
    "a" * 64 + ".example.test/",  # a label longer than 63
    ".".join(["a" * 60] * 4) + ".test/",  # too long once under the origin
    "",
    "no-slash.example.test",
]


@pytest.mark.parametrize("expression", HOSTILE)
@pytest.mark.parametrize("variant", VARIANTS)
def test_a_hostile_expression_never_reaches_the_zone(
    rpz_settings: Settings, expression: str, variant: str
) -> None:
    text = zone_text(rpz_settings, [expression, "blocked.example.test/"], variant)

    assert "evil" not in text.lower()
    assert "passwd" not in text
    assert "rpz-ip" not in text
    assert "rpz-nsdname" not in text
    assert "rpz-client-ip" not in text
    assert {o.lstrip("*.") for o in owners(text)} == {"blocked.example.test"}
    for line in records(text):
        assert RECORD_LINE.fullmatch(line), line
    # The header counts it: nothing disappears without a trace.
    assert re.search(r"skipped: .*[1-9]", text.splitlines()[2])


def test_refused_entries_are_logged(
    rpz_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="takedown.lists.rpz"):
        zone_text(rpz_settings, ["evil.example.test CNAME ./", "com/", "blocked.example.test/"])
    assert "1 entries with an invalid host and 1 public suffixes" in caplog.text


@pytest.mark.parametrize(
    "host",
    [
        "xn--bcher-kva.example.test",
        "under_score.example.test",
        "-dash-.example.test",
        "a" * 63 + ".example.test",
    ],
)
def test_unusual_but_valid_names_are_kept(rpz_settings: Settings, host: str) -> None:
    assert owners(zone_text(rpz_settings, [f"{host}/"])) == {host, f"*.{host}"}


def test_duplicates_are_written_once_and_sorted(rpz_settings: Settings) -> None:
    text = zone_text(rpz_settings, ["b.example.test/", "a.example.test/", "b.example.test/"])
    assert [line.split(" ")[0] for line in records(text)] == [
        "a.example.test",
        "*.a.example.test",
        "b.example.test",
        "*.b.example.test",
    ]


def test_a_variant_answers_the_splash_addresses(rpz_settings: Settings) -> None:
    zone = parse(zone_text(rpz_settings, ["blocked.example.test/"], "rpz-a"))
    for owner in ("blocked.example.test", "*.blocked.example.test"):
        assert [r.address for r in zone.find_rdataset(owner, dns.rdatatype.A)] == ["192.0.2.80"]
        assert [r.address for r in zone.find_rdataset(owner, dns.rdatatype.AAAA)] == [
            "2001:db8::80"
        ]
        assert zone.get_rdataset(owner, dns.rdatatype.CNAME) is None


def test_a_variant_without_ipv6_has_no_aaaa(rpz_settings: Settings) -> None:
    no_v6 = rpz_settings.model_copy(update={"splash_ipv6": ""})
    text = zone_text(no_v6, ["blocked.example.test/"], "rpz-a")
    assert "AAAA" not in text
    assert "blocked.example.test A 192.0.2.80" in text


def test_nxdomain_variant_is_cname_to_the_root(rpz_settings: Settings) -> None:
    zone = parse(zone_text(rpz_settings, ["blocked.example.test/"], "rpz-nxdomain"))
    for owner in ("blocked.example.test", "*.blocked.example.test"):
        assert zone.find_rdataset(owner, dns.rdatatype.CNAME)[0].target == dns.name.root


def test_splash_host_defaults_to_the_public_base_url(settings: Settings) -> None:
    configured = settings.model_copy(
        update={"public_base_url": "https://Hotline.Example:8443/base"}
    )
    assert splash_host(configured) == "hotline.example."
    assert (
        splash_host(configured.model_copy(update={"splash_host": "stop.example."}))
        == "stop.example."
    )


def test_splash_host_that_is_an_address_is_a_configuration_error(settings: Settings) -> None:
    with pytest.raises(ConfigurationError, match="TAKEDOWN_SPLASH_HOST"):
        zone_text(settings.model_copy(update={"splash_host": "192.0.2.80"}), [], "rpz")
    # In production, a public_base_url with an address and no splash host: a CNAME cannot
    # point at an address, and a placeholder would send an ISP's users nowhere.
    production = settings.model_copy(update={"env": "production"})
    with pytest.raises(ConfigurationError, match="TAKEDOWN_SPLASH_HOST"):
        zone_text(production, ["blocked.example.test/"], "rpz")
    # The other variants need no splash host.
    assert "blocked.example.test" in zone_text(
        production, ["blocked.example.test/"], "rpz-nxdomain"
    )


def test_development_defaults_make_a_zone_with_a_placeholder_and_say_so(
    settings: Settings,
) -> None:
    # The default public_base_url is http://127.0.0.1:8000, and no splash host is set.
    settings = settings.model_copy(update={"rpz_zone": ORIGIN})
    text = zone_text(settings, ["blocked.example.test/"], "rpz")
    zone = parse(text)
    target = zone.find_rdataset("blocked.example.test", dns.rdatatype.CNAME)[0].target
    assert target.to_text() == "splash.takedown.invalid."
    assert text.splitlines()[1] == (
        "; warning: splash.takedown.invalid is a development placeholder that does not"
        " resolve; set TAKEDOWN_SPLASH_HOST to the splash page's host name"
    )
    configured = settings.model_copy(update={"splash_host": "splash.hotline.test"})
    assert "warning" not in zone_text(configured, ["blocked.example.test/"], "rpz")


@pytest.mark.parametrize(
    ("update", "variable"),
    [
        ({"rpz_zone": "rpz zone.test"}, "TAKEDOWN_RPZ_ZONE"),
        ({"rpz_zone": "rpz.test\n@ NS evil.example."}, "TAKEDOWN_RPZ_ZONE"),
        ({"hotline_domain": "bad domain"}, "TAKEDOWN_HOTLINE_DOMAIN"),
        ({"splash_host": "splash.example\n* A 192.0.2.1"}, "TAKEDOWN_SPLASH_HOST"),
        ({"splash_ipv4": "192.0.2.999"}, "TAKEDOWN_SPLASH_IPV4"),
        ({"splash_ipv4": "2001:db8::1"}, "TAKEDOWN_SPLASH_IPV4"),
        ({"splash_ipv6": "192.0.2.1"}, "TAKEDOWN_SPLASH_IPV6"),
    ],
)
def test_bad_settings_refuse_the_zone(
    rpz_settings: Settings, update: dict[str, str], variable: str
) -> None:
    configured = rpz_settings.model_copy(update=update)
    variant = "rpz-a" if "splash_ipv" in next(iter(update)) else "rpz"
    with pytest.raises(ConfigurationError, match=variable):
        zone_text(configured, ["blocked.example.test/"], variant)


def test_unknown_variant_and_bad_serial_are_refused(rpz_settings: Settings) -> None:
    with pytest.raises(ZoneError, match="variant"):
        zone_text(rpz_settings, [], "rpz-drop")
    with pytest.raises(ZoneError, match="serial"):
        zone_text(rpz_settings, [], "rpz", version=2**32)
    with pytest.raises(ZoneError, match="timezone"):
        render_zone("rpz", 1, datetime(2026, 11, 22), [], rpz_settings)


def test_empty_list_is_still_a_valid_zone(rpz_settings: Settings) -> None:
    zone = parse(zone_text(rpz_settings, []))
    assert zone.find_rdataset("@", dns.rdatatype.SOA)[0].serial == 7
    assert owners(zone_text(rpz_settings, [])) == set()


def test_select_hosts_counts_what_it_leaves_out() -> None:
    selection = select_hosts(
        [
            "a.example.test/",
            "a.example.test/x",
            "192.0.2.1/",
            "com/",
            "bad host/",
            "a.example.test/",
        ],
        ORIGIN,
    )
    assert selection.hosts == ["a.example.test"]
    assert (selection.paths, selection.addresses, selection.public_suffixes, selection.refused) == (
        1,
        1,
        1,
        1,
    )


def test_a_records_only_for_host_names(rpz_settings: Settings) -> None:
    """BIND refuses a whole primary zone over one A record owned by a name with "_" or a
    label ending in "-"; the CNAME variants keep such names (CNAME owners may hold them)."""
    hosts = ["my_site.example.test/", "edge-.example.test/", "fine.example.test/"]
    assert owners(zone_text(rpz_settings, hosts, "rpz-a")) == {
        "fine.example.test",
        "*.fine.example.test",
    }
    assert "my_site.example.test" in owners(zone_text(rpz_settings, hosts, "rpz"))
