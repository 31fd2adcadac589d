"""One exception tree for the whole package.

Every error a user can cause carries the HTTP status it maps to and a clear message; the web
layer renders them all as ``application/problem+json`` through one handler, and the CLI prints
the message and exits non-zero.

    TakedownError                 500  something we did not expect
    ├── BadRequest                400  the input is wrong; nothing was changed
    │   ├── InvalidURL            400  not an http(s) URL we can canonicalize
    │   └── ValidationFailed      422  a field is missing, unknown or malformed
    ├── Unauthorized              401  no or invalid credentials
    ├── Forbidden                 403  authenticated, but the role or scope does not allow it
    ├── NotFound                  404
    ├── Conflict                  409  the state does not allow this change
    │   └── InvalidTransition     409  a case cannot move from its state to the one asked for
    ├── PayloadTooLarge           413
    ├── UnsupportedMediaType      415
    ├── RateLimited               429  carries the seconds to wait
    └── ConfigurationError        500  settings refused at start
"""

from __future__ import annotations

from typing import Any


class TakedownError(Exception):
    """Root of every error raised on purpose by Takedown."""

    status_code: int = 500
    title: str = "Internal error"

    def __init__(self, message: str | None = None, **extra: Any) -> None:
        self.message = message or self.title
        # Extra members of the problem document (RFC 9457 allows extension members).
        self.extra = extra
        super().__init__(self.message)


class BadRequest(TakedownError):
    status_code = 400
    title = "Bad request"


class InvalidURL(BadRequest):
    title = "Invalid URL"


class ValidationFailed(BadRequest):
    status_code = 422
    title = "Validation failed"


class Unauthorized(TakedownError):
    status_code = 401
    title = "Unauthorized"


class Forbidden(TakedownError):
    status_code = 403
    title = "Forbidden"


class NotFound(TakedownError):
    status_code = 404
    title = "Not found"


class Conflict(TakedownError):
    status_code = 409
    title = "Conflict"


class InvalidTransition(Conflict):
    title = "Invalid state transition"


class PayloadTooLarge(TakedownError):
    status_code = 413
    title = "Payload too large"


class UnsupportedMediaType(TakedownError):
    status_code = 415
    title = "Unsupported media type"


class RateLimited(TakedownError):
    status_code = 429
    title = "Too many requests"

    def __init__(self, message: str | None = None, *, retry_after: int = 1) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after


class ConfigurationError(TakedownError):
    title = "Configuration error"
