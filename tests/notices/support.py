"""Test data, database factories and a local webhook receiver for the notices tests.

All data is benign: hashes are of made-up bytes, hosts are under ``*.test``, ``example.com``
and ``files.example``. Nothing here can carry image data.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.cases.models import CaseEvent, CaseItem, ItemVerdict
from takedown.config import Settings
from takedown.db.session import Database
from takedown.notices import answers
from takedown.notices import service as notices
from takedown.notices.documents import NoticeContent, NoticeItem
from takedown.notices.models import Notice, NoticeAnswer, NoticeKind, NoticeStatus
from tests.factories import NOW
from tests.orgs.support import directory_org
from tests.routing.support import confirmed_case

REFERENCE = "N-7KQ2M-9XD4A"
ANSWER_URL = "http://127.0.0.1:8000/notices/answer/tok3n"


def settings(**overrides: Any) -> Settings:
    """Settings for rendering and delivery; nothing here needs a database."""
    values: dict[str, Any] = {
        "hotline_name": "Example Hotline",
        "hotline_email": "hotline@hotline.example.com",
        "hotline_domain": "hotline.example.com",
        "public_base_url": "http://127.0.0.1:8000",
        "fetch_resolver": "static",
    }
    values.update(overrides)
    return Settings(**values)


def item(label: str, classification: str | None = None, media_type: str = "image") -> NoticeItem:
    """An item whose hashes are those of the benign bytes ``label``."""
    data = label.encode()
    return NoticeItem(
        sha256=hashlib.sha256(data).hexdigest(),
        md5=hashlib.md5(data).hexdigest(),  # noqa: S324 - a file hash, as hash lists carry
        sha1=hashlib.sha1(data).hexdigest(),  # noqa: S324 - a file hash, as hash lists carry
        pdq=hashlib.sha256(b"pdq" + data).hexdigest(),
        classification=classification,
        media_type=media_type,
    )


def content(**overrides: Any) -> NoticeContent:
    """A first notice to a Dutch host about two URLs and two items."""
    values: dict[str, Any] = {
        "reference": REFERENCE,
        "kind": "notice",
        "case_reference": "C-0001",
        "urls": ["http://files.example.com/a/1.jpg", "http://files.example.com/a/2.jpg"],
        "host": "files.example.com",
        "ip_addresses": ["192.0.2.10", "2001:db8::10"],
        "items": [item("one", "B1"), item("two", "A2", "video")],
        "detection_method": "hash_match",
        "country": "NL",
        "language": "en",
        "recipient_name": "Example Hosting B.V.",
        "asks_removal": True,
        "asks_preservation": False,
        "deadline": NOW + timedelta(hours=24),
        "sent_at": NOW,
        "answer_url": ANSWER_URL,
        "reply_to": None,
        "first_noticed_at": None,
        "previous_notice_references": [],
        "escalation_reason": None,
    }
    values.update(overrides)
    return NoticeContent(**values)


# -- in the database -------------------------------------------------------------------------

ABUSE_EMAIL = "abuse@hosting.example"
# The bytes a known item's hashes are made of: a benign test pattern, not an image.
ITEM_DATA = b"a benign test pattern"
ITEM_SHA256 = hashlib.sha256(ITEM_DATA).hexdigest()


def known_item(session: Session, url: str, case_id: uuid.UUID, classification: str) -> CaseItem:
    """A known item of the case, matched automatically, whose hashes are of ``ITEM_DATA``."""
    row = CaseItem(
        case_id=case_id,
        url=url,
        content_type="image/jpeg",
        size=len(ITEM_DATA),
        md5=hashlib.md5(ITEM_DATA, usedforsecurity=False).hexdigest(),
        sha1=hashlib.sha1(ITEM_DATA, usedforsecurity=False).hexdigest(),
        sha256=ITEM_SHA256,
        verdict=ItemVerdict.KNOWN,
        classification=classification,
        automatic=True,
        captured_at=NOW,
    )
    session.add(row)
    session.flush()
    return row


def new_notice(
    session: Session,
    settings: Settings,
    *,
    url: str = "http://files.example/album/1",
    name: str = "Example Hosting",
    classification: str | None = None,
    now: datetime = NOW,
    **org: Any,
) -> Notice:
    """A queued first notice to ``name`` about a new confirmed case at ``url``.

    With a ``classification`` the case has one known item of that class; ``org`` takes any
    of ``directory_org``'s fields (the abuse address is ``ABUSE_EMAIL`` unless given).
    """
    owner = directory_org(session, name, **({"abuse_email": ABUSE_EMAIL} | org))
    case = confirmed_case(session, url)
    if classification is not None:
        known_item(session, url, case.id, classification)
    return notices.create_notice(
        session,
        case,
        kind=NoticeKind.NOTICE,
        org=owner,
        org_name=owner.name,
        country="NL",
        settings=settings,
        now=now,
    )


def mark_sent(notice: Notice, at: datetime = NOW) -> Notice:
    """``notice`` as if its first attempt delivered it at ``at``."""
    notice.status, notice.sent_at, notice.attempts = NoticeStatus.SENT, at, 1
    return notice


def sent_notice(session: Session, settings: Settings, **options: Any) -> Notice:
    """A first notice as ``new_notice`` makes it, sent at NOW."""
    notice = mark_sent(new_notice(session, settings, **options))
    session.flush()
    return notice


def saved_answers(database: Database, notice_id: uuid.UUID) -> Sequence[NoticeAnswer]:
    """The answers stored for a notice, oldest first, read in a session of their own."""
    with database.sessions() as session:
        return answers.answers_of(session, notice_id)


def events_of(session: Session, case_id: uuid.UUID, kind: str) -> list[CaseEvent]:
    """The events of one ``kind`` on a case's timeline."""
    query = select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.kind == kind)
    return list(session.scalars(query).all())


# -- a webhook receiver ----------------------------------------------------------------------


@dataclass
class Received:
    """One request the webhook receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Answers:
    """What the receiver answers, and what it received."""

    status: int = 200
    body: bytes = b'{"ok": true}'
    headers: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    server: HookServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        answers = self.server.answers
        with answers.lock:
            answers.received.append(Received(self.path, dict(self.headers.items()), body))
            status, reply, extra = answers.status, answers.body, dict(answers.headers)
        self.send_response(status)
        for name, value in {**extra, "Content-Length": str(len(reply))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test output is for the tests."""


class HookServer(ThreadingHTTPServer):
    """An organization's webhook endpoint on 127.0.0.1, recording what it receives."""

    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answers = Answers()
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def url(self, path: str = "/hooks/takedown", host: str = "hooks.example.test") -> str:
        return f"http://{host}:{self.port}{path}"

    def start(self) -> HookServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(10)
