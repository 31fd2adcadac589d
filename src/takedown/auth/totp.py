"""The second factor of staff sign-in: TOTP codes (RFC 6238) from an authenticator app.

The seed is stored encrypted (Fernet) under a key derived from ``settings.secret_key``, so a
copy of the database alone does not give anyone the second factor. A user enrols on their first
console sign-in: the page shows a fresh seed as a QR code and as text, and the enrolment counts
only once the first code from the app has been accepted. Each accepted code moves
``totp_last_step`` forward, so a code (or an older one) is never accepted twice (RFC 6238 5.2).

Functions here change the user row and flush at most; the request's transaction commits.
"""

from __future__ import annotations

import base64
import hmac
from datetime import datetime
from functools import lru_cache

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.orm import Session

from takedown.audit import service as audit
from takedown.auth.models import User
from takedown.auth.principal import Principal
from takedown.auth.service import principal_for
from takedown.config import Settings
from takedown.errors import ConfigurationError, Conflict, Forbidden, Unauthorized

STEP_SECONDS = 30
DIGITS = 6
# One step either side (RFC 6238 5.2 recommends at most one): a phone whose clock is up to
# 30 s off, or a code typed just as it rolled over, still works.
WINDOW = 1
_HKDF_INFO = b"takedown totp v1"


def new_secret() -> str:
    """A fresh seed: 32 base32 characters (160 bits, the RFC 4226 recommendation)."""
    return pyotp.random_base32()


@lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    # A key of its own (HKDF with a purpose label) rather than the secret key itself, so the
    # seeds' key is not the one that signs answer links or cookies.
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt_secret(secret: str, settings: Settings) -> str:
    return _fernet(settings.secret_key).encrypt(secret.encode()).decode("ascii")


def decrypt_secret(stored: str, settings: Settings) -> str:
    try:
        return _fernet(settings.secret_key).decrypt(stored.encode("ascii")).decode()
    except (InvalidToken, ValueError) as exc:
        # The secret key changed since enrolment: no code can be checked. An administrator
        # resets the user's second factor (`takedown users reset-totp`) and they enrol again.
        raise ConfigurationError(
            "a TOTP seed cannot be decrypted (was TAKEDOWN_SECRET_KEY changed?); "
            "reset the user's second factor with 'takedown users reset-totp'"
        ) from exc


def provisioning_uri(secret: str, username: str, settings: Settings) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=username, issuer_name=settings.hotline_name
    )


def qr_data_uri(uri: str) -> str:
    """The QR code of ``uri`` as an SVG ``data:`` URI for an ``<img>``.

    An image rather than inline markup: it needs no ``|safe`` in the template and the CSP
    allows it (``img-src 'self' data:``); the SVG has no style attributes or scripts either.
    A white background keeps it scannable on a dark screen.
    """
    return segno.make(uri, error="m").svg_data_uri(scale=4, light="#fff")


def grouped(secret: str) -> str:
    """The seed in groups of four, for typing it into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def time_step(now: datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def _normalise(code: str) -> str | None:
    # Apps show "123 456"; people paste with spaces or dashes.
    cleaned = "".join(code.split()).replace("-", "")
    if len(cleaned) != DIGITS or not (cleaned.isascii() and cleaned.isdigit()):
        return None
    return cleaned


def verify(user: User, code: str, now: datetime, settings: Settings) -> bool:
    """Whether ``code`` is the user's current code, not used before; remembers its step.

    Accepts the steps ``now`` -1, 0, +1. A step at or before ``totp_last_step`` is refused:
    that code, or an older one, was already accepted (RFC 6238 section 5.2).
    """
    if user.totp_secret is None:
        return False
    given = _normalise(code)
    if given is None:
        return False
    otp = pyotp.TOTP(
        decrypt_secret(user.totp_secret, settings), digits=DIGITS, interval=STEP_SECONDS
    )
    current = time_step(now)
    matched = [
        step
        for step in range(current - WINDOW, current + WINDOW + 1)
        # Every step is compared, each in constant time, so timing tells nothing either.
        if hmac.compare_digest(otp.generate_otp(step).encode(), given.encode())
    ]
    fresh = [s for s in matched if user.totp_last_step is None or s > user.totp_last_step]
    if not fresh:
        return False
    # The latest matching step: a code that happens to be valid for two steps is then used up
    # for both.
    user.totp_last_step = max(fresh)
    return True


def is_enrolled(user: User) -> bool:
    return user.totp_enrolled_at is not None and user.totp_secret is not None


def start_enrolment(user: User, settings: Settings) -> str:
    """A fresh seed for a user who has not enrolled yet, stored encrypted; returns it in clear.

    Every enrolment page gets a new seed, so a seed is shown once: somebody who learns the
    password later cannot open the page and read the seed the user is about to confirm.
    """
    if is_enrolled(user):
        raise Conflict("the second factor is enrolled already")
    secret = new_secret()
    user.totp_secret = encrypt_secret(secret, settings)
    user.totp_enrolled_at = None
    user.totp_last_step = None
    return secret


def confirm_enrolment(
    session: Session, user: User, code: str, settings: Settings, *, now: datetime
) -> bool:
    """Enrol the seed shown on the enrolment page if ``code`` is its current code."""
    if is_enrolled(user) or not verify(user, code, now, settings):
        return False
    user.totp_enrolled_at = now
    audit.record(session, principal_for(user), "user.totp_enrol", "user", user.id, at=now)
    session.flush()
    return True


def check_sign_in_code(
    session: Session, user: User, code: str, settings: Settings, *, now: datetime
) -> bool:
    """For the console sign-in, after the password: an enrolled user's code, or the code that
    confirms the seed being enrolled. A refused code is audited: after the right password it
    may mean somebody else knows the password. The caller locks the user's row first, so one
    code cannot pass twice in parallel."""
    if is_enrolled(user):
        accepted = verify(user, code, now, settings)
    else:
        accepted = confirm_enrolment(session, user, code, settings, now=now)
    if not accepted:
        audit.record(
            session,
            principal_for(user),
            "user.login_refused",
            "user",
            user.id,
            at=now,
            details={"factor": "totp"},
        )
    return accepted


def check_second_factor(user: User, code: str | None, settings: Settings, *, now: datetime) -> None:
    """For the API sign-in, after the password: the code, if enrolled; else the policy.

    An enrolled user must send a valid code. A user who never enrolled is refused while
    ``totp_required`` (enrolment shows a QR code, so it happens in the console).
    """
    if is_enrolled(user):
        if not code:
            raise Unauthorized("this account needs its TOTP code too: send it as 'totp'")
        if not verify(user, code, now, settings):
            raise Unauthorized("wrong or already used TOTP code")
        return
    if settings.totp_required:
        raise Forbidden("enrol a second factor by signing in to the console first")


def reset(session: Session, actor: Principal, user: User, *, now: datetime) -> None:
    """Forget a user's second factor (a lost phone): they enrol again at the next sign-in."""
    user.totp_secret = None
    user.totp_enrolled_at = None
    user.totp_last_step = None
    audit.record(session, actor, "user.totp_reset", "user", user.id, at=now)
    session.flush()
