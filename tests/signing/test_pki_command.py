"""The operator's view: ``manage.py casehub_pki`` and importing an agency's own certificate."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from django.core.management import CommandError, call_command

from casehub.audit.models import AuditEvent
from casehub.pki import services
from casehub.pki.models import CertificateAuthority, SigningCertificate
from signing import RevokedSigner, keys
from signing.cms import canonical_json, sign_detached, verify_detached
from signing.pades import sign_pdf, verify_pdf
from tests.fixtures.clock import on_test_clock
from tests.signing.conftest import make_pdf
from tests.signing.pdfsig import pdfsig_verify

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_pki_cache():
    services.invalidate_cache()
    yield
    services.invalidate_cache()


def run(*args: str) -> str:
    out = StringIO()
    call_command("casehub_pki", *args, stdout=out)
    return out.getvalue()


def test_init_issue_rotate_revoke_export_as_an_operator_does(district, tmp_path):
    assert "platform root CA created" in run("init")
    with pytest.raises(CommandError, match="already exists"):
        run("init")
    assert "issued" in run("issue", district.court.code)
    with pytest.raises(CommandError, match="already has an active certificate"):
        run("issue", district.court.code)
    first = services.signer_for(district.court)
    data = canonical_json({"receipt": "accepted"})
    old_signature = sign_detached(data, first)

    assert "earlier signatures remain valid" in run("rotate", district.court.code)
    assert services.signer_for(district.court).serial_hex != first.serial_hex
    assert verify_detached(data, old_signature, services.trust_store()).serial == first.serial_hex

    out = run("revoke", district.court.code, "--reason", "keyCompromise", "--note", "U盘遗失")
    assert "revoked" in out and "key_compromise" in out
    with pytest.raises(CommandError, match="unknown revocation reason"):
        run("revoke", district.court.code, "--reason", "because")
    with pytest.raises(CommandError, match="no agency"):
        run("issue", "NOPE")

    bundle = tmp_path / "trust.pem"
    assert "1 CRLs" in run("export-trust", "-o", str(bundle))
    crl = x509.load_pem_x509_crl(bundle.read_bytes()[bundle.read_bytes().index(b"-----BEGIN X509 CRL"):])
    revoked = SigningCertificate.objects.get(status="revoked")
    assert crl.get_revoked_certificate_by_serial_number(int(revoked.serial, 16)) is not None
    status = run("status")
    assert "revoked" in status and "retired" in status and "current" in status
    actions = list(AuditEvent.objects.filter(action__startswith="pki.").values_list("action", flat=True))
    assert actions == ["pki.root_created", "pki.certificate_issued", "pki.certificate_rotated", "pki.certificate_revoked"]


@pytest.mark.needs_openssl
def test_exported_trust_lets_openssl_check_a_manifest_and_rejects_tampering(district, tmp_path):
    data = canonical_json({"case": "深龙公刑〔2026〕1号", "documents": 3})
    (tmp_path / "manifest.json").write_bytes(data)
    (tmp_path / "manifest.p7s").write_bytes(sign_detached(data, services.signer_for(district.police)))
    (tmp_path / "trust.pem").write_bytes(services.export_trust_pem())

    def openssl() -> int:
        return subprocess.run(on_test_clock(
            ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(tmp_path / "manifest.p7s"),
             "-content", str(tmp_path / "manifest.json"), "-CAfile", str(tmp_path / "trust.pem"), "-out", "/dev/null"]),
            capture_output=True, timeout=30,
        ).returncode

    assert openssl() == 0
    (tmp_path / "manifest.json").write_bytes(data.replace(b'"documents":3', b'"documents":4'))
    assert openssl() != 0


@pytest.mark.needs_poppler
def test_root_rotation_keeps_old_signatures_valid_for_us_and_for_pdfsig(district):
    pdf = sign_pdf(make_pdf(1), services.signer_for(district.police), stamp_text=district.police.name)
    services.rotate_root()
    services.rotate_certificate(district.police)
    newer = sign_pdf(pdf, services.signer_for(district.police))
    assert CertificateAuthority.objects.filter(kind="platform_root").count() == 2
    result = verify_pdf(newer, services.trust_store())
    assert result.valid, result
    assert len({s.certificate_serial for s in result.signatures}) == 2
    ok, output = pdfsig_verify(newer, services.export_trust_pem())
    assert ok, output


def test_a_revoked_agency_signature_made_afterwards_fails(district):
    signer = services.signer_for(district.procuratorate)
    services.revoke_certificate(district.procuratorate, reason="affiliationChanged")
    data = canonical_json({"late": True})
    with pytest.raises(RevokedSigner):
        verify_detached(data, sign_detached(data, signer), services.trust_store(),
                        trusted_time=datetime.now(UTC) + timedelta(seconds=2))


# --- importing an agency's own CA-issued credentials ------------------------------------------


def _external_ca():
    root, inter, _inter_key, leaf, leaf_key = _external_ca_with_keys()
    return root, inter, leaf, leaf_key


def _external_ca_with_keys():
    """An agency's own CA: root → intermediate → signing certificate, as a provincial CA would issue."""
    now = datetime.now(UTC)

    def ca(name, key, issuer_name, issuer_key, path_length):
        return (
            x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(issuer_key, hashes.SHA256())
        )

    root_key, inter_key, leaf_key = (keys.generate_private_key() for _ in range(3))
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "广东省数字证书认证中心根证书")])
    inter_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "广东省政法机关签名CA")])
    root = ca(root_name, root_key, root_name, root_key, 1)
    inter = ca(inter_name, inter_key, root_name, root_key, 0)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "深圳市龙岗区人民法院"),
                                 x509.NameAttribute(NameOID.SERIAL_NUMBER, "FY440307")]))
        .issuer_name(inter_name).public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
        .sign(inter_key, hashes.SHA256())
    )
    return root, inter, inter_key, leaf, leaf_key


