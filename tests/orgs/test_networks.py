"""The IP-range index: answers like a brute-force scan, and is rebuilt when the directory moves."""

from __future__ import annotations

import ipaddress
import random
import uuid

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session

from takedown.db.session import Database
from takedown.orgs import service as orgs
from takedown.orgs.models import DirectoryRevision
from takedown.orgs.networks import NetworkIndex, network_index, read_revision
from tests.factories import ACTOR, NOW

from .support import NET_A, NET_B, NET_C, directory_org

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _disjoint(rng: random.Random, version: int, count: int) -> list[_Network]:
    """Random networks, none overlapping another, of many sizes, packed into a small space."""
    bits, shortest = (32, 8) if version == 4 else (128, 16)
    # A narrow base keeps the ranges close together, so neighbours and edges are exercised.
    base = (10 << 24) if version == 4 else (0x2001_0DB8 << 96)
    span = 1 << (bits - shortest)
    chosen: list[_Network] = []
    while len(chosen) < count:
        length = rng.randint(shortest, bits)
        start = base + rng.randrange(span)
        network = ipaddress.ip_network((start, length), strict=False)
        if not any(network.overlaps(other) for other in chosen):
            chosen.append(network)
    return chosen


def _probes(rng: random.Random, networks: list[_Network], count: int) -> list[str]:
    """Every range's edges and the addresses just outside them, plus random addresses."""
    found: set[int] = set()
    for network in networks:
        first, last = int(network.network_address), int(network.broadcast_address)
        found.update({first, last, first - 1, last + 1})
    low = min(int(n.network_address) for n in networks)
    high = max(int(n.broadcast_address) for n in networks)
    found.update(rng.randint(low, high) for _ in range(count))
    version = networks[0].version
    return [
        str(ipaddress.ip_address(value)) if version == 4 else str(ipaddress.IPv6Address(value))
        for value in found
    ]


@pytest.mark.parametrize(("version", "seed"), [(4, 1), (4, 2), (6, 3), (6, 4)])
def test_lookup_agrees_with_brute_force(version: int, seed: int) -> None:
    rng = random.Random(seed)
    networks = _disjoint(rng, version, 300)
    owners = {network: uuid.UUID(int=rng.getrandbits(128)) for network in networks}
    index = NetworkIndex((str(n), o) for n, o in owners.items())
    assert len(index) == len(networks)
    spans = [(int(n.network_address), int(n.broadcast_address), o) for n, o in owners.items()]
    for probe in _probes(rng, networks, 2_000):
        value = int(ipaddress.ip_address(probe))
        expected = [o for first, last, o in spans if first <= value <= last]
        assert index.lookup(probe) == (expected[0] if expected else None), probe


@pytest.mark.parametrize("seed", [5, 6])
def test_overlapping_agrees_with_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    networks = _disjoint(rng, 4, 200)
    index = NetworkIndex((str(n), uuid.uuid4()) for n in networks)
    for _ in range(500):
        probe = ipaddress.ip_network(
            (int(rng.choice(networks).network_address) + rng.randrange(2**20), rng.randint(8, 32)),
            strict=False,
        )
        expected = sorted(
            (n for n in networks if n.overlaps(probe)), key=lambda n: int(n.network_address)
        )
        assert index.overlapping(str(probe)) == [str(n) for n in expected], probe


def test_overlapping_names_equal_inner_and_outer_ranges() -> None:
    holder = uuid.uuid4()
    index = NetworkIndex([(NET_A, holder), ("192.0.3.0/24", holder), ("2001:db8::/32", holder)])
    assert index.overlapping(NET_A) == [NET_A]
    assert index.overlapping("192.0.2.64/26") == [NET_A]
    assert index.overlapping("192.0.0.0/22") == [NET_A, "192.0.3.0/24"]
    assert index.overlapping("192.0.4.0/24") == []
    assert index.overlapping("2001:db8:5::/48") == ["2001:db8::/32"]
    assert index.conflicts("::/0") == [("2001:db8::/32", holder)]


