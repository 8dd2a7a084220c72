#!/usr/bin/env python
"""Benchmark: detached manifest signatures and PAdES signing/verification (issue #4).

* manifest: canonical JSON of a transfer manifest (50 documents) signed as detached CMS and
  verified against a trust store — operations per second;
* PAdES: sign (B-B, visible stamp) and verify a 10-page and a 1,000-page PDF. The 1,000-page file
  carries a distinct incompressible 40 KB image per page (~40 MB, like a scanned volume), and the
  table shows one SHA-256 pass over the file next to it: signing should cost about one hash of
  the file plus constant work, not grow with the page count beyond that. The "copy" column is one
  copy of the file into fresh memory: the signed file is a new buffer (original + update), so
  signing cannot cost less than hash + copy (on a VM, page faults make the copy as dear as the
  hash). A stamp on the *last*
  page is the exception: pyHanko walks the page tree to find it (every page object is parsed).

The last part times ``casehub.pki.services.signer_for``/``trust_store`` (first use, then cached) on
a throw-away SQLite database. Prints tables; not a timed test. ``--quick`` runs fewer rounds.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from signing import Signer, TrustStore, keys, pki  # noqa: E402
from signing.cms import canonical_json, sign_detached, verify_detached  # noqa: E402
from signing.pades import sign_pdf, verify_pdf  # noqa: E402


def make_pdf(pages: int, image_bytes: int) -> bytes:
    """``pages`` pages, each with a line of text and (if image_bytes) its own random gray image."""
    import pikepdf

    pdf = pikepdf.new()
    side = int(image_bytes**0.5) if image_bytes else 0
    font = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                                                BaseFont=pikepdf.Name.Helvetica))
    for i in range(pages):
        resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
        ops = f"BT /F1 12 Tf 72 800 Td (casehub benchmark page {i + 1}) Tj ET\n"
        if side:
            image = pikepdf.Stream(pdf, os.urandom(side * side))
            image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
            image.Width, image.Height, image.BitsPerComponent = side, side, 8
            image.ColorSpace = pikepdf.Name.DeviceGray
            resources.XObject = pikepdf.Dictionary(Im1=image)
            ops += "q 450 0 0 450 72 300 cm /Im1 Do Q\n"
        page = pikepdf.Dictionary(Type=pikepdf.Name.Page, MediaBox=[0, 0, 595, 842], Resources=resources,
                                  Contents=pikepdf.Stream(pdf, ops.encode()))
        pdf.pages.append(pikepdf.Page(page))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def timed(fn, rounds: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(rounds):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, smaller big PDF")
    parser.add_argument("--services", action="store_true", help="with --quick: also time casehub.pki.services")
    args = parser.parse_args()
    rounds = 3 if args.quick else 5

    root_key, root = pki.create_root_ca("bench root")
    key = keys.generate_private_key()
    cert = pki.issue_agency_certificate(root_key, root, agency_name="深圳市龙岗区人民检察院",
                                        agency_code="JC440307", public_key=key.public_key())
    signer = Signer(key, cert, [root])
    trust = TrustStore(roots=[root])

    manifest = canonical_json({
        "case": "深龙公刑〔2026〕123号", "sender": "GA440307", "receiver": "JC440307",
        "documents": [{"sha256": hashlib.sha256(str(i).encode()).hexdigest(), "pages": 12, "size": 123456,
                       "title": f"证据材料{i}"} for i in range(50)],
    })
    n = 300 if args.quick else 2000
    t0 = time.perf_counter()
    for _ in range(n):
        signature = sign_detached(manifest, signer)
    sign_rate = n / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for _ in range(n):
        verify_detached(manifest, signature, trust)
    verify_rate = n / (time.perf_counter() - t0)
    print(f"manifest ({len(manifest)} B canonical JSON, detached CMS {len(signature)} B)")
    print(f"  sign   {sign_rate:8.0f} /s")
    print(f"  verify {verify_rate:8.0f} /s")

    sign_pdf(make_pdf(1, 0), signer, stamp_text="深圳市龙岗区人民检察院")  # warm the stamp font subset
    cases = [("10 pages, text", make_pdf(10, 0)), ("10 pages, images", make_pdf(10, 40_000))]
    big_pages = 200 if args.quick else 1000
    cases.append((f"{big_pages} pages, images", make_pdf(big_pages, 40_000)))
    print()
    print(f"{'PAdES B-B':<22}{'size':>10}{'sha256':>10}{'copy':>10}{'sign':>10}{'+stamp p.1':>12}{'+stamp last':>12}"
          f"{'verify':>10}")
    for label, pdf in cases:
        t_hash, _ = timed(lambda pdf=pdf: hashlib.sha256(pdf).digest(), rounds)
        t_copy, _ = timed(lambda pdf=pdf: len(bytearray(pdf)), rounds)  # the signed file is a new buffer
        t_sign, signed = timed(lambda pdf=pdf: sign_pdf(pdf, signer), rounds)
        t_first, _ = timed(lambda pdf=pdf: sign_pdf(pdf, signer, stamp_text="深圳市龙岗区人民检察院", stamp_page=0), rounds)
        t_stamp, _ = timed(lambda pdf=pdf: sign_pdf(pdf, signer, stamp_text="深圳市龙岗区人民检察院"), rounds)
        t_verify, result = timed(lambda signed=signed: verify_pdf(signed, trust), rounds)
        assert result.valid, result
        print(f"{label:<22}{len(pdf) / 1e6:>8.1f}MB{t_hash * 1e3:>8.1f}ms{t_copy * 1e3:>8.1f}ms{t_sign * 1e3:>8.1f}ms"
              f"{t_first * 1e3:>10.1f}ms{t_stamp * 1e3:>10.1f}ms{t_verify * 1e3:>8.1f}ms")


def bench_services() -> None:
    """signer_for / trust_store on a throw-away SQLite database: first use vs cached calls."""
    import tempfile

    data_dir = tempfile.mkdtemp(prefix="casehub-bench-pki-")
    os.environ["CASEHUB_DATA_DIR"] = data_dir
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casehub.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    from casehub.agencies.models import Agency, AgencyKind
    from casehub.pki import services

    call_command("migrate", verbosity=0)
    agency = Agency.objects.create(kind=AgencyKind.POLICE, code="GA440307", name="深圳市公安局龙岗分局")
    t0 = time.perf_counter()
    services.signer_for(agency)
    first = time.perf_counter() - t0
    n = 2000
    t0 = time.perf_counter()
    for _ in range(n):
        services.signer_for(agency)
        services.trust_store()
    outside = (time.perf_counter() - t0) / n
    with transaction.atomic():
        t0 = time.perf_counter()
        for _ in range(n):
            services.signer_for(agency)
            services.trust_store()
        inside = (time.perf_counter() - t0) / n
    print()
    print("casehub.pki.services (SQLite)")
    print(f"  first signer_for (root + certificate issued)   {first * 1e3:8.1f} ms")
    print(f"  cached signer_for + trust_store, no transaction {outside * 1e6:8.1f} µs")
    print(f"  cached signer_for + trust_store, in transaction {inside * 1e6:8.1f} µs")


if __name__ == "__main__":
    main()
    if "--services" in sys.argv or "--quick" not in sys.argv:
        bench_services()
