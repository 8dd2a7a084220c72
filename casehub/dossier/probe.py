"""The examination of an untrusted upload, run in a child process with bounded memory and time.

Every parser that reads the bytes of an upload (pypdf, qpdf through pikepdf, poppler's
``pdfinfo``, Pillow, img2pdf) runs in a child process of its own, never in the web or worker
process that handles the upload. The child is forked for that one file from an *examiner*
(``python -I probe.py --serve``, started on first use and kept by the web or worker process), which
has the parsers imported but never reads an upload itself. The child lowers its own address-space
limit (``RLIMIT_AS``) and CPU-time limit (``RLIMIT_CPU``) before it opens the file, and the web
or worker process kills examiner and child after a wall-clock timeout. A decompression bomb that
slips past the explicit checks (an object stream or cross-reference stream that a parser inflates
before anything can measure it) therefore exhausts the child's budget, not the server's memory:
the child dies or reports ``MemoryError`` and the upload is refused as a bomb (THREAT_MODEL.md
F18.18).

The explicit checks still run first and give the uploader a precise reason: every object stream
(``/Type /ObjStm``) is measured by inflating at most its limit plus one byte, 1 MiB at a time,
before any parser resolves an object inside it; every other Flate stream is measured the same way.

Page counts must agree between every reader we have (F18.19): pypdf's walk of the page tree,
qpdf's walk, the ``/Count`` the root declares, and poppler's count where ``pdfinfo`` is installed.
A file that different readers count differently shows different documents to different people.

This module imports nothing from Django: the examiner starts fast and cannot touch the database.
Refusals carry a reason key and parameters; :mod:`casehub.dossier.ingest` turns them into the
uploader's message in the request's language.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PDF, JPEG, PNG, TIFF = "pdf", "jpeg", "png", "tiff"
RESULT_FILE = "probe-result.json"


class Refusal(Exception):
    """The file is not acceptable: ``reason`` names the rule, ``params`` fill its message."""

    def __init__(self, reason: str, **params: Any) -> None:
        super().__init__(reason, params)
        self.reason = reason
        self.params = params


@dataclass(frozen=True)
class Budget:
    """What one examination may use. ``memory`` is the child's address-space limit in bytes."""

    memory: int
    seconds: int


# --- PDF ---------------------------------------------------------------------------------------

_JS_KEYS = {"/JS", "/JavaScript"}
_EMBEDDED_KEYS = {"/EmbeddedFiles", "/EF", "/RichMedia"}


def inflated_size(raw: bytes, cap: int) -> int:
    """Size of the zlib-inflated ``raw``, counting at most ``cap + 1`` bytes (never allocating more
    than 1 MiB at a time): the decompression-bomb probe."""
    inflater = zlib.decompressobj()
    total = 0
    data = raw
    try:
        while data and total <= cap:
            out = inflater.decompress(data, 1 << 20)
            total += len(out)
            data = inflater.unconsumed_tail
    except zlib.error:
        pass  # a damaged stream is for the reader to cope with; it cannot be a bomb past here
    return total


def _walk(obj: Any, depth: int = 0) -> Iterator[Any]:
    """Direct dictionaries inside one indirect object (indirect children are visited on their own)."""
    import pikepdf

    if depth > 64:
        return
    if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
        yield obj
        for _key, value in obj.items():
            if isinstance(value, pikepdf.Dictionary | pikepdf.Array) and not value.is_indirect:
                yield from _walk(value, depth + 1)
    elif isinstance(obj, pikepdf.Array):
        for value in obj:
            if isinstance(value, pikepdf.Dictionary | pikepdf.Array) and not value.is_indirect:
                yield from _walk(value, depth + 1)


def _is_javascript_uri(value: Any) -> bool:
    try:
        text = bytes(value).decode("latin-1") if value is not None else ""
    except (TypeError, ValueError):
        return False
    return text.strip().lower().replace("\x00", "").startswith(("javascript:", "vbscript:"))


def _filter_names(value: Any) -> list[str]:
    """The /Filter entry as a list of names, for pypdf and pikepdf objects alike."""
    import pikepdf

    if value is None:
        return []
    if isinstance(value, list | pikepdf.Array):  # pypdf's ArrayObject is a list
        return [str(v) for v in value]
    return [str(value)]


