"""Agency PKI services: the platform root, agency certificates, revocation, trust, signers.

Hot paths (every transfer, every generated document) call :func:`signer_for` and
:func:`trust_store`. Both come from a per-process cache of decrypted signers and one built trust
store. The cache is tied to the token in :class:`~casehub.pki.models.PkiState`, which every change
here replaces in the same transaction:

* it is re-read at most every ``CASEHUB_PKI_CACHE_SECONDS`` (default 2 s): a change committed by
  another process reaches this one within that time;
* while this process has made a PKI change that is not committed yet, it is re-read on every call
  (one primary-key query), so a rollback never leaves a signer of a certificate that does not exist.

Every state change runs in one transaction with one audit event. Private keys are decrypted only
here, never logged, never returned by anything but a :class:`signing.Signer`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.db import transaction

from casehub.agencies.models import Agency
from casehub.audit.services import record_event
from casehub.pki.models import PLATFORM_HOLDER, CertificateAuthority, PkiState, SigningCertificate
from signing import Revocation, Signer, SigningError, TrustStore
from signing import keys as signing_keys
from signing import pki as signing_pki

logger = logging.getLogger("casehub.pki")

PLATFORM_ROOT_NAME = "casehub 政法协同平台根证书"
PLATFORM_SIGNER_NAME = "casehub 政法协同平台"
# Refresh the CRL when it has less than this left, so exported CRLs never go stale.
CRL_REFRESH_MARGIN = timedelta(days=2)


class PkiError(SigningError):
    """A PKI administration request that cannot be carried out (message is for the operator)."""


# --- key-encryption key -----------------------------------------------------------------------


def _kek() -> bytes:
    raw = getattr(settings, "KEY_ENCRYPTION_KEY", None)
    if not raw:
        raise PkiError("KEY_ENCRYPTION_KEY is not configured (CASEHUB_KEY_ENCRYPTION_KEY)")
    return _decode_kek(raw)


def _decode_kek(raw: str) -> bytes:
    try:
        kek = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise PkiError("KEY_ENCRYPTION_KEY is not valid base64") from None
    if len(kek) != 32:
        raise PkiError(f"KEY_ENCRYPTION_KEY must decode to 32 bytes, not {len(kek)}")
    return kek


def key_encryption_key() -> bytes:
    """The configured key-encryption key (32 bytes); raises PkiError when missing or malformed."""
    return _kek()


# Other sealed secrets (webhook signing secrets) re-sealed by :func:`rewrap_keys`: callables
# taking (old, new) key-encryption keys and returning how many they changed.
REWRAP_HOOKS: list = []


def _aad(kind: str, fp: str) -> bytes:
    # Binds each blob to the record it belongs to: a blob copied to another row does not open.
    return f"casehub-pki/{kind}/{fp}".encode()


def kek_fingerprint(kek_b64: str | None = None) -> str:
    """A fingerprint that names a key-encryption key without revealing it (HMAC-SHA256 of a fixed
    label under the key, 16 hex digits). A backup records it so a restore can tell, before loading
    anything, whether the private keys in the dump will open with the key it was given."""
    kek = _kek() if kek_b64 is None else _decode_kek(kek_b64)
    return hmac.new(kek, b"casehub-pki/kek-fingerprint/v1", hashlib.sha256).hexdigest()[:16]


def keys_needed_for_signing() -> list[tuple[str, object]]:
    """The stored private keys a platform signs with: the current root's (certificates, CRLs) and
    every active signing certificate's. Retired and revoked keys never sign again."""
    rows: list[tuple[str, object]] = [
        ("ca", ca) for ca in CertificateAuthority.objects.filter(is_current=True).exclude(encrypted_key=None)
    ]
    rows += [("cert", sc) for sc in SigningCertificate.objects.filter(status=SigningCertificate.Status.ACTIVE)
             .order_by("holder")]
    return rows


