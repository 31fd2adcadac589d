"""Creating, changing and deleting organizations: validation, conflicts, audit, revisions."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from takedown.audit.models import AuditRecord
from takedown.db.session import Database
from takedown.errors import Conflict, NotFound, ValidationFailed
from takedown.orgs import service as orgs
from takedown.orgs.lookups import OrgIdentifiers
from takedown.orgs.models import Organization, OrgKind, OrgNetwork
from takedown.orgs.networks import read_revision
from tests.factories import ACTOR, NOW

from .support import ASN_A, ASN_B, NET6_A, NET_A, NET_B, directory_org


def _count(session: Session, model: type[Any] = Organization) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def _audit(session: Session, action: str) -> list[AuditRecord]:
    query = select(AuditRecord).where(AuditRecord.action == action).order_by(AuditRecord.seq)
    return list(session.scalars(query))


def test_add_org_normalizes_every_field(db: Session) -> None:
    org = directory_org(
        db,
        "  Example CDN ",
        OrgKind.CDN,
        "de",
        abuse_email="Abuse@Example.NET",
        webhook_url="https://hooks.example.net/takedown",
        webhook_secret="s" * 32,
        language="PT-br",
        notes=" edge network ",
        asns=["AS64497", 64496, "64496"],
        networks=["2001:DB8:0::/32", "198.51.100.0/24", "192.0.2.0/24"],
        domains=["Bücher.Example.", "cdn.example"],
        countries=["nl", "BE"],
    )
    assert (org.name, org.kind, org.country) == ("Example CDN", OrgKind.CDN, "DE")
    assert org.abuse_email == "Abuse@example.net"
    assert org.language == "pt-BR"
    assert org.notes == "edge network"
    assert orgs.identifiers(db, org) == OrgIdentifiers(
        asns=(ASN_A, ASN_B),
        networks=(NET_A, NET_B, NET6_A),
        domains=("cdn.example", "xn--bcher-kva.example"),
        tlds=(),
        countries=("BE", "NL"),
    )


def test_the_original_keyword_arguments_still_work(db: Session) -> None:
    org = orgs.add_org(
        db, ACTOR, name="Flagger", kind=OrgKind.TRUSTED_FLAGGER, country="nl", now=NOW
    )
    assert (org.language, org.notes, org.abuse_email, org.webhook_secret) == ("en", "", None, None)
    assert orgs.identifiers(db, org) == OrgIdentifiers()


def test_registries_hold_tlds(db: Session) -> None:
    registry = directory_org(db, "Registry", OrgKind.REGISTRY, tlds=[".COM", "co.UK", "рф"])
    assert orgs.identifiers(db, registry).tlds == ("co.uk", "com", "xn--p1ai")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "  "}, "name: an organization name has 1 to 200"),
        ({"country": "XX"}, "country: unknown country code 'XX'"),
        ({"country": "Germany"}, "country: a country is an ISO 3166-1 alpha-2 code"),
        ({"abuse_email": "abuse.example.net"}, "abuse_email: 'abuse.example.net' is not an e-mail"),
        ({"abuse_email": "a@b@example.net"}, "abuse_email: 'a@b@example.net' is not an e-mail"),
        ({"webhook_url": "ftp://hooks.example/"}, "webhook_url: 'ftp://hooks.example/' is not an"),
        ({"webhook_url": "/relative/path"}, "webhook_url: '/relative/path' is not an absolute"),
        (
            {"webhook_url": "https://u:p@hooks.example/"},
            "webhook_url: a webhook URL must not carry",
        ),
        ({"webhook_url": "https://hooks.example:99999/"}, "webhook_url: 'https://hooks.example"),
        ({"webhook_secret": "short"}, "webhook_secret: a webhook secret has 16 to 200"),
        ({"language": "english"}, "language: 'english' is not a language tag"),
        ({"language": "qq"}, "language: 'qq' is not a language tag"),
        ({"asns": [0]}, r"asns: 0 is not an AS number \(1 to 4294967295\)"),
        ({"asns": [2**32]}, "asns: 4294967296 is not an AS number"),
        ({"asns": ["ASX"]}, "asns: 'ASX' is not an AS number"),
        ({"networks": ["192.0.2.1/24"]}, r"networks: '192.0.2.1/24' has host bits set \(the net"),
        ({"networks": ["2001:db8::1/32"]}, "networks: '2001:db8::1/32' has host bits set"),
        ({"networks": ["192.0.2.0/33"]}, "networks: '192.0.2.0/33' is not an IP network"),
        ({"networks": ["10.0.0.0/8", "10.1.0.0/16"]}, "networks: 10.0.0.0/8 and 10.1.0.0/16 over"),
        ({"domains": ["*.cdn.example"]}, r"domains: '\*.cdn.example': give the name without"),
        ({"domains": ["a_b.example"]}, "domains: 'a_b.example' is not a valid domain name"),
        ({"domains": ["example"]}, "domains: 'example' is a top-level domain"),
        ({"domains": ["192.0.2.1"]}, "domains: '192.0.2.1' is an IP address"),
        ({"tlds": ["com"]}, "tlds: only registries run top-level domains, not a hosting provider"),
        ({"countries": ["NL", "XX"]}, "countries: unknown country code 'XX'"),
    ],
)
def test_bad_values_are_refused_naming_the_field(
    db: Session, fields: dict[str, Any], message: str
) -> None:
    arguments: dict[str, Any] = {"name": "Example Hosting", "country": "NL", **fields}
    with pytest.raises(ValidationFailed, match=message):
        orgs.add_org(db, ACTOR, kind=OrgKind.HOSTING_PROVIDER, now=NOW, **arguments)
    assert _count(db) == 0


def test_names_are_unique_whatever_their_case(db: Session) -> None:
    directory_org(db, "Example Hosting")
    with pytest.raises(Conflict, match="an organization named 'EXAMPLE hosting' exists already"):
        directory_org(db, "EXAMPLE hosting")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("asns", ASN_A, f"asns: AS{ASN_A} belongs to 'Holder' already"),
        ("domains", "cdn.example", "domains: cdn.example belongs to 'Holder' already"),
        ("tlds", "example", "tlds: example belongs to 'Holder' already"),
    ],
)
def test_an_identifier_has_one_holder(db: Session, field: str, value: object, message: str) -> None:
    claim: dict[str, Any] = {field: [value]}
    directory_org(db, "Holder", OrgKind.REGISTRY, **claim)
    with pytest.raises(Conflict, match=message):
        directory_org(db, "Other", OrgKind.REGISTRY, **claim)
    assert _count(db) == 1


@pytest.mark.parametrize(
    ("held", "wanted", "message"),
    [
        (NET_A, NET_A, f"networks: {NET_A} belongs to 'Holder' already"),
        (NET_A, "192.0.2.128/25", f"networks: 192.0.2.128/25 is inside {NET_A} of 'Holder'"),
        (NET_A, "192.0.0.0/16", f"networks: 192.0.0.0/16 contains {NET_A} of 'Holder'"),
        (NET_A, "192.0.2.7/32", f"networks: 192.0.2.7/32 is inside {NET_A} of 'Holder'"),
        (NET6_A, "2001:db8:1::/48", f"networks: 2001:db8:1::/48 is inside {NET6_A} of 'Holder'"),
        (NET6_A, "2001:d00::/24", f"networks: 2001:d00::/24 contains {NET6_A} of 'Holder'"),
    ],
)
def test_overlapping_networks_are_refused_naming_both(
    db: Session, held: str, wanted: str, message: str
) -> None:
    directory_org(db, "Holder", networks=[held])
    with pytest.raises(Conflict, match=message):
        directory_org(db, "Other", networks=["203.0.113.0/24", wanted])
    assert _count(db) == 1
    assert _count(db, OrgNetwork) == 1


def test_neighbouring_networks_are_fine(db: Session) -> None:
    directory_org(db, "Low", networks=["192.0.2.0/25", "2001:db8::/33"])
    directory_org(db, "High", networks=["192.0.2.128/25", "2001:db8:8000::/33"])
    assert _count(db, OrgNetwork) == 4


def test_a_conflict_error_lists_every_problem(db: Session) -> None:
    directory_org(db, "Holder", asns=[ASN_A, ASN_B])
    with pytest.raises(Conflict) as caught:
        directory_org(db, "Other", asns=[ASN_A, ASN_B])
    assert caught.value.message == f"asns: AS{ASN_A} belongs to 'Holder' already (and 1 more)"
    assert caught.value.extra["problems"] == [
        f"asns: AS{ASN_A} belongs to 'Holder' already",
        f"asns: AS{ASN_B} belongs to 'Holder' already",
    ]


def test_update_changes_what_is_given_and_keeps_the_rest(db: Session) -> None:
    org = directory_org(
        db, abuse_email="abuse@example.net", asns=[ASN_A], networks=[NET_A], domains=["a.example"]
    )
    orgs.update_org(
        db,
        ACTOR,
        org.id,
        now=NOW,
        country="be",
        abuse_email=None,
        webhook_secret="x" * 20,
        # Its own old range may be split: only other organizations' ranges count.
        networks=["192.0.2.0/25", "192.0.2.128/25"],
        asns=[],
    )
    assert (org.country, org.abuse_email, org.webhook_secret) == ("BE", None, "x" * 20)
    assert org.name == "Example Hosting"
    assert orgs.identifiers(db, org) == OrgIdentifiers(
        networks=("192.0.2.0/25", "192.0.2.128/25"), domains=("a.example",)
    )
    assert orgs.org_for_ip(db, "192.0.2.200") == org


def test_update_refuses_conflicts_and_changes_nothing(db: Session) -> None:
    directory_org(db, "Holder", networks=[NET_B])
    org = directory_org(db, "Example Hosting", networks=[NET_A])
    with pytest.raises(Conflict, match=f"networks: 198.51.100.0/25 is inside {NET_B} of 'Holder'"):
        orgs.update_org(db, ACTOR, org, now=NOW, notes="new", networks=["198.51.100.0/25"])
    with pytest.raises(Conflict, match="an organization named 'holder' exists already"):
        orgs.update_org(db, ACTOR, org, now=NOW, name="holder")
    assert org.notes == ""
    assert orgs.identifiers(db, org).networks == (NET_A,)
    renamed = orgs.update_org(db, ACTOR, org, now=NOW, name="EXAMPLE HOSTING")
    assert renamed.name == "EXAMPLE HOSTING"


def test_only_registries_keep_tlds(db: Session) -> None:
    registry = directory_org(db, "Registry", OrgKind.REGISTRY, tlds=["example"])
    with pytest.raises(ValidationFailed, match="tlds: only registries run top-level domains"):
        orgs.update_org(db, ACTOR, registry, now=NOW, kind=OrgKind.REGISTRAR)
    orgs.update_org(db, ACTOR, registry, now=NOW, kind="registrar", tlds=[])
    assert registry.kind is OrgKind.REGISTRAR


def test_update_and_delete_unknown_organizations(db: Session) -> None:
    org = directory_org(db)
    db.delete(org)
    db.flush()
    with pytest.raises(NotFound):
        orgs.update_org(db, ACTOR, org.id, now=NOW, notes="x")
    with pytest.raises(NotFound):
        orgs.delete_org(db, ACTOR, org.id, now=NOW)


def test_delete_removes_the_identifiers(db: Session) -> None:
    org = directory_org(db, asns=[ASN_A], networks=[NET_A, NET6_A], domains=["cdn.example"])
    orgs.delete_org(db, ACTOR, org.id, now=NOW)
    assert _count(db) == _count(db, OrgNetwork) == 0
    assert orgs.org_for_ip(db, "192.0.2.1") is None
    assert orgs.org_for_asn(db, ASN_A) is None
    assert orgs.org_for_domain(db, "cdn.example") is None
    [record] = _audit(db, "org.delete")
    assert record.details["name"] == "Example Hosting"
    assert record.details["networks"] == [NET_A, NET6_A]
    # Its identifiers are free for another organization now.
    directory_org(db, "Successor", asns=[ASN_A], networks=[NET_A])


def test_changes_are_audited_without_the_secret(db: Session) -> None:
    secret = "a-long-webhook-secret"
    org = directory_org(db, webhook_secret=secret, asns=[ASN_A], webhook_url="https://h.example/")
    orgs.update_org(db, ACTOR, org, now=NOW, webhook_secret="another-long-secret", asns=[ASN_B])
    orgs.update_org(db, ACTOR, org, now=NOW, notes="")  # no change: no record
    [created] = _audit(db, "org.create")
    [updated] = _audit(db, "org.update")
    assert created.details["webhook_secret"] == "set"
    assert created.details["asns"] == [ASN_A]
    assert updated.details["changed"] == ["webhook_secret", "asns"]
    assert updated.details["asns"] == {"added": [ASN_B], "removed": [ASN_A]}
    dumped = json.dumps([created.details, updated.details])
    assert secret not in dumped
    assert "another-long-secret" not in dumped


def test_identifier_changes_bump_the_revision_once_per_transaction(database: Database) -> None:
    with database.transaction() as session:
        org = directory_org(session, networks=[NET_A])
        start = read_revision(session)
        assert start is not None
        orgs.update_org(session, ACTOR, org, now=NOW, asns=[ASN_A])
        assert read_revision(session) == start
    with database.transaction() as session:
        orgs.update_org(session, ACTOR, org.id, now=NOW, abuse_email="abuse@example.net")
        assert read_revision(session) == start  # contacts only
        orgs.update_org(session, ACTOR, org.id, now=NOW, domains=["cdn.example"])
        assert read_revision(session) == start + 1
    with database.transaction() as session:
        orgs.delete_org(session, ACTOR, org.id, now=NOW)
        assert read_revision(session) == start + 2


def test_concurrent_writers_cannot_both_claim_a_range(committed: Database) -> None:
    """The second writer waits for the first to commit, then sees its range."""
    claimed = threading.Event()
    outcome: list[BaseException | None] = []

    def second() -> None:
        claimed.wait(5)
        try:
            with committed.transaction() as session:
                directory_org(session, "Second", networks=["192.0.2.0/25"])
        except Conflict as exc:
            outcome.append(exc)
        else:
            outcome.append(None)

    thread = threading.Thread(target=second)
    thread.start()
    with committed.transaction() as session:
        directory_org(session, "First", networks=[NET_A])
        claimed.set()
        time.sleep(0.3)  # the second writer is now waiting for this transaction
    thread.join(10)
    [error] = outcome
    assert isinstance(error, Conflict)
    assert error.message == f"networks: 192.0.2.0/25 is inside {NET_A} of 'First'"
