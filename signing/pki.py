"""Certificates: the platform root CA, agency signing certificates, CRLs, and reading imports.

Profiles (RFC 5280):

* root CA — self-signed, ``basicConstraints CA:TRUE, pathlen:0`` (it issues end-entity
  certificates only), ``keyUsage keyCertSign, cRLSign``, 20 years.
* agency certificate — subject ``C=CN, O=<agency name>, CN=<agency name>, serialNumber=<agency
  code>``, ``basicConstraints CA:FALSE``, ``keyUsage digitalSignature, nonRepudiation`` (both
  critical), two years by default and never beyond the issuer's own expiry; a CRL distribution point
  (the URL where the issuer's CRL is published) when the caller gives one. No extended key usage:
  with none, OpenSSL's S/MIME purpose and NSS's signer usage both accept the certificate, which is
  what lets ``openssl cms -verify`` and ``pdfsig`` check our signatures without special flags.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from signing.errors import SigningError
from signing.keys import DEFAULT_ALGORITHM, PrivateKey, algorithm_of, generate_private_key

ROOT_VALID_DAYS = 20 * 365
AGENCY_VALID_DAYS = 2 * 365
CRL_VALID_DAYS = 7
# Certificates are back-dated a little so a verifier whose clock lags ours does not reject them.
_BACKDATE = timedelta(minutes=5)
_AGENCY_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 .\-]{0,63}$")
_X520_MAX = 64  # ub-common-name / ub-organization-name, in bytes as cryptography counts

REVOCATION_REASONS: dict[str, x509.ReasonFlags] = {
    "unspecified": x509.ReasonFlags.unspecified,
    "key_compromise": x509.ReasonFlags.key_compromise,
    "ca_compromise": x509.ReasonFlags.ca_compromise,
    "affiliation_changed": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessation_of_operation": x509.ReasonFlags.cessation_of_operation,
    "certificate_hold": x509.ReasonFlags.certificate_hold,
    "privilege_withdrawn": x509.ReasonFlags.privilege_withdrawn,
}


def parse_reason(reason: str) -> x509.ReasonFlags:
    """``keyCompromise``, ``key_compromise`` or ``key-compromise`` → ReasonFlags.key_compromise."""
    normal = re.sub(r"(?<!^)(?=[A-Z])", "_", reason.strip()).replace("-", "_").lower()
    try:
        return REVOCATION_REASONS[normal]
    except KeyError:
        raise SigningError(
            f"unknown revocation reason {reason!r}; use one of: {', '.join(REVOCATION_REASONS)}"
        ) from None


@dataclass(frozen=True)
class RevokedEntry:
    """One line of a CRL."""

    serial: int
    revoked_at: datetime
    reason: str = "unspecified"


def _now() -> datetime:
    return datetime.now(UTC)


def _x520(value: str) -> str:
    value = " ".join(value.split())
    if not value:
        raise SigningError("a certificate name must not be empty")
    # cryptography enforces the upper bound on the UTF-8 length (a CJK character is 3 bytes).
    while len(value.encode("utf-8")) > _X520_MAX:
        value = value[:-1]
    return value


def _hash_for(key: PrivateKey) -> hashes.HashAlgorithm:
    return algorithm_of(key).hash_algorithm()


def create_root_ca(
    common_name: str,
    *,
    organization: str = "casehub",
    algorithm: str = DEFAULT_ALGORITHM,
    valid_days: int = ROOT_VALID_DAYS,
    now: datetime | None = None,
) -> tuple[PrivateKey, x509.Certificate]:
    """A new self-signed root CA key and certificate."""
    key = generate_private_key(algorithm)
    now = now or _now()
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _x520(organization)),
            x509.NameAttribute(NameOID.COMMON_NAME, _x520(common_name)),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, _hash_for(key))
    )
    return key, cert


def issue_agency_certificate(
    ca_key: PrivateKey,
    ca_cert: x509.Certificate,
    *,
    agency_name: str,
    agency_code: str,
    public_key: object,
    valid_days: int = AGENCY_VALID_DAYS,
    now: datetime | None = None,
    crl_urls: Sequence[str] = (),
) -> x509.Certificate:
    """An end-entity signing certificate for one agency, issued by ``ca_cert``.

    ``crl_urls``: where the issuer's CRL is published (RFC 5280 §4.2.1.13); validators that
    demand revocation data fetch it from there.
    """
    if not _AGENCY_CODE.match(agency_code or ""):
        raise SigningError(
            f"agency code {agency_code!r} cannot go into a certificate: use letters, digits, '.', '-' or space"
        )
    if valid_days <= 0:
        raise SigningError("a certificate must be valid for at least one day")
    algorithm_of(public_key)  # refuse key types we cannot verify later
    now = now or _now()
    not_after = min(now + timedelta(days=valid_days), ca_cert.not_valid_after_utc)
    if not_after <= now:
        raise SigningError("the issuing CA certificate has expired; rotate the root first")
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _x520(agency_name)),
            x509.NameAttribute(NameOID.COMMON_NAME, _x520(agency_name)),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, agency_code),
        ]
    )
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(max(now - _BACKDATE, ca_cert.not_valid_before_utc))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=True, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)  # type: ignore[arg-type]
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
    )
    if crl_urls:
        builder = builder.add_extension(
            x509.CRLDistributionPoints([
                x509.DistributionPoint(full_name=[x509.UniformResourceIdentifier(url) for url in crl_urls],
                                       relative_name=None, reasons=None, crl_issuer=None)
            ]),
            critical=False,
        )
    return builder.sign(ca_key, _hash_for(ca_key))


def crl_urls_of(cert: x509.Certificate) -> list[str]:
    """The CRL distribution point URLs a certificate names ([] when it names none)."""
    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return []
    return [name.value for point in points for name in (point.full_name or [])
            if isinstance(name, x509.UniformResourceIdentifier)]


def build_crl(
    ca_key: PrivateKey,
    ca_cert: x509.Certificate,
    revoked: Iterable[RevokedEntry],
    *,
    crl_number: int = 1,
    valid_days: int = CRL_VALID_DAYS,
    now: datetime | None = None,
) -> x509.CertificateRevocationList:
    """A CRL signed by ``ca_cert`` listing ``revoked`` (serial, time, reason)."""
    now = now or _now()
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now - _BACKDATE)
        .next_update(now + timedelta(days=valid_days))
        .add_extension(x509.CRLNumber(crl_number), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
    )
    for entry in revoked:
        reason = parse_reason(entry.reason)
        item = x509.RevokedCertificateBuilder().serial_number(entry.serial).revocation_date(entry.revoked_at)
        if reason != x509.ReasonFlags.unspecified:  # RFC 5280: omit rather than say "unspecified"
            item = item.add_extension(x509.CRLReason(reason), critical=False)
        builder = builder.add_revoked_certificate(item.build())
    return builder.sign(ca_key, _hash_for(ca_key))


# --- reading certificates ---------------------------------------------------------------------


def subject_value(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> str:
    values = cert.subject.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


def display_name(cert: x509.Certificate) -> str:
    """The name a person reads: CN, else O, else the whole subject."""
    return (
        subject_value(cert, NameOID.COMMON_NAME)
        or subject_value(cert, NameOID.ORGANIZATION_NAME)
        or cert.subject.rfc4514_string()
    )


def agency_code_of(cert: x509.Certificate) -> str:
    """The agency code in the subject's serialNumber attribute ('' for foreign certificates)."""
    return subject_value(cert, NameOID.SERIAL_NUMBER)


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def is_self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except Exception:  # noqa: BLE001 - any failure means "not a valid self-signature"
        return False
    return True


