"""What a user reads when a signature fails: one Chinese sentence per cause."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from casehub.pki.messages import describe_error, describe_pdf
from signing import BadPdf, RevokedSigner, SignatureInvalid, TrustStore, UntrustedSigner, pki
from signing.cms import canonical_json, sign_detached, verify_detached
from signing.pades import sign_pdf, verify_pdf


@pytest.fixture(autouse=True)
def _chinese(settings):
    settings.LANGUAGE_CODE = "zh-hans"


def _error(fn) -> Exception:
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the error under test, whatever its class
        return exc
    raise AssertionError("expected an error")


def test_each_failure_has_its_own_sentence(test_pki, stranger_pki, plain_pdf):
    data = canonical_json({"a": 1})
    signature = sign_detached(data, test_pki.police)
    tampered = _error(lambda: verify_detached(data + b" ", signature, test_pki.trust))
    unknown = _error(lambda: verify_detached(data, sign_detached(data, stranger_pki.police), test_pki.trust))
    not_pdf = _error(lambda: verify_pdf(b"hello", test_pki.trust))
    assert isinstance(tampered, SignatureInvalid) and "签名后被修改" in describe_error(tampered)
    assert isinstance(unknown, UntrustedSigner) and "信任" in describe_error(unknown)
    assert isinstance(not_pdf, BadPdf) and describe_error(not_pdf) == "文件不是 PDF 文档。"
    signer = test_pki.signer("泄露", "X1")
    crl = pki.build_crl(test_pki.root_key, test_pki.root,
                        [pki.RevokedEntry(signer.certificate.serial_number, datetime.now(UTC) + timedelta(hours=1),
                                          "keyCompromise")])
    compromised = _error(lambda: verify_detached(data, sign_detached(data, signer),
                                                 TrustStore(roots=[test_pki.root], crls=[crl])))
    assert isinstance(compromised, RevokedSigner) and "私钥泄露" in describe_error(compromised)


def test_a_pdf_report_names_the_signer_and_the_cause(test_pki, plain_pdf):
    signed = sign_pdf(plain_pdf, test_pki.police)
    assert describe_pdf(verify_pdf(signed, test_pki.trust, expected_sha256=hashlib.sha256(signed).hexdigest())) == []
    broken = signed.replace(b"casehub test page 3", b"casehub test page 9", 1)
    reasons = describe_pdf(verify_pdf(broken, test_pki.trust, expected_sha256=hashlib.sha256(signed).hexdigest()))
    assert reasons[0].startswith("文件与平台保存的原件不一致")
    assert "第 1 个签名（深圳市公安局龙岗分局）" in reasons[1]
    assert describe_pdf(verify_pdf(plain_pdf, test_pki.trust)) == ["文档没有电子签名。"]


def test_bytes_appended_after_the_signature_are_named_on_the_verify_page(test_pki, plain_pdf):
    """THREAT_MODEL F18.21: what the CLI reports, the web checker says in words too."""
    signed = sign_pdf(plain_pdf, test_pki.police) + b"\n% appended after signing\n"
    result = verify_pdf(signed, test_pki.trust)
    assert not result.valid and result.trailing_bytes == len(b"% appended after signing")
    assert any("不属于任何修订版本" in reason for reason in describe_pdf(result))
