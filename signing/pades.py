"""PAdES signatures on PDFs: sign as an agency (B-B, or B-T with a TSA) and verify.

Signing appends an incremental update: the earlier bytes — and so every earlier revision and
signature — stay untouched. pyHanko hashes the file once; the work does not grow with page count
beyond that hash (a visible stamp touches only the page it sits on).

Verification reports, per signature, whether its bytes are intact, whether the signer chains to a
trusted root and was not revoked at signing time (policy in :mod:`signing.trust`), and whether the
document was changed afterwards in a way the signature does not allow. A signature check alone
accepts some harmless-looking updates appended later (pyHanko's modification levels), so callers
that stored the file pass ``expected_sha256`` and get a failure for *any* byte of difference.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from functools import lru_cache
from io import BytesIO
from zoneinfo import ZoneInfo

from signing._cmsutil import check_signer_info, judge
from signing.errors import (
    BadPdf,
    CertificateExpired,
    RevokedSigner,
    SignatureInvalid,
    SigningError,
    UntrustedSigner,
)
from signing.pki import agency_code_of, display_name
from signing.signer import Signer
from signing.trust import TrustStore

logger = logging.getLogger(__name__)

CHINA_TIME = ZoneInfo("Asia/Shanghai")
# Stamp box in PDF points (1/72 in): bottom-right of the page, clear of a 2 cm margin.
STAMP_WIDTH, STAMP_HEIGHT, STAMP_MARGIN = 220, 56, 56


@dataclass
class SignatureInfo:
    """One signature of a PDF, as the UI shows it."""

    signer_name: str
    agency_code: str
    signing_time: datetime | None
    valid: bool
    intact: bool
    trusted: bool
    revoked: bool
    modified_after_signing: bool
    problems: list[str] = field(default_factory=list)
    field_name: str = ""
    certificate_serial: str = ""
    time_source: str = ""  # "timestamp" (RFC 3161), "record" (caller's trusted_time), "claimed" (signer's /M)
    timestamped: bool = False
    covers_whole_file: bool = False
    notes: list[str] = field(default_factory=list)
    expired: bool = False  # a certificate of the path was outside its validity at signing time
    covered_until: int = 0  # the signed byte range ends here; bytes after it came later


@dataclass
class PdfVerification:
    """Result of :func:`verify_pdf`: ``valid`` only if every check of every signature passed."""

    valid: bool
    signatures: list[SignatureInfo]
    problems: list[str]
    sha256: str = ""
    sha256_matches: bool | None = None  # None when no expected_sha256 was given
    size: int = 0
    trailing_bytes: int = 0  # bytes after the last %%EOF that belong to no revision (makes it invalid)

    @property
    def unsigned_bytes(self) -> int:
        """Bytes at the end of the file that no signature covers (later revisions, e.g. added
        validation data, which the signatures' notes describe)."""
        covered = max((sig.covered_until for sig in self.signatures), default=0)
        return max(self.size - covered, 0)


# --- signing -----------------------------------------------------------------------------------


def _check_header(pdf: bytes) -> None:
    if not isinstance(pdf, bytes | bytearray | memoryview):
        raise BadPdf("expected the PDF as bytes", reason="not_pdf")
    if b"%PDF-" not in bytes(pdf[:1024]):
        raise BadPdf("the file is not a PDF (no %PDF- header)", reason="not_pdf")


@lru_cache(maxsize=1)
def default_stamp_font() -> str | None:
    """A font with CJK glyphs for the visible stamp, if the system has one."""
    # Noto Sans SC, shipped by a pinned PyPI package (pdfgen uses the same family). Debian's
    # DroidSansFallback was tried and renders with broken advances through pyHanko's shaper.
    try:
        import pylopdf_fonts_zh_cn

        path = os.path.join(os.path.dirname(pylopdf_fonts_zh_cn.__file__), "NotoSansSC-Regular.otf")
        return path if os.path.exists(path) else None
    except ImportError:
        return None


_STAMP_FIXED_CHARS = "0123456789-:+ .()电子签章UTC"
# Bump when the subsetting options below change: cached files of the old options are then ignored.
_STAMP_CACHE_VERSION = 1


def _stamp_cache_dir() -> str:
    """Where stamp-font subsets persist between processes: the user's cache directory, or the
    system temporary directory when that is not writable (a read-only home in a container)."""
    import tempfile

    base = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
                        "casehub", "stamp-fonts")
    for candidate in (base, os.path.join(tempfile.gettempdir(), "casehub-stamp-fonts")):
        try:
            os.makedirs(candidate, exist_ok=True)
            if os.access(candidate, os.W_OK):
                return candidate
        except OSError:
            continue
    return tempfile.mkdtemp(prefix="casehub-stamp-fonts-")


