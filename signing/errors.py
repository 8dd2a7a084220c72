"""Errors raised by :mod:`signing`.

Every failure a caller can meet is a :class:`SigningError`, with a message meant for a person (it
ends up in the UI or an API answer), so a bad upload or a forged signature never surfaces as a
stack trace. Callers that need to react differently catch the subclass.
"""

from __future__ import annotations


class SigningError(Exception):
    """Base class: something about keys, certificates or signatures is wrong.

    ``reason`` is a short machine-readable word for callers that show their own (translated)
    text, e.g. BadPdf reasons ``not_pdf``, ``damaged``, ``encrypted``; RevokedSigner reasons
    ``after_revocation``, ``key_compromise`` (see ``casehub.pki.messages``).
    """

    def __init__(self, message: str = "", *, reason: str = ""):
        super().__init__(message)
        self.reason = reason


class BadPdf(SigningError):
    """The bytes are not a PDF we can read (not a PDF, truncated, encrypted, ...)."""


class SignatureInvalid(SigningError):
    """The signature does not match the data, or the signature blob itself is unreadable."""


class UntrustedSigner(SigningError):
    """The signature is intact, but its certificate does not chain to a trusted root at signing time."""


class CertificateExpired(UntrustedSigner):
    """The signer's certificate (or one above it) was not valid at the signing time."""


class RevokedSigner(UntrustedSigner):
    """The signer's certificate was revoked before the signature was made."""


class KeyDecryptionError(SigningError):
    """An encrypted private key could not be opened: wrong key-encryption key or tampered blob."""