def to_pem(certs: Sequence[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle or one DER certificate."""
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise SigningError(f"not a readable certificate: {exc}") from None


@dataclass(frozen=True)
class Credentials:
    """A private key, its certificate, and whatever other certificates came with it."""

    key: PrivateKey
    certificate: x509.Certificate
    others: list[x509.Certificate]


def load_credentials(data: bytes, password: bytes | None = None) -> Credentials:
    """Read a key + certificate from PKCS#12 (DER) or from PEM (key and certificates in one bundle).

    The certificate whose public key matches the private key is the signing certificate; every
    other certificate is returned in ``others`` (intermediates, usually the root).
    """
    if b"-----BEGIN" in data:
        blocks = re.findall(rb"-----BEGIN ([A-Z0-9 ]+)-----.*?-----END \1-----", data, flags=re.S)
        key_pem = re.search(rb"-----BEGIN ([A-Z ]*PRIVATE KEY)-----.*?-----END \1-----", data, flags=re.S)
        if key_pem is None:
            raise SigningError("the PEM bundle holds no private key")
        if not blocks:
            raise SigningError("the PEM bundle holds no certificate")
        try:
            key = serialization.load_pem_private_key(key_pem.group(0), password=password)
        except (ValueError, TypeError) as exc:
            raise SigningError(f"the private key cannot be read (wrong password?): {exc}") from None
        certs = load_certificates(data)
    else:
        try:
            p12 = pkcs12.load_pkcs12(data, password)
        except (ValueError, TypeError) as exc:
            raise SigningError(f"not a readable PKCS#12 file (wrong password?): {exc}") from None
        if p12.key is None or p12.cert is None:
            raise SigningError("the PKCS#12 file must hold both a private key and its certificate")
        key = p12.key
        certs = [p12.cert.certificate] + [c.certificate for c in p12.additional_certs]
    algorithm_of(key)
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    own = [
        c for c in certs
        if c.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ) == public
    ]
    if not own:
        raise SigningError("no certificate in the file matches the private key")
    cert = own[0]
    return Credentials(key=key, certificate=cert, others=[c for c in certs if c is not cert])  # type: ignore[arg-type]