def _check_object_streams(reader: Any, limits: dict[str, int]) -> None:
    """Measure every object stream before any parser inflates one (pypdf reads the cross-reference
    data only; the object streams themselves are type-1 objects whose raw bytes it has not
    decoded yet)."""
    cap = limits["CASEHUB_PDF_MAX_OBJSTM_BYTES"]
    for number in sorted({stream for stream, _index in reader.xref_objStm.values()}):
        stream = reader.get_object(number)
        raw = getattr(stream, "_data", None)
        if not isinstance(raw, bytes):
            continue
        filters = _filter_names(stream.get("/Filter"))
        if filters[:1] in (["/FlateDecode"], ["/Fl"]) and inflated_size(raw, cap) > cap:
            raise Refusal("pdf_objstm_bomb", max=cap)


def _poppler_pages(path: Path, seconds: int) -> int | None:
    """Poppler's page count (``pdfinfo``), 0 when poppler cannot read a page tree, None when
    poppler is not installed. ``pdfinfo`` inherits this process's limits."""
    binary = shutil.which("pdfinfo")
    if binary is None:
        return None
    try:
        done = subprocess.run(  # noqa: S603 - fixed program, the path is ours
            [binary, str(path)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=seconds, check=False,
        )
    except subprocess.TimeoutExpired:
        raise Refusal("timeout", seconds=seconds) from None
    match = re.search(rb"^Pages:\s+(\d+)\s*$", done.stdout[:65536], flags=re.M)
    return int(match.group(1)) if done.returncode == 0 and match else 0


def examine_pdf(path: Path, limits: dict[str, int], *, seconds: int = 60) -> dict[str, Any]:
    """Validate a PDF: readable, not encrypted, within the bomb limits, page counts agreeing, no
    active content. Raises :class:`Refusal`; returns ``{"page_count": n}`` otherwise."""
    import pikepdf
    import pypdf

    try:
        reader = pypdf.PdfReader(str(path), strict=False)
        if reader.is_encrypted:
            raise Refusal("pdf_encrypted")
        _check_object_streams(reader, limits)
        page_count = len(reader.pages)
        pages_node = reader.trailer["/Root"].get_object()["/Pages"].get_object()
        declared = pages_node.get("/Count")
        declared = int(declared) if declared is not None else None
    except Refusal:
        raise
    except MemoryError:
        raise
    except Exception as exc:  # pypdf raises many types for damaged files
        raise Refusal("pdf_malformed", detail=repr(exc)[:200]) from exc
    if page_count == 0:
        raise Refusal("pdf_no_pages")
    max_pages = limits["CASEHUB_PDF_MAX_PAGES"]
    if page_count > max_pages:
        raise Refusal("pdf_too_many_pages", n=page_count, max=max_pages)
    counts: dict[str, int | None] = {"pypdf": page_count, "qpdf": None, "/Count": declared}
    poppler = _poppler_pages(path, seconds)
    if poppler is not None:
        counts["poppler"] = poppler
    try:
        pdf = pikepdf.open(str(path))
    except pikepdf.PasswordError as exc:
        raise Refusal("pdf_encrypted") from exc
    except pikepdf.PikepdfError as exc:
        if _PAGE_TREE_TROUBLE.search(str(exc)):
            _require_agreement(counts)  # qpdf refuses the page tree pypdf accepted
        raise Refusal("pdf_malformed", detail=repr(exc)[:200]) from exc
    with pdf:
        try:
            counts["qpdf"] = len(pdf.pages)
        except pikepdf.PikepdfError as exc:
            if _PAGE_TREE_TROUBLE.search(str(exc)):
                _require_agreement(counts)
            raise Refusal("pdf_malformed", detail=repr(exc)[:200]) from exc
        _require_agreement(counts)
        findings = _scan_objects(pdf, limits)
        # qpdf does not raise when it runs out of memory decoding an object stream: it warns,
        # drops the objects and carries on. A file we could not read whole is not accepted.
        if any("bad_alloc" in str(warning) for warning in pdf.get_warnings()):
            raise Refusal("resources")
    for finding in ("javascript", "launch", "embedded"):
        if finding in findings:
            raise Refusal(f"pdf_{finding}")
    return {"page_count": page_count}


_PAGE_TREE_TROUBLE = re.compile(r"pages tree|/Count|/Kids|page tree", re.I)


def _require_agreement(counts: dict[str, int | None]) -> None:
    """Refuse unless every reader found the same number of pages (None: the reader failed).

    Readers that see different page trees would count, stamp and show different documents to
    different people: a damaged or deliberately ambiguous file.
    """
    if len(set(counts.values())) != 1:
        raise Refusal("pdf_ambiguous_pages",
                      counts="、".join(f"{name} {'—' if n is None else n}" for name, n in counts.items()))


def _scan_objects(pdf: Any, limits: dict[str, int]) -> set[str]:
    import pikepdf

    max_objects = limits["CASEHUB_PDF_MAX_OBJECTS"]
    max_stream = limits["CASEHUB_PDF_MAX_STREAM_BYTES"]
    max_total = limits["CASEHUB_PDF_MAX_DECODED_BYTES"]
    max_pixels = limits["CASEHUB_IMAGE_MAX_PIXELS"]
    if len(pdf.objects) > max_objects:
        raise Refusal("pdf_too_many_objects", max=max_objects)
    findings: set[str] = set()
    total = 0
    for obj in pdf.objects:
        for node in _walk(obj):
            keys = set(node.keys())
            action = node.get("/S")
            if keys & _JS_KEYS or action == pikepdf.Name.JavaScript:
                findings.add("javascript")
            elif action == pikepdf.Name.URI and _is_javascript_uri(node.get("/URI")):
                findings.add("javascript")  # a link that runs script in some viewers
            if node.get("/S") == pikepdf.Name.Launch:
                findings.add("launch")
            if keys & _EMBEDDED_KEYS or node.get("/Subtype") == pikepdf.Name.FileAttachment:
                findings.add("embedded")
        if not isinstance(obj, pikepdf.Stream):
            continue
        if obj.get("/Subtype") == pikepdf.Name.Image:
            width, height = int(obj.get("/Width", 0)), int(obj.get("/Height", 0))
            if width * height > max_pixels:
                raise Refusal("pdf_pixels", w=width, h=height, max=max_pixels)
        filters = _filter_names(obj.get("/Filter"))
        if filters[:1] in (["/FlateDecode"], ["/Fl"]):
            size = inflated_size(obj.read_raw_bytes(), max_stream)
            if size > max_stream:
                raise Refusal("pdf_stream_bomb", max=max_stream)
            total += size
            if total > max_total:
                raise Refusal("pdf_stream_bomb", max=max_total)
    return findings


# --- images ------------------------------------------------------------------------------------


def examine_image(path: Path, limits: dict[str, int]) -> int:
    """Check an image (every TIFF frame): readable, complete, within the pixel limit. Returns
    the number of frames (pages it will become)."""
    from PIL import Image, UnidentifiedImageError

    max_pixels = limits["CASEHUB_IMAGE_MAX_PIXELS"]
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with Image.open(path) as im:
            frames = getattr(im, "n_frames", 1)
            for index in range(frames):
                im.seek(index)
                width, height = im.size
                if width * height > max_pixels:
                    raise Refusal("image_pixels", w=width, h=height, max=max_pixels)
                im.load()  # decodes the frame: a truncated or corrupt file fails here
            return frames
    except Refusal:
        raise
    except Image.DecompressionBombError as exc:
        raise Refusal("image_pixels_unknown", max=max_pixels) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, TypeError) as exc:
        # Pillow's decoders raise TypeError too (e.g. "Missing dimensions" for a bare header).
        raise Refusal("image_malformed") from exc


