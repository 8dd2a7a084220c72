"""Private keys: generation (pluggable algorithm) and authenticated encryption at rest.

A key is stored only as ``encrypt_private_key(...)`` output: AES-256-GCM over the PKCS#8 DER of the
key, with associated data that names the record the key belongs to. Swapping two stored blobs, or
flipping one bit, makes decryption fail instead of silently yielding the wrong key.

Blob layout (version 1)::

    b"CHK1" | 12-byte nonce | ciphertext + 16-byte GCM tag

Algorithms are looked up by name in :data:`ALGORITHMS`. ECDSA P-256 with SHA-256 is the default; an
SM2/SM3 adapter would register one more :class:`KeyAlgorithm` here (generation + hash), the rest of
the package only asks the registry.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from signing.errors import KeyDecryptionError, SigningError

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

_MAGIC = b"CHK1"
_NONCE_BYTES = 12


@dataclass(frozen=True)
class KeyAlgorithm:
    """One signature algorithm the platform can issue keys for."""

    name: str
    generate: Callable[[], PrivateKey]
    hash_name: str  # the digest used with this key ("sha256", ...)

    def hash_algorithm(self) -> hashes.HashAlgorithm:
        return {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}[self.hash_name]


ALGORITHMS: dict[str, KeyAlgorithm] = {
    "ecdsa-p256": KeyAlgorithm("ecdsa-p256", lambda: ec.generate_private_key(ec.SECP256R1()), "sha256"),
    "ecdsa-p384": KeyAlgorithm("ecdsa-p384", lambda: ec.generate_private_key(ec.SECP384R1()), "sha384"),
    "rsa-3072": KeyAlgorithm(
        "rsa-3072", lambda: rsa.generate_private_key(public_exponent=65537, key_size=3072), "sha256"
    ),
}
DEFAULT_ALGORITHM = "ecdsa-p256"


def get_algorithm(name: str) -> KeyAlgorithm:
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise SigningError(f"unknown key algorithm {name!r}; known: {', '.join(sorted(ALGORITHMS))}") from None


def algorithm_of(key: object) -> KeyAlgorithm:
    """The registered algorithm a private or public key belongs to (used to pick the digest)."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if isinstance(key.curve, ec.SECP384R1):
            return ALGORITHMS["ecdsa-p384"]
        if isinstance(key.curve, ec.SECP256R1):
            return ALGORITHMS["ecdsa-p256"]
        raise SigningError(f"unsupported elliptic curve {key.curve.name}")
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise SigningError(f"RSA key of {key.key_size} bits is too weak (need at least 2048)")
        return ALGORITHMS["rsa-3072"]
    raise SigningError(f"unsupported key type {type(key).__name__}")


def generate_private_key(algorithm: str = DEFAULT_ALGORITHM) -> PrivateKey:
    """A fresh private key of the named algorithm (default ECDSA P-256)."""
    return get_algorithm(algorithm).generate()


def _check_kek(kek: bytes) -> AESGCM:
    if not isinstance(kek, bytes | bytearray) or len(kek) != 32:
        raise SigningError("the key-encryption key must be exactly 32 bytes (AES-256)")
    return AESGCM(bytes(kek))


def encrypt_private_key(key: PrivateKey, kek: bytes, *, aad: bytes) -> bytes:
    """Seal ``key`` with AES-256-GCM under ``kek``; ``aad`` binds the blob to its owner record."""
    plaintext = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    nonce = os.urandom(_NONCE_BYTES)
    return _MAGIC + nonce + _check_kek(kek).encrypt(nonce, plaintext, _MAGIC + aad)


_SECRET_MAGIC = b"CHS1"


def seal_bytes(plaintext: bytes, kek: bytes, *, aad: bytes) -> bytes:
    """Seal a short secret (not a key) with AES-256-GCM under ``kek``, bound to ``aad``."""
    nonce = os.urandom(_NONCE_BYTES)
    return _SECRET_MAGIC + nonce + _check_kek(kek).encrypt(nonce, bytes(plaintext), _SECRET_MAGIC + aad)


def open_bytes(blob: bytes, kek: bytes, *, aad: bytes) -> bytes:
    """Open a blob made by :func:`seal_bytes`; any mismatch raises KeyDecryptionError."""
    blob = bytes(blob)
    aes = _check_kek(kek)
    head = len(_SECRET_MAGIC) + _NONCE_BYTES
    if len(blob) < head + 16 or not blob.startswith(_SECRET_MAGIC):
        raise KeyDecryptionError("not a sealed casehub secret (unknown format or truncated)")
    try:
        return aes.decrypt(blob[len(_SECRET_MAGIC):head], blob[head:], _SECRET_MAGIC + aad)
    except InvalidTag:
        raise KeyDecryptionError(
            "the secret could not be opened: wrong key-encryption key, or it was altered or belongs elsewhere"
        ) from None


def decrypt_private_key(blob: bytes, kek: bytes, *, aad: bytes) -> PrivateKey:
    """Open a blob made by :func:`encrypt_private_key`; any mismatch raises KeyDecryptionError."""
    blob = bytes(blob)
    aes = _check_kek(kek)
    if len(blob) < len(_MAGIC) + _NONCE_BYTES + 16 or not blob.startswith(_MAGIC):
        raise KeyDecryptionError("not an encrypted casehub key (unknown format or truncated)")
    nonce = blob[len(_MAGIC) : len(_MAGIC) + _NONCE_BYTES]
    try:
        plaintext = aes.decrypt(nonce, blob[len(_MAGIC) + _NONCE_BYTES :], _MAGIC + aad)
    except InvalidTag:
        # Do not say which of the two it was: both mean "this blob does not open with this key here".
        raise KeyDecryptionError(
            "the private key could not be decrypted: wrong key-encryption key, or the stored blob "
            "was altered or belongs to another record"
        ) from None
    key = serialization.load_der_private_key(plaintext, password=None)
    algorithm_of(key)  # refuse key types we cannot sign with
    return key  # type: ignore[return-value]
