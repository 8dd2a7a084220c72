"""Certificates and their (encrypted) keys.

Private keys are stored only as AES-256-GCM blobs (:func:`signing.keys.encrypt_private_key`)
under ``settings.KEY_ENCRYPTION_KEY``, with the record's certificate fingerprint as associated
data. They are excluded from the admin, from serializers and from ``__repr__``.
"""

from __future__ import annotations

from functools import cached_property

from cryptography import x509
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

PLATFORM_HOLDER = "PLATFORM"


class CertificateAuthority(models.Model):
    """A CA certificate the trust store accepts; the platform's own roots also hold their key."""

    class Kind(models.TextChoices):
        PLATFORM_ROOT = "platform_root", _("平台根证书")
        IMPORTED_ROOT = "imported_root", _("导入的根证书")
        IMPORTED_INTERMEDIATE = "imported_intermediate", _("导入的中间证书")

    kind = models.CharField(_("类别"), max_length=30, choices=Kind.choices)
    name = models.CharField(_("名称"), max_length=200)
    certificate_pem = models.TextField(_("证书"))
    fingerprint = models.CharField(_("SHA-256 指纹"), max_length=64, unique=True)
    encrypted_key = models.BinaryField(null=True, editable=False)
    is_current = models.BooleanField(_("当前签发根证书"), default=False)
    accepted = models.BooleanField(_("受信任"), default=True)
    not_after = models.DateTimeField(_("有效期至"))
    crl_der = models.BinaryField(null=True, editable=False)
    crl_number = models.PositiveIntegerField(default=0)
    crl_next_update = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("证书颁发机构")
        verbose_name_plural = _("证书颁发机构")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["is_current"], condition=Q(is_current=True), name="pki_one_current_root"),
        ]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<CertificateAuthority {self.pk} {self.kind} {self.fingerprint[:16]}>"

    @cached_property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.certificate_pem.encode())

    @cached_property
    def crl(self) -> x509.CertificateRevocationList | None:
        return x509.load_der_x509_crl(bytes(self.crl_der)) if self.crl_der else None


class SigningCertificate(models.Model):
    """An agency's (or the platform's) signing certificate and its encrypted private key."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("使用中")
        RETIRED = "retired", _("已轮换")
        REVOKED = "revoked", _("已吊销")

    class Source(models.TextChoices):
        ISSUED = "issued", _("平台签发")
        IMPORTED = "imported", _("机构导入")

    agency = models.ForeignKey(
        "agencies.Agency", verbose_name=_("机构"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="signing_certificates",
    )
    # The agency code, or PLATFORM for the platform's own certificate (agency is then empty).
    holder = models.CharField(_("持有者代码"), max_length=32, db_index=True)
    subject_name = models.CharField(_("证书主体"), max_length=200)
    serial = models.CharField(_("序列号"), max_length=64)
    fingerprint = models.CharField(_("SHA-256 指纹"), max_length=64, unique=True)
    certificate_pem = models.TextField(_("证书"))
    chain_pem = models.TextField(_("证书链"), blank=True)
    issuer = models.ForeignKey(CertificateAuthority, on_delete=models.PROTECT, related_name="issued")
    encrypted_key = models.BinaryField(editable=False)
    algorithm = models.CharField(_("算法"), max_length=20)
    source = models.CharField(_("来源"), max_length=10, choices=Source.choices, default=Source.ISSUED)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    not_before = models.DateTimeField(_("生效时间"))
    not_after = models.DateTimeField(_("有效期至"))
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)
    revocation_reason = models.CharField(_("吊销原因"), max_length=30, blank=True)
    revocation_note = models.CharField(_("吊销说明"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("签名证书")
        verbose_name_plural = _("签名证书")
        ordering = ["holder", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["holder"], condition=Q(status="active"), name="pki_one_active_certificate_per_holder"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject_name} ({self.serial[:12]}…)"

    def __repr__(self) -> str:
        return f"<SigningCertificate {self.pk} {self.holder} {self.status} {self.serial[:12]}>"

    @cached_property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.certificate_pem.encode())

    @cached_property
    def chain(self) -> list[x509.Certificate]:
        return x509.load_pem_x509_certificates(self.chain_pem.encode()) if self.chain_pem.strip() else []


class PkiState(models.Model):
    """One row whose token changes with every PKI change: per-process caches compare against it."""

    token = models.CharField(max_length=32)
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("证书状态")
        default_permissions = ()

    def __str__(self) -> str:
        return self.token
