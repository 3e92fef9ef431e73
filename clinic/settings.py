"""Settings for the clinic, read from environment variables.

Defaults are the safe way round: DEBUG is off unless DJANGO_DEBUG says otherwise (only
`make run` does), and with DEBUG off there is no start without DJANGO_SECRET_KEY or
DJANGO_TIME_ZONE.
"""

import contextlib
import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dj_database_url
import django_stubs_ext
import xstatic.pkg.bootstrap
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent

# Lets generic classes be subscripted at run time (forms.ModelForm[Patient]), as mypy
# --strict wants them written.
django_stubs_ext.monkeypatch()


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {value!r}")


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {number}")
    return number


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def is_time_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):  # unknown; or not a zone name at all
        return False
    return True


def machine_time_zone() -> str:
    """This machine's time zone, for development: TZ, then where /etc/localtime points
    (Linux, macOS), then Debian's /etc/timezone; UTC when none names a zone."""
    candidates = [os.environ.get("TZ", "").removeprefix(":")]
    localtime = Path("/etc/localtime")
    if localtime.is_symlink():  # e.g. /usr/share/zoneinfo/Europe/Berlin
        candidates.append(os.readlink(localtime).rpartition("zoneinfo/")[2])
    with contextlib.suppress(OSError):  # Debian's; absent elsewhere
        candidates.append(Path("/etc/timezone").read_text().strip())
    return next((name for name in candidates if is_time_zone(name)), "UTC")


def env_time_zone(name: str, *, debug: bool) -> str:
    """The clinic's time zone, which says what "today" and a patient's age are: required
    in production (an evening visit in New York is not tomorrow in UTC), the machine's
    own in debug."""
    value = os.environ.get(name, "").strip()
    if not value:
        if not debug:
            raise ImproperlyConfigured(
                f"{name} is required when DJANGO_DEBUG is off: the clinic's time zone, "
                "e.g. America/New_York."
            )
        return machine_time_zone()
    if not is_time_zone(value):
        raise ImproperlyConfigured(
            f"{name} must be a time zone name such as America/New_York, not {value!r}"
        )
    return value


def public_base_url(value: str) -> str:
    """The scheme and host (and port) the app is reached at, without a path: a CDS Hooks
    token's audience is this followed by the path called."""
    value = value.strip().rstrip("/")
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query:
        raise ImproperlyConfigured(
            "DJANGO_PUBLIC_BASE_URL must be a scheme and host such as https://rls.example.org "
            f"(no path), not {value!r}"
        )
    return value


def two_factor_roles(value: str) -> frozenset[str]:
    """The roles that must use two-factor sign-in. An unknown name is refused rather than
    ignored: a misspelt role would otherwise quietly sign its people in without a code."""
    from clinic.roles import ROLE_PERMISSIONS, SUPERUSER

    known = {*ROLE_PERMISSIONS, SUPERUSER}
    if value.lower() == "all":
        return frozenset(known)
    if value.lower() == "none":
        return frozenset()
    names = frozenset(item.strip() for item in value.split(",") if item.strip())
    if unknown := names - known:
        raise ImproperlyConfigured(
            f"DJANGO_2FA_REQUIRED_ROLES: unknown role(s) {', '.join(sorted(unknown))}; "
            f"use all, none, or any of: {', '.join(sorted(known))}"
        )
    return names


DEBUG = env_bool("DJANGO_DEBUG", False)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off.")
    SECRET_KEY = "insecure-development-key-used-only-with-DJANGO_DEBUG-on"  # noqa: S105

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "simple_history",
    "django_htmx",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "corsheaders",
    "django_tasks_db",
    "clinic",
    "patients",
    "guidance",
    "interop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "clinic.middleware.NulInAddressMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Below WhiteNoise (static files keep their caching): everything else is no-store.
    "clinic.middleware.NoStoreMiddleware",
    # Before CommonMiddleware, as django-cors-headers asks; it only answers for the CDS
    # Hooks endpoints (CORS_URLS_REGEX).
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "clinic.middleware.SessionLifetimeMiddleware",
    "clinic.middleware.IdleTimeoutMiddleware",
    "clinic.middleware.AccountRequirementsMiddleware",
    "clinic.middleware.ArchivedPatientMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into the lock-out page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "clinic.urls"
WSGI_APPLICATION = "clinic.wsgi.application"

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

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DJANGO_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock when a transaction starts, so two saves of the same
    # record are serialised instead of both reading the old version (lost updates).
    # WAL lets readers carry on while one request writes; synchronous=NORMAL is SQLite's
    # recommended pairing with WAL (durable across application crashes). PostgreSQL is
    # the production database; SQLite serves single-host and demo use.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# django-axes' backend comes first: it refuses a locked-out (user name, address) pair before
