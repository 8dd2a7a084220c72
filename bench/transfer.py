"""Benchmark: send, verify and accept a transfer of 1,000 documents / 5,000 pages.

Runs on a throw-away SQLite database and object directory (nothing of the developer's data is
touched). Reports the time split of sending (sealing/assembling volumes, manifest, signing,
database) and of verification (signature, hashing) and acceptance, and compares both with the floor:
reading and SHA-256-ing every stored byte once, in one thread (measured before verification, between
verification and acceptance, and after: the median). The process is warmed up first as a web or
worker process is (casehub.warmup). Goal (issue #21): verification + acceptance ≤ 1.5× the floor.

    .venv/bin/python bench/transfer.py [--documents 1000] [--pages 5] [--page-kb 40]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--documents", type=int, default=1000)
    ap.add_argument("--pages", type=int, default=5, help="pages per document")
    ap.add_argument("--page-kb", type=int, default=40, help="incompressible payload per page (a scan stand-in)")
    ap.add_argument("--profile", action="store_true", help="print cProfile's top functions of verify and accept")
    return ap.parse_args()


def setup_django(workdir: Path) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["CASEHUB_DATA_DIR"] = str(workdir)
    os.environ["CASEHUB_STORAGE_URL"] = (workdir / "objects").as_uri()
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casehub.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def make_pdf(pages: int, payload: int, seed: int) -> bytes:
    import pikepdf

    pdf = pikepdf.new()
    for i in range(pages):
        noise = hashlib.shake_256(f"{seed}-{i}".encode()).digest(payload)
        content = b"q 1 0 0 1 0 0 cm BT /F1 12 Tf 72 720 Td (scan) Tj ET Q\n% " + noise.hex().encode()[:payload]
        page = pikepdf.Dictionary(Type=pikepdf.Name.Page, MediaBox=[0, 0, 595, 842],
                                  Contents=pdf.make_stream(content))
        pdf.pages.append(pikepdf.Page(page))
    buf = io.BytesIO()
    pdf.save(buf, compress_streams=False)
    return buf.getvalue()


timings: dict[str, float] = defaultdict(float)


@contextmanager
def timed(name: str):
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[name] += time.perf_counter() - start


def wrap(module, attr: str, name: str) -> None:
    original = getattr(module, attr)

    def wrapper(*args, **kwargs):
        with timed(name):
            return original(*args, **kwargs)

    setattr(module, attr, wrapper)


def main() -> None:
    args = parse()
    with tempfile.TemporaryDirectory(prefix="casehub-bench-") as tmp:
        workdir = Path(tmp)
        setup_django(workdir)
        from django.conf import settings

        from casehub.cases.models import CustodyStatus, PersonRole
        from casehub.cases.services import register_case
        from casehub.dossier import services as dossier
        from casehub.objectstore import services as objects
        from casehub.transfers.tasks import verify_transfer
        from tests.fixtures.district import build_district
        from workflows import engine, packaging

        settings.CASEHUB_WORKFLOW_APPROVALS = {"transfer_for_review": False}
        district = build_district()
        case = register_case(acting_user=district.investigator, title="基准测试案",
                             persons=[{"role": PersonRole.SUSPECT, "name": "甲", "custody_status":
                                       CustodyStatus.DETAINED, "detention_centre": district.detention}])
        print(f"preparing {args.documents} documents × {args.pages} pages × {args.page_kb} KB …", flush=True)
        t0 = time.perf_counter()
        for n in range(args.documents):
            dossier.add_generated_document(case=case, acting_user=district.investigator, title=f"证据{n + 1}",
                                           category="evidence", pdf_bytes=make_pdf(args.pages, args.page_kb * 1024, n))
        print(f"  prepared in {time.perf_counter() - t0:.1f} s")

        wrap(dossier, "seal_and_assemble_main_volumes", "send: seal + assemble + PAdES-sign volumes")
        wrap(packaging, "_sign", "send: CMS-sign manifest")
        wrap(packaging, "_canonical", "send: canonical JSON")
        wrap(packaging, "build_manifest", "send: build manifest (DB reads)")
        import signing.cms

        wrap(signing.cms, "verify_detached", "verify: signature + chain + revocation")
        wrap(packaging, "_check_object", "verify: re-read + SHA-256 every object (summed over threads)")

        # Verification normally starts after commit (a worker, or eagerly in-process); here it is
        # run and timed separately, once.
        packaging._start_verification = lambda pk: None
        with timed("send: total"):
            result = engine.fire(case, "transfer_for_review", acting_user=district.investigator,
                                 inputs={"facts": "基准", "evidence": "证据"})
        transfer = result.transfer
        # A web or worker process warms up when it starts (casehub/wsgi.py, Celery's pool processes):
        # font parse and pyHanko's imports are not the acceptance's cost.
        import casehub.warmup

        with timed("warm-up of the process (casehub.warmup, once)"):
            casehub.warmup.run()
        profiles = {}
        store = objects.get_store()
        entries = transfer.manifest["documents"] + transfer.manifest["volumes"]
        floors: list[float] = []

        def floor_pass() -> int:
            """The floor: read and hash every stored byte once, straight from the files, one thread."""
            total_bytes = 0
            start = time.perf_counter()
            for entry in entries:
                digest = hashlib.sha256()
                with open(store.path_for(entry["sha256"]), "rb") as fh:
                    while chunk := fh.read(packaging.CHUNK):
                        digest.update(chunk)
                        total_bytes += len(chunk)
            floors.append(time.perf_counter() - start)
            return total_bytes

        floor_pass()  # before, between and after: the same load and page cache as what it is compared with

        def run(label: str, fn) -> None:
            if not args.profile:
                fn()
                return
            import cProfile

            profiles[label] = cProfile.Profile()
            profiles[label].runcall(fn)

        with timed("verify: total (task)"):
            run("verify", lambda: verify_transfer.apply(args=[transfer.pk]))
        transfer.refresh_from_db()
        assert transfer.verification_status == "passed", transfer.verification_errors
        floor_pass()
        with timed("accept: total"):
            run("accept", lambda: engine.fire(case, "accept_review_transfer", acting_user=district.prosecutor,
                                              inputs={}))
        total_bytes = floor_pass()
        floor = sorted(floors)[1]

        send_db = timings["send: total"] - sum(v for k, v in timings.items() if k.startswith("send: ") and k != "send: total")
        print(f"\ntransfer: {transfer.document_count} documents, {transfer.page_count} pages, "
              f"{transfer.volume_count} volumes, {total_bytes / 1e6:.0f} MB stored objects checked")
        for key in sorted(timings):
            print(f"  {key:45s} {timings[key]:8.2f} s")
        print(f"  {'send: the rest (DB, numbers, documents)':45s} {send_db:8.2f} s")
        verify, accept = timings["verify: total (task)"], timings["accept: total"]
        print(f"  {'floor: read + SHA-256 all bytes once (median of 3)':45s} {floor:8.2f} s  "
              f"(passes: {', '.join(f'{f:.2f}' for f in floors)})")
        print(f"verification / floor = {verify / floor:.2f}×; acceptance / floor = {accept / floor:.2f}×; "
              f"verification + acceptance / floor = {(verify + accept) / floor:.2f}× (goal ≤ 1.5×); "
              f"load average {os.getloadavg()[0]:.2f}")
        for label, prof in profiles.items():
            import pstats

            print(f"\n--- profile: {label}")
            pstats.Stats(prof).sort_stats("cumulative").print_stats(40)
            pstats.Stats(prof).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
