"""casehub settings.

Everything a deployer can change comes from the environment variables declared in
:mod:`casehub.env`. With none set, casehub runs on the embedded default: SQLite, a local
object-store directory and in-process tasks. ``CASEHUB_ENV=production`` refuses to start without
real secrets and turns on every transport-security setting ``check --deploy`` looks for.
"""

from __future__ import annotations

import base64
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from casehub import env

BASE_DIR = Path(__file__).resolve().parent.parent
PRODUCTION = (env.get("CASEHUB_ENV") or "development").lower() == "production"
DATA_DIR = Path(env.get("CASEHUB_DATA_DIR") or BASE_DIR / "var").resolve()


def _generated_secret(filename: str, make: callable) -> str:
    """A secret kept in the data directory so the embedded default survives restarts."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / filename
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def _is_weak_secret(value: str | None) -> bool:
    return not value or len(value) < 50 or value.startswith("django-insecure") or len(set(value)) < 5


SECRET_KEY = env.get("SECRET_KEY")
KEY_ENCRYPTION_KEY = env.get("CASEHUB_KEY_ENCRYPTION_KEY")
if PRODUCTION:
    if _is_weak_secret(SECRET_KEY):
        raise ImproperlyConfigured(
            "CASEHUB_ENV=production needs SECRET_KEY set to a random value of at least 50 characters."
        )
    if not KEY_ENCRYPTION_KEY:
        raise ImproperlyConfigured(
            "CASEHUB_ENV=production needs CASEHUB_KEY_ENCRYPTION_KEY (base64 of 32 random bytes)."
        )
else:
    SECRET_KEY = SECRET_KEY or _generated_secret("secret_key", lambda: secrets.token_urlsafe(64))
    KEY_ENCRYPTION_KEY = KEY_ENCRYPTION_KEY or _generated_secret(
        "kek", lambda: base64.b64encode(secrets.token_bytes(32)).decode()
    )

DEBUG = env.get_bool("DEBUG", not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off when CASEHUB_ENV=production.")
ALLOWED_HOSTS = env.get_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.get_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "guardian",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_htmx",
    "csp",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "js_lib_bootstrap5",
    "js_lib_htmx",
    # casehub domain apps
    "casehub.agencies",
    "casehub.audit",
    "casehub.accounts",
    "casehub.objectstore",
    "casehub.pki",
    "casehub.cases",
    "casehub.dossier",
    "casehub.clocks",
    "workflows",
    "casehub.transfers",
    "casehub.custody",
    "casehub.legalaid",
    "casehub.notifications",
    "casehub.metrics",
    "casehub.integration",
    "casehub.api",
    "casehub.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "casehub.web.middleware.NoStoreMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "casehub.agencies.middleware.RequireSecondFactorMiddleware",
    "casehub.agencies.middleware.RequirePasswordChangeMiddleware",
    "casehub.audit.middleware.ActingUserMiddleware",
    # AxesMiddleware last: it turns a lock-out into the lock-out response.
    "axes.middleware.AxesMiddleware",
]

if PRODUCTION:
    # gunicorn serves the static files itself: nothing loads from outside the intranet.
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "casehub.urls"
WSGI_APPLICATION = "casehub.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "casehub.web.context_processors.navigation",
            ],
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        env.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'casehub.sqlite3'}",
        conn_max_age=0 if not PRODUCTION else 60,
        # A kept connection is checked (one round trip) before its first use in a request, so a
        # database restart or failover costs a reconnect, not one 500 per web process.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Transitions lock the case row; on SQLite that means taking the write lock at BEGIN.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update({"transaction_mode": "IMMEDIATE", "timeout": 20})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "agencies.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# django-guardian: no anonymous user; every permission belongs to a real account.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False
GUARDIAN_RENDER_403 = False

# How many reverse proxies stand in front of gunicorn (docs/operations.md): decides whether any
# X-Forwarded-For entry is believed (casehub.addresses).
CASEHUB_PROXY_COUNT = int(env.get("CASEHUB_PROXY_COUNT") or 0)

# django-axes: lock an account+address after repeated failures.
AXES_FAILURE_LIMIT = 5
# The lock-out keys on the same client address as the API limits: behind CASEHUB_PROXY_COUNT
# proxies, the address the last trusted proxy saw; with 0 (no proxy), REMOTE_ADDR and no header.
AXES_CLIENT_IP_CALLABLE = "casehub.addresses.client_address"
AXES_COOLOFF_TIME = timedelta(minutes=30)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

SESSION_COOKIE_AGE = 8 * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Content-Security-Policy (django-csp) on every page: scripts only from our own static files — no
# inline script anywhere (templates keep behaviour in static/*.js; the API docs page uses the
# split Swagger view that loads its start-up script as a file). Inline *styles* stay allowed:
# Bootstrap's components, htmx's indicator and Swagger UI set style attributes; CSS cannot run code.
# Views that serve files set their own, stricter policy (downloads: ``default-src 'none'; sandbox``).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],  # Bootstrap's form controls draw their icons as data: SVGs
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-src": ["'self'"],  # the reading room shows the PDF in a same-origin frame
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "casehub" / "locale"]
USE_I18N = True
TIME_ZONE = env.get("CASEHUB_TIME_ZONE") or "Asia/Shanghai"
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "casehub" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Uploads stream to disk above 2.5 MB, never into memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_TEMP_DIR = None

_cache_url = env.get("CASEHUB_CACHE_URL")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _cache_url}
    if _cache_url
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

# Celery: JSON only, acknowledged after the task finishes so a crashed worker's task is redelivered.
CELERY_BROKER_URL = env.get("CELERY_BROKER_URL") or "memory://"
CELERY_TASK_ALWAYS_EAGER = env.get("CELERY_BROKER_URL") is None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Redis hands a task that was delivered but never acknowledged (its worker was killed: acks late)
# to another worker once this many seconds passed since delivery. kombu's default is an hour,
# which left a crashed assembly "running" that long. It must exceed the longest task (ingest of a
# CASEHUB_UPLOAD_MAX_BYTES upload, minutes), or that task is delivered a second time while it still
# runs — harmless, every task is idempotent (tests/faults/test_worker_crash.py), but wasted work.
# The unacknowledged set is swept every tenth of the timeout (at most 10 s), so a dead worker's
# task runs again between CASEHUB_TASK_VISIBILITY_TIMEOUT and that plus 10 s after it was delivered.
try:
    CASEHUB_TASK_VISIBILITY_TIMEOUT = int(env.get("CASEHUB_TASK_VISIBILITY_TIMEOUT") or 900)
except ValueError:
    CASEHUB_TASK_VISIBILITY_TIMEOUT = 0
if CASEHUB_TASK_VISIBILITY_TIMEOUT <= 0:
    raise ImproperlyConfigured("CASEHUB_TASK_VISIBILITY_TIMEOUT must be a positive number of seconds.")
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CASEHUB_TASK_VISIBILITY_TIMEOUT,
    "unacked_restore_interval": max(1, min(10, CASEHUB_TASK_VISIBILITY_TIMEOUT // 10)),
    "unacked_restore_throttle": 1,
}
CELERY_BEAT_SCHEDULE: dict = {
    # Forget expired Idempotency-Key records and old API task rows (casehub/api/tasks.py).
    "api-purge-expired": {"task": "casehub.api.purge_expired", "schedule": timedelta(hours=1)},
    # Mark overdue statutory clocks and warn supervisors (idempotent; hourly is plenty).
    "clocks-check": {"task": "casehub.clocks.tasks.check_clocks_task", "schedule": timedelta(hours=1)},
    # Bail and residential surveillance whose period ran out without a new decision end (CPL art. 79).
    "measures-lapse": {"task": "workflows.tasks.lapse_expired_measures_task", "schedule": timedelta(hours=1)},
    # Sign the audit chain head into the write-once object store (casehub/audit/checkpoints.py).
    "audit-checkpoint": {"task": "casehub.audit.tasks.sign_checkpoint_task", "schedule": timedelta(minutes=15)},
}

CASEHUB_STORAGE_URL = env.get("CASEHUB_STORAGE_URL") or (DATA_DIR / "objects").as_uri()
CASEHUB_TSA_URL = env.get("CASEHUB_TSA_URL")
CASEHUB_CRL_BASE_URL = env.get("CASEHUB_CRL_BASE_URL") or "http://127.0.0.1:8000/pki/crl/"

_email_host = env.get("CASEHUB_EMAIL_HOST")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend" if _email_host else "django.core.mail.backends.dummy.EmailBackend"
)
EMAIL_HOST = _email_host or "localhost"

REST_FRAMEWORK = {
    # Our throttles and the failed-token limit use casehub.addresses.client_address; DRF's own
    # get_ident follows the same count (0: REMOTE_ADDR only — DRF's None would trust the header).
    "NUM_PROXIES": CASEHUB_PROXY_COUNT,
    "DEFAULT_SCHEMA_CLASS": "casehub.api.schema.CasehubAutoSchema",
    # Bearer tokens for agency systems; the browser's session (CSRF-checked) for the UI's own calls.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "casehub.api.authentication.BearerTokenAuthentication",
        "casehub.api.authentication.VerifiedSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "casehub.api.pagination.Cursor",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "casehub.api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["casehub.api.throttling.ClientRateThrottle"],
    # Per credential (client/personal), per session user, per anonymous address; a credential may
    # carry its own rate. Counters live in the cache: use Redis (CASEHUB_CACHE_URL) with >1 process.
    "DEFAULT_THROTTLE_RATES": {"client": "1200/min", "personal": "600/min", "user": "600/min", "anon": "60/min"},
    "NON_FIELD_ERRORS_KEY": "non_field_errors",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "casehub API",
    "DESCRIPTION": "REST API for agency case systems. Errors, pagination, idempotency and "
                   "authentication are described in docs/api.md.",
    "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SECURITY": [{"bearerAuth": []}, {"cookieAuth": []}],
    "ENUM_NAME_OVERRIDES": {
        "AgencyKindEnum": "casehub.agencies.models.AgencyKind",
        "RoleEnum": "casehub.agencies.models.Role",
        "CaseStatusEnum": "casehub.cases.models.CaseStatus",
        "PersonRoleEnum": "casehub.cases.models.PersonRole",
        "CredentialKindEnum": "casehub.api.models.CredentialKind",
        "TaskStatusEnum": "casehub.api.models.TaskStatus",
        "TransferKindEnum": "workflows.models.TransferKind",
        "TransferStatusEnum": "workflows.models.TransferStatus",
        "TransferModeEnum": "workflows.models.TransferMode",
        "VerificationStatusEnum": "workflows.models.VerificationStatus",
        "ApprovalStatusEnum": "workflows.models.ApprovalStatus",
        "VolumeStatusEnum": "casehub.dossier.models.VolumeStatus",
        "NoticeKindEnum": "casehub.custody.models.NoticeKind",
        "YesNoEnum": "casehub.api.schema.yes_no_choices",
        "RecommendedProcedureEnum": "casehub.api.schema.recommended_procedure_choices",
        "HigherExtensionGroundEnum": "casehub.api.schema.higher_extension_ground_choices",
        "WithdrawalGroundEnum": "casehub.api.schema.withdrawal_ground_choices",
        "MeasureDecisionEnum": "casehub.api.schema.measure_decision_choices",
        "ExecutorEnum": "casehub.api.schema.executor_choices",
        "CorrectionExecutorEnum": "casehub.api.schema.correction_executor_choices",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"casehub": {"level": "INFO"}},
}

# Domain tunables (each app documents its own).
CASEHUB_VOLUME_MAX_PAGES = 200
CASEHUB_UPLOAD_MAX_BYTES = 2 * 1024**3
# Clocks: warn the holder agency's supervisors this many days before a statutory clock is due.
CASEHUB_CLOCK_WARNING_DAYS = 3
# Home inbox / deadline list: show clocks due within this many days.
CASEHUB_CLOCK_INBOX_DAYS = 7
# Workflow: override which transitions need a supervisor's internal approval before they leave the
# agency, e.g. {"indict": False}; the defaults are in workflows/definition.py (docs/workflow.md).
CASEHUB_WORKFLOW_APPROVALS: dict[str, bool] = {}
# Custody: a detainee appears on the detention centre's deadline list this many days before the
# custody period ends — 3 for a (30-day) detention, 7 for custody after arrest.
CASEHUB_CUSTODY_WARN_DETENTION_DAYS = 3
CASEHUB_CUSTODY_WARN_ARREST_DAYS = 7
# Object store: how often the integrity sweep re-hashes every referenced object (verify_storage),
# and which objects it covers ("referenced" by the database, or "all" in the store).
CASEHUB_STORAGE_SWEEP_INTERVAL = timedelta(hours=24)
CASEHUB_STORAGE_SWEEP_SCOPE = "referenced"
CELERY_BEAT_SCHEDULE["objectstore-verify-storage"] = {
    "task": "casehub.objectstore.verify_storage",
    "schedule": CASEHUB_STORAGE_SWEEP_INTERVAL,
    "kwargs": {"scope": CASEHUB_STORAGE_SWEEP_SCOPE},
}
# Audit: besides Celery beat, the web process signs a checkpoint of the chain head after the commit
# of an event once this many events were appended since the newest checkpoint, or once the newest
# checkpoint is this many minutes old (so the embedded default, which runs no beat, signs too).
CASEHUB_AUDIT_CHECKPOINT_EVERY_EVENTS = 100
CASEHUB_AUDIT_CHECKPOINT_EVERY_MINUTES = 15
# API: lifetime of Idempotency-Key records (hours), of finished task rows (days), longest token (days).
CASEHUB_API_IDEMPOTENCY_TTL_HOURS = 24
CASEHUB_API_TASK_TTL_DAYS = 7
CASEHUB_API_TOKEN_MAX_DAYS = 730
# API: failed token attempts per address and minute before the address is refused (429) for a minute.
CASEHUB_API_AUTH_FAILURES_PER_MINUTE = 30
# PKI: lifetime of agency signing certificates (days); how long a process trusts its cached
# signers/trust store before re-checking the PKI change token (seconds); optional PEM file of the
# roots that vouch for the configured TSA's time-stamp tokens.
CASEHUB_PKI_CERT_DAYS = 730
CASEHUB_PKI_CACHE_SECONDS = 2
CASEHUB_TSA_ROOTS_FILE = ""
# Dossier: ingest limits live in casehub/dossier/limits.py (documented in docs/dossier.md);
# abandoned chunked uploads are purged hourly.
CELERY_BEAT_SCHEDULE["dossier-purge-stale-uploads"] = {
    "task": "casehub.dossier.tasks.purge_stale_uploads",
    "schedule": timedelta(hours=1),
}
# Integration (casehub/integration, docs/api.md): the CloudEvents `source` of webhook bodies;
# webhook attempts before a delivery is dead, back-off base and cap (seconds), request timeout;
# due deliveries (retries, and those of a worker that died) are queued every minute.
CASEHUB_EVENT_SOURCE = "urn:casehub:platform"
CASEHUB_WEBHOOK_MAX_ATTEMPTS = 8
CASEHUB_WEBHOOK_RETRY_BASE_SECONDS = 30
CASEHUB_WEBHOOK_RETRY_MAX_SECONDS = 6 * 3600
CASEHUB_WEBHOOK_TIMEOUT_SECONDS = 5.0
# Tests only: send eager-mode deliveries in the calling thread instead of a background thread.
CASEHUB_WEBHOOK_SYNC_FOR_TESTS = False
CELERY_BEAT_SCHEDULE["integration-deliver-due-webhooks"] = {
    "task": "casehub.integration.tasks.deliver_due_webhooks",
    "schedule": timedelta(minutes=1),
}
