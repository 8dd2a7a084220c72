#!/usr/bin/env python
"""Benchmark: peak memory of the process that handles an upload, for the worst files we know
(THREAT_MODEL.md F18.18; aim: at most 300 MB for any upload).

Each case runs the ingest steps that touch the uploaded bytes (validate → normalise → count; the
store step only streams the file through SHA-256) in a fresh Python process with Django set up,
exactly as the web process runs them when Celery is eager. That process reports its own peak RSS
(``VmHWM``: "web process") and the peak of its children (``ru_maxrss`` of the bounded examination
child and pdfinfo; an upper bound, as Linux carries a parent's peak over a fork) separately, with
the outcome and the wall time.

Cases: the penetration test's object-stream bomb (a 714 KB file padding an object stream to
700 MiB), its 1.4 MB sibling (1.4 GiB), the same bomb with every explicit limit switched off (only
the child's address-space limit left), a 120 MB scanned PDF and a 64-megapixel PNG (honest
files at the large end). Prints a table; not a timed test. ``--quick`` shrinks the bombs.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MiB = 1024**2


def hwm_mb() -> float:
    """This process's peak resident size (VmHWM). Unlike ru_maxrss it starts afresh at exec, so
    the bench's own memory (it builds the files) is not inherited by the measured process."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _child(path: str, overrides: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casehub.settings")
    import django

    django.setup()
    from django.conf import settings

    from casehub.dossier import ingest, probe

    for name, value in json.loads(overrides).items():
        setattr(settings, name, value)
    baseline = hwm_mb()
    workdir = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    ctx = ingest.IngestContext(source=Path(path), workdir=workdir)
    started = time.monotonic()
    try:
        for step in (ingest.step_validate, ingest.step_normalise, ingest.step_count_pages):
            step(ctx)
        outcome = f"accepted, {ctx.page_count} page(s)"
    except ingest.IngestRejected as rejected:
        outcome = f"refused ({rejected.code})"
    seconds = time.monotonic() - started
    # The examination child is the examiner's child: it counts in RUSAGE_CHILDREN once the examiner
    # (which waited for it) has ended and been waited for here.
    probe._examiners.close()
    print(json.dumps({
        "outcome": outcome,
        "seconds": seconds,
        "baseline_mb": baseline,
        "web_peak_mb": hwm_mb(),
        "child_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }))


def _cases(tmp: Path, quick: bool) -> list[tuple[str, Path, dict]]:
    from PIL import Image

    from tests.dossier import files

    scale = 8 if quick else 1
    cases = []
    for label, inflated in (("object-stream bomb, 700 MiB", 700 * MiB // scale),
                            ("object-stream bomb, 1.4 GiB", 1434 * MiB // scale)):
        path = tmp / f"bomb-{inflated}.pdf"
        path.write_bytes(files.objstm_bomb_pdf(inflated))
        cases.append((f"{label} ({path.stat().st_size / 1024:.0f} KB file)", path, {}))
    off = {"CASEHUB_PDF_MAX_OBJSTM_BYTES": 16 * 1024 * MiB, "CASEHUB_PDF_MAX_STREAM_BYTES": 16 * 1024 * MiB}
    cases.append(("same 700 MiB bomb, explicit limits off", cases[0][1], off))
    scan = tmp / "scan.pdf"
    files.big_scan_pdf(scan, 120 // scale)
    cases.append((f"scanned PDF, {scan.stat().st_size / MiB:.0f} MB", scan, {}))
    png = tmp / "big.png"
    side = 8000 // (2 if quick else 1)
    Image.new("RGB", (side, side), (200, 180, 160)).save(png)
    cases.append((f"PNG {side}×{side} ({side * side / 1e6:.0f} MP)", png, {}))
    return cases


def main() -> None:
    quick = "--quick" in sys.argv
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        for label, path, overrides in _cases(Path(tmp), quick):
            done = subprocess.run(  # noqa: S603 - our interpreter and this file
                [sys.executable, __file__, "--child", str(path), json.dumps(overrides)],
                capture_output=True, text=True, check=True, cwd=str(ROOT),
            )
            rows.append((label, json.loads(done.stdout.strip().splitlines()[-1])))
    print(f"{'case':48} {'outcome':26} {'time':>7} {'web base':>9} {'web peak':>9} {'child peak':>11}")
    for label, r in rows:
        print(f"{label:48} {r['outcome']:26} {r['seconds']:6.1f}s {r['baseline_mb']:7.0f}MB "
              f"{r['web_peak_mb']:7.0f}MB {r['child_peak_mb']:9.0f}MB")
    worst = max(r["web_peak_mb"] for _label, r in rows)
    print(f"\nworst web-process peak: {worst:.0f} MB (aim: <= 300 MB)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3])
    else:
        main()