@pytest.mark.needs_poppler
@pytest.mark.parametrize("form", ["pkcs12", "pem"])
def test_an_imported_certificate_signs_and_its_root_joins_the_trust_store(district, tmp_path, form):
    root, inter, leaf, leaf_key = _external_ca()
    path = tmp_path / f"court.{form}"
    if form == "pkcs12":
        path.write_bytes(pkcs12.serialize_key_and_certificates(
            b"court", leaf_key, leaf, [inter, root], serialization.BestAvailableEncryption(b"s3cret-pass")))
        (tmp_path / "password").write_text("s3cret-pass\n")
        extra = ["--password-file", str(tmp_path / "password")]
    else:
        extra = []
        path.write_bytes(
            leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption())
            + b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (leaf, inter, root))
        )
    assert "is now trusted" in run("import", district.court.code, str(path), *extra)
    sc = SigningCertificate.objects.get(holder=district.court.code, status="active")
    assert sc.source == "imported" and sc.issuer.kind == "imported_intermediate"
    assert CertificateAuthority.objects.get(kind="imported_root").certificate == root
    signer = services.signer_for(district.court)
    assert signer.certificate == leaf and list(signer.chain) == [inter, root]
    pdf = sign_pdf(make_pdf(1), signer, stamp_text="深圳市龙岗区人民法院")
    assert verify_pdf(pdf, services.trust_store()).valid
    ok, output = pdfsig_verify(pdf, services.export_trust_pem())
    assert ok, output


def test_a_bad_import_is_refused_and_changes_nothing(district, tmp_path):
    root, inter, leaf, leaf_key = _external_ca()
    no_root = tmp_path / "no-root.pem"
    no_root.write_bytes(
        leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        + leaf.public_bytes(serialization.Encoding.PEM) + inter.public_bytes(serialization.Encoding.PEM)
    )
    with pytest.raises(CommandError, match="root certificate"):
        run("import", district.court.code, str(no_root))
    wrong_password = tmp_path / "court.p12"
    wrong_password.write_bytes(pkcs12.serialize_key_and_certificates(
        b"court", leaf_key, leaf, [inter, root], serialization.BestAvailableEncryption(b"right")))
    (tmp_path / "password").write_text("wrong\n")
    with pytest.raises(CommandError, match="wrong password"):
        run("import", district.court.code, str(wrong_password), "--password-file", str(tmp_path / "password"))
    garbage = tmp_path / "garbage.p12"
    garbage.write_bytes(b"\x00\x01 not a certificate")
    with pytest.raises(CommandError, match="PKCS#12"):
        run("import", district.court.code, str(garbage))
    assert not CertificateAuthority.objects.exists() and not SigningCertificate.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="pki.").exists()


