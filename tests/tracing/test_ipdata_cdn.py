"""The offline IP dataset and the CDN list."""

from __future__ import annotations

from pathlib import Path

import pytest

from takedown.errors import ConfigurationError
from takedown.tracing.cdn import CdnList
from takedown.tracing.ipdata import shared_ip_data


@pytest.mark.parametrize(
    ("ip", "country", "as_name"),
    [
        ("5.9.1.1", "DE", "Hetzner Online GmbH"),
        ("193.0.6.139", "NL", "Reseaux IP Europeens Network Coordination Centre (RIPE NCC)"),
        ("151.101.1.69", "US", "FASTLY"),
        ("2606:4700::1111", "US", "CLOUDFLARENET"),
    ],
)
def test_the_shipped_dataset_knows_public_addresses(ip: str, country: str, as_name: str) -> None:
    found = shared_ip_data().lookup(ip)
    assert (found.country, found.as_name) == (country, as_name)
    assert found.prefix is not None
    assert "/" in found.prefix


@pytest.mark.parametrize("ip", ["10.1.2.3", "127.0.0.1", "192.0.2.7", "100.64.0.1", "2001:db8::1"])
def test_private_and_documentation_addresses_have_no_facts(ip: str) -> None:
    found = shared_ip_data().lookup(ip)
    assert (found.country, found.as_name) == (None, None)


def test_cdns_are_recognised_by_cname_asn_and_as_name() -> None:
    cdns = CdnList.load()
    by_cname = cdns.by_cname("d111111abcdef8.CloudFront.net.")
    assert by_cname is not None
    assert by_cname[0].name == "Amazon CloudFront"
    assert by_cname[1] == "cloudfront.net"
    # A suffix must match whole labels: "notcloudfront.net" is not CloudFront.
    assert cdns.by_cname("x.notcloudfront.net") is None
    by_asn = cdns.by_network(13335, None)
    assert by_asn is not None
    assert by_asn.name == "Cloudflare"
    by_name = cdns.by_network(None, "fastly")
    assert by_name is not None
    assert by_name.name == "Fastly"
    # All of Amazon is AS16509: an address there is not a CDN by its ASN alone.
    assert cdns.by_network(16509, "AMAZON-02") is None


def test_operators_add_their_own_cdns(tmp_path: Path) -> None:
    extra = tmp_path / "cdns.yaml"
    extra.write_text("- name: Example Edge\n  asns: [64500]\n  cname_suffixes: [edge.example]\n")
    cdns = CdnList.load(extra)
    found = cdns.by_network(64500, None)
    assert found is not None
    assert found.name == "Example Edge"
    assert cdns.by_network(13335, None) is not None  # the packaged list is still there


@pytest.mark.parametrize("text", ["name: not a list", "- asns: [1]", "- name: X\n  asns: [x]", "["])
def test_a_malformed_cdn_list_is_a_configuration_error(tmp_path: Path, text: str) -> None:
    extra = tmp_path / "cdns.yaml"
    extra.write_text(text)
    with pytest.raises(ConfigurationError, match="CDN list"):
        CdnList.load(extra)
