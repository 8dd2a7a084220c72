"""Taking in a package an agency system assembled itself (bulk exchange, inbound).

The archive has the layout of :mod:`signing.package` with a manifest of format
``casehub.agency-package/1``: the case (its platform id), the sending agency, and the documents
(title, category, SHA-256, size). It is checked as the platform checks its own packages — the
detached CMS signature must chain to the platform's trust store and be the caller's agency's
certificate, every listed file must match its signed hash — and then every document must pass the
ingest examination. Only when all of that holds is anything stored: each document then enters the
dossier through the ordinary ingest pipeline, and the signed manifest is kept as the proof of
what the agency system sent. A package is refused whole, never taken in half.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from casehub.audit.services import record_event
from casehub.dossier import ingest
from casehub.dossier import services as dossier
from casehub.dossier.models import Category, Part
from casehub.integration.models import SubmittedPackage
from signing.package import MANIFEST, MANIFEST_SIGNATURE, ArchiveUnreadable, verify_archive

FORMAT = "casehub.agency-package/1"
MAX_DOCUMENTS = 2000


class PackageRefused(ValidationError):
    """The package is refused whole; ``messages`` names every problem."""


def _manifest_problems(manifest: dict[str, Any], case: Any, agency: Any) -> list[str]:
    problems = []
    if manifest.get("format") != FORMAT:
        problems.append(_("清单格式应为 %(f)s。") % {"f": FORMAT})
    if not isinstance(manifest.get("case"), dict) or manifest["case"].get("id") != case.pk:
        problems.append(_("清单所列案件不是本案。"))
    if not isinstance(manifest.get("from"), dict) or manifest["from"].get("code") != agency.code:
        problems.append(_("清单所列移送机关不是本机关。"))
    documents = manifest.get("documents")
    if not isinstance(documents, list) or not documents:
        problems.append(_("清单中没有材料。"))
    elif len(documents) > MAX_DOCUMENTS:
        problems.append(_("清单中的材料超过 %(n)s 件。") % {"n": MAX_DOCUMENTS})
    else:
        for entry in documents:
            if not isinstance(entry, dict) or not str(entry.get("title") or "").strip():
                problems.append(_("清单中有材料缺少标题。"))
            elif entry.get("category") not in Category.values:
                problems.append(_("材料“%(t)s”的类别无效。") % {"t": entry.get("title")})
    if manifest.get("volumes"):
        problems.append(_("报送的移送包不能包含卷宗：卷宗由平台组卷。"))
    return problems


def submit_package(*, case: Any, acting_user: Any, archive_path: Path) -> SubmittedPackage:
    """Check the archive and take its documents into ``case``; raises PackageRefused (nothing
    stored) or PermissionDenied (not the holder, no capability)."""
    from casehub.pki.services import trust_store

    dossier.check_can_upload(acting_user, case, Part.MAIN)
    agency = acting_user.agency
    try:
        report = verify_archive(str(archive_path), trust_store())
    except ArchiveUnreadable as exc:
        raise PackageRefused([str(exc)]) from None
    if not report.verified:
        raise PackageRefused(report.errors)
    if report.signer_agency != agency.code:
        raise PackageRefused([_("清单不是由本机关的证书签名的（签名机关：%(c)s）。") % {"c": report.signer_agency}])
    if report.warnings:
        raise PackageRefused(report.warnings)
    workdir = Path(tempfile.mkdtemp(prefix="casehub-submission-", dir=ingest.work_root()))
    try:
        with zipfile.ZipFile(archive_path) as zf:
            manifest_bytes = zf.read(MANIFEST)
            signature = zf.read(MANIFEST_SIGNATURE)
            manifest = json.loads(manifest_bytes)
            problems = _manifest_problems(manifest, case, agency)
            if problems:
                raise PackageRefused(problems)
            files = []
            for index, entry in enumerate(manifest["documents"]):
                target = workdir / f"{index:05d}.bin"
                with zf.open(f"documents/{entry['sha256']}.pdf") as src, target.open("wb") as out:
                    shutil.copyfileobj(src, out, 1024 * 1024)
                files.append((entry, target))
        # Every document must pass the ingest examination before any is taken in.
        refused = []
        for entry, path in files:
            try:
                ingest.inspect_pdf(path)
            except ingest.IngestRejected as exc:
                refused.append(f"{entry['title']}: {exc}")
        if refused:
            raise PackageRefused(refused)
        sha = hashlib.sha256(manifest_bytes).hexdigest()
        if SubmittedPackage.objects.filter(manifest_sha256=sha).exists():
            raise PackageRefused([_("该移送包已经报送过。")])
        try:
            with transaction.atomic():
                package = SubmittedPackage.objects.create(
                    case=case, agency=agency, submitted_by=acting_user, manifest_bytes=manifest_bytes,
                    manifest_sha256=sha, manifest_signature=signature, signer=report.signer,
                    signer_certificate_sha256=report.signer_fingerprint,
                )
                record_event("package.submitted", actor=acting_user, obj=package, case=case,
                             details={"manifest_sha256": sha, "documents": len(files), "signer": report.signer})
        except IntegrityError:
            raise PackageRefused([_("该移送包已经报送过。")]) from None
        jobs = [
            dossier.ingest_upload(case=case, acting_user=acting_user, uploaded_file_or_path=path,
                                  title=str(entry["title"]).strip(), category=entry["category"],
                                  original_filename=str(entry.get("file_name") or f"{entry['sha256']}.pdf"))
            for entry, path in files
        ]
        package.jobs.set(jobs)
        return package
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

