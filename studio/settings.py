"""PaaS Studio settings: one file, read from the environment.

Every value that differs between a laptop and production comes from an environment variable
through the small typed helpers below. ``DEBUG`` is off unless asked for; with it off the
process refuses to start without ``SECRET_KEY``, ``ALLOWED_HOSTS`` and ``FIELD_ENCRYPTION_KEY``.
See ``.env.example`` for the full list.
"""

import json
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent


def _read_env_file(path: str) -> None:
    """Fill in unset variables from a local ``KEY=value`` file (``make install`` writes one with
    DEBUG=1 for a development checkout). The process environment always wins; set ENV_FILE=""
    to read none."""
    if not path or not os.path.isfile(path):
        return
    with open(path, encoding="utf-8") as file:
        for line in file:
            key, equals, value = line.strip().partition("=")
            if equals and key and not key.startswith("#"):
                os.environ.setdefault(key.strip(), value.strip())


_read_env_file(os.environ.get("ENV_FILE", str(BASE_DIR / ".env")))


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {raw!r}.")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}.") from None


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_required(name: str, dev_default: str) -> str:
    """A value production must provide; DEBUG alone may fall back to a development default."""
    value = env_str(name)
    if value:
        return value
    if DEBUG:
        return dev_default
    raise ImproperlyConfigured(f"{name} must be set when DEBUG is off.")


DEBUG = env_bool("DEBUG", default=False)

SECRET_KEY = env_required(
    "SECRET_KEY", dev_default="django-insecure-development-only-key-never-use-in-production"
)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# Fernet keys for sensitive values at rest, comma separated: the first encrypts, all decrypt,
# so a key can be rotated by putting the new one first. Make one with
# `python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`.
FIELD_ENCRYPTION_KEYS = env_list(
    "FIELD_ENCRYPTION_KEY",
    ["HWLHWA-GlgN1wDjq_JbQn7vR2iKYvV9m4TcBm7bVnNs="] if DEBUG else [],
)
if not FIELD_ENCRYPTION_KEYS:
    raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY must be set when DEBUG is off.")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.forms",
    "django_htmx",
    "django_filters",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "crispy_forms",
    "crispy_bootstrap5",
    "axes",
    "django_tasks_db",
    "studio",
    "profiles",
    "compute",
    "catalog",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "studio.middleware.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "studio.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "studio.middleware.ApiKeyFailureMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into its lockout page.
    "axes.middleware.AxesMiddleware",
]

# Form widgets render through TEMPLATES, so templates/ can hold our own widget templates.
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

ROOT_URLCONF = "studio.urls"
WSGI_APPLICATION = "studio.wsgi.application"

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
                "django.template.context_processors.csp",
                "studio.context_processors.navigation",
                "studio.kept_pages.csrf_token",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers queue instead of failing with "database is locked": each transaction takes the
    # write lock as it begins (so no two can both read and then both want to write), a writer
    # waits up to SQLITE_BUSY_TIMEOUT seconds for it, and in WAL mode readers go on meanwhile.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": env_int("SQLITE_BUSY_TIMEOUT", 20),
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        **DATABASES["default"].get("OPTIONS", {}),
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# django-axes first: it refuses a locked-out sign-in before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "studio:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Where `collectstatic` gathers files for production; in DEBUG they are served from static/.
STATIC_ROOT = None if DEBUG else Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First, so that requests without credentials get 401 rather than 403.
        "studio.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "studio.formats.YAMLRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["studio.formats.JSONParser", "studio.formats.YAMLParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "studio.formats.ContentNegotiation",
    # drf-spectacular's, documenting every error response each operation can give.
    "DEFAULT_SCHEMA_CLASS": "studio.api.AutoSchema",
    "EXCEPTION_HANDLER": "studio.api.handle_exception",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
# Bodies the API reads at most (a readme may be 256 KiB, annotations as much again).
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 1024 * 1024)

# Launching (SPEC §8): runs execute in ``manage.py db_worker`` processes, queued in the database
# (this one: SQLite on a laptop, PostgreSQL in production, where any number of workers share it).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# Where the local driver keeps a working folder per service, on the worker's host.
COMPUTE_LOCAL_ROOT = env_str("COMPUTE_LOCAL_ROOT", str(BASE_DIR / "var" / "services"))
# A run taking longer is stopped and fails (seconds).
COMPUTE_RUN_TIME_LIMIT = env_int("COMPUTE_RUN_TIME_LIMIT", 30 * 60)
# A running run whose worker sent no heartbeat for this long is failed as abandoned (seconds).
COMPUTE_RUN_LEASE_SECONDS = env_int("COMPUTE_RUN_LEASE_SECONDS", 60)
# How long connecting to an SSH compute instance may take before it counts as silent (seconds).
COMPUTE_SSH_CONNECT_TIMEOUT = env_int("COMPUTE_SSH_CONNECT_TIMEOUT", 10)
# How often workers ask a running service's code for its health (``<entry> status``, seconds),
# and how long that may take.
COMPUTE_HEALTH_INTERVAL = env_int("COMPUTE_HEALTH_INTERVAL", 60)
COMPUTE_STATUS_TIME_LIMIT = env_int("COMPUTE_STATUS_TIME_LIMIT", 30)

# Template code in git repositories (SPEC §8, the code contract). Each git command may take this
# long (seconds) when a version is activated or a worker fetches its code.
CODE_REPOSITORY_TIMEOUT = env_int("CODE_REPOSITORY_TIMEOUT", 30)


