"""Delivery for real: SMTP to the sandbox's sink, webhooks to an HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest

from takedown.clock import FrozenClock
from takedown.errors import ConfigurationError
from takedown.fetch.resolver import StaticResolver
from takedown.notices.channels import (
    SmtpSender,
    WebhookSender,
    signature_header,
    verify_signature,
)
from takedown.notices.documents import NoticeContent
from takedown.notices.message import build_email, make_message_id
from takedown.notices.render import render_email
from takedown.notices.xarf import build_xarf
from takedown.sandbox.smtp import SmtpSink
from tests.network import loopback_only

from .support import NOW, REFERENCE, HookServer, content, settings

SECRET = "whsec-test-0123456789abcdef"
MESSAGE_ID = "<3f1c2a9e-notice@hotline.example.com>"
RECIPIENT = "abuse@files.example.com"


@pytest.fixture(autouse=True)
def connections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every TCP connection opened; a non-loopback one fails the test before it leaves.

    A safety net for the address guard tests: were the guard broken, a refused address would
    otherwise be contacted for real.
    """
    return loopback_only(monkeypatch)


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as running:
        yield running


@pytest.fixture
def hooks() -> Iterator[HookServer]:
    server = HookServer().start()
    yield server
    server.close()


def notice_email(notice: NoticeContent | None = None) -> tuple[EmailMessage, list[dict[str, Any]]]:
    notice = notice or content()
    docs = build_xarf(notice, settings())
    rendered = render_email(notice, settings())
    return build_email(notice, rendered, docs, settings(), MESSAGE_ID, RECIPIENT, date=NOW), docs


def smtp(sink: SmtpSink, **kwargs: Any) -> SmtpSender:
    return SmtpSender(sink.host, sink.port, timeout=5.0, **kwargs)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- SMTP --------------------------------------------------------------------------------------


def test_notice_email_arrives_whole(sink: SmtpSink) -> None:
    msg, docs = notice_email()

    result = smtp(sink).send(msg)

    assert (result.accepted, result.permanent) == (True, False)
    [got] = sink.wait_for(1)
    assert got.rcpt_tos == [RECIPIENT]
    assert got.mail_from == "hotline@hotline.example.com"
    assert got.message_id == MESSAGE_ID
    assert got.reference == REFERENCE
    assert got.subject.startswith(f"[{REFERENCE}]")
    assert got.message["From"] == "Example Hotline <hotline@hotline.example.com>"
    assert got.message["Auto-Submitted"] == "auto-generated"
    assert got.message["Date"] == "Sun, 22 Nov 2026 09:00:00 +0000"
    assert got.text is not None
    assert REFERENCE in got.text
    assert got.html is not None
    assert REFERENCE in got.html
    assert got.xarf == docs
    assert len(got.xarf) == 2


