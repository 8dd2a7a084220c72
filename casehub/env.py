"""Every environment variable casehub reads, with its default and meaning.

This is the single list a deployer needs; README.md's configuration table mirrors it and a test
keeps the two in step. Settings read variables only through :func:`get`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Var:
    name: str
    default: str
    meaning: str


VARIABLES: tuple[Var, ...] = (
    Var("CASEHUB_ENV", "development", "`production` turns on the production checks: a real SECRET_KEY and "
        "key-encryption key are required, DEBUG is off, cookies are secure, HSTS is sent."),
    Var("CASEHUB_DATA_DIR", "./var", "Where the embedded default keeps its SQLite file, object store, "
        "generated secret key and key-encryption key."),
    Var("SECRET_KEY", "generated into DATA_DIR/secret_key", "Django's signing secret. Required in production."),
    Var("DEBUG", "true in development, false in production", "Django debug mode. Never true in production."),
    Var("ALLOWED_HOSTS", "127.0.0.1,localhost", "Comma-separated host names the platform answers to."),
    Var("CSRF_TRUSTED_ORIGINS", "(empty)", "Comma-separated origins (scheme://host) trusted for CSRF behind a proxy."),
    Var("DATABASE_URL", "sqlite:///DATA_DIR/casehub.sqlite3",
        "Database, e.g. `postgresql://casehub@db:5432/casehub`. PostgreSQL in production."),
    Var("CELERY_BROKER_URL", "(empty: tasks run in-process)",
        "Celery broker, e.g. `redis://redis:6379/0`. Empty means tasks run eagerly in the web process."),
    Var("CASEHUB_TASK_VISIBILITY_TIMEOUT", "900", "Seconds after which a task a worker took but never "
        "acknowledged (the worker died) is handed to another worker. Longer than the longest task, or that task "
        "runs twice (harmless, but wasted); see docs/operations.md."),
    Var("CASEHUB_CACHE_URL", "(empty: local memory)", "Cache, e.g. `redis://redis:6379/1`; needed for "
        "API throttling across several web processes."),
    Var("CASEHUB_STORAGE_URL", "file://DATA_DIR/objects",
        "Object store: `file:///path` for a local directory, or "
        "`s3://ACCESS:SECRET@host:port/bucket?secure=true&lock_mode=COMPLIANCE&lock_days=3650&sse=S3` "
        "for MinIO/S3 (see storage/README)."),
    Var("CASEHUB_KEY_ENCRYPTION_KEY", "generated into DATA_DIR/kek",
        "Base64 of 32 bytes: AES-256-GCM key that encrypts agency private keys at rest. Required in production."),
    Var("CASEHUB_TSA_URL", "(empty)", "RFC 3161 time-stamping authority; when set, PDF signatures are PAdES B-LT "
        "(timestamp, plus the certificates and CRLs in the document security store)."),
    Var("CASEHUB_CRL_BASE_URL", "http://127.0.0.1:8000/pki/crl/", "Base URL of the published CRLs, written into "
        "every agency certificate as its CRL distribution point (`<base>/<CA fingerprint>.crl`); the platform "
        "serves them at `/pki/crl/`. Set it to the address outside validators reach before issuing certificates."),
    Var("CASEHUB_EMAIL_HOST", "(empty: no e-mail)", "SMTP host for deadline notifications; in-app "
        "notifications are always on."),
    Var("CASEHUB_PROXY_COUNT", "0", "How many reverse proxies stand in front of the web processes. 0: no "
        "X-Forwarded-For is believed; N: the Nth entry from the right is the client address used by the "
        "API rate limits, the login lock-out and the audit trail (docs/operations.md)."),
    Var("CASEHUB_TIME_ZONE", "Asia/Shanghai", "Time zone for display and for counting statutory periods."),
)

_BY_NAME = {v.name: v for v in VARIABLES}


def get(name: str, fallback: str | None = None) -> str | None:
    """Read a declared variable; reading an undeclared one is a programming error."""
    if name not in _BY_NAME:
        raise KeyError(f"{name} is not declared in casehub/env.py")
    value = os.environ.get(name)
    if value is None or value == "":
        return fallback
    return value


def get_bool(name: str, fallback: bool) -> bool:
    value = get(name)
    if value is None:
        return fallback
    return value.strip().lower() in {"1", "true", "yes", "on"}


def get_list(name: str, fallback: list[str]) -> list[str]:
    value = get(name)
    if value is None:
        return fallback
    return [item.strip() for item in value.split(",") if item.strip()]