def keys_that_do_not_open() -> list[str]:
    """Which of :func:`keys_needed_for_signing` do not decrypt with the configured key-encryption
    key, as readable names ("root …", a certificate holder). Empty: this platform can sign."""
    kek = _kek()
    failed: list[str] = []
    for kind, row in keys_needed_for_signing():
        try:
            signing_keys.decrypt_private_key(bytes(row.encrypted_key), kek,  # type: ignore[attr-defined]
                                             aad=_aad(kind, row.fingerprint))  # type: ignore[attr-defined]
        except SigningError:
            failed.append(f"root {row.name}" if kind == "ca" else f"{row.holder} certificate {row.serial[:16]}")  # type: ignore[attr-defined]
    return failed


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


# --- the per-process cache -------------------------------------------------------------------


@dataclass
class _Cache:
    token: str | None = None
    checked_at: float = 0.0
    signers: dict[str, Signer] = field(default_factory=dict)
    trust: TrustStore | None = None
    trust_refresh_at: datetime | None = None  # when the cached CRLs get close to their nextUpdate
    # True from a change in this process until its transaction commits (never reset on rollback).
    uncommitted_change: bool = False


_cache = _Cache()
_cache_lock = threading.RLock()


def invalidate_cache() -> None:
    """Forget every cached signer and the trust store of this process."""
    with _cache_lock:
        _cache.token = None
        _cache.checked_at = 0.0
        _cache.signers.clear()
        _cache.trust = None
        _cache.trust_refresh_at = None


def _current_token() -> str:
    return PkiState.objects.filter(pk=1).values_list("token", flat=True).first() or ""


def _fresh_cache() -> _Cache:
    """The cache, emptied first if the PKI changed since it was filled."""
    interval = float(getattr(settings, "CASEHUB_PKI_CACHE_SECONDS", 2))
    with _cache_lock:
        now = time.monotonic()
        if _cache.uncommitted_change or _cache.token is None or now - _cache.checked_at >= interval:
            token = _current_token()
            if token != _cache.token:
                _cache.signers.clear()
                _cache.trust = None
                _cache.trust_refresh_at = None
                _cache.token = token
            _cache.checked_at = now
        return _cache


def _committed() -> None:
    with _cache_lock:
        _cache.uncommitted_change = False
    invalidate_cache()


def _changed() -> None:
    """Record a PKI change: new token in this transaction, caches dropped now and after commit."""
    PkiState.objects.update_or_create(pk=1, defaults={"token": uuid.uuid4().hex})
    invalidate_cache()
    with _cache_lock:
        _cache.uncommitted_change = True
    transaction.on_commit(_committed)


# --- roots ------------------------------------------------------------------------------------


def _store_root(key, cert: x509.Certificate) -> CertificateAuthority:
    fp = signing_pki.fingerprint(cert)
    return CertificateAuthority.objects.create(
        kind=CertificateAuthority.Kind.PLATFORM_ROOT,
        name=signing_pki.display_name(cert),
        certificate_pem=_pem(cert),
        fingerprint=fp,
        encrypted_key=signing_keys.encrypt_private_key(key, _kek(), aad=_aad("ca", fp)),
        is_current=True,
        not_after=cert.not_valid_after_utc,
    )


def current_root() -> CertificateAuthority | None:
    return CertificateAuthority.objects.filter(is_current=True).first()


@transaction.atomic
def init_root(*, actor=None, common_name: str = PLATFORM_ROOT_NAME) -> CertificateAuthority:
    """Create the platform root CA (once). Afterwards use :func:`rotate_root`."""
    PkiState.objects.get_or_create(pk=1, defaults={"token": uuid.uuid4().hex})
    PkiState.objects.select_for_update().filter(pk=1).first()
    if CertificateAuthority.objects.filter(is_current=True).exists():
        raise PkiError("the platform root CA already exists; use `casehub_pki rotate --root` to replace it")
    key, cert = signing_pki.create_root_ca(common_name)
    ca = _store_root(key, cert)
    _refresh_crl(ca, force=True)
    _changed()
    record_event("pki.root_created", actor=actor, obj=ca, details={"fingerprint": ca.fingerprint, "name": ca.name})
    logger.info("platform root CA created: %s", ca.fingerprint)
    return ca