def image_to_pdf(path: Path, out: Path) -> None:
    """Convert an image file to a PDF at ``out``: one A4 page per image or frame, lossless."""
    import img2pdf

    layout = img2pdf.get_layout_fun((img2pdf.mm_to_pt(210), img2pdf.mm_to_pt(297)),
                                    fit=img2pdf.FitMode.into, auto_orient=True)
    try:
        data = img2pdf.convert(str(path), layout_fun=layout, rotation=img2pdf.Rotation.ifvalid)
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - img2pdf raises bare Exception for damaged images: see below
        # img2pdf parses PNG/JPEG itself and raises bare Exceptions for files Pillow accepted
        # (bad chunk lengths), as well as for transparency and exotic modes. Re-encode each frame
        # through Pillow, flattened onto white (lossless for what a reader sees), and retry once.
        try:
            data = img2pdf.convert(list(_flattened_frames(path)), layout_fun=layout)
        except MemoryError:
            raise
        except Exception as exc:
            raise Refusal("image_malformed") from exc
    out.write_bytes(data)


def _flattened_frames(path: Path) -> Iterator[bytes]:
    from PIL import Image

    with Image.open(path) as im:
        for index in range(getattr(im, "n_frames", 1)):
            im.seek(index)
            frame = im.convert("RGBA")
            flat = Image.new("RGB", frame.size, "white")
            flat.paste(frame, mask=frame.getchannel("A"))
            buf = io.BytesIO()
            flat.save(buf, format="PNG", dpi=im.info.get("dpi", (300, 300)))
            yield buf.getvalue()


