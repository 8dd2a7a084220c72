"""Offline verification of a transfer package archive — ``casehub-verify PACKAGE.zip --trust TRUST.pem``.

An archive (``GET /api/v1/transfers/{id}/archive/``) holds the manifest exactly as signed
(``manifest.json``), its detached CMS signature (``manifest.p7s``), the receiver's receipt and its
signature when there is one (``receipt.json``, ``receipt.p7s``), and every document and volume the
manifest lists under ``documents/<sha256>.pdf`` and ``volumes/<sha256>.pdf``. The check needs no
database and no network: the manifest's signature must chain to the trust bundle (``casehub_pki
export-trust``: roots, intermediates and CRLs), and every listed file must be present with the
SHA-256 and size the manifest gives. Files the manifest does not list are reported.

Exit status: 0 verified, 1 not verified (the report says why), 2 the archive or trust bundle
cannot be read.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from cryptography import x509

from signing.cms import verify_detached
from signing.errors import SigningError
from signing.trust import TrustStore

MANIFEST = "manifest.json"
MANIFEST_SIGNATURE = "manifest.p7s"
RECEIPT = "receipt.json"
RECEIPT_SIGNATURE = "receipt.p7s"
CHUNK = 1024 * 1024
# A manifest or receipt larger than this is not one of ours; refuse before parsing it.
MAX_JSON_BYTES = 64 * 1024 * 1024


class ArchiveUnreadable(Exception):
    """The archive or the trust bundle cannot be read at all."""


@dataclass
class PackageReport:
    verified: bool = False
    signer: str = ""
    signer_agency: str = ""
    manifest_sha256: str = ""
    documents: int = 0
    volumes: int = 0
    receipt: str | None = None  # "accepted"/"rejected" when a verified receipt is present
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def load_trust_pem(data: bytes) -> TrustStore:
    """A trust store from a PEM bundle: self-signed CA certificates are roots, other CA certificates
    intermediates, and every X509 CRL block is revocation data."""
    certs: list[x509.Certificate] = []
    crls: list[x509.CertificateRevocationList] = []
    for block in _pem_blocks(data):
        if b"BEGIN X509 CRL" in block:
            crls.append(x509.load_pem_x509_crl(block))
        elif b"BEGIN CERTIFICATE" in block:
            certs.append(x509.load_pem_x509_certificate(block))
    if not certs:
        raise ArchiveUnreadable("the trust bundle holds no certificate")
    roots = [c for c in certs if c.issuer == c.subject]
    others = [c for c in certs if c.issuer != c.subject]
    try:
        return TrustStore(roots, crls, others)
    except SigningError as exc:
        raise ArchiveUnreadable(f"the trust bundle is not usable: {exc}") from None


def _pem_blocks(data: bytes) -> list[bytes]:
    blocks, current = [], []
    for line in data.splitlines(keepends=True):
        if line.startswith(b"-----BEGIN "):
            current = [line]
        elif current:
            current.append(line)
            if line.startswith(b"-----END "):
                blocks.append(b"".join(current))
                current = []
    return blocks


def _read_member(zf: zipfile.ZipFile, name: str, limit: int) -> bytes | None:
    try:
        info = zf.getinfo(name)
    except KeyError:
        return None
    if info.file_size > limit:
        raise ArchiveUnreadable(f"{name} is larger than {limit} bytes")
    with zf.open(info) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ArchiveUnreadable(f"{name} is larger than {limit} bytes")
    return data


def _hash_member(zf: zipfile.ZipFile, name: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with zf.open(name) as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def verify_archive(source: str | IO[bytes], trust: TrustStore) -> PackageReport:
    """Check an archive against ``trust``; every problem is named in ``errors``."""
    report = PackageReport()
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArchiveUnreadable(f"not a readable ZIP archive: {exc}") from None
    with zf:
        manifest_bytes = _read_member(zf, MANIFEST, MAX_JSON_BYTES)
        signature = _read_member(zf, MANIFEST_SIGNATURE, MAX_JSON_BYTES)
        if manifest_bytes is None or signature is None:
            report.errors.append(f"the archive lacks {MANIFEST} or {MANIFEST_SIGNATURE}")
            return report
        report.manifest_sha256 = hashlib.sha256(manifest_bytes).hexdigest()
        try:
            identity = verify_detached(manifest_bytes, signature, trust)
        except SigningError as exc:
            report.errors.append(f"manifest signature: {exc}")
            return report
        report.signer, report.signer_agency = identity.name, identity.agency_code
        try:
            manifest = json.loads(manifest_bytes)
        except ValueError:
            report.errors.append("the signed manifest is not JSON")
            return report
        if not isinstance(manifest, dict):
            report.errors.append("the signed manifest is not a JSON object")
            return report
        sender = (manifest.get("from") or {}).get("code") if isinstance(manifest.get("from"), dict) else None
        if sender and identity.agency_code and sender != identity.agency_code:
            report.errors.append(f"the manifest names sender {sender} but was signed by {identity.agency_code}")
        listed = _check_entries(zf, manifest, report)
        for name in zf.namelist():
            if name not in listed and name not in (MANIFEST, MANIFEST_SIGNATURE, RECEIPT, RECEIPT_SIGNATURE):
                report.warnings.append(f"{name} is in the archive but not in the signed manifest")
        _check_receipt(zf, manifest, report, trust)
    report.verified = not report.errors
    return report


def _check_entries(zf: zipfile.ZipFile, manifest: dict[str, Any], report: PackageReport) -> set[str]:
    listed: set[str] = set()
    for section, folder in (("documents", "documents"), ("volumes", "volumes")):
        entries = manifest.get(section) or []
        if not isinstance(entries, list):
            report.errors.append(f"the manifest's {section} is not a list")
            continue
        for entry in entries:
            sha, size = (entry.get("sha256"), entry.get("size")) if isinstance(entry, dict) else (None, None)
            title = entry.get("title", "?") if isinstance(entry, dict) else "?"
            if not isinstance(sha, str) or len(sha) != 64:
                report.errors.append(f"{section}: an entry without a SHA-256 ({title})")
                continue
            name = f"{folder}/{sha}.pdf"
            listed.add(name)
            if name not in zf.NameToInfo:
                report.errors.append(f"{title}: {name} is missing from the archive")
                continue
            got_sha, got_size = _hash_member(zf, name)
            if got_sha != sha:
                report.errors.append(f"{title}: content does not match the signed SHA-256")
            elif size is not None and got_size != size:
                report.errors.append(f"{title}: size {got_size} differs from the signed {size}")
            elif section == "documents":
                report.documents += 1
            else:
                report.volumes += 1
    return listed


def _check_receipt(zf: zipfile.ZipFile, manifest: dict[str, Any], report: PackageReport, trust: TrustStore) -> None:
    receipt_bytes = _read_member(zf, RECEIPT, MAX_JSON_BYTES)
    if receipt_bytes is None:
        return
    signature = _read_member(zf, RECEIPT_SIGNATURE, MAX_JSON_BYTES)
    if signature is None:
        report.errors.append("the receipt has no signature")
        return
    try:
        identity = verify_detached(receipt_bytes, signature, trust)
        receipt = json.loads(receipt_bytes)
    except SigningError as exc:
        report.errors.append(f"receipt signature: {exc}")
        return
    except ValueError:
        report.errors.append("the signed receipt is not JSON")
        return
    if not isinstance(receipt, dict) or receipt.get("manifest_sha256") != report.manifest_sha256:
        report.errors.append("the receipt does not answer this manifest")
        return
    receiver = manifest.get("to", {}).get("code") if isinstance(manifest.get("to"), dict) else None
    if receiver and identity.agency_code != receiver:
        report.errors.append(f"the receipt was signed by {identity.agency_code}, not the receiver {receiver}")
        return
    report.receipt = str(receipt.get("result"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="casehub-verify", description="Verify a casehub transfer package offline.")
    parser.add_argument("package", help="the archive from GET /api/v1/transfers/{id}/archive/")
    parser.add_argument("--trust", required=True, help="PEM bundle from `casehub_pki export-trust`")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    try:
        with open(args.trust, "rb") as fh:
            trust = load_trust_pem(fh.read())
        report = verify_archive(args.package, trust)
    except (ArchiveUnreadable, OSError, ValueError) as exc:
        print(f"casehub-verify: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        state = "VERIFIED" if report.verified else "NOT VERIFIED"
        print(f"{state}: signed by {report.signer or '?'} ({report.signer_agency or '?'}), "
              f"{report.documents} documents, {report.volumes} volumes, manifest sha256 {report.manifest_sha256}")
        if report.receipt:
            print(f"receipt: {report.receipt}, signed by the receiver")
        for line in report.errors:
            print(f"error: {line}")
        for line in report.warnings:
            print(f"warning: {line}")
    return 0 if report.verified else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
