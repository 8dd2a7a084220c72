#!/usr/bin/env python
"""Benchmark: volume assembly (contents page + page stamps + bookmarks, pikepdf) against
``qpdf --empty --pages … -- out.pdf`` merging the same files without stamping (the floor).

Cases (issue #5): a 200-page volume from 40 PDFs (text pages and ~400 KB scanned-image pages), and
a 2,000-page dossier of 10 such volumes. Each run happens in a fresh child process, started under
GNU ``time`` so that its peak memory (``%M``) is its own and not inherited from this process (see
``run_child``); the child also reports its resident size after imports, so the table shows peak
memory both in total and above that baseline, and qpdf's own peak beside it. Signing is timed separately (it is
one pass of SHA-256 over the file plus one signature, independent of page count).

Prints a table; not a timed test. ``--quick`` uses a smaller dossier for a smoke run.
"""

from __future__ import annotations

import io
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAGES_PER_DOC = 5
TIME = shutil.which("time") or "/usr/bin/time"  # GNU time (Debian package time)


def rss_mb(field: str = "VmRSS") -> float:
    """This process's resident size (``VmHWM``: its peak since exec), MB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return 0.0


# --- inputs ------------------------------------------------------------------------------------


def text_doc(path: Path, label: str) -> None:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_font("Helvetica", size=11)
    rng = random.Random(label)
    words = "the suspect stated that on the evening in question he was at home with witnesses".split()
    for page in range(PAGES_PER_DOC):
        pdf.add_page()
        pdf.cell(0, 8, f"{label} page {page + 1}", new_x="LMARGIN", new_y="NEXT")
        for _line in range(45):
            pdf.cell(0, 5.5, " ".join(rng.choice(words) for _ in range(14)), new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))


def scan_jpeg(seed: int) -> bytes:
    """A ~400 KB greyscale 'scan' (A4 at 150 dpi) with noise so JPEG cannot shrink it much."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    img = Image.effect_noise((1240, 1754), 40).point(lambda v: 200 + v // 6)
    draw = ImageDraw.Draw(img)
    for _ in range(300):
        x, y = rng.randrange(1100), rng.randrange(1700)
        draw.rectangle([x, y, x + rng.randrange(40, 140), y + 8], fill=30)
    quality = 60
    while True:
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=quality, dpi=(150, 150))
        if buf.tell() >= 380_000 or quality >= 95:
            return buf.getvalue()
        quality += 5


def scan_doc(path: Path, seed: int) -> None:
    import img2pdf

    path.write_bytes(img2pdf.convert([scan_jpeg(seed * 10 + i) for i in range(PAGES_PER_DOC)]))


def make_inputs(workdir: Path, count: int) -> list[Path]:
    paths = []
    for i in range(count):
        path = workdir / f"doc{i:03d}.pdf"
        if i % 2:
            scan_doc(path, i)
        else:
            text_doc(path, f"document {i}")
        paths.append(path)
    return paths


# --- child processes ---------------------------------------------------------------------------


def worker(spec_path: str) -> None:
    """Assemble the volumes listed in the spec; print JSON with timing and baseline RSS."""
    from datetime import UTC, datetime

    from casehub.dossier.assembly import Entry, build_volume_pdf
    from casehub.pdfgen import ContentsRow, render_contents

    render_contents("warm-up", [])  # load the CJK font once, as a long-running worker has
    spec = json.loads(Path(spec_path).read_text())
    baseline = rss_mb()
    started = time.perf_counter()
    sizes = 0
    for volume in spec["volumes"]:
        entries, first = [], 1
        for number, path in enumerate(volume["inputs"], start=1):
            pages = PAGES_PER_DOC
            entries.append(Entry(
                path=Path(path), page_count=pages, first_page=first,
                row=ContentsRow(number, f"证据材料 {number}", "深圳市公安局龙岗分局", "2026-11-25",
                                f"{first}-{first + pages - 1}"),
            ))
            first += pages
        out = Path(volume["out"])
        build_volume_pdf(heading="卷内目录", subtitle_lines=["基准测试案", "正卷"], entries=entries,
                         out_path=out, creation_date=datetime(2026, 1, 1, tzinfo=UTC))
        sizes += out.stat().st_size
    print(json.dumps({"seconds": time.perf_counter() - started, "baseline_mb": baseline, "bytes": sizes,
                      "own_peak_mb": rss_mb("VmHWM")}))


