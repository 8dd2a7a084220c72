"""PKI pages: an agency's certificates, the trust bundle for outside tools, and a signature checker.

No private key ever reaches a template: the views read certificates and public metadata only.
"""

from __future__ import annotations

import hashlib

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from casehub.agencies import permissions as p
from casehub.pki import services
from casehub.pki.doors import CERTIFICATE_LIST, VERIFY
from casehub.pki.messages import describe_error, describe_pdf
from casehub.pki.models import CertificateAuthority, SigningCertificate
from signing import SigningError
from signing.pades import verify_pdf

# A PDF checked here is held in memory once; a dossier volume is at most a few hundred MB.
VERIFY_MAX_BYTES = 256 * 1024 * 1024


@require_GET
@login_required
def certificates(request: HttpRequest) -> HttpResponse:
    """Agency administrators see their own agency's certificates; auditors see every agency's."""
    CERTIFICATE_LIST.check(request.user)
    certs = SigningCertificate.objects.select_related("agency", "issuer").order_by("holder", "-created_at")
    if not p.has_capability(request.user, p.VIEW_AUDIT):
        agency = request.user.agency
        certs = certs.filter(agency=agency) if agency is not None else certs.none()
    roots = CertificateAuthority.objects.filter(accepted=True).order_by("-is_current", "-created_at")
    return render(request, "pki/certificates.html", {"certificates": list(certs), "roots": list(roots)})


@require_GET
@login_required
def trust_bundle(request: HttpRequest) -> HttpResponse:
    """The PEM bundle (roots, intermediates, CRLs) for ``openssl cms -verify -CAfile`` or an NSS db."""
    response = HttpResponse(services.export_trust_pem(), content_type="application/x-pem-file")
    response["Content-Disposition"] = 'attachment; filename="casehub-trust.pem"'
    return response


@require_GET
def crl(request: HttpRequest, fingerprint: str) -> HttpResponse:
    """The platform CA's current CRL (DER), at the URL its certificates name as their CRL
    distribution point. Public, like every CRL: validators fetch it without an account, and it
    lists only serial numbers and revocation times."""
    if len(fingerprint) != 64 or any(c not in "0123456789abcdef" for c in fingerprint):
        raise Http404
    der = services.current_crl(fingerprint)
    if der is None:
        raise Http404
    response = HttpResponse(der, content_type="application/pkix-crl")
    response["Content-Disposition"] = 'attachment; filename="casehub.crl"'
    response["Cache-Control"] = "public, max-age=3600"
    return response


class VerifyForm(forms.Form):
    document = forms.FileField(label=gettext_lazy("PDF 文档"))
    expected_sha256 = forms.CharField(
        label=gettext_lazy("原件 SHA-256（可选）"), required=False, max_length=64, min_length=64,
        help_text=gettext_lazy("填写平台保存的原件摘要，可发现任何字节的改动。"),
    )

    def clean_document(self):
        upload = self.cleaned_data["document"]
        if upload.size > VERIFY_MAX_BYTES:
            raise forms.ValidationError(_("文件过大，最多 %(mb)d MB。") % {"mb": VERIFY_MAX_BYTES // 2**20})
        return upload

    def clean_expected_sha256(self):
        value = self.cleaned_data["expected_sha256"].strip().lower()
        if value and any(c not in "0123456789abcdef" for c in value):
            raise forms.ValidationError(_("SHA-256 摘要应为 64 位十六进制数字。"))
        return value or None


@require_http_methods(["GET", "POST"])
@login_required
def verify(request: HttpRequest) -> HttpResponse:
    """Check the signatures of a PDF someone received (e.g. by mail) against the platform's trust."""
    VERIFY.check(request.user)
    form = VerifyForm(request.POST or None, request.FILES or None)
    context: dict = {"form": form}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data["document"].read()
        context["sha256"] = hashlib.sha256(data).hexdigest()
        try:
            result = verify_pdf(data, services.trust_store(), expected_sha256=form.cleaned_data["expected_sha256"])
        except SigningError as exc:
            context["error"] = describe_error(exc)
        else:
            context["result"] = result
            context["reasons"] = describe_pdf(result)
    return render(request, "pki/verify.html", context)
