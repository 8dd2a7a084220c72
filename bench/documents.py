#!/usr/bin/env python
"""Benchmark: generating and signing legal documents (issue #21).

Each figure is printed beside its baseline, measured in the same run so the machine's load hits
both alike: "stock" is the same work done the plain library way, as casehub did before —
``FPDF.add_font`` parsing the CJK font file for every document and fpdf2 subsetting the whole font
at output; pyHanko subsetting the stamp font on every signature.

* font setup: what a new document pays before drawing anything (``new_document``);
* one generated legal document (a 逮捕决定书 with a field table, three paragraphs, footer lines),
  warm (median) and first in a fresh process (after imports, including the one-time parse);
* one PAdES B-B signature of that document, without and with the visible stamp, beside one
  SHA-256 of the file;
* the document work of approving a three-document case: render and sign (stamped) three
  documents, warm and first in a fresh process: right after imports, and after the warm-up a web
  or worker process does at start (casehub.warmup: parse the font, import pyHanko). No database,
  no workflow.

Warm figures are given as wall time and as the CPU time of the working thread: on the shared
development machine the wall time mostly measures the other agents' load.

Prints tables; not a timed test. ``--quick`` runs fewer rounds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_DOCUMENT_MS = 30
TARGET_APPROVAL_WARM_MS, TARGET_APPROVAL_FIRST_MS = 200, 400


_ORIGINALS: dict = {}


def set_mode(mode: str) -> None:
    """``stock``: switch this process to the way casehub generated and signed before issue #21;
    ``casehub``: back to the current code."""
    from casehub.pdfgen import fonts
    from signing import pades
    from signing import signer as signer_module

    if not _ORIGINALS:
        _ORIGINALS.update(add_font=fonts._add_cjk_font, stamp=pades._stamp_font_factory,
                          pyhanko_signer=signer_module._CachedAttributesSigner)

    def stock_pyhanko_signer(**kwargs):
        from pyhanko.sign.signers import SimpleSigner

        return SimpleSigner(**kwargs)

    def stock_add_font(pdf, path):
        pdf.add_font(fonts.FONT_FAMILY, "", str(path))

    def stock_stamp_factory(path, font_size):
        from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory

        return GlyphAccumulatorFactory(path, font_size=font_size)

    stock = mode == "stock"
    fonts._add_cjk_font = stock_add_font if stock else _ORIGINALS["add_font"]
    pades._stamp_font_factory = stock_stamp_factory if stock else _ORIGINALS["stamp"]
    signer_module._CachedAttributesSigner = stock_pyhanko_signer if stock else _ORIGINALS["pyhanko_signer"]


def legal_document(i: int = 0) -> bytes:
    from casehub.pdfgen.forms import render_form

    return render_form(
        "逮捕决定书", number=f"深龙检捕〔2026〕{i}号",
        fields=[("犯罪嫌疑人", "张三"), ("性别", "男"), ("案由", "盗窃罪"), ("承办单位", "深圳市公安局龙岗分局")],
        paragraphs=["经审查，犯罪嫌疑人张三涉嫌盗窃罪，符合《中华人民共和国刑事诉讼法》第八十一条规定的逮捕条件，"
                    "决定批准逮捕。请依法立即执行，并将执行情况在三日以内通知本院。"] * 3,
        footer_lines=["深圳市龙岗区人民检察院", "二〇二六年十二月五日", "（院印）"],
    )


def make_signer():
    """A signer of the current mode (its pyHanko signer is built here, by that mode's code)."""
    from signing import Signer, keys, pki

    root_key, root = pki.create_root_ca("bench root")
    key = keys.generate_private_key()
    cert = pki.issue_agency_certificate(root_key, root, agency_name="深圳市龙岗区人民检察院",
                                        agency_code="JC440307", public_key=key.public_key())
    signer = Signer(key, cert, [root])
    signer.pyhanko_signer()
    return signer


STAMP = "深圳市龙岗区人民检察院"


def approve_three(signer) -> None:
    from signing.pades import sign_pdf

    for i in range(3):
        sign_pdf(legal_document(i), signer, stamp_text=STAMP)


def child(mode: str, what: str) -> None:
    """In a fresh process: the first document, or the first three-document approval."""
    import casehub.pdfgen.forms  # noqa: F401
    import signing.pades  # noqa: F401

    set_mode(mode)
    signer = make_signer()
    if what == "approval_warmed":  # what casehub.warmup does when a web or worker process starts
        from casehub.pdfgen.fonts import warm_up as warm_fonts
        from signing.pades import warm_up as warm_signing

        warm_fonts()
        warm_signing()
    t0 = time.perf_counter()
    if what == "document":
        legal_document()
    else:
        approve_three(signer)
    print(json.dumps({what: time.perf_counter() - t0}))


def first_in_process(mode: str, runs: int) -> dict:
    """Each figure from fresh interpreters (after imports and key generation): median of ``runs``."""
    result: dict = {}
    for what in ("document", "approval", "approval_warmed"):
        values = []
        for _ in range(runs):
            out = subprocess.run([sys.executable, __file__, "--child", mode, what], check=True,
                                 capture_output=True, text=True)
            values.append(json.loads(out.stdout.strip().splitlines()[-1])[what])
        result[what] = statistics.median(values)
    return result


def timed(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def warm(rounds: int) -> dict[str, dict]:
    """Warm medians, the two modes interleaved round by round so both see the same load."""
    from fpdf import FPDF

    from casehub.pdfgen.fonts import new_document
    from signing.pades import sign_pdf

    signers = {}
    for mode in MODES:
        set_mode(mode)
        signers[mode] = make_signer()
    signer = None  # the current mode's, set in the loop below

    def current():
        return signer

    text = "逮捕决定书深圳市龙岗区人民检察院第页共0123456789 "
    pdf = legal_document()
    cases = {
        "setup": (lambda: new_document(text=text), 3),
        "fpdf_alone": (FPDF, 3),
        "document": (legal_document, 2),
        "sha256": (lambda: hashlib.sha256(pdf).digest(), 3),
        "sign": (lambda: sign_pdf(pdf, current()), 2),
        "sign_stamp": (lambda: sign_pdf(pdf, current(), stamp_text=STAMP), 2),
        "approval": (lambda: approve_three(current()), 1),
    }
    times: dict[str, dict[str, list[float]]] = {mode: {name: [] for name in cases} for mode in MODES}
    cpu: dict[str, dict[str, list[float]]] = {mode: {name: [] for name in cases} for mode in MODES}
    sizes = {}
    for mode in MODES:  # warm-up: caches filled, modules imported
        set_mode(mode)
        signer = signers[mode]
        sizes[mode] = len(legal_document())
        approve_three(signer)
    for _ in range(rounds):
        for mode in MODES:
            set_mode(mode)
            signer = signers[mode]
            for name, (fn, repeat) in cases.items():
                for _ in range(repeat):
                    t0, c0 = time.perf_counter(), time.thread_time()
                    fn()
                    times[mode][name].append(time.perf_counter() - t0)
                    cpu[mode][name].append(time.thread_time() - c0)
    set_mode("casehub")
    result = {mode: {name: statistics.median(values) for name, values in times[mode].items()} for mode in MODES}
    for mode in MODES:  # CPU time of this (the only working) thread: what the work costs whatever the load
        result[mode].update({f"{name}_cpu": statistics.median(values) for name, values in cpu[mode].items()})
    for mode in MODES:
        result[mode]["size"] = sizes[mode]
    return result


MODES = ("casehub", "stock")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "WHAT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    rounds = 5 if args.quick else 20

    from casehub.pdfgen.fonts import common_font_path

    common_font_path()  # the on-disk GB 2312 font cache is built once per installation, not timed here
    first = {mode: first_in_process(mode, 1 if args.quick else 3) for mode in MODES}
    medians = warm(rounds)
    ours, stock = medians["casehub"], medians["stock"]

    def ms(seconds: float) -> str:
        return f"{seconds * 1e3:8.1f} ms"

    def row(label: str, a: float, b: float, target: str = "") -> None:
        print(f"{label:<44}{ms(a)}{ms(b)}{b / a:>8.1f}x  {target}")

    print(f"{'measurement':<44}{'casehub':>11}{'stock':>11}{'stock/':>9}  target")
    row("font setup of a new document", ours["setup"] - ours["fpdf_alone"], stock["setup"] - stock["fpdf_alone"])
    row("one legal document, warm", ours["document"], stock["document"], f"≤ {TARGET_DOCUMENT_MS} ms")
    row("one legal document, warm, CPU time", ours["document_cpu"], stock["document_cpu"],
        f"≤ {TARGET_DOCUMENT_MS} ms")
    row("one legal document, first in process", first["casehub"]["document"], first["stock"]["document"])
    row("PAdES B-B signature, no stamp", ours["sign"], stock["sign"])
    row("PAdES B-B signature, visible stamp", ours["sign_stamp"], stock["sign_stamp"])
    row("3 documents rendered + signed, warm", ours["approval"], stock["approval"], f"≤ {TARGET_APPROVAL_WARM_MS} ms")
    row("3 documents rendered + signed, warm, CPU", ours["approval_cpu"], stock["approval_cpu"],
        f"≤ {TARGET_APPROVAL_WARM_MS} ms")
    row("3 documents rendered + signed, first", first["casehub"]["approval"], first["stock"]["approval"],
        f"≤ {TARGET_APPROVAL_FIRST_MS} ms")
    row("3 documents rendered + signed, first, warmed", first["casehub"]["approval_warmed"],
        first["stock"]["approval_warmed"], f"≤ {TARGET_APPROVAL_FIRST_MS} ms")
    print(f"\ndocument size {ours['size'] / 1e3:.1f} KB (stock {stock['size'] / 1e3:.1f} KB); one SHA-256 of it "
          f"{ours['sha256'] * 1e6:.0f} µs. First-in-process figures exclude imports and key generation.")
    load = os.getloadavg()
    print(f"load average during the run: {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1 / 5 / 15 min) on "
          f"{os.cpu_count()} cores. Wall times are medians under that load; CPU time is the thread's own "
          "(time.thread_time), which the load does not inflate (a busy machine still costs some cache misses).")


if __name__ == "__main__":
    main()