def test_message_structure_and_attachments(sink: SmtpSink) -> None:
    msg, docs = notice_email()
    smtp(sink).send(msg)
    got = sink.wait_for(1)[0].message

    assert got.get_content_type() == "multipart/mixed"
    parts = list(got.iter_parts())
    assert parts[0].get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parts[0].iter_parts()] == ["text/plain", "text/html"]
    attachments = list(got.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["xarf-1.json", "xarf-2.json"]
    assert [a.get_content_type() for a in attachments] == ["application/json"] * 2
    assert [json.loads(a.get_content()) for a in attachments] == docs
    # Nothing but text and JSON travels: no image part of any kind.
    assert all(part.get_content_maintype() != "image" for part in got.walk())


def test_a_resend_carries_the_same_message_id(sink: SmtpSink) -> None:
    msg, _ = notice_email()

    smtp(sink).send(msg)
    smtp(sink).send(msg)

    assert sink.by_message_id() == {MESSAGE_ID: 2}


def test_message_ids_are_stable_and_safe() -> None:
    assert (
        make_message_id("3f1c2a9e-1", "Hotline.Example.com") == "<3f1c2a9e-1@hotline.example.com>"
    )
    odd = make_message_id("a key with <spaces>@", "hotline.example.com")
    assert odd == make_message_id("a key with <spaces>@", "hotline.example.com")
    assert " " not in odd
    assert odd.count("@") == 1
    assert odd.count("<") == 1
    with pytest.raises(ConfigurationError):
        make_message_id("x", "not a domain")


def test_temporary_failure_is_not_accepted_and_not_permanent(sink: SmtpSink) -> None:
    msg, _ = notice_email()
    sink.fail_next(1, 451)

    result = smtp(sink).send(msg)

    assert (result.accepted, result.permanent) == (False, False)
    assert "451" in result.detail
    assert sink.messages() == []
    assert smtp(sink).send(msg).accepted


@pytest.mark.parametrize("stage", ["data", "rcpt"])
def test_550_is_permanent(sink: SmtpSink, stage: str) -> None:
    msg, _ = notice_email()
    sink.fail_next(1, 550, stage=stage)  # type: ignore[arg-type]

    result = smtp(sink).send(msg)

    assert (result.accepted, result.permanent) == (False, True)
    assert "550" in result.detail
    assert sink.messages() == []


def test_4xx_on_every_recipient_is_temporary(sink: SmtpSink) -> None:
    msg, _ = notice_email()
    sink.fail_next(1, 450, stage="rcpt")

    result = smtp(sink).send(msg)

    assert (result.accepted, result.permanent) == (False, False)


def test_one_recipient_refused_of_two_still_delivers(sink: SmtpSink) -> None:
    msg, _ = notice_email()
    msg.replace_header("To", "a@files.example.com, b@files.example.com")
    sink.fail_next(1, 550, stage="rcpt")

    result = smtp(sink).send(msg)

    assert result.accepted
    assert "a@files.example.com (550)" in result.detail
    assert sink.wait_for(1)[0].rcpt_tos == ["b@files.example.com"]


def test_server_down_is_temporary() -> None:
    msg, _ = notice_email()

    result = SmtpSender("127.0.0.1", free_port(), timeout=5.0).send(msg)

    assert (result.accepted, result.permanent) == (False, False)
    assert "could not deliver" in result.detail


def test_login_works_and_the_password_is_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    password = "pw-Zq8-never-print-me"
    msg, _ = notice_email()
    caplog.set_level(logging.DEBUG)
    with SmtpSink(credentials=("notices", password)) as sink:
        good = smtp(sink, username="notices", password=password)
        wrong = smtp(sink, username="notices", password=password + "x")
        anonymous = smtp(sink)

        accepted = good.send(msg)
        refused = wrong.send(msg)
        unauthenticated = anonymous.send(msg)

        assert accepted.accepted
        assert (refused.accepted, refused.permanent) == (False, False)
        assert "535" in refused.detail
        assert (unauthenticated.accepted, unauthenticated.permanent) == (False, False)
        assert len(sink.messages()) == 1
    for shown in (repr(good), repr(wrong), refused.detail, accepted.detail, caplog.text):
        assert password not in shown


def test_smtp_sender_from_settings() -> None:
    with pytest.raises(ConfigurationError, match="TAKEDOWN_SMTP_HOST"):
        SmtpSender.from_settings(settings())

    sender = SmtpSender.from_settings(
        settings(
            smtp_host="relay.example.com", smtp_port=2525, smtp_username="u", smtp_password="p"
        )
    )
    assert (sender.host, sender.port, sender.username) == ("relay.example.com", 2525, "u")
    assert sender.local_hostname == "hotline.example.com"
    assert "p'" not in repr(sender)


# -- webhooks ----------------------------------------------------------------------------------

BODY = json.dumps({"reference": REFERENCE, "xarf": []}, separators=(",", ":")).encode()


def webhook(hooks: HookServer, clock: FrozenClock | None = None, **kwargs: Any) -> WebhookSender:
    allow = kwargs.pop("allow_hosts", [f"hooks.example.test:{hooks.port}"])
    return WebhookSender(
        StaticResolver({"hooks.example.test": ["127.0.0.1"]}),
        allow_hosts=allow,
        timeout=5.0,
        clock=clock or FrozenClock(NOW),
        **kwargs,
    )


def test_webhook_is_signed_and_verifies(hooks: HookServer) -> None:
    clock = FrozenClock(NOW)

    result = webhook(hooks, clock).post(hooks.url(), SECRET, BODY, "notice-key-1")

    assert (result.accepted, result.permanent) == (True, False)
    [got] = hooks.answers.received
    assert got.path == "/hooks/takedown"
    assert got.body == BODY
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["Idempotency-Key"] == "notice-key-1"
    # Connected to the pinned address, named by the Host header.
    assert got.headers["Host"] == f"hooks.example.test:{hooks.port}"
    header = got.headers["Takedown-Signature"]
    assert header.startswith(f"t={int(NOW.timestamp())},v1=")
    assert verify_signature(SECRET, header, got.body, clock.now())


def test_retries_repeat_the_idempotency_key(hooks: HookServer) -> None:
    sender = webhook(hooks)

    sender.post(hooks.url(), SECRET, BODY, "notice-key-1")
    sender.post(hooks.url(), SECRET, BODY, "notice-key-1")

    assert [r.headers["Idempotency-Key"] for r in hooks.answers.received] == ["notice-key-1"] * 2


def signed(body: bytes = BODY, secret: str = SECRET) -> str:
    return signature_header(secret, body, int(NOW.timestamp()))


@pytest.mark.parametrize(
    ("header", "body", "now"),
    [
        (signed(), BODY + b" ", NOW),  # tampered body
        (signed(secret="another-secret"), BODY, NOW),  # wrong secret
        (signed(), BODY, NOW + timedelta(seconds=301)),  # replayed too late
        (signed(), BODY, NOW - timedelta(seconds=301)),  # stamped in the future
        (signed().replace("v1=", "v0="), BODY, NOW),  # no v1 signature
        (signed().split(",")[1], BODY, NOW),  # no timestamp
        ("t=abc,v1=00", BODY, NOW),  # malformed
        ("", BODY, NOW),
    ],
)
def test_verify_rejects(header: str, body: bytes, now: Any) -> None:
    assert not verify_signature(SECRET, header, body, now)


def test_verify_accepts_within_tolerance_and_rotated_secrets() -> None:
    assert verify_signature(SECRET, signed(), BODY, NOW + timedelta(seconds=300))
    old = signed(secret="old-secret").split(",v1=")[1]
    assert verify_signature(SECRET, f"{signed()},v1={old}", BODY, NOW)
    assert verify_signature("old-secret", f"{signed()},v1={old}", BODY, NOW)
    assert not verify_signature(
        SECRET, signed(), BODY, NOW + timedelta(seconds=61), timedelta(seconds=60)
    )


@pytest.mark.parametrize(
    ("status", "accepted", "permanent"),
    [
        (200, True, False),
        (202, True, False),
        (204, True, False),
        (400, False, True),
        (401, False, True),
        (404, False, True),
        (410, False, True),
        (408, False, False),
        (429, False, False),
        (500, False, False),
        (503, False, False),
    ],
)
def test_webhook_status_decides_the_outcome(
    hooks: HookServer, status: int, accepted: bool, permanent: bool
) -> None:
    hooks.answers.status = status
    hooks.answers.body = b"" if status == 204 else b'{"error": "test"}'

    result = webhook(hooks).post(hooks.url(), SECRET, BODY, "k")

    assert (result.accepted, result.permanent) == (accepted, permanent)
    assert str(status) in result.detail


def test_redirects_are_not_followed(hooks: HookServer) -> None:
    hooks.answers.status = 302
    hooks.answers.headers = {"Location": "http://169.254.169.254/latest/meta-data/"}

    result = webhook(hooks).post(hooks.url(), SECRET, BODY, "k")

    assert (result.accepted, result.permanent) == (False, False)
    assert "not followed" in result.detail
    assert len(hooks.answers.received) == 1


def test_private_address_is_refused_unless_allowed(
    hooks: HookServer, connections: list[str]
) -> None:
    refused = webhook(hooks, allow_hosts=[]).post(hooks.url(), SECRET, BODY, "k")

    assert (refused.accepted, refused.permanent) == (False, True)
    assert "127.0.0.1" in refused.detail
    assert "not a public address" in refused.detail
    assert hooks.answers.received == []
    assert connections == []

    by_name = webhook(hooks, allow_hosts=["hooks.example.test"]).post(
        hooks.url(), SECRET, BODY, "k"
    )
    by_port = webhook(hooks).post(hooks.url(), SECRET, BODY, "k")
    other_port = webhook(hooks, allow_hosts=["hooks.example.test:1"]).post(
        hooks.url(), SECRET, BODY, "k"
    )

    assert by_name.accepted
    assert by_port.accepted
    assert (other_port.accepted, other_port.permanent) == (False, True)
    assert len(hooks.answers.received) == 2


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest",
        "http://[::1]:8080/hook",
        "http://0x7f000001/hook",
        "http://internal.example.test/hook",  # resolves to a private address
    ],
)
def test_non_public_targets_are_refused_before_connecting(
    hooks: HookServer, connections: list[str], url: str
) -> None:
    sender = WebhookSender(
        StaticResolver({"internal.example.test": ["192.0.2.1", "10.1.2.3"]}),
        clock=FrozenClock(NOW),
    )

    result = sender.post(url, SECRET, BODY, "k")

    assert (result.accepted, result.permanent) == (False, True)
    assert "not a public address" in result.detail
    assert connections == []