def test_an_imported_ca_cannot_vouch_for_other_agencies(district, tmp_path):
    """Trusting the court's own CA must not let anyone else that CA certifies pose as an agency."""
    from signing import Signer

    root, inter, inter_key, leaf, leaf_key = _external_ca_with_keys()
    path = tmp_path / "court.pem"
    path.write_bytes(
        leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        + b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (leaf, inter, root))
    )
    run("import", district.court.code, str(path))
    data = canonical_json({"n": 1})
    trust = services.trust_store()
    # The imported certificate speaks for the court it was imported for.
    court = verify_detached(data, sign_detached(data, services.signer_for(district.court)), trust)
    assert court.agency_code == district.court.code
    # Someone else certified by the same provincial CA writes the police's code into its subject.
    impostor_key = keys.generate_private_key()
    now = datetime.now(UTC)
    impostor = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "冒名者"),
                                 x509.NameAttribute(NameOID.SERIAL_NUMBER, district.police.code)]))
        .issuer_name(inter.subject).public_key(impostor_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
        .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
        .sign(inter_key, hashes.SHA256())
    )
    who = verify_detached(data, sign_detached(data, Signer(impostor_key, impostor, [inter, root])), trust)
    assert who.name == "冒名者"  # the chain is valid ...
    assert who.agency_code == ""  # ... but nobody vouches that it is the police
    pdf = verify_pdf(sign_pdf(make_pdf(1), Signer(impostor_key, impostor, [inter, root])), trust)
    assert pdf.signatures[0].trusted and pdf.signatures[0].agency_code == ""


def test_export_trust_to_standard_output(district):
    services.signer_for(district.police)
    out = run("export-trust")
    assert out.startswith("-----BEGIN CERTIFICATE-----") and "-----BEGIN X509 CRL-----" in out


@pytest.mark.needs_openssl
def test_openssl_reads_our_crl_from_the_exported_bundle(district, tmp_path):
    data = canonical_json({"crl": "check"})
    (tmp_path / "m.json").write_bytes(data)
    good = sign_detached(data, services.signer_for(district.police))
    bad = sign_detached(data, services.signer_for(district.court))
    services.revoke_certificate(district.court, reason="cessationOfOperation")
    (tmp_path / "trust.pem").write_bytes(services.export_trust_pem())

    def openssl(signature: bytes) -> subprocess.CompletedProcess:
        (tmp_path / "m.p7s").write_bytes(signature)
        return subprocess.run(on_test_clock(
            ["openssl", "cms", "-verify", "-crl_check", "-binary", "-inform", "DER", "-in", str(tmp_path / "m.p7s"),
             "-content", str(tmp_path / "m.json"), "-CAfile", str(tmp_path / "trust.pem"), "-out", "/dev/null"]),
            capture_output=True, text=True, timeout=30,
        )

    assert openssl(good).returncode == 0
    revoked = openssl(bad)
    # OpenSSL judges revocation at the current time (stricter than our signing-time policy).
    assert revoked.returncode != 0 and "certificate revoked" in revoked.stderr


def test_changing_the_key_encryption_key_and_rewrapping_keeps_every_key(district, settings, tmp_path):
    import base64
    import os

    police = services.signer_for(district.police)
    platform = services.platform_signer()
    old = settings.KEY_ENCRYPTION_KEY
    settings.KEY_ENCRYPTION_KEY = base64.b64encode(os.urandom(32)).decode()
    services.invalidate_cache()
    with pytest.raises(Exception, match="could not be decrypted"):
        services.signer_for(district.police)  # the new key does not open the old blobs yet
    (tmp_path / "old.kek").write_text(old)
    assert "re-encrypted 3 private key(s)" in run("rewrap", "--old-kek-file", str(tmp_path / "old.kek"))
    assert "re-encrypted 0 private key(s)" in run("rewrap", "--old-kek-file", str(tmp_path / "old.kek"))
    services.invalidate_cache()
    assert services.signer_for(district.police).private_key.private_numbers() == police.private_key.private_numbers()
    assert services.platform_signer().fingerprint == platform.fingerprint
    assert AuditEvent.objects.filter(action="pki.keys_rewrapped").count() == 2


