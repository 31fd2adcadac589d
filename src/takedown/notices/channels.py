"""How notices leave: e-mail over SMTP, or a signed JSON webhook. Each answers the same way.

A :class:`DeliveryResult` says whether the receiver took the notice (``accepted``) and, if
not, whether trying again could help (``permanent``): the send job retries temporary failures
with backoff and marks permanent ones failed. Neither sender raises for a delivery problem.

SMTP (``SmtpSender``): 2xx after DATA is accepted; a 4xx anywhere, a dropped connection, a
timeout or a refused login is temporary (the relay may be back, the credentials fixed); 5xx on
every recipient, or on the message itself after DATA, is permanent.

Webhooks (``WebhookSender``): a POST of the JSON body with::

    Content-Type: application/json
    Takedown-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}." + body)>
    Idempotency-Key: <the notice's key, the same on every attempt>

2xx is accepted; 4xx is permanent except 408 and 429; anything else (3xx, which is not
followed, 5xx, no answer) is temporary. The target goes through the fetcher's address guard:
the name is resolved once, every address must be public unless ``host`` or ``host:port`` is in
``fetch_allow_hosts``, and the connection goes to the checked address (the name stays in the
``Host`` header and TLS SNI), so a DNS answer that changes between check and connect cannot
point a webhook at the hotline's own network. Receivers check the signature with
:func:`verify_signature`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import smtplib
import ssl
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Final, Protocol, Self

import httpx

from takedown.clock import Clock, SystemClock
from takedown.config import Settings
from takedown.errors import ConfigurationError, InvalidURL
from takedown.fetch.build import build_resolver
from takedown.fetch.errors import DNSFailure, FetchRefused
from takedown.fetch.fetcher import default_ssl_context
from takedown.fetch.resolver import Resolver
from takedown.fetch.targets import (
    Target,
    allow_entry,
    checked_addresses,
    parse_url_to_fetch,
    pinned_request,
    target_of,
)

logger = logging.getLogger(__name__)

SIGNATURE_HEADER: Final = "Takedown-Signature"
IDEMPOTENCY_HEADER: Final = "Idempotency-Key"
USER_AGENT: Final = "Takedown/0.1 (notice webhook)"
DEFAULT_TOLERANCE: Final = timedelta(seconds=300)
# What we keep of a webhook's answer for the notice's record.
_MAX_ANSWER_BYTES: Final = 2048
_RETRYABLE_4XX: Final = frozenset({408, 429})


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """One delivery attempt's outcome; ``detail`` is for people and the notice's record."""

    accepted: bool
    permanent: bool
    detail: str


class EmailSender(Protocol):
    """Something that hands an e-mail to the next mail system."""

    def send(self, msg: EmailMessage) -> DeliveryResult: ...


class WebhookPoster(Protocol):
    """Something that POSTs a signed notice body to an organization's endpoint."""

    def post(self, url: str, secret: str, body: bytes, idempotency_key: str) -> DeliveryResult: ...


# -- SMTP --------------------------------------------------------------------------------------


