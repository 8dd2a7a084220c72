"""Detached CMS signatures over canonical JSON: our verifier and OpenSSL agree."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

from signing import (
    CertificateExpired,
    RevokedSigner,
    SignatureInvalid,
    Signer,
    TrustStore,
    UntrustedSigner,
    keys,
    pki,
)
from signing.cms import canonical_json, sign_detached, verify_detached
from tests.fixtures.clock import on_test_clock

MANIFEST = {
    "case": "深龙公刑〔2026〕123号",
    "documents": [{"sha256": "ab" * 32, "pages": 12, "size": 123456, "title": "起诉意见书"}],
    "persons": [{"name": "张三", "custody": "detained"}],
    "version": 1,
}


def test_canonical_json_is_stable_compact_and_sorted_by_utf16():
    a = canonical_json({"b": [1, 2.5, None, True], "a": "中文\n\"", "\u00e9": 0, "\U0001f600": 1, "\ufb01": 2})
    assert a == (
        '{"a":"中文\\n\\"","b":[1,2.5,null,true],"é":0,"\U0001f600":1,"\ufb01":2}'.encode()
    )
    assert canonical_json({"x": 1, "y": 2}) == canonical_json({"y": 2, "x": 1})


@pytest.mark.parametrize(
    "number, text",
    [(100.0, "100"), (1e21, "1e+21"), (1e20, "100000000000000000000"), (0.000001, "0.000001"),
     (1e-7, "1e-7"), (-1.5, "-1.5"), (0.1, "0.1"), (123456789.125, "123456789.125"), (-0.0, "0"),
     (5e-324, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308")],
)
def test_canonical_json_numbers_follow_ecmascript(number, text):
    assert canonical_json(number) == text.encode()


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), {1: "x"}, {"d": datetime.now(UTC)}, 2**60, "\ud800"])
def test_canonical_json_refuses_values_that_do_not_round_trip(bad):
    with pytest.raises((TypeError, ValueError)):
        canonical_json(bad)


def test_a_manifest_signed_by_an_agency_verifies_and_names_the_agency(test_pki):
    data = canonical_json(MANIFEST)
    who = verify_detached(data, sign_detached(data, test_pki.police), test_pki.trust)
    assert who.name == "深圳市公安局龙岗分局"
    assert who.agency_code == "GA440307"
    assert who.serial == format(test_pki.police.certificate.serial_number, "x")
    assert abs(who.signing_time - datetime.now(UTC)) < timedelta(minutes=1)
    assert who.time_source == "claimed"


def test_any_change_of_the_json_breaks_the_signature(test_pki):
    data = canonical_json(MANIFEST)
    signature = sign_detached(data, test_pki.police)
    changed = canonical_json({**MANIFEST, "version": 2})
    with pytest.raises(SignatureInvalid, match="changed after signing"):
        verify_detached(changed, signature, test_pki.trust)
    flipped = bytearray(data)
    flipped[10] ^= 1
    with pytest.raises(SignatureInvalid):
        verify_detached(bytes(flipped), signature, test_pki.trust)


def test_a_tampered_signature_value_is_rejected(test_pki):
    data = canonical_json(MANIFEST)
    signature = bytearray(sign_detached(data, test_pki.police))
    signature[-5] ^= 0x01  # inside the ECDSA signature value at the end of the SignerInfo
    with pytest.raises(SignatureInvalid):
        verify_detached(data, bytes(signature), test_pki.trust)


@pytest.mark.parametrize("cut", [0, 1, 20, 200, 700, -1])
def test_a_truncated_cms_blob_is_a_clear_error(test_pki, cut):
    data = canonical_json(MANIFEST)
    signature = sign_detached(data, test_pki.police)
    with pytest.raises(SignatureInvalid, match="empty|truncated or corrupt"):
        verify_detached(data, signature[:cut], test_pki.trust)


def test_garbage_instead_of_cms_is_a_clear_error(test_pki):
    with pytest.raises(SignatureInvalid, match="not a readable CMS"):
        verify_detached(b"{}", b"%PDF-1.7 this is not CMS", test_pki.trust)


def test_a_signer_from_an_unknown_ca_is_untrusted(test_pki, stranger_pki):
    data = canonical_json(MANIFEST)
    with pytest.raises(UntrustedSigner, match="does not chain to a trusted root"):
        verify_detached(data, sign_detached(data, stranger_pki.police), test_pki.trust)


def _sign_ignoring_validity(data: bytes, signer: Signer) -> bytes:
    # cryptography does not look at validity dates: this is how a forger would sign with an old key.
    return (
        pkcs7.PKCS7SignatureBuilder().set_data(data)
        .add_signer(signer.certificate, signer.private_key, hashes.SHA256())
        .sign(Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary])
    )


def test_an_expired_certificate_cannot_sign_and_its_later_signatures_fail(test_pki):
    expired = test_pki.signer("过期的公安局", "GA000001", valid_days=1, now=datetime.now(UTC) - timedelta(days=3))
    data = canonical_json(MANIFEST)
    with pytest.raises(CertificateExpired, match="expired"):
        sign_detached(data, expired)
    with pytest.raises(CertificateExpired, match="not at the signing time"):
        verify_detached(data, _sign_ignoring_validity(data, expired), test_pki.trust)


def test_a_signature_made_while_valid_still_verifies_after_expiry(test_pki):
    """A record time (e.g. when the platform received the package) within validity keeps it valid."""
    expired = test_pki.signer("过期的公安局", "GA000001", valid_days=1, now=datetime.now(UTC) - timedelta(days=3))
    data = canonical_json(MANIFEST)
    signature = _sign_ignoring_validity(data, expired)
    received = datetime.now(UTC) - timedelta(days=2, hours=12)
    who = verify_detached(data, signature, test_pki.trust, trusted_time=received)
    assert who.time_source == "record" and who.signing_time == received


def _trust_with_revocation(test_pki, signer: Signer, when: datetime, reason: str) -> TrustStore:
    crl = pki.build_crl(
        test_pki.root_key, test_pki.root, [pki.RevokedEntry(signer.certificate.serial_number, when, reason)]
    )
    return TrustStore(roots=[test_pki.root], crls=[crl])


def test_revocation_fails_later_signatures_and_keeps_earlier_ones(test_pki):
    signer = test_pki.signer("将被吊销的公安局", "GA000002")
    data = canonical_json(MANIFEST)
    signature = sign_detached(data, signer)
    # Revoked (superseded) an hour from now: the signature predates it and passes, with a note.
    later = _trust_with_revocation(test_pki, signer, datetime.now(UTC) + timedelta(hours=1), "superseded")
    who = verify_detached(data, signature, later)
    assert any("revoked" in n and "after this signature" in n for n in who.notes)
    # Revoked a minute ago: the signature was made after that and fails.
    earlier = _trust_with_revocation(test_pki, signer, datetime.now(UTC) - timedelta(minutes=1), "superseded")
    with pytest.raises(RevokedSigner, match="signature was made later"):
        verify_detached(data, signature, earlier)


def test_key_compromise_rejects_a_claimed_time_but_accepts_a_recorded_one(test_pki):
    signer = test_pki.signer("密钥泄露的公安局", "GA000003")
    data = canonical_json(MANIFEST)
    signature = sign_detached(data, signer)
    trust = _trust_with_revocation(test_pki, signer, datetime.now(UTC) + timedelta(hours=1), "keyCompromise")
    with pytest.raises(RevokedSigner, match="compromised"):
        verify_detached(data, signature, trust)
    assert verify_detached(data, signature, trust, trusted_time=datetime.now(UTC)).time_source == "record"


def test_signing_with_a_key_that_is_not_the_certificates_is_refused(test_pki):
    with pytest.raises(Exception, match="does not belong"):
        Signer(keys.generate_private_key(), test_pki.police.certificate, [test_pki.root])


# --- the independent check: OpenSSL ------------------------------------------------------------


def _openssl_verify(tmp_path, data: bytes, signature: bytes, trust_pem: bytes) -> subprocess.CompletedProcess:
    (tmp_path / "manifest.json").write_bytes(data)
    (tmp_path / "manifest.p7s").write_bytes(signature)
    (tmp_path / "trust.pem").write_bytes(trust_pem)
    return subprocess.run(on_test_clock(
        ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(tmp_path / "manifest.p7s"),
         "-content", str(tmp_path / "manifest.json"), "-CAfile", str(tmp_path / "trust.pem"), "-out", "/dev/null"]),
        capture_output=True, text=True, timeout=30,
    )


@pytest.mark.needs_openssl
def test_openssl_verifies_our_manifest_signature_and_rejects_tampering(tmp_path, test_pki):
    data = canonical_json(MANIFEST)
    signature = sign_detached(data, test_pki.procuratorate)
    ok = _openssl_verify(tmp_path, data, signature, test_pki.trust.pem())
    assert ok.returncode == 0, ok.stderr
    assert "Verification successful" in ok.stderr
    tampered = _openssl_verify(tmp_path, data.replace(b'"pages":12', b'"pages":13'), signature, test_pki.trust.pem())
    assert tampered.returncode != 0
    assert "digest failure" in tampered.stderr.lower() or "verification failure" in tampered.stderr.lower()


@pytest.mark.needs_openssl
def test_openssl_rejects_a_signer_from_an_untrusted_root(tmp_path, test_pki, stranger_pki):
    data = canonical_json(MANIFEST)
    result = _openssl_verify(tmp_path, data, sign_detached(data, stranger_pki.police), test_pki.trust.pem())
    assert result.returncode != 0
    assert "certificate verify error" in result.stderr.lower() or "verification failure" in result.stderr.lower()


# --- CAdES-BES (THREAT_MODEL F18.20) ------------------------------------------------------------


def _signed_attrs(signature: bytes) -> dict:
    from asn1crypto import cms

    signer_info = cms.ContentInfo.load(signature)["content"]["signer_infos"][0]
    return {attr["type"].native: attr["values"][0] for attr in signer_info["signed_attrs"]}


@pytest.mark.needs_openssl
def test_a_manifest_signature_is_cades_bes_bound_to_the_signer_certificate(tmp_path, test_pki):
    """signingCertificateV2 names the signer's certificate by its SHA-256; openssl sees it too."""
    import hashlib

    signature = sign_detached(canonical_json(MANIFEST), test_pki.police)
    attrs = _signed_attrs(signature)
    assert {"content_type", "signing_time", "message_digest", "signing_certificate_v2"} <= set(attrs)
    (cert_id,) = attrs["signing_certificate_v2"]["certs"]
    assert cert_id["cert_hash"].native == hashlib.sha256(test_pki.police.certificate.public_bytes(Encoding.DER)).digest()
    (tmp_path / "m.p7s").write_bytes(signature)
    printed = subprocess.run(["openssl", "cms", "-cmsout", "-print", "-inform", "DER", "-in", str(tmp_path / "m.p7s")],
                             capture_output=True, text=True, check=True).stdout
    assert "signingCertificateV2" in printed


def test_a_certificate_swapped_for_another_one_of_the_same_key_is_refused(test_pki):
    """Without signingCertificateV2 a second certificate issued for the same key (another name, a
    later validity) could be put in place of the signer's and the signature would still verify."""
    from asn1crypto import cms
    from asn1crypto import x509 as asn1_x509

    police = test_pki.police
    twin = pki.issue_agency_certificate(test_pki.root_key, test_pki.root, agency_name="冒名公安局",
                                        agency_code="GA999999", public_key=police.certificate.public_key())
    data = canonical_json(MANIFEST)
    info = cms.ContentInfo.load(sign_detached(data, police))
    signed = info["content"]
    twin_asn1 = asn1_x509.Certificate.load(twin.public_bytes(Encoding.DER))
    signed["certificates"] = [cms.CertificateChoices({"certificate": twin_asn1}),
                              *list(signed["certificates"])[1:]]
    signed["signer_infos"][0]["sid"] = cms.SignerIdentifier({"issuer_and_serial_number": {
        "issuer": twin_asn1.issuer, "serial_number": twin_asn1.serial_number}})
    with pytest.raises(SignatureInvalid, match="(?i)signing certificate"):
        verify_detached(data, info.dump(force=True), test_pki.trust)