def test_rows_that_overlap_are_left_out_keeping_the_larger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    big, small = uuid.uuid4(), uuid.uuid4()
    index = NetworkIndex([("192.0.2.128/25", small), ("192.0.2.0/24", big)])
    assert len(index) == 1
    assert index.lookup("192.0.2.200") == big
    assert "192.0.2.128/25 overlaps 192.0.2.0/24; ignored" in caplog.text


def test_a_copy_changes_and_the_shared_index_does_not() -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    shared = NetworkIndex([(NET_A, first)]).freeze()
    copy = shared.copy()
    copy.add(NET_B, second)
    copy.remove(NET_A)
    assert (copy.lookup("198.51.100.1"), copy.lookup("192.0.2.1")) == (second, None)
    assert (shared.lookup("198.51.100.1"), shared.lookup("192.0.2.1")) == (None, first)
    with pytest.raises(ValueError, match="overlaps"):
        copy.add("198.51.100.0/25", first)
    with pytest.raises(RuntimeError):
        shared.add(NET_C, first)


def test_the_cached_index_is_reused_until_the_directory_changes(database: Database) -> None:
    with database.transaction() as session:
        directory_org(session, "A", networks=[NET_A])
    with database.transaction() as session:
        before = network_index(session)
        assert network_index(session) is before  # one revision query, no rebuild
        assert orgs.org_for_ip(session, "198.51.100.1") is None
    with database.transaction() as session:
        directory_org(session, "B", networks=[NET_B])
    with database.transaction() as session:
        after = network_index(session)
        assert after is not before
        found = orgs.org_for_ip(session, "198.51.100.1")
        assert found is not None
        assert found.name == "B"
        # A contact change does not move the revision, so the index is kept.
        orgs.update_org(session, ACTOR, found, now=NOW, notes="edge")
    with database.transaction() as session:
        assert network_index(session) is after


def _abandoned_change(database: Database) -> None:
    with database.transaction() as session:
        directory_org(session, "A", networks=[NET_A])
        assert network_index(session).lookup("192.0.2.1") is not None
        raise RuntimeError("abandon")


def test_a_transaction_sees_its_own_ranges_and_a_rollback_leaves_no_trace(
    database: Database,
) -> None:
    with database.transaction() as session:
        assert orgs.org_for_ip(session, "192.0.2.1") is None
    with pytest.raises(RuntimeError, match="abandon"):
        _abandoned_change(database)
    with database.transaction() as session:
        # Same revision number as before the rolled-back change: the cache must not hold it.
        assert orgs.org_for_ip(session, "192.0.2.1") is None
        directory_org(session, "B", networks=[NET_B])
    with database.transaction() as session:
        found = orgs.org_for_ip(session, "198.51.100.7")
        assert found is not None
        assert found.name == "B"
        assert orgs.org_for_ip(session, "192.0.2.1") is None


def test_moving_a_range_within_one_transaction(db: Session) -> None:
    a = directory_org(db, "A", networks=[NET_A])
    b = directory_org(db, "B")
    orgs.update_org(db, ACTOR, a, now=NOW, networks=[])
    orgs.update_org(db, ACTOR, b, now=NOW, networks=["192.0.2.0/25"])
    assert orgs.org_for_ip(db, "192.0.2.1") == b
    assert orgs.org_for_ip(db, "192.0.2.200") is None


def test_a_missing_revision_row_is_recreated_above_the_old_number(database: Database) -> None:
    with database.transaction() as session:
        directory_org(session, "A", networks=[NET_A])
        old = read_revision(session)
        assert old is not None
        session.execute(delete(DirectoryRevision))
    with database.transaction() as session:
        assert read_revision(session) is None
        found = orgs.org_for_ip(session, "192.0.2.1")  # still answered, just not cached
        assert found is not None
        directory_org(session, "B", networks=[NET_B])
        new = read_revision(session)
        assert new is not None
        assert new > old
    with database.transaction() as session:
        assert orgs.org_for_ip(session, "198.51.100.1") is not None
