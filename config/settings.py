"""CellTrack settings: everything that differs between machines comes from the environment.

Every variable is listed in `.env.example` with its default.
"""

import sys
from datetime import date, timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

from config.logging import logging_config
from core.env import env_bool, env_date, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production-0123456789abcdef"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# The HMAC key for audit-trail checkpoints. It never lives in the database: whoever can
# rewrite the audit table must not also be able to forge a checkpoint.
AUDIT_CHECKPOINT_KEY = env_str("AUDIT_CHECKPOINT_KEY", "")
# `verify_audit --checkpoint-dir` warns when the newest exported checkpoint is older.
AUDIT_CHECKPOINT_MAX_AGE_HOURS = env_int("AUDIT_CHECKPOINT_MAX_AGE_HOURS", 48)
# No clinical or GMP event of the programme is dated before this (core.plausibility).
PROGRAMME_START_DATE = env_date("PROGRAMME_START_DATE", date(2019, 1, 1))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "csp",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "core",
    "audit",
    "sites",
    "batches",
    "patients",
    "dosing",
    "reports",
    "vigilance",
    "demo",
]

MIDDLEWARE = [
    # First: one log line for every request, whatever answers it.
    "core.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files (collected by `make serve`) answered here, before sessions and views.
    "core.middleware.StaticFilesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "core.middleware.SecurityHeadersMiddleware",
    # Before any view looks a code up: a path with a control character is a 404.
    "core.middleware.ControlCharacterMiddleware",
    "core.middleware.SessionLifetimeMiddleware",
    "core.middleware.SecondFactorMiddleware",
    # After the user is known: times read and typed in the user's site's zone.
    "sites.middleware.SiteTimeZoneMiddleware",
    "audit.middleware.AuditOriginMiddleware",
    # With a read replica only: which database this request's reads may use.
    "core.middleware.ReplicaRoutingMiddleware",
    # Last: turns a request axes marked as locked out into the lockout answer, which then
    # passes through every header middleware above.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "sites.context_processors.site_notice",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        # Persistent connections: a request reuses its worker's connection instead of
        # paying a new one (~4 ms on PostgreSQL); checked before reuse, so a connection
        # the server dropped is replaced, not failed on. CONN_MAX_AGE=0 closes each.
        conn_max_age=env_int("CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Wait for the writer instead of failing at once: two pharmacists saving together.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"

# On PostgreSQL the application may connect as a role that does not own the tables (it
# can then neither disable the trail's triggers nor alter it); the owner's URL is used
# only by the commands that change the schema or the whole database (docs/operations.md).
DATABASE_OWNER_URL = env_str("DATABASE_OWNER_URL", "")
OWNER_COMMANDS = ("migrate", "backup", "restore", "createcachetable")
if DATABASE_OWNER_URL and len(sys.argv) > 1 and sys.argv[1] in OWNER_COMMANDS:
    DATABASES["default"] = {
        **DATABASES["default"],
        **dj_database_url.parse(DATABASE_OWNER_URL, conn_max_age=0),
    }

# A PostgreSQL streaming replica (docs/operations.md, "A read replica"): the auditor
# API's reads, exports, reports and `verify_audit` read it (core.db_router); every write,
# and every read of a user who wrote in the last REPLICA_STICKY_SECONDS, stays on the
# primary. Unset: one database, no router.
DATABASE_REPLICA_URL = env_str("DATABASE_REPLICA_URL", "")
REPLICA_STICKY_SECONDS = env_int("REPLICA_STICKY_SECONDS", 10)
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = dj_database_url.parse(
        DATABASE_REPLICA_URL, conn_max_age=env_int("CONN_MAX_AGE", 0)
    )
    if not all("postgresql" in DATABASES[alias]["ENGINE"] for alias in ("default", "replica")):
        raise ImproperlyConfigured(
            "DATABASE_REPLICA_URL needs PostgreSQL for both DATABASE_URL and the replica."
        )
    # /healthz asks the replica for its lag: an unreachable replica must not hang it.
    DATABASES["replica"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
    # Tests read the replica's alias from the test database: no second test database.
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["core.db_router.ReplicaRouter"]

# JIT off: it spent seconds compiling the worklists' plans on every request. A connection
# option (no query); behind a pooler that refuses it, PG_OPTIONS="" and ALTER DATABASE.
PG_OPTIONS = env_str("PG_OPTIONS", "-c jit=off")
for _alias in DATABASES.values():
    if "postgresql" in _alias["ENGINE"] and PG_OPTIONS:
        _alias.setdefault("OPTIONS", {}).setdefault("options", PG_OPTIONS)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The shared store of throttles and the trail's rate limits (axes keeps its counts in its
# own tables): the database cache by default, so every worker and server counts the same
# (its table is made by `migrate`), Redis when REDIS_URL is set.
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "celltrack",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "celltrack_cache",
            "OPTIONS": {"MAX_ENTRIES": 50000},
        }
    }
# Each user's permissions and sites (core.access), shared by every worker: the same store.
CACHES["access"] = {**CACHES["default"], "KEY_PREFIX": "celltrack-access"}

# The client address: X-Forwarded-For is believed only from this many proxies of our own
# (core.client_address; DRF's NUM_PROXIES below is the same number).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 0 or more.")

AUTHENTICATION_BACKENDS = [
    # First: refuses locked-out accounts and addresses before any password is checked.
    "core.lockout.LockoutBackend",
    # Permission checks from the per-user cache (core.access); authenticates nobody.
    "core.access.CachedPermissionBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Lockout after failed logins (django-axes) on the admin, site and API logins: either
# counter — the account name, or the client address — reaching the limit within the
# cool-off locks until the cool-off has passed since the failures (a failure during the
# lockout does not extend it). docs/security.md says why.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "core.client_address.client_address"
AXES_USERNAME_CALLABLE = "core.lockout.lockout_username"
AXES_LOCKOUT_CALLABLE = "core.lockout.lockout_response"
AXES_SENSITIVE_PARAMETERS = [
    "username",
    "ip_address",
    "password",
    "otp_code",
    "csrfmiddlewaretoken",
]
AXES_HTTP_RESPONSE_CODE = 429
if AXES_FAILURE_LIMIT < 1:
    raise ImproperlyConfigured("LOGIN_FAILURE_LIMIT must be 1 or more.")

# Failed logins under a name that matches no account are on the audit trail (as an HMAC
# of the name) at most this many per client address per window; the rest are counted by
# the lockout but not written, so nobody can flood the trail from one address.
AUTH_TRAIL_UNKNOWN_LIMIT = env_int("AUTH_TRAIL_UNKNOWN_LIMIT", 20)
AUTH_TRAIL_UNKNOWN_WINDOW_SECONDS = env_int("AUTH_TRAIL_UNKNOWN_WINDOW_SECONDS", 3600)

# Two factors (django-otp, TOTP) for these roles: at login, and at the first
# e-signature of a session.
OTP_REQUIRED_ROLES = env_list("OTP_REQUIRED_ROLES", ["qp", "production", "clinician"])
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "CellTrack")
OTP_ADMIN_HIDE_SENSITIVE_DATA = True  # the admin never shows a device's secret

# E-signatures: after this many wrong passwords or codes in a row, signing is blocked
# for the user for the cool-off (audit.signatures).
SIGNATURE_FAILURE_LIMIT = env_int("SIGNATURE_FAILURE_LIMIT", 3)
SIGNATURE_COOLOFF_MINUTES = env_int("SIGNATURE_COOLOFF_MINUTES", 15)
if SIGNATURE_FAILURE_LIMIT < 1:
    raise ImproperlyConfigured("SIGNATURE_FAILURE_LIMIT must be 1 or more.")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("TIME_ZONE", "Europe/Madrid")
USE_I18N = True
FORMAT_MODULE_PATH = ["config.formats"]
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", "") or BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed, compressed names where collectstatic ran; plain names where not.
    "staticfiles": {"BACKEND": "core.storage.CollectedStaticFilesStorage"},
}

