"""The audit chain's keys, which live outside the database.

The chain key (HMAC-SHA256) is read from ``audit_key_file`` (32 or more random bytes, e.g.
``head -c 32 /dev/urandom > audit.key``) or, without one, derived from ``secret_key`` with
HKDF. Checkpoints are signed with an Ed25519 key derived from the chain key, so whoever holds
only the public key (an auditor, the police) can check a checkpoint without being able to
make one.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from takedown.config import Settings
from takedown.errors import ConfigurationError

_MIN_KEY_BYTES = 32


def _derive(material: bytes, info: bytes) -> bytes:
    # HKDF's info string separates these keys from anything else derived from the same secret.
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(material)


def chain_key(settings: Settings) -> bytes:
    """The HMAC key of the chain: from ``audit_key_file``, else derived from the secret key."""
    if settings.audit_key_file is None:
        return _derive(settings.secret_key.encode("utf-8"), b"takedown audit chain v1")
    try:
        key = settings.audit_key_file.read_bytes()
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read the audit key {settings.audit_key_file}: {exc}"
        ) from exc
    if len(key) < _MIN_KEY_BYTES:
        raise ConfigurationError(
            f"the audit key {settings.audit_key_file} must hold at least {_MIN_KEY_BYTES} bytes"
        )
    return key


def checkpoint_key(settings: Settings) -> Ed25519PrivateKey:
    """The Ed25519 key that signs checkpoints, derived from the chain key."""
    seed = _derive(chain_key(settings), b"takedown audit checkpoint v1")
    return Ed25519PrivateKey.from_private_bytes(seed)