def examine(kind: str, source: Path, workdir: Path, limits: dict[str, int], *, seconds: int = 60) -> dict[str, Any]:
    """The whole examination of one upload of ``kind``: for a PDF its checks and page count, for
    an image its checks and its conversion to ``workdir/converted.pdf``."""
    if kind == PDF:
        return {"page_count": examine_pdf(source, limits, seconds=seconds)["page_count"], "converted": None}
    frames = examine_image(source, limits)
    out = workdir / "converted.pdf"
    image_to_pdf(source, out)
    return {"page_count": frames, "converted": str(out)}


# --- the examiner: a clean process that forks one child per examination ------------------------
#
# Starting a fresh interpreter for every upload cost 0.3-0.5 s of imports (pikepdf, pypdf, Pillow)
# per file, more than the examination of a typical document. Each web or worker process therefore
# keeps one or more *examiners*: ``python -I probe.py --serve``, a process that imports the parsers
# once, never reads an upload itself, and forks one child per request. The child is what the
# parsers run in: it lowers its own address-space and CPU-time limits, examines one file, writes
# its result and exits. A file therefore still never shares a process with another file, with
# Django or with the database connection; a bomb or a parser crash kills only its child, and the
# examiner reports how the child ended.

_PRELOAD = ("pikepdf", "pypdf", "PIL.Image", "img2pdf")