@transaction.atomic
def rotate_root(*, actor=None) -> CertificateAuthority:
    """A new platform root issues from now on; the old one stays trusted, so old signatures verify.

    Agency certificates issued by the old root keep working until they are rotated
    (``casehub_pki rotate AGENCY_CODE``) or expire.
    """
    old = CertificateAuthority.objects.select_for_update().filter(is_current=True).first()
    if old is None:
        raise PkiError("there is no platform root CA yet; run `casehub_pki init` first")
    old.is_current = False
    old.save(update_fields=["is_current"])
    key, cert = signing_pki.create_root_ca(PLATFORM_ROOT_NAME)
    ca = _store_root(key, cert)
    _refresh_crl(ca, force=True)
    _changed()
    record_event(
        "pki.root_rotated", actor=actor, obj=ca,
        details={"fingerprint": ca.fingerprint, "previous_fingerprint": old.fingerprint},
    )
    return ca


def _root_for_issuing() -> CertificateAuthority:
    ca = CertificateAuthority.objects.filter(is_current=True).first()
    if ca is not None:
        return ca
    if settings.PRODUCTION:
        raise PkiError("no platform root CA: run `manage.py casehub_pki init` once before signing")
    # Development and tests: create the root on first use so nothing needs a manual step. Two
    # agencies signing for the first time at once must not both create one: lock, then re-check.
    PkiState.objects.get_or_create(pk=1, defaults={"token": uuid.uuid4().hex})
    PkiState.objects.select_for_update().filter(pk=1).first()
    ca = CertificateAuthority.objects.filter(is_current=True).first()
    if ca is not None:
        return ca
    key, cert = signing_pki.create_root_ca(PLATFORM_ROOT_NAME)
    ca = _store_root(key, cert)
    _refresh_crl(ca, force=True)
    # Audited as part of the certificate issuance that needed it (one event per transaction).
    ca.created_on_demand = True  # type: ignore[attr-defined]
    return ca


def _ca_key(ca: CertificateAuthority):
    if not ca.encrypted_key:
        raise PkiError(f"{ca.name} is an imported CA; the platform holds no key for it")
    return signing_keys.decrypt_private_key(bytes(ca.encrypted_key), _kek(), aad=_aad("ca", ca.fingerprint))


def _refresh_crl(ca: CertificateAuthority, *, force: bool = False) -> None:
    """(Re)sign the CRL of a platform root from the revoked certificates it issued."""
    now = datetime.now(UTC)
    if not force and ca.crl_der and ca.crl_next_update and ca.crl_next_update - now > CRL_REFRESH_MARGIN:
        return
    revoked = [
        signing_pki.RevokedEntry(int(c.serial, 16), c.revoked_at, c.revocation_reason or "unspecified")
        for c in SigningCertificate.objects.filter(issuer=ca, status=SigningCertificate.Status.REVOKED)
    ]
    crl = signing_pki.build_crl(_ca_key(ca), ca.certificate, revoked, crl_number=ca.crl_number + 1, now=now)
    ca.crl_der = crl.public_bytes(serialization.Encoding.DER)
    ca.crl_number += 1
    ca.crl_next_update = crl.next_update_utc
    ca.save(update_fields=["crl_der", "crl_number", "crl_next_update"])
    ca.__dict__.pop("crl", None)


# --- agency certificates ---------------------------------------------------------------------


def _holder(agency: Agency | None) -> str:
    return PLATFORM_HOLDER if agency is None else agency.code


def crl_url(ca: CertificateAuthority) -> str:
    """Where ``ca``'s CRL is published: ``CASEHUB_CRL_BASE_URL`` + ``<fingerprint>.crl``. The
    platform serves it there itself (``casehub.pki.views.crl``); a mirror may serve the same file."""
    base = getattr(settings, "CASEHUB_CRL_BASE_URL", "") or "http://127.0.0.1:8000/pki/crl/"
    return f"{base.rstrip('/')}/{ca.fingerprint}.crl"


