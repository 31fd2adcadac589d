"""X-ARF v4 ``content``/``csam`` reports: the machine-readable part of every notice.

X-ARF's design is "one incident = one report", so a notice naming three URLs carries three
documents; the e-mail around them is still one message per recipient. Each document has:

* ``reporter`` and ``sender``: the hotline (``hotline_name``, ``hotline_email``,
  ``hotline_domain``); we both own the complaint and transmit it.
* ``source_identifier``: the URL's host (IP literal or name), ``url``, and ``domain`` only
  when the host passes the schema's pattern (lower-case ASCII labels without ``--``; an IDN in
  punycode fails it, see the xarf 1.0.0 notes in formats.md 3.3), and ``dns_records`` with the
  traced addresses when the URL is on the traced host.
* ``classification``: the most severe industry code among the items (A1 > A2 > B1 > B2 >
  baseline; ``baseline`` when none has a code), ``detection_method``, ``media_type`` and
  ``hash_values`` (md5/sha1/sha256) of the first most severe item, so the hashes given are
  those of a file that carries the classification given.
* ``takedown_items``: an extension field (the schema allows additional properties; the xarf
  validator reports it as an unknown-field warning, never an error) listing every item as
  ``{sha256, md5, sha1, pdq, classification, media_type}``, because the core ``hash_values``
  object holds one file and receivers that scan their storage need them all.
* ``tags`` (``notice:<kind>``, ``reference:<reference>``, ``classification:<code>``,
  ``detection:<method>``, ``jurisdiction:<cc>``) and a ``description`` naming the reference.

Never included: ``evidence`` (the spec: "for csam and csem, do not attach visual content"),
``_internal`` (must be stripped before transmission), or anything else we do not state.

``report_id`` and ``timestamp`` are derived from the notice (reference + URL, and
``sent_at``), not drawn at random, so a document rebuilt for a re-delivery is identical to the
one stored and first sent.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence
from ipaddress import IPv6Address, ip_address
from typing import Any, Final

import httpx
import xarf

from takedown.config import Settings
from takedown.errors import InvalidURL, TakedownError
from takedown.notices.documents import NoticeContent, NoticeItem, industry_classification
from takedown.urls.hosts import canonical_host

# content-base.json's pattern for ``domain``.
DOMAIN_PATTERN: Final = re.compile(r"^([a-z0-9]+(-[a-z0-9]+)*\.)+[a-z]{2,}$")
ITEMS_FIELD: Final = "takedown_items"
MAX_DESCRIPTION: Final = 1000  # xarf-core.json
_XARF_MEDIA_TYPES: Final = frozenset({"image", "video", "audio", "text"})
_NEVER_SENT: Final = ("_internal", "evidence")


class InvalidXarf(TakedownError):
    """A document we built does not validate: a bug or a setting the schema refuses."""

    title = "Invalid X-ARF document"


def build_xarf(content: NoticeContent, settings: Settings) -> list[dict[str, Any]]:
    """One validated X-ARF v4 content/csam report per URL of the notice, in URL order."""
    return [_report(content, url, settings) for url in content.urls]


def validate_xarf(doc: dict[str, Any]) -> list[str]:
    """Schema errors of ``doc`` (warnings such as unknown fields are not errors).

    Adds our own two rules on top of the schema: no ``_internal`` and no ``evidence``.
    """
    result = xarf.parse(doc, strict=False)
    errors = [f"{e.field}: {e.message}" if e.field else e.message for e in result.errors]
    errors += [
        f"{name}: must never be sent in a CSAM report" for name in _NEVER_SENT if name in doc
    ]
    return errors


def source_host(url: str) -> tuple[str, bool] | None:
    """The canonical host of ``url`` (lowercase ASCII name or bare IP) and whether it is an IP."""
    try:
        raw = httpx.URL(url).raw_host
        host, is_ip = canonical_host(b"[" + raw + b"]" if b":" in raw else raw)
    except (httpx.InvalidURL, InvalidURL, UnicodeError):
        return None
    return (host.decode("ascii").strip("[]"), is_ip) if host else None


def xarf_domain(host: str) -> str | None:
    """``host`` if the schema's ``domain`` pattern accepts it, else ``None`` (IDN, IP ...)."""
    return host if DOMAIN_PATTERN.fullmatch(host) else None


