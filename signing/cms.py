"""Detached CMS (PKCS#7) signatures over canonical JSON: transfer manifests and receipts.

``sign_detached`` produces a CAdES-BES signature (ETSI EN 319 122-1): DER SignedData with no
encapsulated content, the signer certificate and chain embedded, and the signed attributes
contentType, signingTime, messageDigest and ESS signingCertificateV2 (RFC 5035), which binds the
signature to the signer's certificate by its hash, so a certificate with the same key cannot be
substituted. Any RFC 5652 verifier checks it, e.g. ``openssl cms -verify -binary -inform DER -in sig.p7s -content manifest.json
-CAfile trust.pem``. ``verify_detached`` checks integrity with pyHanko and trust with our
:class:`~signing.trust.TrustStore` (see its module docstring for the signing-time policy).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from asn1crypto import algos, cms, tsp
from asn1crypto import x509 as asn1_x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.serialization import Encoding

from signing._cmsutil import check_signer_info, judge, signed_data_from
from signing.errors import SignatureInvalid, SigningError
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
    """DER CMS SignedData (CAdES-BES) over ``data`` (not included), with the signer's certificate
    and chain."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("sign_detached signs bytes; use canonical_json(value) for a JSON value")
    signer.check_usable()
    parts = _signer_parts(signer)
    now = datetime.now(UTC)
    # The signed attributes, DER-encoded by hand: what is signed is this SET OF, sorted as DER
    # requires; the same bytes go into the SignerInfo under the [0] tag (RFC 5652 §5.4).
    attributes = sorted([
        parts.content_type_attr,
        _tlv(0x30, _SIGNING_TIME_OID + _tlv(0x31, _der_time(now))),
        _tlv(0x30, _MESSAGE_DIGEST_OID + _tlv(0x31, _tlv(0x04, hashlib.new(parts.hash_name, bytes(data)).digest()))),
        parts.signing_certificate_attr,
    ])
    signed_attrs = b"".join(attributes)
    key = signer.private_key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        signature = key.sign(_tlv(0x31, signed_attrs), ec.ECDSA(signer.algorithm.hash_algorithm()))
    else:
        signature = key.sign(_tlv(0x31, signed_attrs), padding.PKCS1v15(), signer.algorithm.hash_algorithm())
    signer_info = _tlv(0x30, b"".join((
        b"\x02\x01\x01",  # version 1: the signer is named by issuer and serial number
        parts.issuer_and_serial,
        parts.digest_algorithm,
        _tlv(0xA0, signed_attrs),
        parts.signature_algorithm,
        _tlv(0x04, signature),
    )))
    # SignedData ::= SEQUENCE { version, digestAlgorithms, encapContentInfo, [0] certificates,
    # signerInfos SET }: everything before signerInfos is the same for every signature by this
    # signer, so it is encoded once (with asn1crypto) and only the outer layers are written here.
    signed_data = _tlv(0x30, parts.signed_data_head + _tlv(0x31, signer_info))
    return _tlv(0x30, _SIGNED_DATA_OID + _tlv(0xA0, signed_data))


_SIGNED_DATA_OID = bytes.fromhex("06092a864886f70d010702")  # 1.2.840.113549.1.7.2
_SIGNING_TIME_OID = bytes.fromhex("06092a864886f70d010905")  # 1.2.840.113549.1.9.5
_MESSAGE_DIGEST_OID = bytes.fromhex("06092a864886f70d010904")  # 1.2.840.113549.1.9.4


def _der_time(moment: datetime) -> bytes:
    """RFC 5652 §11.3: UTCTime for 1950–2049, GeneralizedTime otherwise."""
    if 1950 <= moment.year < 2050:
        return _tlv(0x17, moment.strftime("%y%m%d%H%M%SZ").encode())
    return _tlv(0x18, moment.strftime("%Y%m%d%H%M%SZ").encode())


def _tlv(tag: int, content: bytes) -> bytes:
    """One DER element (definite length)."""
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + content


@dataclass(frozen=True)
class _SignerParts:
    """DER of everything a signature by one signer repeats (asn1crypto re-encodes structures
    whose children were read, which for embedded certificates costs more than the signature)."""

    hash_name: str
    signed_data_head: bytes  # SignedData's fields before signerInfos
    issuer_and_serial: bytes
    digest_algorithm: bytes
    signature_algorithm: bytes
    content_type_attr: bytes
    signing_certificate_attr: bytes


@lru_cache(maxsize=64)
def _signer_parts(signer: Signer) -> _SignerParts:
    """What every signature by ``signer`` repeats, built once (Signer objects are immutable)."""
    der = signer.certificate.public_bytes(Encoding.DER)
    cert = asn1_x509.Certificate.load(der)
    hash_name = signer.algorithm.hash_name
    ess_id = tsp.ESSCertIDv2({
        "hash_algorithm": algos.DigestAlgorithm({"algorithm": hash_name}),
        "cert_hash": hashlib.new(hash_name, der).digest(),
        "issuer_serial": tsp.IssuerSerial({
            "issuer": [asn1_x509.GeneralName({"directory_name": cert.issuer})],
            "serial_number": cert.serial_number,
        }),
    })
    empty = cms.SignedData({
        "version": "v1",
        "digest_algorithms": [algos.DigestAlgorithm({"algorithm": hash_name})],
        "encap_content_info": {"content_type": "data"},
        "certificates": [cms.CertificateChoices({"certificate": asn1_x509.Certificate.load(c.public_bytes(Encoding.DER))})
                         for c in (signer.certificate, *signer.chain)],
        "signer_infos": [],
    })
    content = empty.contents
    if not content.endswith(b"\x31\x00"):  # the empty signerInfos SET closes the sequence
        raise SigningError("unexpected SignedData encoding")
    ecdsa = isinstance(signer.private_key, ec.EllipticCurvePrivateKey)
    return _SignerParts(
        hash_name=hash_name,
        signed_data_head=content[:-2],
        issuer_and_serial=cms.IssuerAndSerialNumber({"issuer": cert.issuer, "serial_number": cert.serial_number}).dump(),
        digest_algorithm=algos.DigestAlgorithm({"algorithm": hash_name}).dump(),
        signature_algorithm=algos.SignedDigestAlgorithm(
            {"algorithm": f"{hash_name}_ecdsa" if ecdsa else "rsassa_pkcs1v15"}).dump(),
        content_type_attr=cms.CMSAttribute({"type": "content_type", "values": ["data"]}).dump(),
        signing_certificate_attr=cms.CMSAttribute(
            {"type": "signing_certificate_v2", "values": [tsp.SigningCertificateV2({"certs": [ess_id]})]}).dump(),
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
