"""The publication guard: what a supervisor must approve before a version goes out.

Lists do harm when they are wrong: a Danish police list once blocked 8,000 legitimate sites,
Google among them, for hours. The guard refuses a version that changes more than the configured
number of entries at once, or that would block a protected registered domain (large shared
platforms) or a whole public suffix (``co.uk``, or a shared-hosting parent such as
``github.io`` from the Public Suffix List's private section) unless a supervisor approves.

Only host-level entries (``host/``) block a domain whole; a page or directory on a large
platform is listed like any other, which is what hotlines do with shared hosting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from takedown.config import Settings
from takedown.lists.models import ListName
from takedown.lists.rows import Diff, Row
from takedown.urls.domains import public_suffix, registered_domain


@dataclass(frozen=True, slots=True)
class Violation:
    rule: str  # too_many_added, too_many_removed, protected_domain, public_suffix
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "detail": self.detail}


def parse_domains(text: str) -> frozenset[str]:
    """Domains from a protected-domains file: one per line, ``#`` comments, case folded."""
    domains = set()
    for line in text.splitlines():
        domain = line.split("#", 1)[0].strip().lower().rstrip(".")
        if domain:
            domains.add(domain)
    return frozenset(domains)


@lru_cache(maxsize=4)
def _load(path: Path | None) -> frozenset[str]:
    if path is None:
        text = resources.files("takedown.lists").joinpath("data/protected_domains.txt")
        return parse_domains(text.read_text(encoding="utf-8"))
    return parse_domains(path.read_text(encoding="utf-8"))


def protected_domains(settings: Settings) -> frozenset[str]:
    return _load(settings.protected_domains_file)


def _host_rows(rows: Sequence[Row]) -> list[str]:
    """The hosts that added rows block whole (expression ``host/``)."""
    return [row[0][:-1] for row in rows if row[0].endswith("/") and row[0].count("/") == 1]


def check(name: ListName, change: Diff, settings: Settings) -> list[Violation]:
    """Everything about ``change`` that needs a supervisor's approval."""
    found: list[Violation] = []
    if len(change.added) > settings.list_guard_max_added:
        found.append(
            Violation(
                "too_many_added",
                f"{len(change.added)} entries added, more than the limit of "
                f"{settings.list_guard_max_added}",
            )
        )
    if len(change.removed) > settings.list_guard_max_removed:
        found.append(
            Violation(
                "too_many_removed",
                f"{len(change.removed)} entries removed, more than the limit of "
                f"{settings.list_guard_max_removed}",
            )
        )
    if name is ListName.URLS:
        found.extend(_domain_violations(_host_rows(change.added), protected_domains(settings)))
    return found


def _domain_violations(hosts: Sequence[str], protected: frozenset[str]) -> list[Violation]:
    found = []
    for host in hosts:
        if public_suffix(host) == host:
            found.append(
                Violation(
                    "public_suffix",
                    f"{host}/ would block a public suffix or shared-hosting parent whole",
                )
            )
            continue
        domain = registered_domain(host)
        if domain in protected:
            found.append(
                Violation(
                    "protected_domain",
                    f"{host}/ would block {'all of ' if host == domain else 'a host of '}"
                    f"{domain}, which is on the protected list",
                )
            )
    return found
