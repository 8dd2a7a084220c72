"""Agency PKI and signatures: keys, certificates, trust, PAdES PDFs and detached CMS.

Pure Python (no Django): ``casehub.pki`` keeps keys and certificates in the database and hands
out :class:`Signer` and :class:`TrustStore` objects built from them.
"""

from signing.errors import (
    BadPdf,
    CertificateExpired,
    KeyDecryptionError,
    RevokedSigner,
    SignatureInvalid,
    SigningError,
    UntrustedSigner,
)
from signing.signer import Signer
from signing.trust import Revocation, TrustStore

__all__ = [
    "BadPdf",
    "CertificateExpired",
    "KeyDecryptionError",
    "Revocation",
    "RevokedSigner",
    "SignatureInvalid",
    "Signer",
    "SigningError",
    "TrustStore",
    "UntrustedSigner",
]
