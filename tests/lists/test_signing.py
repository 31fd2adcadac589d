"""Ed25519 signatures of list exports: sign, verify, keys from a file or derived from the secret."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ec import (
    SECP256R1,
    EllipticCurvePrivateKey,
    generate_private_key,
)
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from takedown.config import Settings
from takedown.errors import ConfigurationError
from takedown.lists.signing import (
    SigningKeyError,
    derive_key,
    public_key_pem,
    sign,
    signing_key,
    verify,
)

DATA = b"# list: urls\n# version: 42\nblocked.example.test/\n"
SECRET_A = "a-test-secret-that-is-at-least-32-characters"
SECRET_B = "another-test-secret-at-least-32-characters!"


def raw_private(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


def write_pem(
    path: Path, key: Ed25519PrivateKey | EllipticCurvePrivateKey, password: bytes | None = None
) -> Path:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )
    return path


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return derive_key(SECRET_A)


@pytest.fixture
def public(key: Ed25519PrivateKey) -> bytes:
    return public_key_pem(key).encode()


def test_signature_file_is_base64_of_64_bytes_and_a_newline(key: Ed25519PrivateKey) -> None:
    signature = sign(DATA, key)
    assert signature.endswith(b"\n")
    assert len(base64.b64decode(signature.strip(), validate=True)) == 64
    # Ed25519 is deterministic: the same bytes always give the same signature file.
    assert sign(DATA, key) == signature


def test_verify_accepts_a_good_signature(key: Ed25519PrivateKey, public: bytes) -> None:
    signature = sign(DATA, key)
    assert verify(DATA, signature, public) is True
    assert verify(DATA, signature.strip(), public) is True
    assert verify(DATA, base64.b64decode(signature), public) is True  # the raw 64 bytes


def test_verify_rejects_tampered_data(key: Ed25519PrivateKey, public: bytes) -> None:
    signature = sign(DATA, key)
    assert verify(DATA + b"extra.example.test/\n", signature, public) is False
    assert verify(DATA.replace(b"42", b"43"), signature, public) is False
    assert verify(b"", signature, public) is False


def test_verify_rejects_a_tampered_signature(key: Ed25519PrivateKey, public: bytes) -> None:
    raw = bytearray(base64.b64decode(sign(DATA, key)))
    raw[10] ^= 0x01
    assert verify(DATA, base64.b64encode(bytes(raw)) + b"\n", public) is False


@pytest.mark.parametrize(
    "signature",
    [b"", b"\n", b"not base64 at all!!", base64.b64encode(b"short"), b"A" * 200, bytes(range(64))],
)
def test_verify_returns_false_for_garbage_and_never_raises(public: bytes, signature: bytes) -> None:
    assert verify(DATA, signature, public) is False


def test_verify_rejects_a_signature_by_another_key(key: Ed25519PrivateKey) -> None:
    other = derive_key(SECRET_B)
    assert verify(DATA, sign(DATA, other), public_key_pem(key).encode()) is False


@pytest.mark.parametrize(
    "pem",
    [b"", b"not a key", b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"],
)
def test_a_malformed_public_key_is_a_clear_error(key: Ed25519PrivateKey, pem: bytes) -> None:
    with pytest.raises(SigningKeyError, match="public key"):
        verify(DATA, sign(DATA, key), pem)


def test_a_public_key_of_another_algorithm_is_refused(key: Ed25519PrivateKey) -> None:
    ec_public = (
        generate_private_key(SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(SigningKeyError, match="Ed25519"):
        verify(DATA, sign(DATA, key), ec_public)


def test_public_key_pem_is_spki(key: Ed25519PrivateKey) -> None:
    pem = public_key_pem(key)
    assert pem.startswith("-----BEGIN PUBLIC KEY-----\n")
    loaded = serialization.load_pem_public_key(pem.encode())
    assert loaded.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    ) == key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def test_derived_key_is_stable_and_depends_on_the_secret(settings: Settings) -> None:
    a = settings.model_copy(update={"secret_key": SECRET_A})
    b = settings.model_copy(update={"secret_key": SECRET_B})

    assert raw_private(signing_key(a)) == raw_private(signing_key(a))
    assert raw_private(signing_key(a)) == raw_private(derive_key(SECRET_A))
    assert raw_private(signing_key(a)) != raw_private(signing_key(b))
    # A signature made by one process verifies with the key published by another.
    assert verify(DATA, sign(DATA, signing_key(a)), public_key_pem(signing_key(a)).encode())


def test_derived_key_is_hkdf_sha256_of_the_secret() -> None:
    # Pinned: if the derivation changes, every member's copy of the public key breaks.
    seed = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"takedown list signing v1"
    ).derive(SECRET_A.encode())
    assert raw_private(derive_key(SECRET_A)) == seed


def test_key_file_wins_over_the_secret(settings: Settings, tmp_path: Path) -> None:
    file_key = Ed25519PrivateKey.generate()
    path = write_pem(tmp_path / "lists.pem", file_key)
    configured = settings.model_copy(update={"list_signing_key_file": path})

    loaded = signing_key(configured)

    assert raw_private(loaded) == raw_private(file_key)
    assert raw_private(loaded) != raw_private(derive_key(settings.secret_key))


def test_missing_key_file_is_a_configuration_error(settings: Settings, tmp_path: Path) -> None:
    configured = settings.model_copy(update={"list_signing_key_file": tmp_path / "absent.pem"})
    with pytest.raises(ConfigurationError, match=r"absent\.pem"):
        signing_key(configured)


def test_encrypted_key_file_is_refused(settings: Settings, tmp_path: Path) -> None:
    path = write_pem(tmp_path / "enc.pem", Ed25519PrivateKey.generate(), password=b"pw")
    with pytest.raises(SigningKeyError, match="encrypted"):
        signing_key(settings.model_copy(update={"list_signing_key_file": path}))


def test_key_file_of_another_algorithm_is_refused(settings: Settings, tmp_path: Path) -> None:
    path = write_pem(tmp_path / "ec.pem", generate_private_key(SECP256R1()))
    with pytest.raises(SigningKeyError, match="Ed25519"):
        signing_key(settings.model_copy(update={"list_signing_key_file": path}))


def test_garbage_key_file_is_refused(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "garbage.pem"
    path.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    with pytest.raises(SigningKeyError, match="not a PEM private key"):
        signing_key(settings.model_copy(update={"list_signing_key_file": path}))
