"""Settings, all from environment variables with defaults that run on a fresh checkout."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from dtleweb.env import env_bool, env_choice, env_float, env_int, env_list, env_rate, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("DTLE_DATA_DIR", str(BASE_DIR / "var")))
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _local_secret_key(path: Path) -> str:
    """A random key made once per data directory, for a single host without DTLE_SECRET_KEY.

    There is no built-in key: anyone could sign login tokens with a published one. Every
    process sharing the directory reads the same file; hosts sharing a job store must set
    DTLE_SECRET_KEY instead.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
    for _ in range(50):  # another process may be between creating and writing the file
        key = path.read_text().strip()
        if key:
            return key
        time.sleep(0.02)
    raise ImproperlyConfigured(f"{path} is empty; delete it or set DTLE_SECRET_KEY")


# Without DTLE_SECRET_KEY the key is the data directory's own random one: fine for one host under
# development; every process warns when it is used with DEBUG off (accounts.apps).
SECRET_KEY_FROM_ENV = env_str("DTLE_SECRET_KEY", "")
SECRET_KEY = SECRET_KEY_FROM_ENV or _local_secret_key(DATA_DIR / "secret_key")
DEBUG = env_bool("DTLE_DEBUG", False)
# Host names the API answers to (the Host header); the local names by default, which is what the
# demo, the tests and a single machine use. Behind a proxy or in Docker, list the served names.
ALLOWED_HOSTS = env_list("DTLE_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])

API_ADDR = env_str("DTLE_API_ADDR", "127.0.0.1:8190")
REDIS_URL = env_str("DTLE_REDIS_URL", "redis://127.0.0.1:6379/0")
RSA_PRIVATE_KEY_PATH = env_str("DTLE_RSA_PRIVATE_KEY_PATH", "")
DATACENTER = env_str("DTLE_DATACENTER", "dc1")
LOG_LEVEL = env_choice("DTLE_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL"))
NODE_ID = env_str("DTLE_NODE_ID", "")
# Seconds without a heartbeat before a node is down and its tasks are moved.
NODE_DOWN_AFTER = env_float("DTLE_NODE_DOWN_AFTER", 15, minimum=0.1)
LEASE_TTL = env_float("DTLE_LEASE_TTL", 10, minimum=0.1)
# Login: off only for a single-user machine (every process then logs a warning at start).
AUTH_REQUIRED = env_bool("DTLE_AUTH_REQUIRED", True)
TOKEN_TTL = env_int("DTLE_TOKEN_TTL", 24 * 3600, minimum=1)
# When set, GET /metrics needs "Authorization: Bearer <this>".
METRICS_TOKEN = env_str("DTLE_METRICS_TOKEN", "")
# Request bodies above this many bytes answer 400 before they are parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DTLE_MAX_BODY_BYTES", 1024 * 1024, minimum=1)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "accounts",
    "jobs",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves Swagger UI's and the admin's assets from the installed packages, in runserver and
    # gunicorn alike, without a collectstatic step or a separate web server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "dtleweb.urls"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

WSGI_APPLICATION = "dtleweb.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DTLE_DATABASE_URL", f"sqlite:///{DATA_DIR / 'dtle.sqlite3'}"),
        conn_max_age=60,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Workers and the API share the file; wait for locks instead of failing at once.
    # IMMEDIATE transactions and WAL keep concurrent writers from failing on lock upgrades.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
WHITENOISE_USE_FINDERS = True
STATIC_ROOT.mkdir(exist_ok=True)

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "jobs.errors.exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "jobs.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.RolePermission"],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_RATES": {
        "login_user": env_rate("DTLE_LOGIN_FAILURES_PER_USER", "5/min"),
        "login_address": env_rate("DTLE_LOGIN_FAILURES_PER_ADDRESS", "20/min"),
    },
}

# Failed-login counters live here, shared by every API process.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env_str("DTLE_CACHE_URL", REDIS_URL),
        "KEY_PREFIX": "dtle:cache",
    }
}

SPECTACULAR_SETTINGS = {
    "TITLE": "dtle-compatible data transfer API",
    "DESCRIPTION": "MySQL to MySQL migration and sync, MySQL to Kafka subscription (dtle /v2 API).",
    "VERSION": "3.21.07",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    # The schema and Swagger UI are public; Swagger's Authorize button takes the login token.
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True},
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # A field that may not be blank says minLength 1; the hook adds what serializers cannot say.
    "ENFORCE_NON_BLANK_FIELDS": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "jobs.openapi.postprocess",
    ],
}

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "filters": {"redact": {"()": "dtleweb.logredact.RedactSecrets"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain",
                    "filters": ["redact"]},
    },
    "loggers": {
        "replication": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "jobs": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "dtleweb": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "accounts": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        # Request lines of the development server, whose query strings may carry a password.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

TASK_MAX_RESTARTS = env_int("DTLE_TASK_MAX_RESTARTS", 5, minimum=0)
CELERY_BEAT_SCHEDULE = {
    "scheduler-tick": {
        "task": "jobs.scheduler_tick",
        "schedule": env_float("DTLE_SCHEDULER_INTERVAL", 2, minimum=0.1),
        "options": {"expires": 10},
    },
}
# Workers only take placement ticks from the shared queue; tasks go to per-node queues.
CELERY_TASK_DEFAULT_QUEUE = "dtle"
