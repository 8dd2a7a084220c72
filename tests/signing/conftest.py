"""Fixtures for the signing tests: a throw-away PKI made with the pure ``signing`` package."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509

from signing import Signer, TrustStore, keys, pki


@dataclass
class Pki:
    root_key: object
    root: x509.Certificate
    police: Signer
    procuratorate: Signer
    trust: TrustStore

    def signer(self, name: str, code: str, **kwargs) -> Signer:
        key = keys.generate_private_key()
        cert = pki.issue_agency_certificate(
            self.root_key, self.root, agency_name=name, agency_code=code, public_key=key.public_key(), **kwargs
        )
        return Signer(key, cert, [self.root])


@pytest.fixture(scope="session")
def test_pki() -> Pki:
    root_key, root = pki.create_root_ca("测试根证书", now=past(30))
    p = Pki(root_key, root, None, None, TrustStore(roots=[root]))  # type: ignore[arg-type]
    p.police = p.signer("深圳市公安局龙岗分局", "GA440307")
    p.procuratorate = p.signer("深圳市龙岗区人民检察院", "JC440307")
    return p


@pytest.fixture(scope="session")
def stranger_pki() -> Pki:
    """A CA nobody trusts."""
    root_key, root = pki.create_root_ca("不受信任的根证书")
    p = Pki(root_key, root, None, None, TrustStore(roots=[root]))  # type: ignore[arg-type]
    p.police = p.signer("冒名公安局", "GA440307")
    return p


def past(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


def make_pdf(pages: int = 3, text: str = "casehub test page") -> bytes:
    """A small real PDF (fpdf2, uncompressed), one line of text per page."""
    from fpdf import FPDF

    doc = FPDF()
    doc.set_compression(False)  # readable content streams, so a test can change one visible byte
    doc.set_font("helvetica", size=12)
    for i in range(pages):
        doc.add_page()
        doc.cell(text=f"{text} {i + 1}")
    return bytes(doc.output())


@pytest.fixture(scope="session")
def plain_pdf() -> bytes:
    return make_pdf(10)
