"""PAdES: our signatures on PDFs, checked by our verifier and independently by poppler's pdfsig."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta
from io import BytesIO

import pikepdf
import pypdf
import pytest

from signing import BadPdf, Signer, SigningError, TrustStore, pki
from signing.pades import sign_pdf, verify_pdf
from tests.signing.conftest import make_pdf
from tests.signing.pdfsig import pdfsig_verify
from tests.signing.tsa import make_tsa, running_tsa

AGENCY = "深圳市龙岗区人民检察院"


@pytest.fixture(scope="module")
def signed(test_pki, plain_pdf) -> bytes:
    return sign_pdf(plain_pdf, test_pki.procuratorate, reason="审查起诉", location="深圳", stamp_text=AGENCY)


def _change_visible_text(pdf: bytes) -> bytes:
    # Same length, so offsets stay right: only the signed content differs.
    assert b"casehub test page 3" in pdf
    return pdf.replace(b"casehub test page 3", b"casehub test page 8", 1)


def test_a_signed_pdf_verifies_and_says_who_signed_when(signed, test_pki):
    result = verify_pdf(signed, test_pki.trust, expected_sha256=hashlib.sha256(signed).hexdigest())
    assert result.valid and result.problems == []
    (sig,) = result.signatures
    assert (sig.signer_name, sig.agency_code) == (AGENCY, "JC440307")
    assert sig.intact and sig.trusted and not sig.revoked and not sig.modified_after_signing
    assert sig.covers_whole_file and sig.time_source == "claimed"
    assert abs(sig.signing_time - datetime.now(UTC)) < timedelta(minutes=5)


def test_signing_is_an_incremental_update_with_a_visible_stamp_on_the_last_page(signed, plain_pdf):
    assert signed.startswith(plain_pdf)  # the original revision is untouched
    reader = pypdf.PdfReader(BytesIO(signed))
    widgets = [a.get_object() for a in reader.pages[-1].get("/Annots", [])]
    (stamp,) = [w for w in widgets if w.get("/FT") == "/Sig"]
    llx, lly, urx, ury = (float(v) for v in stamp["/Rect"])
    assert urx - llx > 100 and ury - lly > 30  # visible, not a zero-size field
    assert "/N" in stamp["/AP"]
    assert not any(a.get_object().get("/FT") == "/Sig" for a in reader.pages[0].get("/Annots", []))


@pytest.mark.needs_poppler
def test_pdfsig_trusts_our_signature_when_our_root_is_trusted(signed, test_pki):
    ok, output = pdfsig_verify(signed, test_pki.trust.pem())
    assert ok, output
    assert AGENCY in output


@pytest.mark.needs_poppler
def test_pdfsig_does_not_trust_it_without_our_root(signed, stranger_pki):
    ok, output = pdfsig_verify(signed, stranger_pki.trust.pem())
    assert not ok
    assert "Signature is Valid." in output  # the bytes are fine, the signer is not trusted


@pytest.mark.needs_poppler
def test_a_changed_byte_of_signed_content_fails_pdfsig_and_our_verifier(signed, test_pki):
    tampered = _change_visible_text(signed)
    ok, output = pdfsig_verify(tampered, test_pki.trust.pem())
    assert not ok
    assert "Signature Validation: Digest Mismatch." in output or "Signature is Invalid" in output
    result = verify_pdf(tampered, test_pki.trust)
    assert not result.valid
    assert not result.signatures[0].intact
    assert "changed after signing" in " ".join(result.signatures[0].problems)


@pytest.mark.needs_poppler
def test_a_second_signature_keeps_the_first_one_valid(signed, test_pki):
    twice = sign_pdf(signed, test_pki.police, stamp_text="深圳市公安局龙岗分局")
    assert twice.startswith(signed)
    result = verify_pdf(twice, test_pki.trust)
    assert result.valid, result
    first, second = result.signatures
    assert (first.agency_code, second.agency_code) == ("JC440307", "GA440307")
    assert not first.covers_whole_file and not first.modified_after_signing
    assert first.field_name != second.field_name
    ok, output = pdfsig_verify(twice, test_pki.trust.pem())
    assert ok, output


def test_the_stored_hash_catches_an_update_a_signature_check_alone_accepts(signed, test_pki):
    """DESIGN §5: pyHanko accepts some metadata-only updates; the stored SHA-256 does not."""
    from pyhanko.pdf_utils.generic import DictionaryObject, NameObject, pdf_string
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(BytesIO(signed))
    writer.set_info(writer.add_object(DictionaryObject({NameObject("/Title"): pdf_string("篡改后的标题")})))
    out = BytesIO()
    writer.write(out)
    updated = out.getvalue()
    assert updated.startswith(signed) and len(updated) > len(signed)
    stored = hashlib.sha256(signed).hexdigest()
    without_hash = verify_pdf(updated, test_pki.trust)
    with_hash = verify_pdf(updated, test_pki.trust, expected_sha256=stored)
    assert not with_hash.valid
    assert "differs from the stored original" in with_hash.problems[0]
    # Whatever pyHanko thinks of the update, the signature itself is still intact.
    assert without_hash.signatures[0].intact


def test_an_unsigned_pdf_is_reported_not_valid(plain_pdf, test_pki):
    result = verify_pdf(plain_pdf, test_pki.trust)
    assert not result.valid and result.signatures == []
    assert result.problems == ["the document carries no signature"]


def test_a_signer_from_an_unknown_ca_is_reported_untrusted(plain_pdf, test_pki, stranger_pki):
    result = verify_pdf(sign_pdf(plain_pdf, stranger_pki.police), test_pki.trust)
    (sig,) = result.signatures
    assert not result.valid and sig.intact and not sig.trusted
    assert "does not chain to a trusted root" in sig.problems[0]


def test_a_signature_after_revocation_is_reported_revoked(plain_pdf, test_pki):
    signer = test_pki.signer("已吊销的法院", "FY000001")
    signed_pdf = sign_pdf(plain_pdf, signer)
    crl = pki.build_crl(
        test_pki.root_key, test_pki.root,
        [pki.RevokedEntry(signer.certificate.serial_number, datetime.now(UTC) - timedelta(hours=1), "affiliationChanged")],
    )
    result = verify_pdf(signed_pdf, TrustStore(roots=[test_pki.root], crls=[crl]))
    (sig,) = result.signatures
    assert sig.revoked and not sig.valid and sig.intact
    assert "revoked" in sig.problems[0]


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "not a PDF"),
        (b"PK\x03\x04 a zip file, not a pdf", "not a PDF"),
        (b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog", "cannot be read"),
    ],
)
def test_bad_input_is_a_clear_error_for_signing_and_verifying(data, message, test_pki):
    with pytest.raises(BadPdf, match=message):
        sign_pdf(data, test_pki.police)
    with pytest.raises(BadPdf, match=message):
        verify_pdf(data, test_pki.trust)


def test_an_encrypted_pdf_is_refused(plain_pdf, test_pki):
    out = BytesIO()
    with pikepdf.open(BytesIO(plain_pdf)) as pdf:
        pdf.save(out, encryption=pikepdf.Encryption(owner="owner-secret", user=""))
    with pytest.raises(BadPdf, match="encrypted"):
        sign_pdf(out.getvalue(), test_pki.police)
    with pytest.raises(BadPdf, match="encrypted"):
        verify_pdf(out.getvalue(), test_pki.trust)


def test_an_expired_certificate_cannot_sign_a_pdf(plain_pdf, test_pki):
    expired = test_pki.signer("过期的法院", "FY000002", valid_days=1, now=datetime.now(UTC) - timedelta(days=3))
    with pytest.raises(SigningError, match="expired"):
        sign_pdf(plain_pdf, expired)


def test_a_truncated_signed_pdf_is_not_reported_valid(signed, test_pki):
    try:
        result = verify_pdf(signed[: len(signed) - 200], test_pki.trust)
    except BadPdf:
        return  # also acceptable: it cannot be read at all
    assert not result.valid


# --- PAdES B-T ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tsa():
    root, key, cert = make_tsa()
    with running_tsa(key, cert) as url:
        yield root, url


@pytest.mark.needs_poppler
def test_with_a_tsa_the_signature_carries_a_trusted_timestamp(plain_pdf, test_pki, tsa):
    tsa_root, url = tsa
    signed_pdf = sign_pdf(make_pdf(2), test_pki.police, tsa_url=url, stamp_text="深圳市公安局龙岗分局")
    trust = TrustStore(roots=[test_pki.root], tsa_roots=[tsa_root])
    (sig,) = verify_pdf(signed_pdf, trust).signatures
    assert sig.valid and sig.timestamped and sig.time_source == "timestamp"
    # A TSA we do not trust proves nothing: the claimed time is used instead, with a note.
    (untrusted,) = verify_pdf(signed_pdf, test_pki.trust).signatures
    assert untrusted.valid and untrusted.time_source == "claimed"
    assert any("timestamp ignored" in n for n in untrusted.notes)
    ok, output = pdfsig_verify(signed_pdf, test_pki.trust.pem())
    assert ok, output


def _validate_lt_with_revocation_required(pdf: bytes, roots) -> object:
    """pyHanko's validator as ``pyhanko sign validate --force-revinfo`` runs it, offline: every
    certificate of the signature and of its timestamp must have revocation data
    (``revocation_mode="require"``), and the only source is the document security store."""
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives.serialization import Encoding
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    reader = PdfFileReader(BytesIO(pdf))
    (embedded,) = reader.embedded_signatures
    context = DocumentSecurityStore.read_dss(reader).as_validation_context({
        "trust_roots": [asn1_x509.Certificate.load(r.public_bytes(Encoding.DER)) for r in roots],
        "allow_fetching": False,
        "revocation_mode": "require",
    })
    return validate_pdf_signature(embedded, signer_validation_context=context, ts_validation_context=context)


@pytest.mark.needs_poppler
def test_with_a_tsa_and_the_trust_store_the_signature_is_pades_b_lt(test_pki):
    """F18.20: the DSS carries the CRLs and certificates of the signer and of the TSA, so a
    validator that demands revocation data accepts the signature offline."""
    from tests.signing.tsa import make_tsa_with_crl

    tsa_root, tsa_key, tsa_cert, tsa_crl = make_tsa_with_crl()
    trust = TrustStore(roots=[test_pki.root], crls=[pki.build_crl(test_pki.root_key, test_pki.root, []), tsa_crl],
                       tsa_roots=[tsa_root])
    signer = Signer(test_pki.police.private_key, test_pki.police.certificate, [test_pki.root],
                    validation=lambda: trust)
    with running_tsa(tsa_key, tsa_cert) as url:
        signed_pdf = sign_pdf(make_pdf(2), signer, tsa_url=url, stamp_text="深圳市公安局龙岗分局")
    status = _validate_lt_with_revocation_required(signed_pdf, [test_pki.root, tsa_root])
    assert status.bottom_line, status.pretty_print_details()
    assert b"/DSS" in signed_pdf and b"/CRLs" in signed_pdf
    (sig,) = verify_pdf(signed_pdf, trust).signatures
    assert sig.valid and sig.timestamped
    assert not sig.covers_whole_file and any("lta updates" in n for n in sig.notes)
    ok, output = pdfsig_verify(signed_pdf, trust.pem())
    assert ok, output


def test_an_unreachable_tsa_is_a_signing_error_not_a_crash(plain_pdf, test_pki):
    with pytest.raises(SigningError, match="time-stamping authority"):
        sign_pdf(plain_pdf, test_pki.police, tsa_url="http://127.0.0.1:9/tsa")


def test_a_page_rewritten_in_a_later_update_is_reported_as_modified(signed, test_pki):
    from pyhanko.pdf_utils.generic import NameObject, StreamObject
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(BytesIO(signed))
    page_ref = writer.find_page_for_modification(2)[0]
    forged = writer.add_object(StreamObject(stream_data=b"BT /F1 24 Tf 72 700 Td (FORGED) Tj ET"))
    page_ref.get_object()[NameObject("/Contents")] = forged
    writer.mark_update(page_ref)
    out = BytesIO()
    writer.write(out)
    result = verify_pdf(out.getvalue(), test_pki.trust)
    (sig,) = result.signatures
    assert sig.intact  # the signed revision itself is untouched ...
    assert sig.modified_after_signing and not sig.valid and not result.valid  # ... but the document is not
    assert "modified after this signature" in sig.problems[0]


def test_a_recorded_time_decides_revocation_for_a_pdf(plain_pdf, test_pki):
    signer = test_pki.signer("后来被吊销的法院", "FY000003")
    signed_pdf = sign_pdf(plain_pdf, signer)
    stored_at = datetime.now(UTC)
    crl = pki.build_crl(
        test_pki.root_key, test_pki.root,
        [pki.RevokedEntry(signer.certificate.serial_number, stored_at + timedelta(minutes=10), "keyCompromise")],
    )
    trust = TrustStore(roots=[test_pki.root], crls=[crl])
    # Key compromise: the claimed time proves nothing ...
    assert verify_pdf(signed_pdf, trust).signatures[0].revoked
    # ... but the platform stored the file before the revocation, so it stands.
    (sig,) = verify_pdf(signed_pdf, trust, trusted_time=stored_at).signatures
    assert sig.valid and sig.time_source == "record"


def test_a_stamp_font_subset_is_built_once_and_found_again_by_the_next_process(tmp_path, monkeypatch):
    """The subset lives on disk: a new process (here: a cleared in-process cache) reuses the file
    instead of subsetting the CJK font again; another stamp text gets its own file."""
    from fontTools import subset

    from signing import pades

    font = pades.default_stamp_font()
    assert font is not None
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    pades._subset_font.cache_clear()
    first = pades._subset_font(font, "人民检察院")
    assert first.startswith(str(tmp_path)) and os.path.getsize(first) > 0

    pades._subset_font.cache_clear()

    def no_subsetting(*args, **kwargs):
        raise AssertionError("the cached subset should have been reused")

    monkeypatch.setattr(subset, "Subsetter", no_subsetting)
    assert pades._subset_font(font, "人民检察院") == first
    with pytest.raises(AssertionError, match="reused"):
        pades._subset_font(font, "人民法院")
    assert not [p for p in os.listdir(os.path.dirname(first)) if p.endswith(".tmp")]
    pades._subset_font.cache_clear()


def test_later_signatures_carry_the_signed_attributes_pyhanko_itself_would_encode(test_pki):
    # The signer keeps the encoding of its first PAdES signed attributes and substitutes each later
    # signature's digest into it: the result must be byte for byte pyHanko's own.
    import asyncio

    from pyhanko.sign.signers import SimpleSigner
    from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes

    ours = test_pki.procuratorate.pyhanko_signer()
    stock = SimpleSigner(signing_cert=ours.signing_cert, signing_key=ours.signing_key,
                         cert_registry=ours.cert_registry)
    for n in range(3):
        digest = hashlib.sha256(f"document {n}".encode()).digest()
        mine = asyncio.run(ours.signed_attrs(digest, "sha256", PdfCMSSignedAttributes(), use_pades=True))
        theirs = asyncio.run(stock.signed_attrs(digest, "sha256", PdfCMSSignedAttributes(), use_pades=True))
        assert mine.dump() == theirs.dump()
        assert mine.native == theirs.native
