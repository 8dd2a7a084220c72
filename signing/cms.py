"""Detached CMS (PKCS#7) signatures over canonical JSON: transfer manifests and receipts.

``sign_detached`` produces DER SignedData (no encapsulated content, signer certificate and chain
embedded, signed attributes contentType / signingTime / messageDigest). Any RFC 5652 verifier
checks it, e.g. ``openssl cms -verify -binary -inform DER -in sig.p7s -content manifest.json
-CAfile trust.pem``. ``verify_detached`` checks integrity with pyHanko and trust with our
:class:`~signing.trust.TrustStore` (see its module docstring for the signing-time policy).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

from signing._cmsutil import check_signer_info, judge, signed_data_from
from signing.errors import SignatureInvalid
from signing.pki import display_name, fingerprint
from signing.signer import Signer
from signing.trust import TrustStore

# --- canonical JSON (RFC 8785 / JCS) -----------------------------------------------------------


def canonical_json(value: Any) -> bytes:
    """UTF-8 JSON with members sorted by UTF-16 code units, no whitespace, ECMAScript numbers.

    Accepts dict (str keys), list/tuple, str, int, float (finite), bool and None; anything else
    (datetime, Decimal, UUID, ...) is a TypeError — convert it to a string first, so that what is
    signed is exactly what the reader sees.
    """
    out: list[str] = []
    _emit(value, out)
    return "".join(out).encode("utf-8")


def _emit(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, int):
        if abs(value) > 2**53 - 1:
            # I-JSON (RFC 7493) numbers are IEEE doubles: a bigger integer would not round-trip.
            raise ValueError(f"integer {value} is outside the exact range of JSON numbers; send it as a string")
        out.append(str(value))
    elif isinstance(value, float):
        out.append(_number(value))
    elif isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise TypeError(f"canonical JSON object keys must be strings, not {type(key).__name__}")
        out.append("{")
        for i, key in enumerate(sorted(value, key=lambda k: k.encode("utf-16-be"))):
            if i:
                out.append(",")
            out.append(_string(key))
            out.append(":")
            _emit(value[key], out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _emit(item, out)
        out.append("]")
    else:
        raise TypeError(f"{type(value).__name__} is not a JSON value; convert it to a string before signing")


def _string(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("string contains a lone surrogate and cannot be encoded as UTF-8") from None
    # json.dumps with ensure_ascii=False escapes exactly what RFC 8785 asks: ", \, and C0 controls
    # (\b \t \n \f \r short forms, \u00xx lowercase for the rest).
    return json.dumps(value, ensure_ascii=False)


def _number(value: float) -> str:
    """ECMAScript Number.prototype.toString, as RFC 8785 §3.2.2.3 requires."""
    if not math.isfinite(value):
        raise ValueError("NaN and Infinity are not JSON numbers")
    if value == 0:
        return "0"
    # repr gives the shortest digits that round-trip (as ECMAScript does); only the layout differs.
    _sign, digit_tuple, exponent = Decimal(repr(abs(value))).as_tuple()
    all_digits = "".join(map(str, digit_tuple))
    n = len(all_digits) + int(exponent)  # position of the decimal point relative to the digits
    digits = all_digits.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        text = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if e > 0 else "-") + str(abs(e))
    return ("-" if value < 0 else "") + text


# --- signing and verifying ---------------------------------------------------------------------


@dataclass(frozen=True)
class SignerIdentity:
    """Who signed a manifest, as proven by a verified signature."""

    name: str
    agency_code: str
    serial: str  # certificate serial number, hex
    signing_time: datetime | None
    fingerprint: str = ""  # SHA-256 of the signer certificate, hex
    time_source: str = "claimed"  # "timestamp", "record", "claimed" or "verification"
    notes: tuple[str, ...] = field(default=())


def sign_detached(data: bytes, signer: Signer) -> bytes:
    """DER CMS SignedData over ``data`` (not included), with the signer's certificate and chain."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("sign_detached signs bytes; use canonical_json(value) for a JSON value")
    signer.check_usable()
    builder = pkcs7.PKCS7SignatureBuilder().set_data(bytes(data)).add_signer(
        signer.certificate, signer.private_key, signer.algorithm.hash_algorithm()  # type: ignore[arg-type]
    )
    for cert in signer.chain:
        builder = builder.add_certificate(cert)
    return builder.sign(
        Encoding.DER,
        [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary, pkcs7.PKCS7Options.NoCapabilities],
    )


def verify_detached(
    data: bytes, signature: bytes, trust: TrustStore, *, trusted_time: datetime | None = None
) -> SignerIdentity:
    """Check that ``signature`` signs exactly ``data`` and chains to ``trust``.

    ``trusted_time``: a time the caller itself recorded at which the signature already existed
    (e.g. when the platform received the package); it takes precedence over the signer's claimed
    signing time for the expiry and revocation checks. Raises SignatureInvalid, UntrustedSigner,
    CertificateExpired or RevokedSigner with a message that says what is wrong.
    """
    if not isinstance(data, bytes | bytearray | memoryview) or not isinstance(signature, bytes | bytearray | memoryview):
        raise TypeError("verify_detached takes the signed bytes and the signature bytes")
    if not signature:
        raise SignatureInvalid("the signature is empty")
    try:
        signed = signed_data_from(signature)
        if signed["encap_content_info"]["content"].native is not None:
            raise SignatureInvalid("the signature encapsulates its content; a detached signature was expected")
        content_type = signed["encap_content_info"]["content_type"].native
        if content_type != "data":
            raise SignatureInvalid(f"the signature covers content of type {content_type}, not data")
        checked = check_signer_info(signed, None, bytes(data), trust)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, UnsupportedAlgorithm) as exc:
        # asn1crypto parses lazily: a corrupt blob can surface anywhere in the walk above.
        raise SignatureInvalid(f"the signature is not a readable CMS/PKCS#7 structure (truncated or corrupt): {exc}") from None
    if not checked.intact:
        raise SignatureInvalid("the signed data was changed after signing (digest mismatch)")
    if not checked.valid:
        raise SignatureInvalid("the signature value does not verify with the signer's certificate")
    judged = judge(checked, trust, trusted_time=trusted_time)
    cert = checked.certificate
    return SignerIdentity(
        name=display_name(cert),
        agency_code=judged.validated.agency_code,
        serial=format(cert.serial_number, "x"),
        signing_time=judged.signing_time if judged.time_source != "verification" else None,
        fingerprint=fingerprint(cert),
        time_source=judged.time_source,
        notes=tuple(checked.notes + judged.validated.notes),
    )


__all__ = ["SignerIdentity", "canonical_json", "sign_detached", "verify_detached"]
