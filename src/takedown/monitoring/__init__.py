"""Monitoring: re-checks of noticed URLs, removal detection, re-notices and escalation.

The SSRF-guarded fetcher it uses lives in ``takedown.fetch``.
"""
