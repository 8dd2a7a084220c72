"""What we trust: root certificates, intermediates, CRLs and locally revoked certificates.

:class:`TrustStore` answers one question for the verifiers: *did this certificate chain to a
trusted root, and was it neither expired nor revoked, at the time the signature was made?*

Signing time and revocation (the policy docs/pki.md explains):

* The time a signature is judged at is a **trusted** time when one exists — the genTime of an
  RFC 3161 timestamp token from a TSA we trust, or a time the caller recorded itself (e.g. when
  the platform received a transfer package) — and otherwise the signer's **claimed** signing time.
* A certificate revoked at R rejects every signature made at or after R, and accepts one made
  before R. If the revocation reason says the key was compromised (``keyCompromise``,
  ``cACompromise``) a claimed time proves nothing (whoever holds the key can back-date), so such a
  signature passes only with a trusted time before R.
* Validity periods are checked at that same time, so a signature made while a certificate was valid
  stays valid after the certificate expires or is superseded by rotation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from signing.errors import CertificateExpired, RevokedSigner, SigningError, UntrustedSigner
from signing.pki import agency_code_of, display_name, fingerprint, to_pem

_MAX_DEPTH = 8
_COMPROMISE = {"key_compromise", "ca_compromise"}


@dataclass(frozen=True)
class Revocation:
    """A certificate's revocation: when, why, and who said so."""

    revoked_at: datetime
    reason: str = "unspecified"
    source: str = "platform"


@dataclass
class ValidatedPath:
    """A certificate path leaf → root that was valid at the judged time."""

    path: list[x509.Certificate]
    revocation: Revocation | None = None
    notes: list[str] = field(default_factory=list)
    # The agency code this certificate speaks for, or "" if no one vouches for one (see TrustStore).
    agency_code: str = ""

    @property
    def root(self) -> x509.Certificate:
        return self.path[-1]


def _reason_name(crl_entry: x509.RevokedCertificate) -> str:
    try:
        flag = crl_entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    except x509.ExtensionNotFound:
        return "unspecified"
    return flag.name


def _fmt(t: datetime) -> str:
    return f"{t:%Y-%m-%d %H:%M:%S} UTC"