def report_id(reference: str, url: str) -> str:
    """A UUID laid out as version 4 (as the spec asks), derived from the notice and URL."""
    digest = hashlib.sha256(f"takedown-xarf\n{reference}\n{url}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def _report(content: NoticeContent, url: str, settings: Settings) -> dict[str, Any]:
    contact = {
        "org": settings.hotline_name,
        "contact": settings.hotline_email,
        "domain": settings.hotline_domain,
    }
    parsed = source_host(url)
    host, is_ip = parsed if parsed else (content.host or "", False)
    identifier = host or (content.host or "") or next(iter(content.ip_addresses), "") or url
    fields = _fields(content, url, host, is_ip)
    result = xarf.create_report(
        category="content",
        type="csam",
        source_identifier=identifier,
        reporter=contact,
        sender=contact,
        **fields,
    )
    if result.errors or result.report is None:
        raise InvalidXarf(
            f"the X-ARF report for {content.reference} does not validate: "
            + "; ".join(f"{e.field}: {e.message}" for e in result.errors),
            reference=content.reference,
        )
    doc: dict[str, Any] = result.report.model_dump(mode="json", by_alias=True, exclude_none=True)
    for name in _NEVER_SENT:
        doc.pop(name, None)
    # create_report draws both at random; ours are stable (see the module docstring).
    doc["report_id"] = report_id(content.reference, url)
    doc["timestamp"] = content.sent_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    errors = validate_xarf(doc)
    if errors:
        raise InvalidXarf(
            f"the X-ARF report for {content.reference} does not validate: {'; '.join(errors)}",
            reference=content.reference,
        )
    return doc


def _fields(content: NoticeContent, url: str, host: str, is_ip: bool) -> dict[str, Any]:
    """The csam-specific and optional fields of one URL's report."""
    classification = content.most_severe_class
    fields: dict[str, Any] = {
        "url": url,
        "classification": classification,
        "detection_method": content.detection_method,
        "description": _description(content),
        "tags": _tags(content, classification),
    }
    domain = None if is_ip else xarf_domain(host)
    if domain is not None:
        fields["domain"] = domain
    if not is_ip and host and host == (content.host or "").lower() and content.ip_addresses:
        records = _dns_records(content.ip_addresses)
        if records:
            fields["dns_records"] = records
    primary = content.primary_item
    if primary is not None:
        hashes = {"md5": primary.md5, "sha1": primary.sha1, "sha256": primary.sha256}
        fields["hash_values"] = {name: value for name, value in hashes.items() if value}
        media = _media_type(content.items)
        if media is not None:
            fields["media_type"] = media
        fields[ITEMS_FIELD] = [_item(item) for item in content.items]
    return fields


def _dns_records(addresses: Sequence[str]) -> dict[str, list[str]]:
    """The traced addresses as ``{"a": [...], "aaaa": [...]}``; anything else is left out."""
    records: dict[str, list[str]] = {}
    for text in addresses:
        try:
            address = ip_address(text)
        except ValueError:
            continue
        name = "aaaa" if isinstance(address, IPv6Address) else "a"
        records.setdefault(name, []).append(str(address))
    return records


def _item(item: NoticeItem) -> dict[str, str]:
    values = {
        "sha256": item.sha256,
        "md5": item.md5,
        "sha1": item.sha1,
        "pdq": item.pdq,
        "classification": industry_classification(item.classification),
        "media_type": _major(item.media_type),
    }
    return {name: value for name, value in values.items() if value}


def _major(media_type: str | None) -> str | None:
    major = (media_type or "").split("/")[0].strip().lower()
    return major if major in _XARF_MEDIA_TYPES else None


def _media_type(items: Sequence[NoticeItem]) -> str | None:
    """image, video, audio or text when all known items agree; ``mixed`` when they differ."""
    kinds = {kind for kind in (_major(item.media_type) for item in items) if kind is not None}
    if not kinds:
        return None
    return kinds.pop() if len(kinds) == 1 else "mixed"


def _tags(content: NoticeContent, classification: str) -> list[str]:
    """Namespaced tags (``namespace:predicate``, lower case, as xarf-core.json requires)."""
    tags = [
        f"notice:{content.kind}",
        f"classification:{classification.lower()}",
        f"detection:{content.detection_method}",
    ]
    reference = re.sub(r"[^a-z0-9_+-]", "-", content.reference.lower()).strip("-")
    if reference:
        tags.insert(1, f"reference:{reference}")
    if content.country:
        tags.append(f"jurisdiction:{content.country.lower()}")
    return tags


def _description(content: NoticeContent) -> str:
    kind = content.kind.replace("_", " ")
    count = len(content.items)
    found = (
        f"{count} file(s), identified by the hashes in this report"
        if count
        else "assessed by an analyst"
    )
    under = (
        f" under the domain {content.domain}"
        if content.kind == "domain_alert" and content.domain
        else ""
    )
    text = (
        f"{kind.capitalize()} {content.reference}: child sexual abuse material at this URL"
        f"{under} ({found}; no imagery is attached). "
        f"Please quote {content.reference} in any reply."
    )
    return text[:MAX_DESCRIPTION]