def current_crl(fingerprint: str) -> bytes | None:
    """The DER CRL of the platform CA with this fingerprint, re-signed first if it is about to run
    out (None: no such CA, or one whose key the platform does not hold)."""
    ca = CertificateAuthority.objects.filter(fingerprint=fingerprint, kind=CertificateAuthority.Kind.PLATFORM_ROOT).first()
    if ca is None or not ca.encrypted_key:
        return None
    with transaction.atomic():
        _refresh_crl(ca)  # a no-op unless the CRL is close to its nextUpdate
    return bytes(ca.crl_der) if ca.crl_der else None


def _issue(agency: Agency | None) -> SigningCertificate:
    ca = _root_for_issuing()
    key = signing_keys.generate_private_key()
    name = PLATFORM_SIGNER_NAME if agency is None else agency.name
    cert = signing_pki.issue_agency_certificate(
        _ca_key(ca), ca.certificate, agency_name=name, agency_code=_holder(agency), public_key=key.public_key(),
        valid_days=int(getattr(settings, "CASEHUB_PKI_CERT_DAYS", signing_pki.AGENCY_VALID_DAYS)),
        crl_urls=[crl_url(ca)],
    )
    fp = signing_pki.fingerprint(cert)
    sc = SigningCertificate.objects.create(
        agency=agency,
        holder=_holder(agency),
        subject_name=signing_pki.display_name(cert),
        serial=format(cert.serial_number, "x"),
        fingerprint=fp,
        certificate_pem=_pem(cert),
        issuer=ca,
        encrypted_key=signing_keys.encrypt_private_key(key, _kek(), aad=_aad("cert", fp)),
        algorithm=signing_keys.algorithm_of(key).name,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )
    sc.root_created_on_demand = getattr(ca, "created_on_demand", False)  # type: ignore[attr-defined]
    return sc


def _issue_details(sc: SigningCertificate, **extra) -> dict:
    details = {"holder": sc.holder, "serial": sc.serial, "fingerprint": sc.fingerprint, "not_after": sc.not_after, **extra}
    if getattr(sc, "root_created_on_demand", False):
        details["root_created"] = sc.issuer.fingerprint
    return details


def _lock_holder(agency: Agency | None) -> None:
    """Serialise changes to one holder's certificates (two first-use issuances must not race)."""
    if agency is not None:
        Agency.objects.select_for_update().filter(pk=agency.pk).first()
    else:
        PkiState.objects.get_or_create(pk=1, defaults={"token": uuid.uuid4().hex})
        PkiState.objects.select_for_update().filter(pk=1).first()


def active_certificate(agency: Agency | None) -> SigningCertificate | None:
    return (
        SigningCertificate.objects.select_related("issuer")
        .filter(holder=_holder(agency), status=SigningCertificate.Status.ACTIVE)
        .first()
    )


@transaction.atomic
def issue_certificate(agency: Agency | None, *, actor=None) -> SigningCertificate:
    """Issue the agency's first signing certificate (``agency=None``: the platform's own)."""
    _lock_holder(agency)
    if active_certificate(agency) is not None:
        raise PkiError(f"{_holder(agency)} already has an active certificate; use `casehub_pki rotate` to replace it")
    sc = _issue(agency)
    _changed()
    record_event("pki.certificate_issued", actor=actor, agency=agency, obj=sc, details=_issue_details(sc))
    return sc


@transaction.atomic
def rotate_certificate(agency: Agency | None, *, actor=None) -> SigningCertificate:
    """A new certificate replaces the active one; the old one is retired, not revoked.

    Retired certificates are still trusted (they chain to an accepted root and are not on a CRL),
    so everything signed with them keeps verifying; only new signatures use the new key.
    """
    _lock_holder(agency)
    old = active_certificate(agency)
    if old is not None:
        old.status = SigningCertificate.Status.RETIRED
        old.retired_at = datetime.now(UTC)
        old.save(update_fields=["status", "retired_at"])
    sc = _issue(agency)
    _changed()
    record_event(
        "pki.certificate_rotated", actor=actor, agency=agency, obj=sc,
        details=_issue_details(sc, previous_serial=old.serial if old else None),
    )
    return sc


