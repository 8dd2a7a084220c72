"""Keys at rest and the trust decisions underneath every verification."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from signing import KeyDecryptionError, SigningError, TrustStore, UntrustedSigner, keys, pki

KEK = os.urandom(32)


@pytest.mark.parametrize("algorithm", ["ecdsa-p256", "ecdsa-p384"])
def test_a_key_survives_encryption_only_with_its_kek_and_its_owner(algorithm):
    key = keys.generate_private_key(algorithm)
    blob = keys.encrypt_private_key(key, KEK, aad=b"row-1")
    assert keys.decrypt_private_key(blob, KEK, aad=b"row-1").private_numbers() == key.private_numbers()
    assert blob != keys.encrypt_private_key(key, KEK, aad=b"row-1")  # fresh nonce every time
    with pytest.raises(KeyDecryptionError, match="could not be decrypted"):
        keys.decrypt_private_key(blob, os.urandom(32), aad=b"row-1")
    with pytest.raises(KeyDecryptionError, match="could not be decrypted"):
        keys.decrypt_private_key(blob, KEK, aad=b"row-2")
    flipped = bytearray(blob)
    flipped[-20] ^= 0x40
    with pytest.raises(KeyDecryptionError):
        keys.decrypt_private_key(bytes(flipped), KEK, aad=b"row-1")
    with pytest.raises(KeyDecryptionError, match="unknown format or truncated"):
        keys.decrypt_private_key(blob[:20], KEK, aad=b"row-1")


def test_bad_kek_and_unknown_algorithms_are_clear_errors():
    with pytest.raises(SigningError, match="32 bytes"):
        keys.encrypt_private_key(keys.generate_private_key(), b"too short", aad=b"")
    with pytest.raises(SigningError, match="unknown key algorithm 'sm2'"):
        keys.generate_private_key("sm2")


def _ca(name: str, issuer_key, issuer_name, key, *, path_length, now):
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(issuer_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )


def test_paths_through_intermediates_respect_path_length():
    now = datetime.now(UTC)
    root_key, inter_key, leaf_key = (keys.generate_private_key() for _ in range(3))
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "根")])
    root = _ca("根", root_key, root_name, root_key, path_length=1, now=now)
    inter = _ca("中间", root_key, root_name, inter_key, path_length=0, now=now)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "某机关")]))
        .issuer_name(inter.subject).public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=30))
        .sign(inter_key, hashes.SHA256())
    )
    # The intermediate may come from the store or from the signature itself.
    assert TrustStore(roots=[root], intermediates=[inter]).build_path(leaf) == [leaf, inter, root]
    assert TrustStore(roots=[root]).build_path(leaf, [inter]) == [leaf, inter, root]
    with pytest.raises(UntrustedSigner):
        TrustStore(roots=[root]).build_path(leaf)
    # Our own root has pathlen 0: it cannot be the anchor of a chain with an intermediate.
    own_key, own_root = pki.create_root_ca("平台根")
    rogue_inter = _ca("冒充的中间CA", own_key, own_root.subject, inter_key, path_length=None, now=now)
    rogue_leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "冒充")]))
        .issuer_name(rogue_inter.subject).public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=30))
        .sign(inter_key, hashes.SHA256())
    )
    with pytest.raises(UntrustedSigner):
        TrustStore(roots=[own_root]).build_path(rogue_leaf, [rogue_inter])


def test_same_name_different_key_is_not_the_issuer():
    _key, root = pki.create_root_ca("同名根证书")
    other_key, other_root = pki.create_root_ca("同名根证书")
    assert root.subject == other_root.subject
    leaf_key = keys.generate_private_key()
    leaf = pki.issue_agency_certificate(other_key, other_root, agency_name="机关", agency_code="A1",
                                        public_key=leaf_key.public_key())
    with pytest.raises(UntrustedSigner, match="does not chain"):
        TrustStore(roots=[root]).build_path(leaf)


def test_a_crl_under_our_roots_name_but_not_its_key_revokes_nothing():
    root_key, root = pki.create_root_ca("同名根证书")
    forger_key, forger_root = pki.create_root_ca("同名根证书")
    key = keys.generate_private_key()
    cert = pki.issue_agency_certificate(root_key, root, agency_name="机关", agency_code="A1", public_key=key.public_key())
    forged = pki.build_crl(forger_key, forger_root,
                           [pki.RevokedEntry(cert.serial_number, datetime.now(UTC) - timedelta(days=1), "keyCompromise")])
    assert forged.issuer == root.subject
    result = TrustStore(roots=[root], crls=[forged]).validate(cert, at=datetime.now(UTC), time_is_trusted=False)
    assert result.revocation is None


def test_a_certificate_that_may_not_sign_is_refused():
    root_key, root = pki.create_root_ca("根")
    key = keys.generate_private_key()
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "只能加密")]))
        .issuer_name(root.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=30))
        .add_extension(x509.KeyUsage(False, False, True, False, False, False, False, False, False), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    with pytest.raises(UntrustedSigner, match="not allowed to sign"):
        TrustStore(roots=[root]).validate(cert, at=now, time_is_trusted=False)


def test_an_end_entity_certificate_cannot_be_a_trust_anchor(test_pki):
    with pytest.raises(SigningError, match="not a CA certificate"):
        TrustStore(roots=[test_pki.police.certificate])


def test_agency_names_longer_than_x520_allows_are_shortened_not_refused():
    root_key, root = pki.create_root_ca("根")
    long_name = "广东省深圳市龙岗区人民检察院第一检察部未成年人检察办公室"
    cert = pki.issue_agency_certificate(root_key, root, agency_name=long_name, agency_code="JC1",
                                        public_key=keys.generate_private_key().public_key())
    assert long_name.startswith(pki.display_name(cert)) and len(pki.display_name(cert).encode()) <= 64
    with pytest.raises(SigningError, match="cannot go into a certificate"):
        pki.issue_agency_certificate(root_key, root, agency_name="x", agency_code="检察院",
                                     public_key=keys.generate_private_key().public_key())