# the password is checked. It authenticates nobody itself.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "clinic.backends.CachedPermissionsBackend",
]

# The governance index (guidance.Recommendation, card_governance) carries its other
# columns for PostgreSQL's index-only scans; SQLite, a single clinic's or a developer's
# database, builds it on its key columns alone, which is all it needs.
# And without DJANGO_EMAIL_HOST the clinic emails nothing, by design (MAILERS below):
# Django's warning that email would fail does not apply.
SILENCED_SYSTEM_CHECKS = ["models.W040", "mail.W001"]

# Background work (rule previews, governance figures) runs as tasks of Django's tasks
# framework, stored in this database (django-tasks-db) and run by `manage.py db_worker`,
# which `make run` starts beside the server. For several hosts, see the README.
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}

# The clinic's name, as the pages a patient opens through a questionnaire link show it
# (they never show the patient's).
CLINIC_NAME = os.environ.get("DJANGO_CLINIC_NAME", "Kratom RLS clinic")

# A clinic that holds a licence for the IRLS points this at its copy of the wording (the
# application never ships it: product.md section 3); only then is the IRLS offered to
# patients answering at home. Empty: not offered.
IRLS_LICENSED_WORDING = os.environ.get("DJANGO_IRLS_LICENSED_WORDING", "")

# Email, for questionnaire links and their one reminder (clinic.views.invitations,
# clinic.tasks), through Django's mailers. Without DJANGO_EMAIL_HOST there is no mailer and
# nothing is emailed: the link is handed over in person, printed or scanned.
EMAIL_LINKS = bool(os.environ.get("DJANGO_EMAIL_HOST"))
MAILERS = (
    {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": os.environ["DJANGO_EMAIL_HOST"],
                "port": env_int("DJANGO_EMAIL_PORT", 587),
                "username": os.environ.get("DJANGO_EMAIL_USER", ""),
                "password": os.environ.get("DJANGO_EMAIL_PASSWORD", ""),
                "use_tls": env_bool("DJANGO_EMAIL_TLS", True),
            },
        }
    }
    if EMAIL_LINKS
    else {}
)
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_EMAIL_FROM", "clinic@localhost")

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Sessions end after 30 minutes without a request (clinic.middleware.IdleTimeoutMiddleware
# pushes the expiry on as people use the app, at most once every SESSION_TOUCH_SECONDS),
# and 12 hours after sign-in whatever the activity (SessionLifetimeMiddleware). The idle
# time-out is at least twice the push interval: a session then lives at least half its
# time-out after its last request, however the requests fall between pushes.
SESSION_TOUCH_SECONDS = 60
SESSION_COOKIE_AGE = env_int(
    "DJANGO_SESSION_IDLE_SECONDS", 30 * 60, minimum=2 * SESSION_TOUCH_SECONDS
)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_MAX_SECONDS = env_int("DJANGO_SESSION_MAX_SECONDS", 12 * 3600, minimum=60)

# Sign-in throttling by django-axes: 5 failures lock out one (user name, client address)
# pair for 15 minutes, so that a stranger elsewhere cannot lock a clinician out, and many
# people behind one address do not lock each other out. Failures while locked out are not
# counted, so a lock-out ends 15 minutes after the fifth failure. clinic.forms.accounts
# serialises the check and the count for a pair (no sixth try from parallel requests).
AXES_HANDLER = "clinic.throttling.ClinicAxesHandler"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = 5
# Failures for one account from all addresses together, within the cool-off, after which
# only a browser that signed in to it before may try (clinic.throttling).
AXES_ACCOUNT_FAILURE_LIMIT = 20
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "clinic.views.accounts.locked_out"
AXES_USERNAME_CALLABLE = "clinic.throttling.username_key"
AXES_CLIENT_IP_CALLABLE = "clinic.throttling.throttled_address"
# What django-axes masks in the form data it keeps with a failure: the code (a recovery or
# enrolment code would otherwise be readable in the admin) besides its own defaults.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "code", "csrfmiddlewaretoken"]

# How many proxies stand in front of the app, each appending the address it was connected
# from to X-Forwarded-For. 0: the client is the connecting address (REMOTE_ADDR). N: the
# Nth entry from the right of X-Forwarded-For (what a client writes there itself is to the
# left, and never read). Behind the documented TLS proxy: 1.
TRUSTED_PROXIES = env_int("DJANGO_TRUSTED_PROXIES", 0, minimum=0)

# Who must use two-factor sign-in: "all", "none", or a comma-separated list of role (group)
# names and the word "superuser". Everyone in production; nobody under `make run`, so the
# demo accounts sign in with their password alone. Anyone can still enrol.
TWO_FACTOR_REQUIRED_ROLES = two_factor_roles(
    os.environ.get("DJANGO_2FA_REQUIRED_ROLES", "").strip() or ("none" if DEBUG else "all")
)
OTP_TOTP_ISSUER = "Kratom RLS clinic"
# How long a one-time enrolment code issued on the account review page stays valid.
TWO_FACTOR_ENROLMENT_HOURS = env_int("DJANGO_2FA_ENROLMENT_HOURS", 72, minimum=1)

# English only. Without translation machinery (USE_I18N off), every page is cheaper: each
# date, {% url %} and form label asked for the active language through a thread-local,
# some 120 times for a list of 25 patients. Dates and numbers keep the en-gb formats
# (Django reads them for LANGUAGE_CODE either way): "14 Mar 1988", dd/mm/yyyy input.
LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_time_zone("DJANGO_TIME_ZONE", debug=DEBUG)
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # Bootstrap's CSS and JS come from the pinned XStatic-Bootstrap package: no CDN, no copy.
    ("bootstrap", xstatic.pkg.bootstrap.BASE_DIR),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# The audit trail is read-only: no "revert" from the admin's history pages (see also
# patients.admin.ReadOnlyHistoryAdmin, which refuses posts to them).
SIMPLE_HISTORY_REVERT_DISABLED = True

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Security headers. Behind the TLS proxy, X-Forwarded-Proto tells Django the request was HTTPS.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # probes talk plain HTTP to each host
# Secure cookies unless debugging; DJANGO_SECURE_COOKIES=0 only for plain-HTTP load tests
# on the loopback (make load).
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", True)
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# Logs name records by UUID only: no names, MRNs or search terms.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
    # django-axes says hello at start-up and on every sign-in at INFO; failures and
    # lock-outs are WARNINGs (user names and addresses masked).
    "loggers": {"axes": {"level": "WARNING"}},
}

