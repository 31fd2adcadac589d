"""The MIME message of a notice e-mail.

Structure (RFC 2046)::

    multipart/mixed
    ├── multipart/alternative
    │   ├── text/plain; charset=utf-8
    │   └── text/html; charset=utf-8
    ├── application/json  xarf-1.json   (one X-ARF v4 report per URL)
    └── application/json  xarf-2.json

The Message-ID is given by the caller and stays the same for every delivery attempt of one
notice, so a receiver that got a message twice because the connection broke after it was
accepted (RFC 1047) can tell it is the same one. ``Auto-Submitted: auto-generated`` (RFC 3834)
keeps well-behaved auto-responders from answering it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Final

from takedown.config import Settings
from takedown.errors import ConfigurationError
from takedown.notices.documents import NoticeContent
from takedown.notices.render import RenderedEmail, oneline, template_language

REFERENCE_HEADER: Final = "X-Takedown-Reference"
# RFC 5322 dot-atom-text, kept to the characters no mail system treats specially.
_SAFE_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}")
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*")


def make_message_id(key: str, domain: str) -> str:
    """A stable Message-ID for ``key`` (e.g. a notice id): ``<key@domain>``.

    A key with characters a Message-ID cannot hold is replaced by its SHA-256 prefix, so the
    same key always gives the same id.
    """
    host = domain.strip().lower().rstrip(".")
    if not _DOMAIN.fullmatch(host):
        raise ConfigurationError(f"{domain!r} cannot be the domain of a Message-ID")
    left = key if _SAFE_KEY.fullmatch(key) else hashlib.sha256(key.encode()).hexdigest()[:40]
    return f"<{left}@{host}>"


def build_email(
    content: NoticeContent,
    rendered: RenderedEmail,
    xarf_docs: Sequence[dict[str, Any]],
    settings: Settings,
    message_id: str,
    to: str | Sequence[str],
    *,
    date: datetime | None = None,
) -> EmailMessage:
    """The notice as a message ready for SMTP; ``date`` defaults to now."""
    msg = EmailMessage()
    msg["From"] = Address(
        display_name=oneline(settings.hotline_name), addr_spec=settings.hotline_email
    )
    msg["To"] = to if isinstance(to, str) else ", ".join(to)
    reply_to = content.reply_to or settings.hotline_email
    if reply_to != settings.hotline_email:
        msg["Reply-To"] = reply_to
    msg["Subject"] = oneline(rendered.subject)
    msg["Date"] = format_datetime((date or datetime.now(UTC)).astimezone(UTC))
    msg["Message-ID"] = message_id
    msg[REFERENCE_HEADER] = content.reference
    msg["Auto-Submitted"] = "auto-generated"
    msg["Content-Language"] = template_language(content.language)
    msg.set_content(rendered.text, subtype="plain", charset="utf-8")
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8")
    for number, doc in enumerate(xarf_docs, 1):
        body = json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8")
        msg.add_attachment(
            body, maintype="application", subtype="json", filename=f"xarf-{number}.json"
        )
    return msg
