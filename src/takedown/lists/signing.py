"""Ed25519 signatures of published lists, so members can check a download came from us.

Each export gets a detached signature file: the base64 of the 64-byte Ed25519 signature of the
exact bytes served, and a line break. Members verify it with our public key (PEM), e.g.::

    base64 -d urls-42.txt.sig > urls-42.txt.sig.bin
    openssl pkeyutl -verify -pubin -inkey takedown-lists.pem -rawin \\
        -in urls-42.txt -sigfile urls-42.txt.sig.bin

The private key is read from ``settings.list_signing_key_file`` (unencrypted PEM, as
``openssl genpkey -algorithm ed25519`` writes it). Without a file it is derived from
``settings.secret_key`` with HKDF-SHA256, so every process of one installation signs with the
same key, and it stays the same across restarts as long as the secret key does (rotating the
secret key rotates the list key too: publish the new public key first).
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from takedown.config import Settings
from takedown.errors import ConfigurationError

# Changing this changes every derived key; the version is there for a deliberate rotation.
HKDF_INFO = b"takedown list signing v1"
SIGNATURE_LENGTH = 64
_SEED_LENGTH = 32


class SigningKeyError(ConfigurationError, ValueError):
    """A key that cannot be used: a missing or malformed file, a password-protected key, a
    key that is not Ed25519, or a malformed public key given to ``verify``."""


def signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The key that signs lists: from ``list_signing_key_file``, else derived from the secret."""
    if settings.list_signing_key_file is not None:
        return load_private_key(settings.list_signing_key_file)
    return derive_key(settings.secret_key)


def derive_key(secret: str) -> Ed25519PrivateKey:
    """The Ed25519 key derived from ``secret``: the same secret always gives the same key."""
    # HKDF rather than hashing the secret directly: the info string separates this key from
    # anything else that is ever derived from the same secret.
    seed = HKDF(algorithm=hashes.SHA256(), length=_SEED_LENGTH, salt=None, info=HKDF_INFO).derive(
        secret.encode("utf-8")
    )
    return Ed25519PrivateKey.from_private_bytes(seed)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read an unencrypted Ed25519 private key in PEM from ``path``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SigningKeyError(f"cannot read the list signing key {path}: {exc}") from exc
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:  # cryptography's way of saying a password is needed
        raise SigningKeyError(
            f"the list signing key {path} is encrypted; store it unencrypted"
        ) from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise SigningKeyError(f"the list signing key {path} is not a PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"the list signing key {path} is not an Ed25519 key")
    return key


def sign(data: bytes, key: Ed25519PrivateKey) -> bytes:
    """The content of a detached signature file for ``data``: base64 of the signature, newline."""
    return base64.b64encode(key.sign(data)) + b"\n"


def public_key_pem(key: Ed25519PrivateKey) -> str:
    """The public half of ``key`` as PEM (SubjectPublicKeyInfo), to publish to members."""
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def verify(data: bytes, signature: bytes, public_pem: bytes) -> bool:
    """Whether ``signature`` (a signature file's content, or the raw 64 bytes) signs ``data``.

    A wrong, tampered or garbled signature gives False, never an exception; a malformed public
    key raises :class:`SigningKeyError`, because that is a mistake to fix, not a forgery.
    """
    public_key = _load_public_key(public_pem)
    raw = _signature_bytes(signature)
    if raw is None:
        return False
    try:
        public_key.verify(raw, data)
    except InvalidSignature:
        return False
    return True


def _load_public_key(public_pem: bytes) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(public_pem)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise SigningKeyError("the public key is not a PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError("the public key is not an Ed25519 key")
    return key


def _signature_bytes(signature: bytes) -> bytes | None:
    """The 64 signature bytes from base64 text (surrounding whitespace allowed) or raw bytes."""
    try:
        decoded = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if len(decoded) == SIGNATURE_LENGTH:
        return decoded
    if len(signature) == SIGNATURE_LENGTH:
        return signature
    return None