def run_child(argv: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MB, stdout) of a child process.

    The peak is GNU time's ``%M`` (the child's ru_maxrss as *time* waits for it). Not this process's
    own wait4: on Linux a child's ru_maxrss starts from the RSS of the process that forked it (the
    high-water mark of the old address space is kept across exec), so a child forked from this
    Python process, which holds the generated inputs, would be charged at least this process's
    size — qpdf then "peaked" at ~100 MB instead of its own ~14 MB. /usr/bin/time is small.
    """
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        started = time.perf_counter()
        proc = subprocess.run([TIME, "-f", "%M", "-o", report.name, *argv], capture_output=True)
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {proc.stderr.decode()[-2000:]}")
        peak_kb = int(report.read().split()[-1])
    return wall, peak_kb / 1024, proc.stdout.decode()


def measure(name: str, volumes: list[list[Path]], workdir: Path, repeats: int) -> dict:
    ours_runs, qpdf_runs = [], []
    for _rep in range(repeats):
        spec = {"volumes": [{"inputs": [str(p) for p in inputs], "out": str(workdir / f"{name}-ours-{i}.pdf")}
                            for i, inputs in enumerate(volumes)]}
        spec_path = workdir / f"{name}.json"
        spec_path.write_text(json.dumps(spec))
        _wall, peak, out = run_child([sys.executable, __file__, "--worker", str(spec_path)])
        result = json.loads(out.strip().splitlines()[-1])
        # Two readings of the same peak: GNU time's and the worker's own VmHWM; they agree within
        # a page or two (time also counts the last moments after the worker printed).
        peak = max(peak, result["own_peak_mb"])
        ours_runs.append((result["seconds"], peak, result["baseline_mb"], result["bytes"]))

        qpdf_seconds, qpdf_peak, qpdf_bytes = 0.0, 0.0, 0
        for i, inputs in enumerate(volumes):
            out_path = workdir / f"{name}-qpdf-{i}.pdf"
            wall, peak_q, _ = run_child(["qpdf", "--empty", "--pages", *map(str, inputs), "--", str(out_path)])
            qpdf_seconds += wall
            qpdf_peak = max(qpdf_peak, peak_q)
            qpdf_bytes += out_path.stat().st_size
        qpdf_runs.append((qpdf_seconds, qpdf_peak, qpdf_bytes))
    ours = sorted(ours_runs)[len(ours_runs) // 2]
    qpdf = sorted(qpdf_runs)[len(qpdf_runs) // 2]
    pages = sum(len(v) for v in volumes) * PAGES_PER_DOC
    largest_volume = max((workdir / f"{name}-ours-{i}.pdf").stat().st_size for i in range(len(volumes)))
    return {
        "name": name, "pages": pages, "out_mb": ours[3] / 1e6, "largest_mb": largest_volume / 1e6,
        "ours_s": ours[0], "qpdf_s": qpdf[0], "ratio": ours[0] / qpdf[0] if qpdf[0] else float("nan"),
        "pages_per_s": pages / ours[0], "peak_mb": ours[1], "baseline_mb": ours[2],
        "qpdf_peak_mb": qpdf[1], "all_ours": [round(r[0], 3) for r in ours_runs],
        "all_qpdf": [round(r[0], 3) for r in qpdf_runs],
    }


def time_signing(path: Path) -> tuple[float, float]:
    from signing import Signer
    from signing.keys import generate_private_key
    from signing.pades import sign_pdf
    from signing.pki import create_root_ca, issue_agency_certificate

    ca_key, ca_cert = create_root_ca("bench root")
    key = generate_private_key()
    cert = issue_agency_certificate(ca_key, ca_cert, agency_name="基准测试机关", agency_code="BENCH1",
                                    public_key=key.public_key())
    signer = Signer(key, cert, [ca_cert])
    data = path.read_bytes()
    sign_pdf(data, signer, stamp_text="基准测试机关", stamp_page=0)  # warm the stamp font subset
    started = time.perf_counter()
    sign_pdf(data, signer, stamp_text="基准测试机关", stamp_page=0)
    return time.perf_counter() - started, len(data) / 1e6


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        worker(sys.argv[2])
        return
    if shutil.which("qpdf") is None:
        sys.exit("qpdf is not installed (Debian package qpdf; .ci/run installs it)")
    if not Path(TIME).exists():
        sys.exit("GNU time is not installed (Debian package time): it measures each child's own peak memory")
    quick = "--quick" in sys.argv
    workdir = Path(tempfile.mkdtemp(prefix="casehub-bench-dossier-"))
    try:
        per_volume = 8 if quick else 40
        t0 = time.perf_counter()
        inputs = make_inputs(workdir, per_volume)
        print(f"inputs: {len(inputs)} PDFs of {PAGES_PER_DOC} pages "
              f"({sum(p.stat().st_size for p in inputs) / 1e6:.1f} MB) made in {time.perf_counter() - t0:.1f} s")
        results = [measure("volume", [inputs], workdir, repeats=1 if quick else 3)]
        volumes = 2 if quick else 10
        results.append(measure("dossier", [inputs] * volumes, workdir, repeats=1))
        sign_s, sign_mb = time_signing(workdir / "volume-ours-0.pdf")

        header = (f"{'case':<10}{'pages':>7}{'out MB':>9}{'ours s':>9}{'qpdf s':>9}{'ratio':>7}{'pages/s':>9}"
                  f"{'peak MB':>9}{'base MB':>9}{'peak-base':>10}{'/largest':>9}{'qpdf MB':>9}")
        print(header)
        print("-" * len(header))
        for r in results:
            above = r["peak_mb"] - r["baseline_mb"]
            print(f"{r['name']:<10}{r['pages']:>7}{r['out_mb']:>9.1f}{r['ours_s']:>9.2f}{r['qpdf_s']:>9.2f}"
                  f"{r['ratio']:>7.2f}{r['pages_per_s']:>9.0f}{r['peak_mb']:>9.0f}{r['baseline_mb']:>9.0f}"
                  f"{above:>10.0f}{above / r['largest_mb']:>9.2f}{r['qpdf_peak_mb']:>9.0f}")
        print(f"signing the {sign_mb:.1f} MB volume (PAdES, stamp on the contents page): {sign_s:.2f} s")
        print("runs (s): " + "; ".join(f"{r['name']}: ours {r['all_ours']} qpdf {r['all_qpdf']}" for r in results))
        print("ratio = ours / qpdf (target ≤ 1.5); peak-base = peak RSS above the worker's RSS after imports; "
              "/largest = that over the largest volume's size (target ≤ 1.25)")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
