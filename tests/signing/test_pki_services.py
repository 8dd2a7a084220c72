"""casehub.pki services: certificates per agency, encrypted keys, rotation, revocation, caching."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from django.db import connection
from django.test.utils import CaptureQueriesContext

from casehub.audit.models import AuditEvent
from casehub.pki import services
from casehub.pki.models import CertificateAuthority, SigningCertificate
from signing import KeyDecryptionError, RevokedSigner, keys
from signing.cms import canonical_json, sign_detached, verify_detached

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_pki_cache():
    services.invalidate_cache()
    yield
    services.invalidate_cache()


def test_first_use_creates_the_root_and_the_agency_certificate(district):
    signer = services.signer_for(district.police)
    assert signer.name == district.police.name
    assert signer.agency_code == district.police.code
    sc = SigningCertificate.objects.get(holder=district.police.code)
    assert sc.status == "active" and sc.issuer.kind == CertificateAuthority.Kind.PLATFORM_ROOT
    (event,) = AuditEvent.objects.filter(action__startswith="pki.")  # one event for the whole first use
    assert event.action == "pki.certificate_issued" and event.details["root_created"] == sc.issuer.fingerprint
    # The agency certificate names the agency and may only sign.
    ku = signer.certificate.extensions.get_extension_for_oid(
        __import__("cryptography").x509.oid.ExtensionOID.KEY_USAGE
    ).value
    assert ku.digital_signature and ku.content_commitment and not ku.key_cert_sign


def test_private_keys_are_stored_encrypted_and_bound_to_their_row(district, settings):
    signer = services.signer_for(district.police)
    sc = SigningCertificate.objects.get(holder=district.police.code)
    clear = signer.private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    blob = bytes(sc.encrypted_key)
    assert clear not in blob and clear[-32:] not in blob
    kek = base64.b64decode(settings.KEY_ENCRYPTION_KEY)
    with pytest.raises(KeyDecryptionError):
        keys.decrypt_private_key(blob, kek, aad=b"casehub-pki/cert/" + b"0" * 64)
    with pytest.raises(KeyDecryptionError):
        keys.decrypt_private_key(blob, bytes(32), aad=f"casehub-pki/cert/{sc.fingerprint}".encode())
    assert "PRIVATE" not in repr(signer) and "encrypted_key" not in repr(sc)


def test_signers_and_trust_are_cached_per_process(district):
    first = services.signer_for(district.police)
    services.trust_store()
    with CaptureQueriesContext(connection) as queries:
        for _ in range(50):
            assert services.signer_for(district.police) is first
            services.trust_store()
    # The issuance above is not committed yet (tests run in a transaction), so each call re-reads
    # the one token row — and nothing else.
    assert all("pki_pkistate" in q["sql"] for q in queries.captured_queries)
    assert len(queries.captured_queries) <= 100
    services._committed()  # once committed (the cache is rebuilt once) ...
    first = services.signer_for(district.police)
    services.trust_store()
    with CaptureQueriesContext(connection) as queries:  # ... cached calls do not touch the database
        for _ in range(50):
            assert services.signer_for(district.police) is first
            services.trust_store()
    assert len(queries.captured_queries) <= 1


def test_the_trust_store_verifies_what_agencies_sign(district):
    data = canonical_json({"case": 1})
    signature = sign_detached(data, services.signer_for(district.procuratorate))
    assert verify_detached(data, signature, services.trust_store()).agency_code == district.procuratorate.code


def test_rotation_issues_a_new_certificate_and_old_signatures_still_verify(district):
    old = services.signer_for(district.police)
    data = canonical_json({"n": 1})
    old_signature = sign_detached(data, old)
    services.rotate_certificate(district.police)
    new = services.signer_for(district.police)
    assert new.certificate.serial_number != old.certificate.serial_number
    trust = services.trust_store()
    assert verify_detached(data, old_signature, trust).serial == old.serial_hex
    assert verify_detached(data, sign_detached(data, new), trust).serial == new.serial_hex
    statuses = dict(SigningCertificate.objects.filter(holder=district.police.code).values_list("serial", "status"))
    assert statuses == {old.serial_hex: "retired", new.serial_hex: "active"}


def test_revocation_publishes_a_crl_and_judges_by_signing_time(district):
    signer = services.signer_for(district.police)
    data = canonical_json({"n": 2})
    before = sign_detached(data, signer)
    sc = services.revoke_certificate(district.police, reason="superseded", note="机构撤并")
    root = CertificateAuthority.objects.get(is_current=True)
    assert root.crl.get_revoked_certificate_by_serial_number(signer.certificate.serial_number) is not None
    trust = services.trust_store()
    # A signature made before the revocation time still passes when judged at its time...
    assert verify_detached(data, before, trust, trusted_time=sc.revoked_at - timedelta(seconds=1))
    # ... one made afterwards (the cached signer would produce one now) fails.
    with pytest.raises(RevokedSigner):
        verify_detached(data, sign_detached(data, signer), trust, trusted_time=datetime.now(UTC) + timedelta(seconds=1))
    # The agency gets a fresh certificate on next use.
    assert services.signer_for(district.police).serial_hex != signer.serial_hex
    assert AuditEvent.objects.filter(action="pki.certificate_revoked").count() == 1


def test_platform_signer_is_separate_from_agencies(district):
    platform = services.platform_signer()
    assert platform.agency_code == "PLATFORM"
    assert platform is services.platform_signer()
    assert platform.serial_hex != services.signer_for(district.police).serial_hex


def test_without_a_root_production_refuses_to_invent_one(district, settings):
    settings.PRODUCTION = True
    with pytest.raises(services.PkiError, match="casehub_pki init"):
        services.signer_for(district.police)
    assert not SigningCertificate.objects.exists()


def test_a_bad_key_encryption_key_is_a_clear_error(district, settings):
    settings.KEY_ENCRYPTION_KEY = base64.b64encode(b"short").decode()
    with pytest.raises(services.PkiError, match="32 bytes"):
        services.signer_for(district.police)


def test_a_configured_tsa_makes_every_agency_pdf_signature_b_t(district, settings):
    from signing import TrustStore
    from signing.pades import sign_pdf, verify_pdf
    from tests.signing.conftest import make_pdf
    from tests.signing.tsa import make_tsa, running_tsa

    tsa_root, tsa_key, tsa_cert = make_tsa()
    with running_tsa(tsa_key, tsa_cert) as url:
        settings.CASEHUB_TSA_URL = url
        services.invalidate_cache()
        signer = services.signer_for(district.police)
        assert signer.tsa_url == url
        signed = sign_pdf(make_pdf(1), signer, stamp_text=district.police.name)
    base = services.trust_store()
    trust = TrustStore(roots=base.roots, crls=base.crls, tsa_roots=[tsa_root])
    (sig,) = verify_pdf(signed, trust).signatures
    assert sig.valid and sig.timestamped and sig.time_source == "timestamp"


def test_a_crl_close_to_its_next_update_is_resigned_on_the_next_trust_build(district):
    from cryptography.hazmat.primitives import serialization

    from signing import pki as signing_pki

    services.signer_for(district.police)
    first = services.trust_store()
    root = CertificateAuthority.objects.get(is_current=True)
    # Pretend the CRL was published six days ago and is about to run out.
    stale = signing_pki.build_crl(services._ca_key(root), root.certificate, [], crl_number=root.crl_number, valid_days=1)
    CertificateAuthority.objects.filter(pk=root.pk).update(
        crl_der=stale.public_bytes(serialization.Encoding.DER), crl_next_update=stale.next_update_utc
    )
    services._cache.trust_refresh_at = datetime.now(UTC) - timedelta(seconds=1)  # as if days had passed
    second = services.trust_store()
    assert second is not first
    root.refresh_from_db()
    assert root.crl_next_update > datetime.now(UTC) + timedelta(days=6)
    assert second.crls[0].next_update_utc == root.crl_next_update


def test_a_rolled_back_issuance_never_leaves_a_phantom_signer(district):
    from django.db import transaction

    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        phantom = services.signer_for(district.court)
        raise Boom
    assert not SigningCertificate.objects.filter(fingerprint=phantom.fingerprint).exists()
    real = services.signer_for(district.court)
    assert real.fingerprint != phantom.fingerprint
    assert SigningCertificate.objects.filter(fingerprint=real.fingerprint, status="active").exists()


def test_another_process_change_is_seen_within_the_cache_interval(district, settings):
    from casehub.pki.models import PkiState

    settings.CASEHUB_PKI_CACHE_SECONDS = 3600
    first = services.signer_for(district.police)
    services._committed()  # as if this process's issuance had committed
    services.signer_for(district.police)
    PkiState.objects.filter(pk=1).update(token="changed-by-another-process")
    assert services.signer_for(district.police) is not None
    assert services._cache.token != "changed-by-another-process"  # not re-read within the interval
    services._cache.checked_at -= 3601
    again = services.signer_for(district.police)
    assert services._cache.token == "changed-by-another-process"
    assert again is not first and again.fingerprint == first.fingerprint  # rebuilt from the database


def test_an_expired_active_certificate_is_rotated_on_next_use(district):
    old = services.signer_for(district.police)
    SigningCertificate.objects.filter(fingerprint=old.fingerprint).update(
        not_after=datetime.now(UTC) - timedelta(seconds=1)
    )
    services.invalidate_cache()
    new = services.signer_for(district.police)
    assert new.fingerprint != old.fingerprint
    assert SigningCertificate.objects.get(fingerprint=old.fingerprint).status == "retired"
    assert AuditEvent.objects.filter(action="pki.certificate_rotated").count() == 1


# --- revocation data for outside validators (THREAT_MODEL F18.20) --------------------------------


def test_every_agency_certificate_names_the_crl_the_platform_serves_anonymously(district, settings):
    """A validator that demands revocation data finds the CRL where the certificate says it is."""
    from urllib.parse import urlparse

    from cryptography import x509
    from django.test import Client

    from signing.pki import crl_urls_of

    settings.CASEHUB_CRL_BASE_URL = "https://casehub.example.cn/pki/crl/"
    cert = services.signer_for(district.police).certificate
    (url,) = crl_urls_of(cert)
    assert url.startswith("https://casehub.example.cn/pki/crl/") and url.endswith(".crl")
    anonymous = Client()
    response = anonymous.get(urlparse(url).path)
    assert response.status_code == 200 and response["Content-Type"] == "application/pkix-crl"
    crl = x509.load_der_x509_crl(response.content)
    root = CertificateAuthority.objects.get(is_current=True).certificate
    assert crl.issuer == cert.issuer and crl.is_signature_valid(root.public_key())
    assert crl.get_revoked_certificate_by_serial_number(cert.serial_number) is None

    services.revoke_certificate(district.police, reason="key_compromise")
    revoked = x509.load_der_x509_crl(anonymous.get(urlparse(url).path).content)
    assert revoked.get_revoked_certificate_by_serial_number(cert.serial_number) is not None
    assert anonymous.get("/pki/crl/" + "0" * 64 + ".crl").status_code == 404


def test_with_a_tsa_every_agency_pdf_signature_is_b_lt_and_validates_offline(district, settings, tmp_path):
    """The TSA roots file may carry the TSA CA's CRL; with it the DSS holds revocation data for
    every certificate, so pyHanko's validator with revocation required accepts the signature."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from signing.pades import sign_pdf
    from signing.pki import to_pem
    from tests.signing.conftest import make_pdf
    from tests.signing.test_pades import _validate_lt_with_revocation_required
    from tests.signing.tsa import make_tsa_with_crl, running_tsa

    tsa_root, tsa_key, tsa_cert, tsa_crl = make_tsa_with_crl()
    (tmp_path / "tsa.pem").write_bytes(to_pem([tsa_root]) + tsa_crl.public_bytes(Encoding.PEM))
    settings.CASEHUB_TSA_ROOTS_FILE = str(tmp_path / "tsa.pem")
    with running_tsa(tsa_key, tsa_cert) as url:
        settings.CASEHUB_TSA_URL = url
        services.invalidate_cache()
        signed = sign_pdf(make_pdf(1), services.signer_for(district.police), stamp_text=district.police.name)
    root = CertificateAuthority.objects.get(is_current=True).certificate
    status = _validate_lt_with_revocation_required(signed, [root, tsa_root])
    assert status.bottom_line, status.pretty_print_details()
