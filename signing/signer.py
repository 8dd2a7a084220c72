"""A :class:`Signer` is a private key with its certificate and chain, ready to sign."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from signing.errors import CertificateExpired, SigningError
from signing.keys import KeyAlgorithm, PrivateKey, algorithm_of
from signing.pki import agency_code_of, display_name, fingerprint


class Signer:
    """Signs as one certificate holder.

    ``chain`` lists the certificates above ``certificate`` (intermediates, and the root if you
    want it embedded); they travel inside every signature so a verifier can build the path.
    ``tsa_url`` is the time-stamping authority ``signing.pades.sign_pdf`` uses unless told otherwise.
    ``validation`` returns the current trust store (roots, TSA roots, CRLs); with it and a TSA,
    ``sign_pdf`` embeds the certificates and CRLs of the signature and the timestamp in the
    document security store: PAdES B-LT, verifiable without fetching anything.
    Instances are immutable and safe to share between threads; the process-wide cache in
    ``casehub.pki.services`` hands the same instance to every caller.
    """

    def __init__(
        self,
        key: PrivateKey,
        certificate: x509.Certificate,
        chain: Sequence[x509.Certificate] = (),
        *,
        tsa_url: str | None = None,
        validation: Callable[[], Any] | None = None,
    ):
        own = certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        theirs = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if own != theirs:
            raise SigningError("the private key does not belong to the certificate")
        self._key = key
        self.certificate = certificate
        unique: list[x509.Certificate] = []
        for c in chain:
            if c != certificate and c not in unique:
                unique.append(c)
        self.chain: tuple[x509.Certificate, ...] = tuple(unique)
        self.algorithm: KeyAlgorithm = algorithm_of(key)
        # Default RFC 3161 time-stamping authority for PDF signatures by this signer (B-T), so
        # callers of sign_pdf get timestamps whenever the deployment configures a TSA.
        self.tsa_url = tsa_url or None
        self.validation = validation
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never shows the key
        return f"<Signer {self.name!r} code={self.agency_code!r} serial={self.serial_hex}>"

    @property
    def name(self) -> str:
        return display_name(self.certificate)

    @property
    def agency_code(self) -> str:
        return agency_code_of(self.certificate)

    @property
    def serial_hex(self) -> str:
        return format(self.certificate.serial_number, "x")

    @cached_property
    def fingerprint(self) -> str:
        return fingerprint(self.certificate)

    @property
    def private_key(self) -> PrivateKey:
        """The key itself, for the signing modules of this package; do not pass it around."""
        return self._key

    def check_usable(self, at: datetime | None = None) -> None:
        """Refuse to sign with a certificate outside its validity period."""
        at = at or datetime.now(UTC)
        cert = self.certificate
        if at > cert.not_valid_after_utc:
            raise CertificateExpired(
                f"the signing certificate of {self.name} expired on "
                f"{cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC; it must be rotated before signing"
            )
        if at < cert.not_valid_before_utc:
            raise CertificateExpired(
                f"the signing certificate of {self.name} is not valid before "
                f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC"
            )

    @cached_property
    def _pyhanko_signer(self) -> Any:
        # Built once per Signer: converting key and certificates to asn1crypto is not free.
        from asn1crypto import keys as asn1_keys
        from asn1crypto import x509 as asn1_x509
        from pyhanko_certvalidator.registry import SimpleCertificateStore

        der = self._key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        cert = asn1_x509.Certificate.load(self.certificate.public_bytes(serialization.Encoding.DER))
        chain = [asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in self.chain]
        return _CachedAttributesSigner(
            signing_cert=cert,
            signing_key=asn1_keys.PrivateKeyInfo.load(der),
            cert_registry=SimpleCertificateStore.from_certs(chain),  # pyHanko adds the signer itself
        )

    def pyhanko_signer(self) -> Any:
        with self._lock:
            return self._pyhanko_signer


def _cached_attributes_signer_class():
    from asn1crypto import cms
    from pyhanko.sign.signers import SimpleSigner

    # Signed attributes that are the same for every signature of one certificate, but for the
    # digest of the signed bytes.
    constant = {"content_type", "message_digest", "signing_certificate_v2", "cms_algorithm_protection"}

    class CachedAttributesSigner(SimpleSigner):
        """pyHanko's SimpleSigner, assembling the signed attributes of a PAdES signature once.

        asn1crypto encodes a freshly built attribute set by re-encoding every nested value at
        every level (≈10 ms for 200 bytes, the largest cost of a small signature). For PAdES they
        are the content type, the message digest and the signer's certificate identifier: all
        fixed for a certificate but the digest, which has a fixed length and does not decide the
        DER order of the set. So the encoding of the first signature is kept, and later ones
        substitute their digest into it. Anything else (signing time, CAdES attributes, Adobe
        revocation info) takes pyHanko's own path every time.
        """

        async def signed_attrs(self, data_digest, digest_algorithm, attr_settings=None, content_type="data",
                               use_pades=False, timestamper=None, dry_run=False, is_pdf_sig=True):
            cacheable = (use_pades and is_pdf_sig and not dry_run and content_type == "data"
                         and (attr_settings is None or (attr_settings.cades_signed_attrs is None
                                                        and attr_settings.adobe_revinfo_attr is None)))
            key = (digest_algorithm, len(data_digest))
            cache = self.__dict__.setdefault("_casehub_attrs", {})
            if cacheable and key in cache:
                template_digest, template = cache[key]
                return cms.CMSAttributes.load(template.replace(template_digest, data_digest))
            attrs = await super().signed_attrs(data_digest, digest_algorithm, attr_settings=attr_settings,
                                               content_type=content_type, use_pades=use_pades,
                                               timestamper=timestamper, dry_run=dry_run, is_pdf_sig=is_pdf_sig)
            if cacheable and attrs is not None and {a["type"].native for a in attrs} <= constant:
                der = attrs.dump()
                if der.count(data_digest) == 1:
                    cache[key] = (data_digest, der)
            return attrs

    return CachedAttributesSigner


_signer_class = None


def _CachedAttributesSigner(**kwargs):  # noqa: N802 - builds the class on first use (pyHanko loads lazily)
    global _signer_class
    if _signer_class is None:
        _signer_class = _cached_attributes_signer_class()
    return _signer_class(**kwargs)
