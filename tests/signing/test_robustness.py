"""Damaged input never escapes as anything but BadPdf / SignatureInvalid (no stack trace to a user)."""

from __future__ import annotations

import random

import pytest

from signing import BadPdf, SigningError
from signing.cms import canonical_json, sign_detached, verify_detached
from signing.pades import sign_pdf, verify_pdf


def _mutations(data: bytes, count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        buf = bytearray(data)
        kind = rng.choice(["flip", "cut", "splice", "zero"])
        pos = rng.randrange(len(buf))
        if kind == "flip":
            for _ in range(rng.randint(1, 8)):
                buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
        elif kind == "cut":
            del buf[pos:]
        elif kind == "splice":
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        else:
            buf[pos : pos + 256] = bytes(min(256, len(buf) - pos))
        out.append(bytes(buf))
    return out


@pytest.fixture(scope="module")
def signed(test_pki, plain_pdf) -> bytes:
    return sign_pdf(plain_pdf, test_pki.police, stamp_text="深圳市公安局龙岗分局")


def test_damaged_signed_pdfs_give_a_finding_or_bad_pdf(signed, test_pki):
    for damaged in _mutations(signed, 60, seed=4):
        try:
            result = verify_pdf(damaged, test_pki.trust)
        except BadPdf:
            continue
        if damaged != signed:
            assert all(isinstance(p, str) for s in result.signatures for p in s.problems)


def test_damaged_pdfs_cannot_be_signed_silently(plain_pdf, test_pki):
    """A damaged PDF is either refused as BadPdf, or signed exactly as given: the signature is
    appended to the unchanged bytes and verifies. No other exception, no repaired copy, no
    output that merely looks signed."""
    refused = signed = 0
    for damaged in _mutations(plain_pdf, 30, seed=7):
        try:
            out = sign_pdf(damaged, test_pki.police)
        except BadPdf as exc:
            assert exc.reason == "damaged", exc
            refused += 1
            continue
        assert out.startswith(damaged), "the signed file must keep the given bytes as they were"
        result = verify_pdf(out, test_pki.trust)
        assert result.valid and len(result.signatures) == 1, result.problems
        assert result.signatures[0].agency_code == "GA440307"
        signed += 1
    # Seed 7 damages most copies beyond reading; both outcomes must occur for the test to mean anything.
    assert refused >= 15 and signed >= 3, (refused, signed)


def test_damaged_cms_blobs_are_signature_invalid(test_pki):
    data = canonical_json({"case": 1, "documents": ["a", "b"]})
    signature = sign_detached(data, test_pki.police)
    original = verify_detached(data, signature, test_pki.trust)
    outcomes = {"rejected": 0, "accepted": 0}
    for damaged in _mutations(signature, 200, seed=11):
        try:
            who = verify_detached(data, damaged, test_pki.trust)
        except SigningError:
            outcomes["rejected"] += 1
            continue
        # Only the unsigned certificate set can change harmlessly (e.g. the embedded copy of the
        # root, which is taken from the trust store anyway): the signer must be the same.
        assert (who.serial, who.fingerprint) == (original.serial, original.fingerprint)
        outcomes["accepted"] += 1
    assert outcomes["rejected"] > 150