@transaction.atomic
def revoke_certificate(
    agency: Agency | None, *, reason: str, note: str = "", actor=None, serial: str | None = None
) -> SigningCertificate:
    """Revoke the holder's active certificate (or the one with ``serial``) now and republish the CRL.

    Signatures made before now still verify; later ones fail. With reason ``keyCompromise`` only
    signatures with a trusted time before now still verify (see docs/pki.md).
    """
    flag = signing_pki.parse_reason(reason)
    _lock_holder(agency)
    qs = SigningCertificate.objects.select_related("issuer").filter(holder=_holder(agency))
    sc = qs.filter(serial=serial.lower()).first() if serial else qs.filter(status=SigningCertificate.Status.ACTIVE).first()
    if sc is None:
        raise PkiError(f"{_holder(agency)} has no {'such' if serial else 'active'} certificate to revoke")
    if sc.status == SigningCertificate.Status.REVOKED:
        raise PkiError(f"certificate {sc.serial} was already revoked on {sc.revoked_at:%Y-%m-%d %H:%M} UTC")
    sc.status = SigningCertificate.Status.REVOKED
    sc.revoked_at = datetime.now(UTC).replace(microsecond=0)
    sc.revocation_reason = flag.name
    sc.revocation_note = note[:500]
    sc.save(update_fields=["status", "revoked_at", "revocation_reason", "revocation_note"])
    if sc.issuer.kind == CertificateAuthority.Kind.PLATFORM_ROOT:
        _refresh_crl(sc.issuer, force=True)
    _changed()
    record_event(
        "pki.certificate_revoked", actor=actor, agency=agency, obj=sc,
        details={"holder": sc.holder, "serial": sc.serial, "reason": flag.name, "note": note[:500]},
    )
    return sc


@transaction.atomic
def import_credentials(
    agency: Agency, data: bytes, *, password: bytes | None = None, actor=None
) -> SigningCertificate:
    """Use an agency's own CA-issued certificate and key (PKCS#12 or PEM bundle).

    The file must carry the chain up to a self-signed root; that root (and any intermediates)
    joins the trust store. Importing is a trust decision: only an operator may run it. The
    previously active certificate of the agency is retired.
    """
    creds = signing_pki.load_credentials(data, password)
    roots = [c for c in creds.others if signing_pki.is_self_signed(c)]
    intermediates = [c for c in creds.others if c not in roots]
    if not roots:
        raise PkiError("the file must include the root certificate of the agency's CA")
    probe = TrustStore(roots=roots, intermediates=intermediates)
    now = datetime.now(UTC)
    try:
        probe.validate(creds.certificate, (), at=now, time_is_trusted=True)
        Signer(creds.key, creds.certificate, intermediates)
    except SigningError as exc:
        raise PkiError(f"the imported certificate cannot be used: {exc}") from None
    _lock_holder(agency)
    path = probe.build_path(creds.certificate)
    cas: list[CertificateAuthority] = []
    for cert in reversed(path[1:]):  # root first
        fp = signing_pki.fingerprint(cert)
        ca, _created = CertificateAuthority.objects.get_or_create(
            fingerprint=fp,
            defaults={
                "kind": CertificateAuthority.Kind.IMPORTED_ROOT if cert is path[-1]
                else CertificateAuthority.Kind.IMPORTED_INTERMEDIATE,
                "name": signing_pki.display_name(cert),
                "certificate_pem": _pem(cert),
                "not_after": cert.not_valid_after_utc,
            },
        )
        if not ca.accepted:
            raise PkiError(f"{ca.name} was removed from the trust store and cannot be imported again")
        cas.append(ca)
    fp = signing_pki.fingerprint(creds.certificate)
    if SigningCertificate.objects.filter(fingerprint=fp).exists():
        raise PkiError("this certificate was already imported")
    old = active_certificate(agency)
    if old is not None:
        old.status = SigningCertificate.Status.RETIRED
        old.retired_at = now
        old.save(update_fields=["status", "retired_at"])
    cert = creds.certificate
    sc = SigningCertificate.objects.create(
        agency=agency,
        holder=agency.code,
        subject_name=signing_pki.display_name(cert),
        serial=format(cert.serial_number, "x"),
        fingerprint=fp,
        certificate_pem=_pem(cert),
        chain_pem="".join(_pem(c) for c in path[1:]),
        issuer=cas[-1],
        encrypted_key=signing_keys.encrypt_private_key(creds.key, _kek(), aad=_aad("cert", fp)),
        algorithm=signing_keys.algorithm_of(creds.key).name,
        source=SigningCertificate.Source.IMPORTED,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )
    _changed()
    record_event(
        "pki.credentials_imported", actor=actor, agency=agency, obj=sc,
        details={"holder": sc.holder, "serial": sc.serial, "root": cas[0].fingerprint, "subject": sc.subject_name},
    )
    return sc


