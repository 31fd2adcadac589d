"""Tracing: where a URL is hosted and who can act on it (DNS, IP facts, RDAP, CDNs)."""
