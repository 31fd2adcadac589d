"""Tracing speed: traces per second on the local DNS server, cold and with a warm RDAP cache,
and the directory's IP → organization lookup rate with 100,000 ranges loaded.

Everything runs on loopback: the sandbox's authoritative DNS server answers the hosts and the
IP-to-ASN TXT records, the sandbox's RDAP server answers abuse contacts, and a fresh SQLite
database holds the directory and the RDAP cache. References measured in the same run:

- traces: the DNS queries alone (A and AAAA with dnspython against the same server), the
  floor under any trace;
- lookups: a bare ``bisect`` over the same 100,000 range starts, with the same addresses
  already converted to integers, the floor under any lookup.

    python bench/trace.py [--hosts 300] [--ranges 100000] [--lookups 200000]
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import socket
import tempfile
import time
import uuid
from bisect import bisect_right
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, update

from takedown.config import Settings
from takedown.db.migrate import upgrade
from takedown.db.registry import import_all_models
from takedown.db.session import Database, create_db_engine
from takedown.orgs.lookups import org_for_ip
from takedown.orgs.models import DirectoryRevision, Organization, OrgKind, OrgNetwork
from takedown.orgs.networks import network_index
from takedown.sandbox.dns import AuthoritativeDnsServer
from takedown.sandbox.rdap import RdapServer, fixture_json
from takedown.tracing.build import build_tracer
from takedown.tracing.dns import DnspythonLookup, asn_query_name

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
ZONES = ("bench.test", "origin.asn.cymru.com", "origin6.asn.cymru.com")


def database(path: Path) -> Database:
    import_all_models()
    engine = create_db_engine(f"sqlite:///{path}")
    upgrade(engine)
    return Database(engine)


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:>12,.0f}/s"


# --- IP → organization ----------------------------------------------------------------------


def load_ranges(db: Database, count: int) -> list[int]:
    """``count`` disjoint /28s in 10.0.0.0/8 (spaced out), 100 per organization; their starts."""
    starts = sorted(random.sample(range(0x0A000000 >> 4, 0x0AFFFFFF >> 4), count))
    starts = [s << 4 for s in starts]
    with db.transaction() as session:
        orgs = [uuid.uuid4() for _ in range(count // 100 + 1)]
        session.execute(
            insert(Organization),
            [
                {"id": org, "name": f"Org {i}", "kind": OrgKind.HOSTING_PROVIDER, "country": "NL"}
                for i, org in enumerate(orgs)
            ],
        )
        session.execute(
            insert(OrgNetwork),
            [
                {"org_id": orgs[i // 100], "cidr": f"{ipaddress.IPv4Address(start)}/28"}
                for i, start in enumerate(starts)
            ],
        )
        # Rows written around the service: move the revision so no stale index is used.
        session.execute(update(DirectoryRevision).values(revision=DirectoryRevision.revision + 1))
    return starts


def bench_lookups(db: Database, ranges: int, lookups: int) -> None:
    starts = load_ranges(db, ranges)
    # Half the addresses fall in a listed range, half in the gaps between them.
    ips = [
        str(ipaddress.IPv4Address(random.choice(starts) + random.choice((3, 40))))
        for _ in range(lookups)
    ]
    with db.sessions() as session:
        started = time.perf_counter()
        index = network_index(session)
        built = time.perf_counter() - started

        started = time.perf_counter()
        found = sum(index.find(ip) is not None for ip in ips)
        index_seconds = time.perf_counter() - started

        sample = ips[: lookups // 4]
        started = time.perf_counter()
        orgs = sum(org_for_ip(session, ip) is not None for ip in sample)
        service_seconds = time.perf_counter() - started

    numbers = [int.from_bytes(socket.inet_aton(ip), "big") for ip in ips]
    started = time.perf_counter()
    floor_hits = sum(bisect_right(starts, n) > 0 for n in numbers)
    floor_seconds = time.perf_counter() - started
    assert floor_hits == lookups
    assert 0 < found < lookups
    assert 0 < orgs < len(sample)

    print(f"IP → organization, {ranges:,} ranges ({lookups:,} lookups, {found:,} in a range)")
    print(f"  index build (read + sort)            {built:>10.2f} s")
    print(
        f"  NetworkIndex.find                    {rate(lookups, index_seconds)}   target ≥ 50,000/s"
    )
    print(f"  orgs.org_for_ip (index + row)        {rate(len(sample), service_seconds)}")
    print(f"  reference: bare bisect on integers   {rate(lookups, floor_seconds)}")


# --- traces ---------------------------------------------------------------------------------


def serve_hosts(dns: AuthoritativeDnsServer, rdap: RdapServer, hosts: int) -> list[str]:
    """Each host: two IPv4 addresses and one IPv6 address, all public (so the offline dataset,
    IP-to-ASN and RDAP are asked), answered only by the local servers."""
    names = []
    network = fixture_json("ip_ripe.json")
    for i in range(hosts):
        name = f"h{i}.bench.test"
        a = [f"5.9.{i // 250}.{i % 250 + 1}", f"193.0.{i // 250}.{i % 250 + 1}"]
        aaaa = f"2a01:4f8::{i + 1:x}"
        dns.set(name, "A", *a)
        dns.set(name, "AAAA", aaaa)
        for ip in (*a, aaaa):
            dns.set(asn_query_name(ip), "TXT", f"64500 | {ip}/32 | DE | ripencc | 2020-01-01")
            rdap.answer(f"/ip/{ip}", network)
        names.append(name)
    return names


def bench_traces(db: Database, hosts: int) -> None:
    with AuthoritativeDnsServer(ZONES) as dns, RdapServer() as rdap:
        names = serve_hosts(dns, rdap, hosts)
        settings = Settings(
            database_url="sqlite://",
            dns_nameservers=[dns.host],
            dns_port=dns.port,
            rdap_base_url=rdap.base_url,
            rdap_rate_per_second=10_000.0,
        )
        tracer = build_tracer(settings)

        def run() -> float:
            started = time.perf_counter()
            for name in names:
                with db.transaction() as session:
                    outcome = tracer.trace(session, name, now=NOW)
                    assert outcome.data.addresses, outcome.summary
            return time.perf_counter() - started

        cold = run()
        asked = rdap.count()
        warm = run()
        assert rdap.count() == asked, "the warm pass went to the RDAP server"

        lookup = DnspythonLookup([dns.host], port=dns.port, timeout=2.0)
        started = time.perf_counter()
        for name in names:
            lookup.addresses(name)
        dns_seconds = time.perf_counter() - started

    print(f"Traces, {hosts} hosts x 3 addresses, local DNS and RDAP servers, SQLite")
    print(f"  cold RDAP cache ({asked} RDAP requests)    {rate(hosts, cold)}")
    print(f"  warm RDAP cache                      {rate(hosts, warm)}")
    print(f"  reference: DNS A+AAAA only           {rate(hosts, dns_seconds)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=300)
    parser.add_argument("--ranges", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=200_000)
    args = parser.parse_args()
    random.seed(7)
    with tempfile.TemporaryDirectory() as tmp:
        bench_lookups(database(Path(tmp) / "directory.db"), args.ranges, args.lookups)
        bench_traces(database(Path(tmp) / "traces.db"), args.hosts)


if __name__ == "__main__":
    main()
