"""Shared pieces of CMS handling for :mod:`signing.cms` and :mod:`signing.pades`.

Integrity (digest and signature math) is checked with pyHanko's ``validate_sig_integrity``;
certificate trust and revocation are judged by our own :class:`signing.trust.TrustStore`, so the
time-of-signing policy is the same for PDFs and manifests.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from asn1crypto import cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.generic_cms import (
    extract_certs_for_validation,
    extract_self_reported_ts,
    validate_sig_integrity,
)

from signing.errors import SignatureInvalid, SigningError, UntrustedSigner
from signing.trust import TrustStore, ValidatedPath

ACCEPTED_DIGESTS = {"sha256", "sha384", "sha512"}
# A signer's clock may run a little ahead of ours; more than this is not a clock, it is a lie.
CLOCK_SKEW = timedelta(minutes=5)


@lru_cache(maxsize=256)
def _to_crypto(der: bytes) -> x509.Certificate:
    return x509.load_der_x509_certificate(der)


def to_crypto(cert: asn1_x509.Certificate) -> x509.Certificate:
    return _to_crypto(cert.dump())


def digest(algorithm: str, data: bytes) -> bytes:
    return hashlib.new(algorithm, data).digest()


@dataclass
class CheckedSignerInfo:
    """What one SignerInfo proved."""

    certificate: x509.Certificate
    others: list[x509.Certificate]
    intact: bool
    valid: bool
    claimed_time: datetime | None
    timestamp_time: datetime | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def signed_data_from(blob: bytes) -> cms.SignedData:
    """Parse a DER CMS ContentInfo holding SignedData; every parse failure is SignatureInvalid."""
    try:
        info = cms.ContentInfo.load(bytes(blob), strict=True)
        if info["content_type"].native != "signed_data":
            raise SignatureInvalid(f"the CMS blob holds {info['content_type'].native}, not a signature")
        signed = info["content"]
        signer_count = len(signed["signer_infos"])
    except SignatureInvalid:
        raise
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise SignatureInvalid(f"the signature is not a readable CMS/PKCS#7 structure (truncated or corrupt): {exc}") from None
    if signer_count != 1:
        raise SignatureInvalid(f"expected exactly one signer, found {signer_count}")
    return signed


def check_signer_info(
    signed: cms.SignedData, content_digest: bytes | None, data: bytes | None, trust: TrustStore
) -> CheckedSignerInfo:
    """Integrity of the (single) SignerInfo over ``data`` (or its precomputed ``content_digest``)."""
    signer_info = signed["signer_infos"][0]
    try:
        cert_info = extract_certs_for_validation(signed)
    except SignatureValidationError as exc:
        raise SignatureInvalid(f"the signature does not carry its signer's certificate: {exc.failure_message}") from None
    algo = signer_info["digest_algorithm"]["algorithm"].native
    if algo not in ACCEPTED_DIGESTS:
        raise SignatureInvalid(f"the signature uses digest {algo}, which is not accepted (need SHA-256 or stronger)")
    if content_digest is None:
        assert data is not None
        content_digest = digest(algo, data)
    try:
        intact, valid = validate_sig_integrity(signer_info, cert_info.signer_cert, "data", content_digest)
    except SignatureValidationError as exc:
        raise SignatureInvalid(f"the signature is malformed: {exc.failure_message}") from None
    except (ValueError, TypeError, KeyError) as exc:
        raise SignatureInvalid(f"the signature is malformed: {exc}") from None
    result = CheckedSignerInfo(
        certificate=to_crypto(cert_info.signer_cert),
        others=[to_crypto(c) for c in cert_info.other_certs],
        intact=intact,
        valid=valid,
        claimed_time=extract_self_reported_ts(signer_info),
    )
    if intact and valid:
        _check_timestamp(signer_info, trust, result)
    return result


def _check_timestamp(signer_info: cms.SignerInfo, trust: TrustStore, result: CheckedSignerInfo) -> None:
    """An RFC 3161 signature timestamp, if present, gives a trusted signing time."""
    unsigned = signer_info["unsigned_attrs"]
    if unsigned is core.VOID:
        return
    tokens = [a for a in unsigned if a["type"].native == "signature_time_stamp_token"]
    if not tokens:
        return
    try:
        token = tokens[0]["values"][0]
        tst_signed = token["content"]
        eci = tst_signed["encap_content_info"]
        tst_info = eci["content"].parsed
        if not isinstance(tst_info, tsp.TSTInfo):
            raise SignatureInvalid("the timestamp token does not hold a TSTInfo")
        gen_time: datetime = tst_info["gen_time"].native
        imprint_algo = tst_info["message_imprint"]["hash_algorithm"]["algorithm"].native
        if imprint_algo not in ACCEPTED_DIGESTS:
            raise SignatureInvalid(f"the timestamp uses digest {imprint_algo}, which is not accepted")
        if tst_info["message_imprint"]["hashed_message"].native != digest(imprint_algo, signer_info["signature"].native):
            raise SignatureInvalid("the timestamp token belongs to another signature (message imprint mismatch)")
        tsa_info = tst_signed["signer_infos"][0]
        tsa_certs = extract_certs_for_validation(tst_signed)
        tsa_algo = tsa_info["digest_algorithm"]["algorithm"].native
        if tsa_algo not in ACCEPTED_DIGESTS:
            raise SignatureInvalid(f"the timestamp is signed with digest {tsa_algo}, which is not accepted")
        intact, valid = validate_sig_integrity(
            tsa_info, tsa_certs.signer_cert, "tst_info", digest(tsa_algo, bytes(eci["content"]))
        )
    except SignatureInvalid:
        raise
    except (SignatureValidationError, ValueError, TypeError, KeyError, IndexError) as exc:
        raise SignatureInvalid(f"the timestamp token is malformed: {exc}") from None
    if not (intact and valid):
        raise SignatureInvalid("the timestamp token's own signature does not verify")
    try:
        trust.validate(
            to_crypto(tsa_certs.signer_cert),
            [to_crypto(c) for c in tsa_certs.other_certs],
            at=gen_time,
            time_is_trusted=True,
            for_timestamp=True,
        )
    except UntrustedSigner as exc:
        # An intact token from a TSA we do not trust proves nothing; fall back to the claimed time.
        result.notes.append(f"timestamp ignored: {exc}")
        return
    result.timestamp_time = gen_time


@dataclass
class Judgement:
    """The signer's path and the time the signature was judged at."""

    validated: ValidatedPath
    signing_time: datetime
    time_source: str  # "timestamp", "record", "claimed" or "verification"


def judge(
    checked: CheckedSignerInfo, trust: TrustStore, *, trusted_time: datetime | None, now: datetime | None = None
) -> Judgement:
    """Pick the signing time (trusted first) and validate the signer at it."""
    now = now or datetime.now(UTC)
    if checked.claimed_time is not None and checked.claimed_time > now + CLOCK_SKEW:
        raise SignatureInvalid(f"the signature claims a signing time in the future ({checked.claimed_time:%Y-%m-%d %H:%M} UTC)")
    if checked.timestamp_time is not None:
        at, source = checked.timestamp_time, "timestamp"
    elif trusted_time is not None:
        if trusted_time.tzinfo is None:
            raise SigningError("trusted_time must be timezone-aware")
        at, source = trusted_time, "record"
    elif checked.claimed_time is not None:
        at, source = checked.claimed_time, "claimed"
    else:
        at, source = now, "verification"
    validated = trust.validate(
        checked.certificate, checked.others, at=at, time_is_trusted=source in {"timestamp", "record"}
    )
    return Judgement(validated=validated, signing_time=at, time_source=source)