def _code_credentials() -> dict[str, dict[str, str]]:
    """PAAS_CODE_CREDENTIALS: a JSON object from a URL prefix ("https://git.example.com/") to
    {"username": ..., "password": ...}, for https repositories; passed to git only through its
    environment. Never echoed back, not even when it is malformed."""
    raw = env_str("PAAS_CODE_CREDENTIALS").strip()
    problem = ImproperlyConfigured(
        'PAAS_CODE_CREDENTIALS must be a JSON object like {"https://git.example.com/": '
        '{"username": "…", "password": "…"}}.'
    )
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise problem from None
    if not isinstance(value, dict) or not all(
        isinstance(prefix, str)
        and prefix.lower().startswith(("https://", "http://"))
        and isinstance(entry, dict)
        and set(entry) == {"username", "password"}
        and all(isinstance(item, str) for item in entry.values())
        for prefix, entry in value.items()
    ):
        raise problem
    return value


CODE_REPOSITORY_CREDENTIALS = _code_credentials()
# Where workers keep repository code fetched for runs, per commit, and every repository's mirror.
COMPUTE_CODE_CACHE = env_str("COMPUTE_CODE_CACHE", str(BASE_DIR / "var" / "code"))

SPECTACULAR_SETTINGS = {
    "TITLE": "PaaS Studio API",
    "DESCRIPTION": (
        "Service profiles, environment templates, compute instances and services as documents "
        "(apiVersion paas.envmgmt.io/v1): creating a service launches it, deleting it destroys "
        "it. Authenticate with a personal API key in the X-API-KEY header."
    ),
    "VERSION": "v1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Like every page but the login page, the schema and docs are for signed-in users.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "studio.api.refuse_unknown_keys_in_schema",
        "studio.api.link_profile_operations",
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/apis/paas.envmgmt.io/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # What the URLs' <slug:...> converter matches (anything else is a 404 Status document).
    "PATH_CONVERTER_OVERRIDES": {"slug": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"}},
    # Each document's one-value `kind` as its own enum (they share the field name).
    "ENUM_NAME_OVERRIDES": {
        "ServiceProfileKindEnum": ["ServiceProfile"],
        "EnvironmentTemplateKindEnum": ["EnvironmentTemplate"],
        "StatusKindEnum": ["Status"],
    },
}

# One cache shared by every worker process (a table in the database, made by
# `manage.py createcachetable`); it holds the counts of bad API keys and the token that cached
# page parts are keyed by (studio.freshness). The page parts themselves live in each process.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": env_str("CACHE_TABLE", "studio_cache"),
    },
    "pages": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "pages",
        "TIMEOUT": env_int("PAGE_CACHE_SECONDS", 600),
        "OPTIONS": {"MAX_ENTRIES": env_int("PAGE_CACHE_ENTRIES", 2000)},
    },
}

# Where callers come from: the number of proxies in front that each append to X-Forwarded-For
# (0: use REMOTE_ADDR). Production behind its TLS proxy counts one unless told otherwise.
TRUSTED_PROXY_COUNT = env_int(
    "TRUSTED_PROXY_COUNT", 1 if not DEBUG and env_bool("BEHIND_TLS_PROXY", True) else 0
)

# Sign-in lockouts (django-axes; the admin's sign-in included). A username is locked out from
# one address: an attacker can lock no one out from everywhere, and a shared address (NAT, a
# proxy) does not lock out every user behind it. A success resets the count; retrying while
# locked out neither counts nor extends the lockout, so the page can say how long is left.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "studio.authentication.lockout_response"
AXES_CLIENT_IP_CALLABLE = "studio.authentication.client_ip"
AXES_DISABLE_ACCESS_LOG = True  # failures are tracked; successful sign-ins need no table
AXES_VERBOSE = False  # no start-up banner on every manage.py command
# Bad API keys: this many from one address within the window (seconds) answer 429 until the
# window has passed, even for a good key; a limit of 0 turns this off.
API_KEY_FAILURE_LIMIT = env_int("API_KEY_FAILURE_LIMIT", 10)
API_KEY_FAILURE_WINDOW = env_int("API_KEY_FAILURE_WINDOW", 60)

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Largest request body Django reads into memory; a readme may be 256 KiB and a document carries
# more than its readme.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2 * 1024 * 1024)

MAILERS = {
    "default": {
        "BACKEND": env_str(
            "EMAIL_BACKEND",
            "django.core.mail.backends.console.EmailBackend"
            if DEBUG
            else "django.core.mail.backends.smtp.EmailBackend",
        ),
        "OPTIONS": {
            key: value
            for key, value in {
                "host": env_str("EMAIL_HOST"),
                "port": env_int("EMAIL_PORT", 0),
                "username": env_str("EMAIL_HOST_USER"),
                "password": env_str("EMAIL_HOST_PASSWORD"),
            }.items()
            if value
        },
    }
}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "paas-studio@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Security headers; production defaults are the strict ones.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Scripts and styles come from static files only; an inline <script> needs the request's nonce
# ({{ csp_nonce }}), and no page uses style attributes. Profile icons are remote https images.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "https:", "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
# Browser features no page uses, off for the site and anything it embeds (Permissions-Policy).
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "hid",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
}
# Database sessions that also read the pages token (studio.freshness): one query, not two.
SESSION_ENGINE = "studio.sessions"
SESSION_COOKIE_HTTPONLY = True
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = (
        ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", True) else None
    )
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django": {"handlers": ["console"], "propagate": False}},
}