@lru_cache(maxsize=512)
def _subset_font(font_path: str, chars: str) -> str:
    """A small copy of ``font_path`` holding only ``chars``; cached per process and on disk.

    pyHanko subsets the stamp font on every signature, which for a full CJK font costs most of a
    second; subsetting once per distinct stamp text (an agency's name: a handful per installation)
    makes later signatures cheap, also in the next process (each web and worker process, each
    restart). The file name is a hash of the font (path, size, modification time), the characters
    and the options, and is written atomically, so a stale or half-written subset is never read.
    """
    stat = os.stat(font_path)
    key = f"{_STAMP_CACHE_VERSION}:{font_path}:{stat.st_size}:{stat.st_mtime_ns}:{chars}"
    out = os.path.join(_stamp_cache_dir(), f"stamp-{hashlib.sha256(key.encode()).hexdigest()[:32]}.ttf")
    if os.path.isfile(out):
        return out
    from fontTools import subset  # imported only to build a file: the import alone costs ≈0.3 s

    options = subset.Options()
    options.layout_features = ["*"]
    options.notdef_outline = True
    font = subset.load_font(font_path, options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=chars)
    subsetter.subset(font)
    tmp = f"{out}.{os.getpid()}.tmp"
    font.save(tmp)
    font.close()
    os.replace(tmp, out)  # atomic: concurrent builders each write a complete file
    return out


@lru_cache(maxsize=64)
def _stamp_font_program(path: str) -> tuple[bytes, str, bytes]:
    """The stamp font file's bytes, and its font program as embedded in a PDF (``/FontFile3``
    compiled CFF or ``/FontFile2`` TrueType) already Flate-compressed: built once per process.

    pyHanko would subset the font again on every signature and compile it (≈70 ms); the file from
    :func:`_subset_font` holds only the characters a stamp can show, so it is embedded whole."""
    import zlib

    from fontTools import ttLib

    with open(path, "rb") as fh:
        data = fh.read()
    tt = ttLib.TTFont(BytesIO(data))
    buf = BytesIO()
    if "CFF " in tt:
        tt["CFF "].cff.compile(buf, tt)
        key = "/FontFile3"
    else:
        tt.save(buf)
        key = "/FontFile2"
    tt.close()
    return data, key, zlib.compress(buf.getvalue())