def _limit_self(budget: Budget) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (budget.memory, budget.memory))
    resource.setrlimit(resource.RLIMIT_CPU, (budget.seconds, budget.seconds + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def main(argv: list[str]) -> int:
    """``python probe.py <request.json>``: examine one file within the request's budget and write
    the result next to it (what an examiner's child does, in a process of its own)."""
    request_path = Path(argv[0])
    request = json.loads(request_path.read_text())
    workdir = Path(request["workdir"])
    budget = Budget(memory=int(request["memory"]), seconds=int(request["seconds"]))
    _limit_self(budget)
    try:
        result: dict[str, Any] = {"ok": True, **examine(request["kind"], Path(request["source"]), workdir,
                                                       request["limits"], seconds=budget.seconds)}
    except Refusal as refusal:
        result = {"ok": False, "reason": refusal.reason, "params": refusal.params}
    except MemoryError:
        result = {"ok": False, "reason": "resources", "params": {}}
    except Exception as exc:  # noqa: BLE001 - a parser failing in an unforeseen way: refuse, say why in the log
        result = {"ok": False, "reason": "unreadable", "params": {"detail": repr(exc)[:200]}}
    result["examined_in"] = os.getpid()  # the process that read the file: one per file
    (workdir / RESULT_FILE).write_text(json.dumps(result, ensure_ascii=False, default=str))
    return 0


def serve() -> int:
    """``python -I probe.py --serve``: read request paths from stdin, one per line; for each, fork a
    child that runs :func:`main` on it, wait for the child and answer with its exit code (negative:
    the signal that killed it) on stdout. Ends when stdin closes (its owner has gone)."""
    import importlib

    for name in _PRELOAD:  # the reason this process exists: the child finds them imported
        try:
            importlib.import_module(name)
        except ImportError:  # the child fails on it with a clear "unreadable" then
            pass
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    for line in requests:
        request_path = line.decode().strip()
        pid = os.fork()
        if pid == 0:  # the child: never returns into this loop
            code = 70
            try:
                devnull = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):  # parsers' warnings must not reach the examiner's answers
                    os.dup2(devnull, fd)
                os.chdir(Path(request_path).parent)
                code = main([request_path])
            finally:
                os._exit(code)
        _pid, status = os.waitpid(pid, 0)
        answers.write(f"{os.waitstatus_to_exitcode(status)}\n".encode())
        answers.flush()
    return 0


class _Examiner:
    """One examiner process, used by one thread at a time."""

    def __init__(self) -> None:
        # A session of its own, so a timeout kills the examiner, its child and the child's pdfinfo.
        self.process = subprocess.Popen(  # noqa: S603 - our interpreter and this file
            [sys.executable, "-I", __file__, "--serve"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            cwd="/", start_new_session=True,
        )

    def examine(self, request_path: Path, timeout: float) -> int | None:
        """The exit code of the child that examined ``request_path``; None when it did not finish
        within ``timeout`` seconds (the examiner is then killed and must not be used again)."""
        import select

        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            self.process.stdin.write(f"{request_path}\n".encode())
            self.process.stdin.flush()
        except BrokenPipeError:
            return _EXAMINER_LOST
        ready, _w, _x = select.select([self.process.stdout], [], [], timeout)
        if not ready:
            self.kill()
            return None
        answer = self.process.stdout.readline()
        if not answer:
            return _EXAMINER_LOST
        return int(answer)

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait()


# The examiner died between requests (killed from outside): the request is tried once more on a new one.
_EXAMINER_LOST = -1000
# Wall-clock time an examination may take beyond its CPU budget (waiting for disk, a slow pdfinfo,
# the examiner's own start on its first request) before examiner and child are killed.
WALL_CLOCK_SLACK = 10.0


class _Examiners:
    """The idle examiners of this process. A process forked from this one (a Celery worker child)
    starts its own: the pipes of the parent's examiners are not its to use."""

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self._idle: list[_Examiner] = []
        self._owner = os.getpid()

    def take(self) -> _Examiner:
        with self._lock:
            if self._owner != os.getpid():
                self._idle, self._owner = [], os.getpid()
            while self._idle:
                examiner = self._idle.pop()
                if examiner.alive():
                    return examiner
        return _Examiner()

    def give_back(self, examiner: _Examiner) -> None:
        with self._lock:
            self._idle.append(examiner)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for examiner in idle:
            examiner.close()


_examiners = _Examiners()


def _examine_in_child(request_path: Path, timeout: float) -> int | None:
    for _attempt in range(2):
        examiner = _examiners.take()
        code = examiner.examine(request_path, timeout)
        if code is None:
            return None
        if code == _EXAMINER_LOST:
            examiner.kill()
            continue
        _examiners.give_back(examiner)
        return code
    return _EXAMINER_LOST


def run(kind: str, source: Path, workdir: Path, limits: dict[str, int], budget: Budget) -> dict[str, Any]:
    """Examine ``source`` in a child process within ``budget``; return its result or raise
    :class:`Refusal` (also ``resources``/``timeout`` when the child ran out of memory or time,
    ``crashed`` when it died otherwise)."""
    workdir.mkdir(parents=True, exist_ok=True)
    result_path = workdir / RESULT_FILE
    result_path.unlink(missing_ok=True)
    request_path = workdir / "probe-request.json"
    request_path.write_text(json.dumps({
        "kind": kind, "source": str(source), "workdir": str(workdir), "limits": limits,
        "memory": budget.memory, "seconds": budget.seconds,
    }))
    try:
        # The examiner's first request also waits for its start (imports): within the slack.
        returncode = _examine_in_child(request_path.resolve(), budget.seconds + WALL_CLOCK_SLACK)
    finally:
        request_path.unlink(missing_ok=True)
    if returncode is None:
        raise Refusal("timeout", seconds=budget.seconds)
    try:
        result = json.loads(result_path.read_text())
    except (OSError, ValueError):
        result = None
    finally:
        result_path.unlink(missing_ok=True)
    if result is None:
        if returncode == -signal.SIGXCPU:
            raise Refusal("timeout", seconds=budget.seconds)
        # A parser that aborts (or is killed) when the address space runs out leaves no result.
        raise Refusal("resources", returncode=returncode)
    if not result["ok"]:
        raise Refusal(result["reason"], **result["params"])
    return result


if __name__ == "__main__":
    sys.exit(serve() if sys.argv[1:] == ["--serve"] else main(sys.argv[1:]))
