"""Chinese (translatable) wording for signing results, for pages and API answers.

``signing`` is pure Python and reports in English for logs; what a user reads comes from here, keyed
by exception class, ``SigningError.reason`` and the booleans of ``SignatureInfo``.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from signing import (
    BadPdf,
    CertificateExpired,
    KeyDecryptionError,
    RevokedSigner,
    SignatureInvalid,
    SigningError,
    UntrustedSigner,
)
from signing.pades import PdfVerification, SignatureInfo


def describe_error(exc: SigningError) -> str:
    """One sentence for a user about why signing or verifying failed."""
    if isinstance(exc, BadPdf):
        return {
            "not_pdf": _("文件不是 PDF 文档。"),
            "encrypted": _("PDF 文档已加密，无法签名或验证，请提交未加密的文档。"),
        }.get(exc.reason, _("PDF 文档已损坏或不完整，无法读取。"))
    if isinstance(exc, RevokedSigner):
        if exc.reason == "key_compromise":
            return _("签名证书因私钥泄露已被吊销，且该签名没有可信时间戳，不能证明签于吊销之前。")
        return _("签名证书已被吊销，该签名晚于吊销时间。")
    if isinstance(exc, CertificateExpired):
        return _("签名时签名证书不在有效期内。")
    if isinstance(exc, UntrustedSigner):
        return _("签名证书不是由本平台信任的证书机构签发的。")
    if isinstance(exc, SignatureInvalid):
        return _("签名与内容不符，或签名数据已损坏：内容可能在签名后被修改。")
    if isinstance(exc, KeyDecryptionError):
        return _("签名私钥无法解密，请联系系统管理员。")
    return _("电子签章操作失败，请联系系统管理员。")


def describe_signature(info: SignatureInfo) -> list[str]:
    """Why one PDF signature is not valid (empty when it is)."""
    reasons: list[str] = []
    if not info.intact:
        reasons.append(_("签名后文档内容被修改，或签名已损坏。"))
    if info.revoked:
        reasons.append(_("签名证书在签名时已被吊销。"))
    elif info.expired:
        reasons.append(_("签名时签名证书不在有效期内。"))
    elif info.intact and not info.trusted:
        reasons.append(_("签名证书不是由本平台信任的证书机构签发的。"))
    if info.modified_after_signing:
        reasons.append(_("签名之后文档又被以不允许的方式修改。"))
    return reasons


def describe_pdf(result: PdfVerification) -> list[str]:
    """Why a PDF as a whole does not verify (empty when it does)."""
    reasons: list[str] = []
    if result.sha256_matches is False:
        reasons.append(_("文件与平台保存的原件不一致（SHA-256 摘要不同）。"))
    if not result.signatures:
        reasons.append(_("文档没有电子签名。"))
    if result.trailing_bytes:
        reasons.append(_("文件末尾有 %(n)d 字节不属于任何修订版本，也不在任何签名的范围内（签名后被附加）。")
                       % {"n": result.trailing_bytes})
    for i, info in enumerate(result.signatures, 1):
        for reason in describe_signature(info):
            reasons.append(_("第 %(n)d 个签名（%(signer)s）：%(reason)s") % {"n": i, "signer": info.signer_name, "reason": reason})
    return reasons
