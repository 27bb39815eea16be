"""Settings for the eventsite project, read from the environment.

DATABASE_URL       database (default: SQLite file db.sqlite3 beside manage.py)
DJANGO_SECRET_KEY  required when DJANGO_DEBUG=0
DJANGO_DEBUG       1 (default, for local use) or 0 (production)
DJANGO_ALLOWED_HOSTS, DJANGO_CSRF_TRUSTED_ORIGINS  comma-separated lists
DJANGO_BEHIND_TLS_PROXY  1 behind a TLS-terminating proxy that redirects to HTTPS and sends
                   HSTS itself: Django then does neither and trusts X-Forwarded-Proto
DJANGO_SECURE_SSL_REDIRECT, DJANGO_SECURE_HSTS_SECONDS, DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS,
DJANGO_SECURE_HSTS_PRELOAD, DJANGO_SECURE_PROXY_SSL_HEADER, DJANGO_SESSION_COOKIE_SECURE,
DJANGO_CSRF_COOKIE_SECURE
                   each TLS setting on its own; by default all are on with DJANGO_DEBUG=0
                   (HSTS for a year, without preload), off while debugging
DJANGO_EMAIL_BACKEND (default: the console backend), DJANGO_EMAIL_FILE_PATH,
DJANGO_EMAIL_HOST, DJANGO_EMAIL_PORT, DJANGO_EMAIL_HOST_USER, DJANGO_EMAIL_HOST_PASSWORD,
DJANGO_EMAIL_USE_TLS, DJANGO_DEFAULT_FROM_EMAIL
                   how tickets are emailed
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

import attendees

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be 1 or 0, not {value!r}.")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from None


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", True)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG=0.")
    SECRET_KEY = "django-insecure-local-development-only"

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "import_export",
    "attendees",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "attendees.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "eventsite.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "eventsite" / "templates"],
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

WSGI_APPLICATION = "eventsite.wsgi.application"

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DJANGO_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Take the write lock when a transaction starts, and wait for it, so that concurrent
    # requests on the development server queue up instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(transaction_mode="IMMEDIATE", timeout=20)
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The planner's cost of reading a page out of order. PostgreSQL's default (4) is for
    # spinning disks; on SSDs, or with the data in memory, 1.1 is the usual value. With 4
    # the planner scans the stays and records of every event to find one small event's,
    # rather than follow the attendee indexes (about 5x slower figures for a small event
    # beside a large one). Empty: leave the server's own setting.
    random_page_cost = os.environ.get("DJANGO_PG_RANDOM_PAGE_COST", "1.1")
    if random_page_cost:
        options = DATABASES["default"].setdefault("OPTIONS", {})
        given = options.get("options", "")
        options["options"] = f"{given} -c random_page_cost={float(random_page_cost)}".strip()

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# The languages the site offers; LocaleMiddleware picks one per request from Accept-Language.
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
# The demo project's own strings (its home page); the attendees app brings its own catalogue.
LOCALE_PATHS = [BASE_DIR / "eventsite" / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
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
# Serve files straight from the apps' static folders, so `collectstatic` is optional;
# an asset missing from the manifest is served under its plain name rather than failing.
WHITENOISE_USE_FINDERS = True
WHITENOISE_MANIFEST_STRICT = False

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header is what turns "not logged in" into a 401.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Attendees API",
    "DESCRIPTION": "Check event attendees in and out; every check-in and check-out is kept.",
    "VERSION": attendees.__version__,
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Clients send JSON; the browsable API's forms still work, but are not part of the contract.
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
}

# Door staff sign in on the door's own login page; they need no admin access.
LOGIN_URL = "attendees:door-login"
# Django's ModelBackend, its queries of a user's permissions prepared (see attendees.backends).
AUTHENTICATION_BACKENDS = ["attendees.backends.ModelBackend"]
LOGIN_REDIRECT_URL = "attendees:door"

# The attendees app's own settings, each optional with the default the README gives,
# e.g. {"UNDO_SECONDS": 300} lets door staff undo a scan for five minutes.
ATTENDEES = {}

# Tickets go out by email through Django's email framework.
EMAIL_BACKEND = os.environ.get("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
if os.environ.get("DJANGO_EMAIL_FILE_PATH"):
    EMAIL_FILE_PATH = os.environ["DJANGO_EMAIL_FILE_PATH"]
EMAIL_HOST = os.environ.get("DJANGO_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("DJANGO_EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("DJANGO_EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("DJANGO_EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("DJANGO_EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "tickets@localhost")

# Production hardening. With DJANGO_DEBUG=0 Django redirects HTTP to HTTPS, sends HSTS for a
# year (subdomains included) and keeps its cookies HTTPS-only, so that `check --deploy` is clean
# with only DJANGO_SECRET_KEY, DJANGO_DEBUG and DJANGO_ALLOWED_HOSTS set.
# DJANGO_BEHIND_TLS_PROXY=1 is for a TLS-terminating proxy that redirects and sends HSTS itself:
# Django leaves both to it and trusts the X-Forwarded-Proto header the proxy sets (the proxy must
# overwrite any such header a client sends).
BEHIND_TLS_PROXY = env_bool("DJANGO_BEHIND_TLS_PROXY", False)
ENFORCE_HTTPS = not DEBUG and not BEHIND_TLS_PROXY
SESSION_COOKIE_SECURE = env_bool("DJANGO_SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("DJANGO_CSRF_COOKIE_SECURE", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", ENFORCE_HTTPS)
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 365 * 24 * 60 * 60 if ENFORCE_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)
if env_bool("DJANGO_SECURE_PROXY_SSL_HEADER", BEHIND_TLS_PROXY):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

SILENCED_SYSTEM_CHECKS = []
if not SECURE_HSTS_PRELOAD:
    # Preloading is for the owner of the whole domain to ask for: once a domain is on the
    # browsers' list, every subdomain of it is HTTPS-only for months, whatever it serves.
    SILENCED_SYSTEM_CHECKS.append("security.W021")
if BEHIND_TLS_PROXY:
    # The proxy redirects and sends HSTS, which Django cannot see: these two warnings are answered.
    if not SECURE_SSL_REDIRECT:
        SILENCED_SYSTEM_CHECKS.append("security.W008")
    if not SECURE_HSTS_SECONDS:
        SILENCED_SYSTEM_CHECKS.append("security.W004")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Ticket codes never reach a log line: the development server's request lines
    # (`django.server`) and Django's "Not Found: <path>" show `***` for a ticket page's
    # code and a search's text.
    "filters": {"hide_ticket_codes": {"()": "attendees.log.HideTicketCodes"}},
    "formatters": {
        "django.server": {"()": "django.utils.log.ServerFormatter", "format": "[{server_time}] {message}", "style": "{"}
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["hide_ticket_codes"]},
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["hide_ticket_codes"],
        },
    },
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "WARNING")},
    "loggers": {
        "django": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
}