def test_verify_command_for_pdfs_and_manifests(district, tmp_path):
    signer = services.signer_for(district.police)
    pdf = sign_pdf(make_pdf(1), signer)
    (tmp_path / "doc.pdf").write_bytes(pdf)
    assert "#1 VALID" in run("verify", str(tmp_path / "doc.pdf"))
    (tmp_path / "bad.pdf").write_bytes(pdf.replace(b"casehub test page 1", b"casehub test page 2", 1))
    with pytest.raises(CommandError, match="does not verify"):
        run("verify", str(tmp_path / "bad.pdf"))
    data = canonical_json({"m": 1})
    (tmp_path / "m.json").write_bytes(data)
    (tmp_path / "m.p7s").write_bytes(sign_detached(data, signer))
    assert f"agency {district.police.code}" in run("verify", str(tmp_path / "m.json"), "--signature", str(tmp_path / "m.p7s"))
    (tmp_path / "m.json").write_bytes(data + b" ")
    with pytest.raises(CommandError, match="changed after signing"):
        run("verify", str(tmp_path / "m.json"), "--signature", str(tmp_path / "m.p7s"))


# --- casehub_pki verify as an outside verifier reads it (THREAT_MODEL F18.21) ------------------


def test_verify_prints_the_signing_time_in_utc_when_the_signer_wrote_local_time(district, tmp_path, monkeypatch):
    """A PDF's /M is the signer's local time (+08:00 in China): 08:30 +08:00 is 00:30 UTC."""
    import re
    from zoneinfo import ZoneInfo

    import tzlocal

    monkeypatch.setattr(tzlocal, "get_localzone", lambda: ZoneInfo("Asia/Shanghai"))
    (tmp_path / "doc.pdf").write_bytes(sign_pdf(make_pdf(1), services.signer_for(district.police)))
    out = run("verify", str(tmp_path / "doc.pdf"))
    printed = re.search(r"at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", out)
    assert printed, out
    at = datetime.strptime(printed.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    assert abs(at - datetime.now(UTC)) < timedelta(minutes=5), out
    assert "signer's clock" in out and "+0800" in out


def test_verify_warns_when_bytes_were_added_after_the_signature(district, tmp_path):
    pdf = sign_pdf(make_pdf(1), services.signer_for(district.police))
    (tmp_path / "appended.pdf").write_bytes(pdf + b"\n% appended after signing\n")
    out = StringIO()
    with pytest.raises(CommandError, match="does not verify"):
        call_command("casehub_pki", "verify", str(tmp_path / "appended.pdf"), stdout=out)
    text = out.getvalue()
    assert "WARNING: this signature covers bytes 0–" in text
    assert "belong to no revision and no signature" in text


def test_verify_calls_a_damaged_signature_an_invalid_signature(district, tmp_path):
    import re

    pdf = bytearray(sign_pdf(make_pdf(1), services.signer_for(district.police)))
    start = re.search(rb"/Contents <([0-9a-fA-F]+)>", bytes(pdf)).start(1)
    pdf[start + 20] = ord("0") if pdf[start + 20] != ord("0") else ord("1")  # inside the CMS header
    (tmp_path / "damaged.pdf").write_bytes(bytes(pdf))
    out = StringIO()
    with pytest.raises(CommandError, match="does not verify"):
        call_command("casehub_pki", "verify", str(tmp_path / "damaged.pdf"), stdout=out)
    assert "#1 INVALID" in out.getvalue()
    assert "invalid signature" in out.getvalue()
    assert "subscriptable" not in out.getvalue()