@transaction.atomic
def rewrap_keys(old_kek_b64: str, *, actor=None) -> int:
    """Re-encrypt every stored private key from ``old_kek_b64`` to the configured key-encryption key.

    For a key-encryption key that must be replaced (suspected leak, scheduled change): set the new
    one in the configuration, then run this with the old one. Blobs that already open with the new
    key are left alone, so an interrupted run can simply be repeated. Returns how many were changed.
    """
    try:
        old = base64.b64decode(old_kek_b64.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise PkiError("the old key-encryption key is not valid base64") from None
    new = _kek()
    changed = 0
    rows: list[tuple[object, str]] = [
        *((ca, "ca") for ca in CertificateAuthority.objects.select_for_update().exclude(encrypted_key=None)),
        *((sc, "cert") for sc in SigningCertificate.objects.select_for_update()),
    ]
    for row, kind in rows:
        aad = _aad(kind, row.fingerprint)  # type: ignore[attr-defined]
        blob = bytes(row.encrypted_key)  # type: ignore[attr-defined]
        try:
            signing_keys.decrypt_private_key(blob, new, aad=aad)
            continue  # already under the new key
        except SigningError:
            pass
        try:
            key = signing_keys.decrypt_private_key(blob, old, aad=aad)
        except SigningError:
            raise PkiError(f"a stored key opens with neither the old nor the new key-encryption key ({row!r})") from None
        row.encrypted_key = signing_keys.encrypt_private_key(key, new, aad=aad)  # type: ignore[attr-defined]
        row.save(update_fields=["encrypted_key"])  # type: ignore[attr-defined]
        changed += 1
    for hook in REWRAP_HOOKS:
        changed += hook(old, new)
    _changed()
    record_event("pki.keys_rewrapped", actor=actor, details={"changed": changed, "total": len(rows)})
    return changed


# --- signers and trust (hot paths) -----------------------------------------------------------


def _signer_from(sc: SigningCertificate) -> Signer:
    key = signing_keys.decrypt_private_key(bytes(sc.encrypted_key), _kek(), aad=_aad("cert", sc.fingerprint))
    # Embed the chain up to and including the root, so outside verifiers can build the path.
    # Imported certificates store their whole chain; platform-issued ones have just the root.
    chain = sc.chain or [sc.issuer.certificate]
    # With a TSA the signer embeds the current trust store's certificates and CRLs: PAdES B-LT.
    return Signer(key, sc.certificate, chain, tsa_url=getattr(settings, "CASEHUB_TSA_URL", None),
                  validation=trust_store)


def _signer(agency: Agency | None) -> Signer:
    holder = _holder(agency)
    cache = _fresh_cache()
    signer = cache.signers.get(holder)
    if signer is not None:
        return signer
    sc = active_certificate(agency)
    if not _usable(sc):
        sc = _ensure_active_certificate(agency)
        cache = _fresh_cache()
    signer = _signer_from(sc)
    with _cache_lock:
        if cache is _cache and _cache.token == cache.token:
            _cache.signers[holder] = signer
    return signer


def _usable(sc: SigningCertificate | None) -> bool:
    return sc is not None and sc.not_after > datetime.now(UTC) + timedelta(minutes=1)


@transaction.atomic
def _ensure_active_certificate(agency: Agency | None) -> SigningCertificate:
    """First use (or the active certificate ran out): issue one, under the holder's lock.

    Two processes may both see "no certificate"; the second waits for the first's lock and then
    finds the certificate the first one issued. An expired active certificate is rotated rather
    than used, since signatures made with it would not verify.
    """
    _lock_holder(agency)
    sc = active_certificate(agency)
    if _usable(sc):
        return sc  # type: ignore[return-value]
    return issue_certificate(agency) if sc is None else rotate_certificate(agency)


def signer_for(agency: Agency) -> Signer:
    """The agency's signer; issues its certificate on first use. Cached per process."""
    if agency is None or getattr(agency, "pk", None) is None:
        raise PkiError("signer_for needs a saved agency")
    return _signer(agency)


def platform_signer() -> Signer:
    """The platform's own signer (audit checkpoints and other platform statements)."""
    return _signer(None)


def trust_store() -> TrustStore:
    """Every accepted root and intermediate, the platform roots' CRLs, and local revocations."""
    cache = _fresh_cache()
    if cache.trust is not None and (cache.trust_refresh_at is None or datetime.now(UTC) < cache.trust_refresh_at):
        return cache.trust
    cas = list(CertificateAuthority.objects.filter(accepted=True))
    for ca in cas:
        if ca.kind == CertificateAuthority.Kind.PLATFORM_ROOT and ca.encrypted_key:
            _refresh_crl(ca)  # no-op unless the CRL is about to run out
    imported = dict(
        SigningCertificate.objects.filter(source=SigningCertificate.Source.IMPORTED).values_list("fingerprint", "holder")
    )
    revoked = {
        fp: Revocation(revoked_at, reason or "unspecified", "casehub")
        for fp, revoked_at, reason in SigningCertificate.objects.filter(
            status=SigningCertificate.Status.REVOKED
        ).values_list("fingerprint", "revoked_at", "revocation_reason")
    }
    trust = TrustStore(
        roots=[ca.certificate for ca in cas if ca.kind != CertificateAuthority.Kind.IMPORTED_INTERMEDIATE],
        intermediates=[ca.certificate for ca in cas if ca.kind == CertificateAuthority.Kind.IMPORTED_INTERMEDIATE],
        crls=[ca.crl for ca in cas if ca.crl is not None] + _tsa_crls(),
        revoked=revoked,
        tsa_roots=_tsa_roots(),
        # Imported certificates speak for the agency they were imported for; only the platform's
        # own roots are believed when a certificate names an agency code in its subject.
        agency_codes=imported,
        naming_roots=[ca.fingerprint for ca in cas if ca.kind == CertificateAuthority.Kind.PLATFORM_ROOT],
    )
    next_updates = [crl.next_update_utc for crl in trust.crls if crl.next_update_utc is not None]
    with _cache_lock:
        if cache is _cache and _cache.token == cache.token:
            _cache.trust = trust
            # A long-running process rebuilds (and so re-signs) CRLs before they go stale.
            _cache.trust_refresh_at = min(next_updates) - CRL_REFRESH_MARGIN if next_updates else None
    return trust


def _tsa_roots() -> list[x509.Certificate]:
    path = getattr(settings, "CASEHUB_TSA_ROOTS_FILE", "")
    if not path:
        return []
    with open(path, "rb") as fh:
        return signing_pki.load_certificates(fh.read())


def _tsa_crls() -> list[x509.CertificateRevocationList]:
    """CRLs in the TSA roots file (PEM ``X509 CRL`` blocks): the revocation data of the TSA's
    certificates that B-LT signatures embed. The operator refreshes them before they expire."""
    path = getattr(settings, "CASEHUB_TSA_ROOTS_FILE", "")
    if not path:
        return []
    with open(path, "rb") as fh:
        data = fh.read()
    blocks = re.findall(rb"-----BEGIN X509 CRL-----.*?-----END X509 CRL-----", data, flags=re.S)
    return [x509.load_pem_x509_crl(block) for block in blocks]


def export_trust_pem() -> bytes:
    """PEM bundle: every accepted root and intermediate, then each platform root's current CRL."""
    return trust_store().pem()
