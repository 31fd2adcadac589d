"""The sandbox's SMTP sink, driven by plain smtplib on loopback."""

from __future__ import annotations

import json
import smtplib
import socket
import subprocess
import sys
from collections.abc import Iterator
from email.message import EmailMessage

import pytest

from takedown.clock import FrozenClock
from takedown.sandbox.smtp import ReceivedMessage, SmtpSink
from tests.notices.support import NOW

DOC = {"xarf_version": "4.2.0", "category": "content", "type": "csam", "url": "http://x.test/1"}


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink(clock=FrozenClock(NOW)) as running:
        yield running


def message(message_id: str = "<m1@hotline.example.com>", reference: str = "N-1") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Hotline <hotline@hotline.example.com>"
    msg["To"] = "abuse@files.example.com"
    msg["Subject"] = f"[{reference}] Test notice"
    msg["Message-ID"] = message_id
    msg["X-Takedown-Reference"] = reference
    msg.set_content("plain text body")
    msg.add_alternative("<p>html body</p>", subtype="html")
    msg.add_attachment(
        json.dumps(DOC).encode(), maintype="application", subtype="json", filename="xarf-1.json"
    )
    msg.add_attachment(b"not json", maintype="application", subtype="json", filename="bad.json")
    return msg


def send(sink: SmtpSink, msg: EmailMessage | None = None, timeout: float = 5.0) -> None:
    with smtplib.SMTP(sink.host, sink.port, local_hostname="client.test", timeout=timeout) as c:
        c.send_message(msg or message())


def test_receives_and_parses_a_message(sink: SmtpSink) -> None:
    send(sink)

    [got] = sink.wait_for(1)
    assert got.mail_from == "hotline@hotline.example.com"
    assert got.rcpt_tos == ["abuse@files.example.com"]
    assert got.message_id == "<m1@hotline.example.com>"
    assert got.subject == "[N-1] Test notice"
    assert got.reference == "N-1"
    assert got.text == "plain text body\n"
    assert got.html == "<p>html body</p>\n"
    assert got.xarf == [DOC]  # the attachment that is not JSON is left out
    assert got.received_at == NOW
    assert got.message["To"] == "abuse@files.example.com"


def test_port_zero_picks_a_free_port_per_sink(sink: SmtpSink) -> None:
    with SmtpSink() as other:
        assert sink.port != other.port
        send(other)
        assert len(other.wait_for(1)) == 1
    assert sink.messages() == []


def test_port_is_unknown_before_start_and_after_stop() -> None:
    sink = SmtpSink()
    with pytest.raises(RuntimeError):
        _ = sink.port
    sink.start()
    port = sink.port
    sink.stop()
    sink.stop()  # stopping twice is harmless

    with pytest.raises(RuntimeError):
        _ = sink.port
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), 2):
        pass


def test_subscribers_see_each_message_and_their_errors_do_not_reach_the_sender(
    sink: SmtpSink,
) -> None:
    seen: list[ReceivedMessage] = []

    def broken(_: ReceivedMessage) -> None:
        raise RuntimeError("a simulated provider's bug")

    sink.on_message(broken)
    sink.on_message(seen.append)

    send(sink, message("<a@x.test>"))
    send(sink, message("<b@x.test>"))

    sink.wait_for(2)
    assert [m.message_id for m in seen] == ["<a@x.test>", "<b@x.test>"]


def test_fail_next_refuses_that_many_messages(sink: SmtpSink) -> None:
    sink.fail_next(2, 451)

    for _ in range(2):
        with pytest.raises(smtplib.SMTPDataError) as caught:
            send(sink)
        assert caught.value.smtp_code == 451
    send(sink)

    assert len(sink.messages()) == 1


def test_fail_next_at_rcpt_refuses_recipients(sink: SmtpSink) -> None:
    sink.fail_next(1, 550, stage="rcpt")

    with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
        send(sink)

    assert caught.value.recipients["abuse@files.example.com"][0] == 550
    assert sink.messages() == []


def test_fail_next_takes_only_smtp_failure_codes(sink: SmtpSink) -> None:
    with pytest.raises(ValueError, match="4xx"):
        sink.fail_next(1, 250)


def test_a_lost_reply_still_delivers_so_the_retry_is_a_second_copy(sink: SmtpSink) -> None:
    # The sink holds its "250" back far longer than the client waits: the client gives up
    # (as a worker killed mid-send would) although the message is in.
    sink.set_delay(30)
    with pytest.raises((smtplib.SMTPException, OSError)):
        send(sink, timeout=0.5)
    assert [m.message_id for m in sink.wait_for(1)] == ["<m1@hotline.example.com>"]

    sink.set_delay(0)
    send(sink)

    assert sink.by_message_id() == {"<m1@hotline.example.com>": 2}


def test_wait_for_gives_up(sink: SmtpSink) -> None:
    with pytest.raises(TimeoutError, match="0 message"):
        sink.wait_for(1, timeout=0.05)


def test_messages_is_a_copy_and_clear_forgets(sink: SmtpSink) -> None:
    send(sink)
    copy = sink.messages()
    copy.clear()

    assert len(sink.messages()) == 1
    sink.clear()
    assert sink.messages() == []


def test_credentials_require_a_login() -> None:
    with SmtpSink(credentials=("user", "secret-pw")) as sink:
        with pytest.raises(smtplib.SMTPSenderRefused):
            send(sink)
        with smtplib.SMTP(sink.host, sink.port, local_hostname="client.test", timeout=5) as c:
            with pytest.raises(smtplib.SMTPAuthenticationError):
                c.login("user", "wrong")
            c.login("user", "secret-pw")
            c.send_message(message())

        assert len(sink.messages()) == 1


def test_the_module_does_not_import_pytest() -> None:
    code = "import sys, takedown.sandbox.smtp; print('pytest' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert out.stdout.strip() == "False"
