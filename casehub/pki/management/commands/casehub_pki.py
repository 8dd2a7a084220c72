"""``manage.py casehub_pki``: operate the agency PKI.

    casehub_pki init                              create the platform root CA (once)
    casehub_pki issue AGENCY_CODE                 issue an agency's first signing certificate
    casehub_pki rotate AGENCY_CODE                new certificate, old one retired (old signatures stay valid)
    casehub_pki rotate --root                     new platform root; the old root stays trusted
    casehub_pki revoke AGENCY_CODE --reason R     revoke the active certificate and republish the CRL
    casehub_pki import AGENCY_CODE FILE [--password-file F | --ask-password]
                                                  use the agency's own CA-issued key + certificate (PKCS#12 or PEM)
    casehub_pki export-trust [-o FILE]            PEM bundle: trusted roots, intermediates and CRLs
    casehub_pki verify FILE [--sha256 X]          check a signed PDF against the platform's trust
    casehub_pki verify FILE --signature SIG       check a detached CMS signature (manifest, receipt)
    casehub_pki status                            every certificate and its state
    casehub_pki rewrap --old-kek-file FILE        re-encrypt every key after changing CASEHUB_KEY_ENCRYPTION_KEY
    casehub_pki check-keys                        prove every key the platform signs with opens (exit 1 if not)

``PLATFORM`` as AGENCY_CODE means the platform's own signing certificate.
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from casehub.agencies.models import Agency
from casehub.pki import services
from casehub.pki.models import PLATFORM_HOLDER, CertificateAuthority, SigningCertificate
from signing import SigningError
from signing.pki import REVOCATION_REASONS


def _agency(code: str) -> Agency | None:
    if code == PLATFORM_HOLDER:
        return None
    agency = Agency.objects.filter(code=code).first()
    if agency is None:
        raise CommandError(f"no agency with code {code!r}")
    return agency


class Command(BaseCommand):
    help = "Operate the agency PKI: init, issue, rotate, revoke, import, export-trust, verify, status, rewrap."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("init", help="create the platform root CA")
        issue = sub.add_parser("issue", help="issue an agency's signing certificate")
        issue.add_argument("agency_code")
        rotate = sub.add_parser("rotate", help="replace an agency's certificate, or the platform root")
        rotate.add_argument("agency_code", nargs="?")
        rotate.add_argument("--root", action="store_true", help="rotate the platform root CA instead")
        revoke = sub.add_parser("revoke", help="revoke an agency's active certificate")
        revoke.add_argument("agency_code")
        revoke.add_argument("--reason", required=True, help=f"one of: {', '.join(REVOCATION_REASONS)} (or camelCase)")
        revoke.add_argument("--note", default="", help="free text kept with the revocation")
        revoke.add_argument("--serial", default=None, help="revoke this certificate (hex serial) instead of the active one")
        imp = sub.add_parser("import", help="import an agency's own key + certificate (PKCS#12 or PEM)")
        imp.add_argument("agency_code")
        imp.add_argument("file")
        imp.add_argument("--password-file", help="file whose first line is the password of FILE (never on the command line)")
        imp.add_argument("--ask-password", action="store_true", help="prompt for the password")
        export = sub.add_parser("export-trust", help="write the trust bundle (PEM)")
        export.add_argument("-o", "--output", default="-", help="file to write (default: standard output)")
        sub.add_parser("status", help="list certificate authorities and signing certificates")
        verify = sub.add_parser("verify", help="check a signed PDF, or a file with its detached CMS signature")
        verify.add_argument("file")
        verify.add_argument("--signature", help="detached CMS signature (DER) of FILE, e.g. manifest.p7s")
        verify.add_argument("--sha256", help="SHA-256 the PDF must have (the stored original's)")
        sub.add_parser("check-keys", help="prove the private keys needed for signing decrypt with the configured "
                                          "key-encryption key")
        rewrap = sub.add_parser("rewrap", help="re-encrypt all private keys under the configured key-encryption key")
        rewrap.add_argument("--old-kek-file", required=True, help="file holding the previous key (base64)")

    def handle(self, *args, **options) -> None:
        action = options["action"]
        try:
            getattr(self, "do_" + action.replace("-", "_"))(options)
        except SigningError as exc:
            raise CommandError(str(exc)) from None

    def do_init(self, options) -> None:
        ca = services.init_root()
        self.stdout.write(f"platform root CA created: {ca.name}\n  SHA-256 {ca.fingerprint}")

    def do_issue(self, options) -> None:
        sc = services.issue_certificate(_agency(options["agency_code"]))
        self.stdout.write(f"issued {sc.subject_name}: serial {sc.serial}, valid until {sc.not_after:%Y-%m-%d}")

    def do_rotate(self, options) -> None:
        if options["root"]:
            if options["agency_code"]:
                raise CommandError("give either AGENCY_CODE or --root, not both")
            ca = services.rotate_root()
            self.stdout.write(f"new platform root CA {ca.fingerprint}; the previous root stays trusted")
            return
        if not options["agency_code"]:
            raise CommandError("give AGENCY_CODE, or --root")
        sc = services.rotate_certificate(_agency(options["agency_code"]))
        self.stdout.write(f"rotated {sc.subject_name}: new serial {sc.serial}; earlier signatures remain valid")

    def do_revoke(self, options) -> None:
        sc = services.revoke_certificate(
            _agency(options["agency_code"]), reason=options["reason"], note=options["note"], serial=options["serial"]
        )
        self.stdout.write(
            f"revoked {sc.subject_name} serial {sc.serial} at {sc.revoked_at:%Y-%m-%d %H:%M:%S} UTC "
            f"({sc.revocation_reason}); signatures made after this time fail verification"
        )

    def do_import(self, options) -> None:
        agency = _agency(options["agency_code"])
        if agency is None:
            raise CommandError("the platform's own certificate is issued, not imported")
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path} is not a file")
        password: str | None = None
        if options["password_file"]:
            password = Path(options["password_file"]).read_text(encoding="utf-8").splitlines()[0]
        elif options["ask_password"]:
            password = getpass.getpass("password: ")
        sc = services.import_credentials(agency, path.read_bytes(), password=password.encode() if password else None)
        self.stdout.write(
            f"imported {sc.subject_name} (serial {sc.serial}) for {agency.code}; its root {sc.issuer.name} "
            "is now trusted"
        )

    def do_export_trust(self, options) -> None:
        bundle = services.export_trust_pem()
        if options["output"] == "-":
            self.stdout.write(bundle.decode("ascii"), ending="")  # PEM is ASCII
        else:
            Path(options["output"]).write_bytes(bundle)
            self.stdout.write(f"wrote {options['output']} ({bundle.count(b'BEGIN CERTIFICATE')} certificates, "
                              f"{bundle.count(b'BEGIN X509 CRL')} CRLs)")

    def do_verify(self, options) -> None:
        from signing.cms import verify_detached
        from signing.pades import verify_pdf

        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path} is not a file")
        if options["signature"]:
            who = verify_detached(path.read_bytes(), Path(options["signature"]).read_bytes(), services.trust_store())
            self.stdout.write(
                f"valid: signed by {who.name} (agency {who.agency_code or '-'}, serial {who.serial}) "
                f"at {_when(who.signing_time, who.time_source)}"
            )
            return
        result = verify_pdf(path.read_bytes(), services.trust_store(), expected_sha256=options["sha256"])
        warnings = 0
        for i, sig in enumerate(result.signatures, 1):
            self.stdout.write(f"#{i} {'VALID' if sig.valid else 'INVALID'}  {sig.signer_name or '?'} "
                              f"({sig.agency_code or '-'}) at {_when(sig.signing_time, sig.time_source)}")
            for problem in sig.problems:
                self.stdout.write(f"     - {problem}")
            if sig.covered_until and sig.covered_until < result.size:
                # Allowed later revisions (validation data, a countersignature) keep a signature
                # valid, but what it vouches for is not the whole file: say so every time.
                warnings += 1
                added = "; ".join(sig.notes) or "not described"
                self.stdout.write(
                    f"     WARNING: this signature covers bytes 0–{sig.covered_until} of {result.size}; "
                    f"{result.size - sig.covered_until} bytes were added after it ({added})"
                )
        for problem in result.problems:
            self.stdout.write(f"- {problem}")
        if not result.valid:
            raise CommandError("the document does not verify")
        tail = f", WARNING: {result.unsigned_bytes} bytes at the end are covered by no signature" if result.unsigned_bytes else ""
        self.stdout.write(f"valid ({len(result.signatures)} signature(s), SHA-256 {result.sha256}{tail})"
                          + (f" — {warnings} warning(s) above" if warnings and not tail else ""))

    def do_rewrap(self, options) -> None:
        path = Path(options["old_kek_file"])
        if not path.is_file():
            raise CommandError(f"{path} is not a file")
        changed = services.rewrap_keys(path.read_text())
        self.stdout.write(f"re-encrypted {changed} private key(s) under the configured key-encryption key")

    def do_check_keys(self, options) -> None:
        fingerprint = services.kek_fingerprint()
        failed = services.keys_that_do_not_open()
        if failed:
            raise CommandError(
                f"{len(failed)} private key(s) needed for signing do not decrypt with CASEHUB_KEY_ENCRYPTION_KEY "
                f"(fingerprint {fingerprint}): {', '.join(failed)}. This platform cannot sign: configure the "
                "key-encryption key these keys were stored under.")
        count = len(services.keys_needed_for_signing())
        self.stdout.write(f"key-encryption key {fingerprint}: all {count} private key(s) needed for signing decrypt")

    def do_status(self, options) -> None:
        for ca in CertificateAuthority.objects.order_by("created_at"):
            flags = [ca.get_kind_display()] + (["current"] if ca.is_current else []) + ([] if ca.accepted else ["REMOVED"])
            self.stdout.write(f"CA   {ca.fingerprint[:16]}  {ca.name}  [{', '.join(str(f) for f in flags)}]  until {ca.not_after:%Y-%m-%d}")
        for sc in SigningCertificate.objects.order_by("holder", "created_at"):
            self.stdout.write(
                f"CERT {sc.holder:<12} {sc.serial[:16]}  {sc.status:<8} until {sc.not_after:%Y-%m-%d}  {sc.subject_name}"
                + (f"  revoked {sc.revoked_at:%Y-%m-%d %H:%M} ({sc.revocation_reason})" if sc.revoked_at else "")
            )


def _when(moment: datetime | None, source: str = "") -> str:
    """A signing time in UTC, with the signer's own clock reading when it was given in another
    offset (a PDF's /M is usually local time: "08:30 +08:00" is 00:30 UTC, not 08:30 UTC)."""
    if moment is None:
        return "an unknown time"
    if moment.tzinfo is None:
        return f"{moment:%Y-%m-%d %H:%M:%S} (no time zone given)" + (f" ({source})" if source else "")
    text = f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
    if moment.utcoffset():
        text += f" (signer's clock {moment:%Y-%m-%d %H:%M:%S %z})"
    return text + (f" ({source})" if source else "")