def _stamp_font_factory(path: str, font_size: int):
    """A pyHanko font engine factory for a pre-subset stamp font (see _stamp_font_program)."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.font.opentype import GlyphAccumulator, GlyphAccumulatorFactory

    class _PresubsetAccumulator(GlyphAccumulator):
        def _extract_subset(self, options=None):  # the file is the subset already
            pass

    class _Factory(GlyphAccumulatorFactory):
        def create_font_engine(self, writer, obj_stream=None):
            data, key, program = _stamp_font_program(self.font_file)
            if obj_stream is None and writer.stream_xrefs and self.create_objstream_if_needed:
                obj_stream = writer.prepare_object_stream()
            engine = _PresubsetAccumulator(writer=writer, font_handle=BytesIO(data), font_size=self.font_size,
                                           obj_stream=obj_stream)
            cidfont = engine.cidfont_obj

            def set_font_file(writer):
                entries = {generic.pdf_name("/Filter"): generic.pdf_name("/FlateDecode")}
                if key == "/FontFile3":
                    entries[generic.pdf_name("/Subtype")] = generic.pdf_name("/CIDFontType0C")
                ref = writer.add_object(generic.StreamObject(entries, encoded_data=program))
                cidfont._font_descriptor[generic.pdf_name(key)] = ref
                return ref

            cidfont.set_font_file = set_font_file
            return engine

    return _Factory(path, font_size=font_size)


def warm_up() -> None:
    """Import what signing a PDF imports on first use (pyHanko and its dependencies: a quarter of
    a second or more), so a process that calls this at start signs its first document as fast as
    its later ones."""
    import pyhanko.pdf_utils.font.opentype  # noqa: F401
    import pyhanko.pdf_utils.incremental_writer  # noqa: F401
    import pyhanko.sign.fields  # noqa: F401
    import pyhanko.sign.signers  # noqa: F401
    import pyhanko.stamp  # noqa: F401
    import pyhanko_certvalidator  # noqa: F401


def _page_size(writer, page_ix: int) -> tuple[float, float]:
    page_ref = writer.find_page_for_modification(page_ix)[0]
    node = page_ref.get_object()
    while node is not None:
        if "/MediaBox" in node:
            x1, y1, x2, y2 = (float(v) for v in node["/MediaBox"])
            return abs(x2 - x1), abs(y2 - y1)
        node = node.get("/Parent")
        node = node.get_object() if node is not None else None
    return 595.0, 842.0  # A4


def sign_pdf(
    pdf: bytes,
    signer: Signer,
    *,
    reason: str = "",
    location: str = "",
    stamp_text: str | None = None,
    tsa_url: str | None = None,
    stamp_page: int = -1,
    stamp_font: str | None = None,
    stamp_timezone: tzinfo = CHINA_TIME,
) -> bytes:
    """Append a PAdES signature by ``signer`` to ``pdf`` and return the new file.

    ``stamp_text`` (usually the agency name) makes the signature visible: a box at the bottom
    right of ``stamp_page`` (default: last page) with that text and the signing time in
    ``stamp_timezone``. ``tsa_url`` (default: the signer's): RFC 3161 time-stamping authority →
    PAdES B-T; if the signer also has ``validation`` (its trust store), PAdES B-LT: the
    certificates and CRLs that validate the signature and the timestamp go into the document
    security store (DSS) in an incremental update after the signature. B-LT needs the TSA's roots
    in the trust store; without them, or when the paths cannot be validated with what the trust
    store holds, the signature is B-T and the reason is logged (signing never fails for lack of
    revocation data).
    """
    _check_header(pdf)
    signer.check_usable()
    tsa_url = tsa_url or signer.tsa_url
    options = {"reason": reason, "location": location, "stamp_text": stamp_text, "tsa_url": tsa_url,
               "stamp_page": stamp_page, "stamp_font": stamp_font, "stamp_timezone": stamp_timezone}
    trust = signer.validation() if tsa_url and signer.validation is not None else None
    if trust is not None and trust.tsa_roots:
        try:
            return _sign_pdf(pdf, signer, ltv_trust=trust, **options)
        except _LtvImpossible as exc:
            logger.warning("PAdES B-LT not possible, signing B-T instead: %s", exc)
    return _sign_pdf(pdf, signer, ltv_trust=None, **options)


class _LtvImpossible(Exception):
    """The validation data for B-LT could not be assembled from the trust store."""


def _sign_pdf(
    pdf: bytes,
    signer: Signer,
    *,
    reason: str,
    location: str,
    stamp_text: str | None,
    tsa_url: str | None,
    stamp_page: int,
    stamp_font: str | None,
    stamp_timezone: tzinfo,
    ltv_trust: TrustStore | None,
) -> bytes:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.sign import fields, signers
    from pyhanko.sign.fields import SigSeedSubFilter
    from pyhanko_certvalidator.errors import PathError, ValidationError

    # The signature is appended to this stream in place ("in_place" below): pyHanko otherwise copies
    # the whole original into a new buffer in 4 KB chunks, which for a 40 MB volume cost more than
    # hashing it. BytesIO shares the caller's bytes until the first write, then copies them once.
    source = BytesIO(bytes(pdf))
    try:
        writer = IncrementalPdfFileWriter(source, strict=False)
    except Exception as exc:  # noqa: BLE001 - pyHanko's parser fails on damaged input in many ways
        raise BadPdf(f"the PDF cannot be read (damaged or truncated): {_brief(exc)}", reason="damaged") from None
    if writer.prev.encrypted:
        raise BadPdf("the PDF is encrypted; an encrypted PDF cannot be signed here", reason="encrypted")
    try:
        existing = {name for name, _value, _ref in fields.enumerate_sig_fields(writer.prev)}
        field_name = next(f"Signature{i}" for i in range(len(existing) + 1, len(existing) + 100)
                          if f"Signature{i}" not in existing)
        stamp_style = None
        new_field_spec = None
        if stamp_text:
            stamp_style, new_field_spec = _stamp(writer, field_name, stamp_text, stamp_page, stamp_font, stamp_timezone)
        timestamper = None
        validation_context = None
        if tsa_url:
            from pyhanko.sign.timestamps.requests_client import RequestsHTTPTimeStamper

            timestamper = RequestsHTTPTimeStamper(tsa_url, timeout=10)
            if ltv_trust is not None:
                validation_context = _ltv_context(ltv_trust, signer)
        meta = signers.PdfSignatureMetadata(
            field_name=field_name,
            md_algorithm=signer.algorithm.hash_name,
            subfilter=SigSeedSubFilter.PADES,
            reason=reason or None,
            location=location or None,
            name=signer.name,
            embed_validation_info=validation_context is not None,
            validation_context=validation_context,
        )
        pdf_signer = signers.PdfSigner(
            meta, signer=signer.pyhanko_signer(), timestamper=timestamper,
            stamp_style=stamp_style, new_field_spec=new_field_spec,
        )
        reserved = None
        if timestamper is None:
            # pyHanko otherwise signs a dry-run CMS just to learn its size, which doubles the
            # constant cost of signing. Without a timestamp token the size is known: the embedded
            # certificates plus signed attributes and the signature value, well under 3 KB.
            # bytes_reserved counts hex digits (two per byte).
            from cryptography.hazmat.primitives.serialization import Encoding

            certs = sum(len(c.public_bytes(Encoding.DER)) for c in (signer.certificate, *signer.chain))
            reserved = 2 * (certs + 3072)
        pdf_signer.sign_pdf(writer, in_place=True, bytes_reserved=reserved)
    except SigningError:
        raise
    except (PathError, ValidationError) as exc:
        if validation_context is None:
            raise
        raise _LtvImpossible(_brief(exc)) from None
    except Exception as exc:  # noqa: BLE001 - see below
        if tsa_url and type(exc).__module__.startswith(("requests", "urllib3", "pyhanko.sign.timestamps")):
            raise SigningError(f"the time-stamping authority did not answer properly: {_brief(exc)}") from None
        # Everything else pyHanko raises here comes from the document's structure (a damaged
        # page tree, a broken AcroForm, ...): report it as a bad PDF, keep the details in the log.
        logger.info("PDF could not be signed: %s: %s", type(exc).__name__, exc)
        if isinstance(exc, PdfError | KeyError | IndexError | TypeError | ValueError | AttributeError):
            raise BadPdf(f"the PDF cannot be signed (damaged structure): {_brief(exc)}", reason="damaged") from None
        raise
    return source.getvalue()


def _ltv_context(trust: TrustStore, signer: Signer):
    """pyHanko's validation context for B-LT: our roots and the TSA roots as anchors, the chain and
    intermediates, the CRLs we hold. Nothing is fetched (the platform's own CRL URL may be this
    very process); a certificate without revocation data here is embedded without it."""
    from asn1crypto import crl as asn1_crl
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives.serialization import Encoding
    from pyhanko_certvalidator import ValidationContext

    def cert(c):
        return asn1_x509.Certificate.load(c.public_bytes(Encoding.DER))

    return ValidationContext(
        trust_roots=[cert(c) for c in (*trust.roots, *trust.tsa_roots)],
        other_certs=[cert(c) for c in (*trust.intermediates, *signer.chain)],
        crls=[asn1_crl.CertificateList.load(c.public_bytes(Encoding.DER)) for c in trust.crls],
        allow_fetching=False,
        revocation_mode="soft-fail",
    )


def _brief(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def _stamp(writer, field_name: str, text: str, page: int, font: str | None, tz: tzinfo):
    from pyhanko.pdf_utils.text import TextBoxStyle
    from pyhanko.sign import fields
    from pyhanko.stamp import TextStampStyle

    width, _height = _page_size(writer, page)
    x2 = max(width - STAMP_MARGIN, STAMP_WIDTH)
    box = (x2 - STAMP_WIDTH, STAMP_MARGIN, x2, STAMP_MARGIN + STAMP_HEIGHT)
    font = font or default_stamp_font()
    text_style = TextBoxStyle(font_size=9)
    now = datetime.now(tz)
    label = "电子签章" if font else "Signed"  # pyHanko's built-in Courier has no CJK glyphs
    # pyHanko interpolates %(name)s in stamp text: escape any % the caller wrote.
    stamp_text = f"{text.replace('%', '%%')}\n{label} {now:%Y-%m-%d %H:%M:%S} {now:%z}"
    if font:
        chars = "".join(sorted(set(text + _STAMP_FIXED_CHARS)))
        small = _subset_font(font, chars)
        text_style = TextBoxStyle(font=_stamp_font_factory(small, font_size=9), font_size=9)
    elif not text.isascii():
        raise SigningError("no CJK font for the signature stamp: install pylopdf-fonts-zh-cn or pass stamp_font")
    style = TextStampStyle(stamp_text=stamp_text, text_box_style=text_style, border_width=1)
    spec = fields.SigFieldSpec(sig_field_name=field_name, on_page=page, box=box)
    return style, spec


# --- verifying ---------------------------------------------------------------------------------


def verify_pdf(
    data: bytes, trust: TrustStore, *, expected_sha256: str | None = None, trusted_time: datetime | None = None
) -> PdfVerification:
    """Check every signature of ``data`` (see the module docstring). Raises BadPdf for a non-PDF
    or an encrypted PDF; every other finding is reported in the result.

    ``trusted_time``: when the platform itself recorded the file (e.g. its upload time); signatures
    without an RFC 3161 timestamp are judged at that time instead of their claimed one."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    _check_header(data)
    data = bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    problems: list[str] = []
    matches = None if expected_sha256 is None else sha == expected_sha256.lower()
    if matches is False:
        problems.append(
            f"the file differs from the stored original (SHA-256 {sha[:16]}…, expected {expected_sha256[:16]}…)"
        )
    try:
        reader = PdfFileReader(BytesIO(data), strict=False)
        if reader.encrypted:
            raise BadPdf("the PDF is encrypted; its signatures cannot be checked here", reason="encrypted")
        embedded, broken = _collect_signatures(reader)
    except BadPdf:
        raise
    except Exception as exc:  # noqa: BLE001 - pyHanko's parser fails on damaged input in many ways
        logger.info("PDF could not be read for verification: %s: %s", type(exc).__name__, exc)
        raise BadPdf(f"the PDF cannot be read (damaged or truncated): {_brief(exc)}", reason="damaged") from None
    if not embedded and not broken:
        problems.append("the document carries no signature")
    junk = _bytes_after_last_eof(data)
    if junk:
        problems.append(f"{junk} bytes after the end of the PDF's last revision belong to no revision and no signature")
    infos = [_verify_one(sig, trust, trusted_time) for sig in embedded] + broken
    valid = not problems and bool(infos) and all(i.valid for i in infos)
    return PdfVerification(valid=valid, signatures=infos, problems=problems, sha256=sha, sha256_matches=matches,
                           size=len(data), trailing_bytes=junk)


def _collect_signatures(reader) -> tuple[list, list[SignatureInfo]]:
    """The readable embedded signatures in signing order, and a finding for each signature field
    whose signature cannot even be parsed (a damaged CMS blob is an invalid signature, not an
    unreadable PDF). Structural errors of the PDF itself still propagate."""
    from pyhanko.sign.fields import enumerate_sig_fields
    from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

    readable, broken = [], []
    for fq_name, _sig_obj, sig_field in enumerate_sig_fields(reader, filled_status=True):
        try:
            readable.append(EmbeddedPdfSignature(reader, sig_field, fq_name))
        except Exception as exc:  # noqa: BLE001 - asn1crypto fails lazily and in many ways on a damaged blob
            logger.info("signature %s cannot be parsed: %s: %s", fq_name, type(exc).__name__, exc)
            broken.append(SignatureInfo(
                signer_name="", agency_code="", signing_time=None, valid=False, intact=False, trusted=False,
                revoked=False, modified_after_signing=False, field_name=fq_name or "",
                problems=["invalid signature: its CMS structure is damaged and cannot be read"],
            ))
    readable.sort(key=lambda emb: emb.signed_revision)
    return readable, broken


def _bytes_after_last_eof(data: bytes) -> int:
    """Bytes after the last ``%%EOF`` marker (line ends and NULs excepted)."""
    end = data.rfind(b"%%EOF")
    if end < 0:
        return 0  # no marker at all: pyHanko already read the file some other way; nothing to measure
    return len(data[end + 5:].strip(b"\r\n\x00 \t"))


def _verify_one(embedded, trust: TrustStore, trusted_time: datetime | None) -> SignatureInfo:
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    info = SignatureInfo(
        signer_name="", agency_code="", signing_time=None, valid=False, intact=False, trusted=False,
        revoked=False, modified_after_signing=False,
    )
    try:
        info.field_name = embedded.field_name or ""
        cert = embedded.signer_cert
        from signing._cmsutil import to_crypto

        c = to_crypto(cert)
        info.signer_name, info.agency_code = display_name(c), agency_code_of(c)
        info.certificate_serial = format(c.serial_number, "x")
    except Exception as exc:  # noqa: BLE001 - a broken signature dictionary is a finding, not a crash
        info.problems.append(f"invalid signature: the signer's certificate cannot be read from it ({_brief(exc)})")
        return info
    try:
        embedded.compute_integrity_info()
        checked = check_signer_info(embedded.signed_data, embedded.compute_digest(), None, trust)
    except SignatureInvalid as exc:
        info.problems.append(str(exc))
        return info
    except Exception as exc:  # noqa: BLE001 - malformed signer info fails in many ways: a finding, not a crash
        info.problems.append(f"the signature cannot be checked: {exc}")
        return info
    info.intact = checked.intact and checked.valid
    if not checked.intact:
        info.problems.append("the signed bytes were changed after signing (digest mismatch)")
    elif not checked.valid:
        info.problems.append("the signature value does not verify with the signer's certificate")
    info.notes.extend(checked.notes)
    if checked.claimed_time is None:
        checked.claimed_time = embedded.self_reported_timestamp  # PAdES puts it in /M, not in CMS
    info.timestamped = checked.timestamp_time is not None
    byte_range = list(embedded.byte_range)
    info.covered_until = int(byte_range[-2]) + int(byte_range[-1]) if len(byte_range) >= 4 else 0
    coverage = embedded.coverage
    info.covers_whole_file = coverage == SignatureCoverageLevel.ENTIRE_FILE
    diff = embedded.diff_result
    level = getattr(diff, "modification_level", None)
    if coverage < SignatureCoverageLevel.ENTIRE_REVISION:
        info.modified_after_signing = True
        info.problems.append("the signature does not cover a whole revision of the document")
    elif level is None or level == ModificationLevel.OTHER:
        info.modified_after_signing = True
        detail = str(diff).strip().splitlines()[0] if isinstance(diff, Exception) and str(diff).strip() else ""
        info.problems.append(
            "the document was modified after this signature in a way it does not allow" + (f": {detail}" if detail else "")
        )
    elif not info.covers_whole_file:
        info.notes.append(f"later revisions only add {level.name.lower().replace('_', ' ')} changes (allowed)")
    if info.intact:
        try:
            judged = judge(checked, trust, trusted_time=trusted_time)
            info.trusted = True
            info.agency_code = judged.validated.agency_code
            info.signing_time, info.time_source = judged.signing_time, judged.time_source
            info.notes.extend(judged.validated.notes)
        except RevokedSigner as exc:
            info.revoked = True
            info.problems.append(str(exc))
        except CertificateExpired as exc:
            info.expired = True
            info.problems.append(str(exc))
        except (UntrustedSigner, SignatureInvalid) as exc:
            info.problems.append(str(exc))
    if info.signing_time is None:
        info.signing_time = checked.timestamp_time or checked.claimed_time
    info.valid = info.intact and info.trusted and not info.revoked and not info.modified_after_signing
    return info