# Production hardening; `python manage.py check --deploy` passes with DEBUG off.
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Load balancers probe over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
# A session ends after SESSION_IDLE_SECONDS without a request, and SESSION_COOKIE_AGE
# after its login whatever the user does; the activity time is written at most once per
# SESSION_ACTIVITY_REFRESH_SECONDS (core.sessions).
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
SESSION_IDLE_SECONDS = env_int("SESSION_IDLE_SECONDS", 30 * 60)
SESSION_ACTIVITY_REFRESH_SECONDS = 60
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# No inline script runs anywhere: scripts only from our own static files (the admin's,
# Swagger UI's through SpectacularSwaggerSplitView). Inline *styles* are still allowed:
# some pages carry a <style> block (docs/security.md lists them).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "frame-src": [NONE],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
    },
}
PERMISSIONS_POLICY = (
    "accelerometer=(), autoplay=(), camera=(), display-capture=(), geolocation=(), "
    "gyroscope=(), magnetometer=(), microphone=(), midi=(), payment=(), usb=()"
)

# One JSON line per request (config/logging.py, core.middleware.RequestLogMiddleware).
REQUEST_LOG = env_bool("REQUEST_LOG", True)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Knox first: its WWW-Authenticate header makes DRF answer 401 (not 403) to
        # requests without credentials.
        "core.api.tokens.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.CellTrackAutoSchema",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "core.api.filters.StableOrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.StableCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_RATES": {"api-login": env_str("API_LOGIN_RATE", "10/min")},
    # The throttle's client address: the same rule as core.client_address.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "EXCEPTION_HANDLER": "core.api.exceptions.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}

REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=env_int("API_TOKEN_TTL_HOURS", 10)),
    "AUTO_REFRESH": False,
    "TOKEN_LIMIT_PER_USER": None,
    "USER_SERIALIZER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "CellTrack auditor API",
    "DESCRIPTION": (
        "Read-only access to CellTrack's GMP and clinical records for auditors and "
        "inspectors: donors, batches, bags, release checks, patients (by pseudonymised "
        "code), doses, infusions, adverse events and the hash-chained audit trail; traces "
        "both ways and CSV export (`?format=csv`). Authenticate with "
        "`Authorization: Token <key>` (see `/api/v1/auth/login/`)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Reading the schema needs an account too: nobody anonymous sees anything.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Swagger UI from local static files: hospital networks have no CDN access.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No validator badge: it would load an image from another site (and CSP refuses it).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "BatchStatusEnum": "batches.models.Batch.Status",
        "BagStatusEnum": "batches.models.Bag.Status",
        "DoseStatusEnum": "dosing.models.Dose.Status",
    },
}

LOGGING = logging_config(env_str("LOG_LEVEL", "WARNING"))

# Mail: recall notices go to each concerned site's notification address. The console
# backend (the mail printed to the log) under DEBUG, SMTP otherwise.
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "celltrack@localhost")

# Vigilance (issue 16). A recall notice goes to each hospital's own notification address
# (`sites.Hospital.notification_email`, set in the admin).
# A serious, at least possibly related event needs its part A within this many hours.
REACTION_REPORT_HOURS = env_int("REACTION_REPORT_HOURS", 24)
# The worklist warns of stock that expires within this many days.
EXPIRY_WARNING_DAYS = env_int("EXPIRY_WARNING_DAYS", 30)
