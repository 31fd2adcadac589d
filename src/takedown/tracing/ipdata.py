"""Country, AS name and routed prefix of an address from the dataset shipped in geoip2fast.

geoip2fast carries a GeoLite2-derived table (country + AS name, IPv4 and IPv6) inside the
package, so tracing needs no download at run time. It has no AS numbers; those come from
IP-to-ASN over DNS, the directory or RDAP. Loading takes about half a second and ~120 MB, so
one table is loaded lazily per process and shared by every thread (lookups only read it).
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

from takedown.tracing.interfaces import IpData

_DATA_FILE = "geoip2fast-asn-ipv6.dat.gz"
# geoip2fast's placeholders for "not a country" and "no AS".
_NO_COUNTRY = {"", "--"}
_NO_AS = {"", "IANA.ORG"}


class GeoIpData:
    """An :class:`~takedown.tracing.interfaces.IpDataSource` over geoip2fast's bundled table."""

    def __init__(self, data_file: str = _DATA_FILE) -> None:
        self._data_file = data_file
        self._table: Any = None
        self._lock = threading.Lock()

    def _loaded(self) -> Any:
        if self._table is None:
            with self._lock:
                if self._table is None:
                    from geoip2fast import GeoIP2Fast  # heavy import, only when tracing

                    self._table = GeoIP2Fast(geoip2fast_data_file=self._data_file, verbose=False)
        return self._table

    def lookup(self, ip: str) -> IpData:
        """What the table knows about ``ip``; all None for private or unknown addresses."""
        found = self._loaded().lookup(ip)
        country = str(found.country_code or "")
        if getattr(found, "is_private", False) or country in _NO_COUNTRY or len(country) != 2:
            return IpData(country=None, as_name=None, prefix=None)
        as_name = str(found.asn_name or "")
        prefix = str(found.asn_cidr or found.cidr or "") or None
        return IpData(
            country=country.upper(), as_name=None if as_name in _NO_AS else as_name, prefix=prefix
        )

    @property
    def source(self) -> str:
        """Where the facts come from, for the trace's evidence."""
        info = self._loaded().get_database_info()
        return str(info.get("source_info", "geoip2fast"))


@lru_cache(maxsize=1)
def shared_ip_data() -> GeoIpData:
    """The process's one table."""
    return GeoIpData()