# The EHR side (interop/). The public address the app is reached at, e.g.
# https://rls.example.org: a calling EHR's JWT must name the exact URL it called as its
# audience, built from this and never from the request's Host header. Empty: the CDS Hooks
# endpoints refuse every call. Under `make run`, the development server's address.
PUBLIC_BASE_URL = public_base_url(
    os.environ.get("DJANGO_PUBLIC_BASE_URL", "http://127.0.0.1:8000" if DEBUG else "")
)
# The public CDS Hooks sandbox (an EHR simulator in the browser): trusted in development
# only, by default; `check --deploy` warns if production names it (interop.checks).
CDS_SANDBOX_ORIGIN = "https://sandbox.cds-hooks.org"
CDS_SANDBOX_JWKS_URL = "https://sandbox.cds-hooks.org/.well-known/jwks.json"
# Browser-based EHRs (the CDS Hooks sandbox) call from these origins and send preflights.
CORS_URLS_REGEX = r"^/cds-services(/.*)?$"
CORS_ALLOWED_ORIGINS = env_list("DJANGO_CDS_CORS_ORIGINS", CDS_SANDBOX_ORIGIN if DEBUG else "")
CORS_ALLOW_HEADERS = ["authorization", "content-type"]
CORS_ALLOW_METHODS = ["GET", "POST", "OPTIONS"]
# Key-set URLs (jku) a registered EHR client may name; anything else is never fetched.
CDS_JWKS_URL_ALLOWLIST = env_list("DJANGO_CDS_JWKS_URLS", CDS_SANDBOX_JWKS_URL if DEBUG else "")
# Per registered EHR (interop.limits): hook calls a minute, and distinct patients (EHR
# patient id and record number) an hour. An EHR sends patient-view for every chart its
# users open, most of them not this clinic's patients: set these from its traffic.
CDS_MAX_CALLS_PER_MINUTE = env_int("DJANGO_CDS_MAX_CALLS_PER_MINUTE", 300, minimum=1)
CDS_MAX_PATIENTS_PER_HOUR = env_int("DJANGO_CDS_MAX_PATIENTS_PER_HOUR", 1000, minimum=1)
# SMART App Launch (issue 25; EHRs registered with manage.py smart_ehr). How long the app
# waits for an EHR's configuration, token endpoint or FHIR server.
SMART_TIMEOUT_SECONDS = env_int("DJANGO_SMART_TIMEOUT_SECONDS", 10, minimum=1)
# Whether an EHR's own sign-in stands in for two-factor sign-in here. Off: someone whose
# role requires two-factor sign-in gives their code after the launch, as after a password.
SMART_SIGN_IN_COUNTS_AS_TWO_FACTOR = env_bool("DJANGO_SMART_SIGN_IN_COUNTS_AS_2FA", False)
# Plain http to an EHR on this machine (a local simulator, the tests' EHR): development only.
SMART_ALLOW_LOOPBACK_HTTP = env_bool("DJANGO_SMART_ALLOW_LOOPBACK_HTTP", DEBUG)