def test_unknown_name_is_temporary(hooks: HookServer) -> None:
    result = webhook(hooks).post("http://nowhere.example.test/hook", SECRET, BODY, "k")

    assert (result.accepted, result.permanent) == (False, False)


def test_closed_port_is_temporary(hooks: HookServer) -> None:
    port = free_port()
    sender = webhook(hooks, allow_hosts=[f"hooks.example.test:{port}"])

    result = sender.post(f"http://hooks.example.test:{port}/hook", SECRET, BODY, "k")

    assert (result.accepted, result.permanent) == (False, False)
    assert "could not connect" in result.detail


@pytest.mark.parametrize("url", ["ftp://hooks.example.test/hook", "not a url", "http:///hook"])
def test_unusable_url_is_permanent(hooks: HookServer, url: str) -> None:
    result = webhook(hooks).post(url, SECRET, BODY, "k")

    assert (result.accepted, result.permanent) == (False, True)
    assert hooks.answers.received == []


def test_webhook_sender_from_settings(hooks: HookServer) -> None:
    configured = settings(
        fetch_static_hosts={"hooks.example.test": ["127.0.0.1"]},
        fetch_allow_hosts=[f"hooks.example.test:{hooks.port}"],
    )

    result = WebhookSender.from_settings(configured).post(hooks.url(), SECRET, BODY, "k")

    assert result.accepted