class TrustStore:
    """Trust anchors plus revocation data. Build once, use from many threads (read-only)."""

    def __init__(
        self,
        roots: Iterable[x509.Certificate] = (),
        crls: Iterable[x509.CertificateRevocationList] = (),
        intermediates: Iterable[x509.Certificate] = (),
        *,
        revoked: Mapping[str, Revocation] | None = None,
        tsa_roots: Iterable[x509.Certificate] = (),
        agency_codes: Mapping[str, str] | None = None,
        naming_roots: Iterable[str] | None = None,
    ):
        """``agency_codes`` binds certificates (by fingerprint) to agency codes — imported
        certificates, whose CA knows nothing of our codes. ``naming_roots`` lists the fingerprints
        of roots whose certificates' subject serialNumber is believed as the agency code (the
        platform's own roots); ``None`` means every root (pure use, tests). Without this, any
        certificate from an imported third-party CA could claim to be any agency."""
        self.roots: tuple[x509.Certificate, ...] = tuple(roots)
        self.intermediates: tuple[x509.Certificate, ...] = tuple(intermediates)
        self.crls: tuple[x509.CertificateRevocationList, ...] = tuple(crls)
        self.tsa_roots: tuple[x509.Certificate, ...] = tuple(tsa_roots)
        # Certificates the platform itself has revoked, by SHA-256 fingerprint. This covers
        # imported agency certificates whose CA publishes no CRL we hold.
        self.revoked: dict[str, Revocation] = dict(revoked or {})
        for cert in (*self.roots, *self.intermediates, *self.tsa_roots):
            if not _is_ca(cert):
                raise SigningError(f"{display_name(cert)} is not a CA certificate and cannot be a trust anchor")
        self.agency_codes: dict[str, str] = dict(agency_codes or {})
        self._root_fps = {fingerprint(c) for c in self.roots}
        self._naming_roots = set(naming_roots) if naming_roots is not None else set(self._root_fps)
        self._tsa_root_fps = {fingerprint(c) for c in self.tsa_roots} | self._root_fps
        self._by_subject: dict[bytes, list[x509.Certificate]] = {}
        for cert in (*self.roots, *self.tsa_roots, *self.intermediates):
            self._by_subject.setdefault(cert.subject.public_bytes(), []).append(cert)
        self._crls_by_issuer: dict[bytes, list[x509.CertificateRevocationList]] = {}
        for crl in self.crls:
            self._crls_by_issuer.setdefault(crl.issuer.public_bytes(), []).append(crl)
        self._crl_checked: dict[tuple[int, str], bool] = {}
        # Paths found so far, by leaf fingerprint: a verified path stays verified (signatures do
        # not change), and hot callers verify the same few agency certificates over and over.
        self._paths: dict[tuple[str, bool], list[x509.Certificate]] = {}

    def __repr__(self) -> str:
        return f"<TrustStore roots={len(self.roots)} crls={len(self.crls)} intermediates={len(self.intermediates)}>"

    def is_trusted_root(self, cert: x509.Certificate) -> bool:
        return fingerprint(cert) in self._root_fps

    def pem(self) -> bytes:
        """Roots, intermediates and CRLs as one PEM bundle (``openssl ... -CAfile``, NSS import)."""
        crls = b"".join(crl.public_bytes(serialization.Encoding.PEM) for crl in self.crls)
        return to_pem([*self.roots, *self.intermediates]) + crls

    # --- path building ------------------------------------------------------------------------

    def build_path(
        self, cert: x509.Certificate, extra: Sequence[x509.Certificate] = (), *, for_timestamp: bool = False
    ) -> list[x509.Certificate]:
        """leaf → ... → trusted root, by name and signature; raises UntrustedSigner."""
        cache_key = (fingerprint(cert), for_timestamp)
        cached = self._paths.get(cache_key)
        if cached is not None:
            return cached
        anchors = self._tsa_root_fps if for_timestamp else self._root_fps
        pool: dict[bytes, list[x509.Certificate]] = {k: list(v) for k, v in self._by_subject.items()}
        for c in extra:
            bucket = pool.setdefault(c.subject.public_bytes(), [])
            if c not in bucket:
                bucket.append(c)

        def walk(path: list[x509.Certificate]) -> list[x509.Certificate] | None:
            current = path[-1]
            if fingerprint(current) in anchors:
                return path
            if len(path) > _MAX_DEPTH:
                return None
            for candidate in pool.get(current.issuer.public_bytes(), []):
                if candidate in path or not _is_ca(candidate):
                    continue
                try:
                    current.verify_directly_issued_by(candidate)
                except Exception:  # noqa: BLE001, S112 - wrong key, wrong algorithm: not this issuer
                    continue
                if not _path_len_ok(candidate, intermediates_below=len(path) - 1):
                    continue
                found = walk([*path, candidate])
                if found:
                    return found
            return None

        path = walk([cert])
        if path is None:
            issuer = cert.issuer.rfc4514_string()
            kind = "time-stamping authority" if for_timestamp else "signer"
            raise UntrustedSigner(
                f"the {kind} certificate of {display_name(cert)} (issued by {issuer}) does not chain to a trusted root"
            )
        self._paths[cache_key] = path
        return path

    def validate(
        self,
        cert: x509.Certificate,
        extra: Sequence[x509.Certificate] = (),
        *,
        at: datetime,
        time_is_trusted: bool,
        for_timestamp: bool = False,
    ) -> ValidatedPath:
        """Path, validity at ``at``, key usage, and revocation judged by the module's policy."""
        path = self.build_path(cert, extra, for_timestamp=for_timestamp)
        for c in path:
            if at > c.not_valid_after_utc or at < c.not_valid_before_utc:
                which = "signer" if c is cert else "issuing CA"
                raise CertificateExpired(
                    f"the {which} certificate {display_name(c)} was valid from {_fmt(c.not_valid_before_utc)} "
                    f"to {_fmt(c.not_valid_after_utc)}, not at the signing time {_fmt(at)}"
                )
        if for_timestamp:
            _require_timestamping(cert)
        else:
            _require_signing_usage(cert)
        result = ValidatedPath(path=path)
        leaf_fp = fingerprint(cert)
        if leaf_fp in self.agency_codes:
            result.agency_code = self.agency_codes[leaf_fp]
        elif fingerprint(path[-1]) in self._naming_roots:
            result.agency_code = agency_code_of(cert)
        for child, issuer in zip(path, path[1:], strict=False):
            revocation = self._revocation(child, issuer)
            if revocation is None:
                continue
            if revocation.reason in _COMPROMISE and not time_is_trusted:
                raise RevokedSigner(
                    f"the certificate of {display_name(child)} was revoked on {_fmt(revocation.revoked_at)} "
                    f"because its key was compromised ({revocation.reason}); the signature carries only a "
                    "self-declared signing time, which cannot prove it was made before that",
                    reason="key_compromise",
                )
            if at >= revocation.revoked_at:
                raise RevokedSigner(
                    f"the certificate of {display_name(child)} was revoked on {_fmt(revocation.revoked_at)} "
                    f"({revocation.reason}); the signature was made later, at {_fmt(at)}",
                    reason="after_revocation",
                )
            result.revocation = revocation
            result.notes.append(
                f"certificate of {display_name(child)} was revoked on {_fmt(revocation.revoked_at)} "
                f"({revocation.reason}), after this signature was made"
            )
        return result

    def _revocation(self, cert: x509.Certificate, issuer: x509.Certificate) -> Revocation | None:
        found: list[Revocation] = []
        local = self.revoked.get(fingerprint(cert))
        if local is not None:
            found.append(local)
        for crl in self._crls_by_issuer.get(issuer.subject.public_bytes(), []):
            if not self._crl_valid(crl, issuer):
                continue
            entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
            if entry is not None:
                found.append(
                    Revocation(entry.revocation_date_utc, _reason_name(entry), f"CRL of {display_name(issuer)}")
                )
        return min(found, key=lambda r: r.revoked_at) if found else None

    def _crl_valid(self, crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
        # A CRL only counts if its issuer's key signed it; checked once per (CRL, issuer).
        key = (id(crl), fingerprint(issuer))
        if key not in self._crl_checked:
            try:
                self._crl_checked[key] = crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
            except Exception:  # noqa: BLE001 - unsupported key type etc.: the CRL does not count
                self._crl_checked[key] = False
        return self._crl_checked[key]


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    if not bc.ca:
        return False
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return ku.key_cert_sign


def _path_len_ok(ca: x509.Certificate, *, intermediates_below: int) -> bool:
    bc = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    # intermediates_below counts the CAs between ``ca`` and the leaf.
    return bc.path_length is None or intermediates_below <= bc.path_length


def _require_signing_usage(cert: x509.Certificate) -> None:
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not (ku.digital_signature or ku.content_commitment):
        raise UntrustedSigner(
            f"the certificate of {display_name(cert)} is not allowed to sign documents (key usage)"
        )


def _require_timestamping(cert: x509.Certificate) -> None:
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        raise UntrustedSigner(f"{display_name(cert)} is not a time-stamping authority (no timeStamping usage)") from None
    if ExtendedKeyUsageOID.TIME_STAMPING not in eku:
        raise UntrustedSigner(f"{display_name(cert)} is not a time-stamping authority (no timeStamping usage)")