class SmtpSender:
    """Delivery through an SMTP relay (or the sandbox's sink) with smtplib.

    The password is kept out of ``repr`` and every log line and result detail.
    """

    def __init__(
        self,
        host: str,
        port: int = 25,
        username: str = "",
        password: str = "",
        starttls: bool = False,
        timeout: float = 30.0,
        *,
        local_hostname: str = "localhost",
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        if not host:
            raise ConfigurationError("no SMTP server is configured (TAKEDOWN_SMTP_HOST)")
        self.host = host
        self.port = port
        self.username = username
        self._password = password
        self.starttls = starttls
        self.timeout = timeout
        # Given, not looked up: smtplib would otherwise ask DNS for our own FQDN on every send.
        self.local_hostname = local_hostname
        self._tls_context = tls_context

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        return cls(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_username,
            settings.smtp_password,
            settings.smtp_starttls,
            settings.smtp_timeout,
            local_hostname=settings.hotline_domain,
        )

    def __repr__(self) -> str:
        user = f", username={self.username!r}" if self.username else ""
        return f"SmtpSender({self.host!r}, {self.port}{user}, starttls={self.starttls})"

    def send(self, msg: EmailMessage) -> DeliveryResult:
        """Hand ``msg`` to the server; see the module docstring for how answers are read."""
        result = self._send(msg)
        log = logger.info if result.accepted else logger.warning
        log("notice e-mail %s: %s", msg.get("Message-ID", "(no Message-ID)"), result.detail)
        return result

    def _send(self, msg: EmailMessage) -> DeliveryResult:
        where = f"{self.host}:{self.port}"
        try:
            with smtplib.SMTP(
                self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout
            ) as smtp:
                if self.starttls:
                    smtp.starttls(context=self._tls_context or ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self._password)
                refused = smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            return _all_refused(where, exc.recipients)
        except smtplib.SMTPAuthenticationError as exc:
            return DeliveryResult(
                False, False, f"{where} refused the login of {self.username!r}: {_reply(exc)}"
            )
        except smtplib.SMTPSenderRefused as exc:
            # Our own From address refused: a relay setting to fix, after which it will pass.
            return DeliveryResult(
                False, False, f"{where} refused the sender {exc.sender}: {_reply(exc)}"
            )
        except smtplib.SMTPDataError as exc:
            permanent = exc.smtp_code >= 500
            return DeliveryResult(False, permanent, f"{where} refused the message: {_reply(exc)}")
        except smtplib.SMTPResponseException as exc:
            return DeliveryResult(False, False, f"{where} answered {_reply(exc)}")
        except (ValueError, UnicodeError) as exc:
            # No recipient, or an address smtplib cannot encode: sending again will not help.
            return DeliveryResult(False, True, f"the message cannot be sent: {exc}")
        except (smtplib.SMTPException, OSError) as exc:
            reason = str(exc) or type(exc).__name__
            return DeliveryResult(False, False, f"could not deliver to {where}: {reason}")
        recipients = ", ".join(str(msg.get("To", "")).split(","))
        if refused:
            kept = ", ".join(f"{rcpt} ({code})" for rcpt, (code, _) in refused.items())
            return DeliveryResult(True, False, f"accepted by {where}; refused for {kept}")
        return DeliveryResult(True, False, f"accepted by {where} for {recipients.strip()}")


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error
    message = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{exc.smtp_code} {' '.join(message.split())}"


def _all_refused(where: str, recipients: dict[str, tuple[int, bytes]]) -> DeliveryResult:
    permanent = bool(recipients) and all(code >= 500 for code, _ in recipients.values())
    answers = "; ".join(
        f"{rcpt}: {code} {message.decode('utf-8', 'replace')}"
        for rcpt, (code, message) in recipients.items()
    )
    return DeliveryResult(False, permanent, f"{where} refused every recipient ({answers})")


# -- Webhooks ----------------------------------------------------------------------------------


def compute_signature(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``f"{timestamp}."`` followed by the body, under ``secret``."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    """The ``Takedown-Signature`` value: ``t=<timestamp>,v1=<signature>``."""
    return f"t={timestamp},v1={compute_signature(secret, timestamp, body)}"


def verify_signature(
    secret: str,
    header: str,
    body: bytes,
    now: datetime,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> bool:
    """Check a ``Takedown-Signature`` header against the raw body, for receivers.

    False when the header is malformed, the timestamp is further than ``tolerance`` from
    ``now`` (an old request replayed, or a clock far off), or no ``v1`` signature matches.
    Several ``v1`` values are allowed, so a sender can sign with an old and a new secret
    while they rotate. The comparison takes constant time.
    """
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    if abs(now.timestamp() - timestamp) > tolerance.total_seconds():
        return False
    expected = compute_signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)


class WebhookSender:
    """Signed POSTs to organizations' endpoints, through the fetcher's address guard."""

    def __init__(
        self,
        resolver: Resolver,
        *,
        allow_hosts: Collection[str] = frozenset(),
        timeout: float = 15.0,
        clock: Clock | None = None,
        verify: ssl.SSLContext | None = None,
        user_agent: str = USER_AGENT,
    ) -> None:
        if timeout <= 0:
            raise ConfigurationError("the webhook timeout must be positive")
        self._resolver = resolver
        self._allow = frozenset(allow_entry(entry) for entry in allow_hosts)
        self._timeout = timeout
        self._clock: Clock = clock or SystemClock()
        self._ssl = verify if verify is not None else default_ssl_context()
        self._user_agent = user_agent

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock | None = None) -> Self:
        return cls(
            build_resolver(settings),
            allow_hosts=settings.fetch_allow_hosts,
            timeout=settings.webhook_timeout,
            clock=clock,
        )

    def post(self, url: str, secret: str, body: bytes, idempotency_key: str) -> DeliveryResult:
        """POST ``body`` to ``url`` signed with ``secret``; never raises for delivery problems."""
        result = self._post(url, secret, body, idempotency_key)
        log = logger.info if result.accepted else logger.warning
        log("notice webhook %s: %s", idempotency_key, result.detail)
        return result

    def _post(self, url: str, secret: str, body: bytes, key: str) -> DeliveryResult:
        try:
            target = target_of(parse_url_to_fetch(url))
            addresses = checked_addresses(target, self._resolver, self._allow, self._timeout)
        except DNSFailure as exc:
            return DeliveryResult(False, False, exc.message)
        except (InvalidURL, FetchRefused) as exc:
            return DeliveryResult(False, True, f"webhook refused: {exc.message}")
        headers = {
            "Host": target.host_header,
            "Content-Type": "application/json",
            "User-Agent": self._user_agent,
            SIGNATURE_HEADER: signature_header(secret, body, int(self._clock.now().timestamp())),
            IDEMPOTENCY_HEADER: key,
        }
        failures: list[str] = []
        for address in addresses:
            try:
                return self._request(target, address, headers, body)
            except _Unreachable as exc:
                # Every address was checked: falling back to the next one is still pinned.
                failures.append(f"{address}: {exc}")
        return DeliveryResult(
            False, False, f"could not connect to {target.host} ({'; '.join(failures)})"
        )

    def _request(
        self, target: Target, address: str, headers: dict[str, str], body: bytes
    ) -> DeliveryResult:
        where = f"{target.url} ({address})"
        timeout = httpx.Timeout(self._timeout)
        request = pinned_request(
            "POST", target, address, headers=headers, timeout=timeout, content=body
        )
        with httpx.HTTPTransport(verify=self._ssl, trust_env=False) as transport:
            try:
                response = transport.handle_request(request)
                try:
                    answer = _read_some(response.iter_raw())
                finally:
                    response.close()
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                raise _Unreachable(str(exc) or type(exc).__name__) from None
            except httpx.TimeoutException:
                return DeliveryResult(
                    False, False, f"{where} did not answer within {self._timeout:g} s"
                )
            except httpx.TransportError as exc:
                return DeliveryResult(False, False, f"{where} failed: {exc or type(exc).__name__}")
        return _classify(response, where, answer)


def _classify(response: httpx.Response, where: str, answer: bytes) -> DeliveryResult:
    status = response.status_code
    text = " ".join(answer.decode("utf-8", "replace").split())[:200]
    detail = f"{where} answered {status}" + (f": {text}" if text else "")
    if 200 <= status < 300:
        return DeliveryResult(True, False, detail)
    if 300 <= status < 400:
        location = response.headers.get("Location", "")
        return DeliveryResult(False, False, f"{detail} (redirect to {location[:200]} not followed)")
    permanent = 400 <= status < 500 and status not in _RETRYABLE_4XX
    return DeliveryResult(False, permanent, detail)


def _read_some(chunks: Iterator[bytes]) -> bytes:
    """The first bytes of an answer; a receiver cannot make us read a large body."""
    kept = b""
    for chunk in chunks:
        kept += chunk
        if len(kept) >= _MAX_ANSWER_BYTES:
            break
    return kept[:_MAX_ANSWER_BYTES]


class _Unreachable(Exception):
    """This address did not take the connection."""
