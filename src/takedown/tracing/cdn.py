"""The list of CDNs and reverse proxies: who stands in front of the server holding content."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from takedown.errors import ConfigurationError

PACKAGED_LIST = Path(__file__).with_name("data") / "cdns.yaml"


@dataclass(frozen=True)
class CdnEntry:
    """One CDN and what gives it away."""

    name: str
    asns: frozenset[int]
    as_names: frozenset[str]  # case-folded
    cname_suffixes: tuple[str, ...]  # lower case, no trailing dot


def _suffix_of(name: str, suffixes: Iterable[str]) -> str | None:
    name = name.lower().rstrip(".")
    for suffix in suffixes:
        if name == suffix or name.endswith("." + suffix):
            return suffix
    return None


class CdnList:
    """Lookups by CNAME target, ASN and AS name over the packaged list plus operator entries."""

    def __init__(self, entries: Sequence[CdnEntry]) -> None:
        self.entries = tuple(entries)
        self._by_asn = {asn: e for e in self.entries for asn in e.asns}
        self._by_as_name = {n: e for e in self.entries for n in e.as_names}

    @classmethod
    def load(cls, extra: Path | None = None) -> CdnList:
        entries = _read(PACKAGED_LIST)
        if extra is not None:
            entries += _read(extra)
        return cls(entries)

    def by_cname(self, name: str) -> tuple[CdnEntry, str] | None:
        """The CDN whose zone ``name`` is in, with the matching suffix."""
        for entry in self.entries:
            suffix = _suffix_of(name, entry.cname_suffixes)
            if suffix is not None:
                return entry, suffix
        return None

    def by_network(self, asn: int | None, as_name: str | None) -> CdnEntry | None:
        """The CDN operating this ASN or AS name."""
        if asn is not None and asn in self._by_asn:
            return self._by_asn[asn]
        if as_name:
            return self._by_as_name.get(as_name.casefold())
        return None


def _read(path: Path) -> list[CdnEntry]:
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"cannot read the CDN list {path}: {exc}") from exc
    if not isinstance(raw, list):
        raise ConfigurationError(f"the CDN list {path} must be a YAML list of entries")
    entries = []
    for number, item in enumerate(raw, 1):
        try:
            entries.append(
                CdnEntry(
                    name=str(item["name"]),
                    asns=frozenset(int(a) for a in item.get("asns") or ()),
                    as_names=frozenset(str(n).casefold() for n in item.get("as_names") or ()),
                    cname_suffixes=tuple(
                        str(s).lower().rstrip(".") for s in item.get("cname_suffixes") or ()
                    ),
                )
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigurationError(
                f"the CDN list {path}: entry {number} is malformed ({exc!r})"
            ) from exc
    return entries
