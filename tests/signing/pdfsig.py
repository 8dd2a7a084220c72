"""Independent PAdES check with poppler's ``pdfsig`` (NSS), reusable by any test package.

    from tests.signing.pdfsig import pdfsig_verify
    ok, output = pdfsig_verify(signed_pdf_bytes, trust_pem_bytes)

``trust_pem`` is a PEM bundle (e.g. ``casehub.pki.services.export_trust_pem()`` or
``TrustStore.pem()``); every certificate in it is imported into a throw-away NSS database as a
trusted CA, CRLs in it are ignored. ``ok`` is True only if pdfsig found at least one signature and
reports every signature valid and every signer certificate trusted. Needs Debian ``poppler-utils``
and ``libnss3-tools`` (certutil), and ``faketime`` when the test pins "now"; all are in
.ci/run's need list.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

from tests.fixtures.clock import on_test_clock

_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\s*", re.S)


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)


def pdfsig_verify(pdf_bytes: bytes, trust_pem: bytes) -> tuple[bool, str]:
    """Run pdfsig on ``pdf_bytes`` with the CAs of ``trust_pem`` trusted; return (ok, output)."""
    with tempfile.TemporaryDirectory(prefix="pdfsig-") as tmp:
        tmp_path = Path(tmp)
        db = f"sql:{tmp_path / 'nss'}"
        (tmp_path / "nss").mkdir()
        made = _run(["certutil", "-N", "-d", db, "--empty-password"])
        if made.returncode != 0:
            return False, f"certutil -N failed: {made.stderr}"
        for i, pem in enumerate(_PEM_CERT.findall(trust_pem)):
            cert_file = tmp_path / f"ca{i}.pem"
            cert_file.write_bytes(pem)
            added = _run(["certutil", "-A", "-d", db, "-n", f"casehub-ca-{i}", "-t", "CT,C,C", "-i", str(cert_file)])
            if added.returncode != 0:
                return False, f"certutil -A failed: {added.stderr}"
        pdf_file = tmp_path / "document.pdf"
        pdf_file.write_bytes(pdf_bytes)
        # pdfsig judges certificates at its own "now": the test's, when the test pins one.
        result = _run(on_test_clock(["pdfsig", "-nssdir", db, str(pdf_file)]))
        output = result.stdout + result.stderr
        signatures = re.findall(r"Signature Validation: (.+)", output)
        certificates = re.findall(r"Certificate Validation: (.+)", output)
        ok = (
            result.returncode == 0
            and bool(signatures)
            and all(s.strip() == "Signature is Valid." for s in signatures)
            and len(certificates) == len(signatures)
            and all(c.strip() == "Certificate is Trusted." for c in certificates)
        )
        return ok, output
