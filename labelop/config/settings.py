"""Django settings. Operator settings come from labelop.config.env; the rest is fixed here."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url

from labelop.config.env import Env, ensure_data_dir, instance_secret

ENV = Env.read()
BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = ensure_data_dir(ENV.data_dir)

SECRET_KEY = instance_secret(DATA_DIR, "secret_key")
DEBUG = ENV.debug
# Only loopback names, plus the public URL's host when there is one: a Host header naming
# anything else (DNS rebinding against a local instance) is refused.
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
if ENV.public_url:
    ALLOWED_HOSTS.append(urlsplit(ENV.public_url).hostname or "")
    CSRF_TRUSTED_ORIGINS = [ENV.public_url]

AUTH_USER_MODEL = "accounts.User"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",  # recovery codes
    "axes",
    "django_tasks",
    "django_tasks_db",
    "ninja",
    "labelop.core",
    "labelop.accounts",
    "labelop.projects",
    "labelop.audit",
    "labelop.storage",
    "labelop.assets",
    "labelop.annotations",
    "labelop.review",
    "labelop.jobs",
    "labelop.inference",
    "labelop.releases",
    "labelop.privacy",
]

MIDDLEWARE = [
    "labelop.core.middleware.ClientAddressMiddleware",
    "labelop.core.middleware.RequestSizeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "labelop.core.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "labelop.audit.middleware.RequestContextMiddleware",
]

ROOT_URLCONF = "labelop.config.urls"
WSGI_APPLICATION = "labelop.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "labelop.accounts.views.nav_context",
            ],
        },
    },
]


def _database(url: str | None) -> dict:
    if url is None:
        return {
            "ENGINE": "labelop.core.sqlite",  # django.db.backends.sqlite3, writers queued
            # One connection per server thread for its lifetime: opening one (PRAGMAs, SQL
            # functions) cost ~1.5 ms of every request.
            "CONN_MAX_AGE": None,
            "NAME": DATA_DIR / "labelop.sqlite3",
            # Tests use a file too (not :memory:), so locking behaves as in production.
            "TEST": {"NAME": str(DATA_DIR / "test.sqlite3")},
            "OPTIONS": {
                # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock
                # at BEGIN, so concurrent writers queue instead of failing on upgrade.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                    "PRAGMA foreign_keys=ON; PRAGMA busy_timeout=20000;"
                ),
            },
        }
    # No health check (`SELECT 1`) before each request's first query: it was a third of the
    # round trips of a task read. A connection the server dropped fails one request with a
    # 503 (core/api.py) and Django discards it when that request ends.
    config = dj_database_url.parse(url, conn_max_age=60)
    if config["ENGINE"] != "django.db.backends.postgresql":
        from labelop.config.env import ConfigError

        raise ConfigError("LABELOP_DATABASE_URL must be a postgres:// or postgresql:// URL")
    # Parameters bound by the server, and psycopg's prepared statements: a query a connection
    # has run 5 times is parsed and planned once, then only executed. Django's default (values
    # inlined client-side) had PostgreSQL plan both queries of every task read again, ~0.6 ms
    # of planning against ~0.1 ms of execution and most of the database's CPU per request.
    config["OPTIONS"] = {**config.get("OPTIONS", {}), "server_side_binding": True,
                         "prepare_threshold": 5}
    return dict(config)


DATABASES = {"default": _database(ENV.database_url)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses locked-out logins before any hashing
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "/login"

# Login throttling: lock a username+IP pair after repeated failures.
AXES_FAILURE_LIMIT = ENV.login_failure_limit
AXES_COOLOFF_TIME = timedelta(minutes=ENV.login_cooloff_minutes)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = False
AXES_VERBOSE = False

# Sessions and cookies: strict by default.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 60 * 60 * 12
SESSION_COOKIE_SECURE = ENV.secure_cookies
CSRF_COOKIE_SECURE = ENV.secure_cookies
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "labelop.core.errors.csrf_failure"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if ENV.public_url and ENV.public_url.startswith("https://"):
    SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if ENV.public_url else None

# Bodies: JSON requests are small; uploads (multipart) get their own limits in assets/.
DATA_UPLOAD_MAX_MEMORY_SIZE = ENV.max_json_body_bytes
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000

LABELOP_TOKEN_DEFAULT_DAYS = ENV.token_default_days
LABELOP_TRUSTED_PROXY_COUNT = ENV.trusted_proxy_count
LABELOP_IMPORT_ROOTS = ENV.import_roots
LABELOP_MAX_IMAGE_PIXELS = ENV.max_image_pixels
LABELOP_MAX_UPLOAD_BYTES = ENV.max_upload_bytes
LABELOP_IMPORT_WORKERS = ENV.import_workers
LABELOP_MAX_REQUEST_BYTES = ENV.max_request_bytes
LABELOP_MAX_SHAPES = ENV.max_shapes  # per annotation
LABELOP_INFERENCE_THREADS = ENV.inference_threads  # per model run; 0: onnxruntime decides
LABELOP_REDACTION_CELLS = ENV.redaction_cells  # average colours across a redacted region
LABELOP_EXPORT_DAYS = ENV.export_days  # an export's download expires after these days
# Snapshots of more tasks than this are written by a background job (202) instead of inline.
LABELOP_SNAPSHOT_INLINE_TASKS = ENV.snapshot_inline_tasks
# Uploads larger than this go to a temporary file instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = None  # whitenoise serves from the installed package (finders); no collectstatic
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # serve straight from the package; no collectstatic step

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "axes": {"level": "WARNING"},
    },
}

# Lockouts are answered by our own login service (a 429 problem+json, audited), so axes'
# middleware, which would replace that answer with its own page, is left out on purpose.
SILENCED_SYSTEM_CHECKS = ["axes.W002"]
