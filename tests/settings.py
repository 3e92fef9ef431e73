"""Test settings: the real settings module, with what tests need changed and nothing else."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-not-used-anywhere-else-0123456789")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
# The clinic's time zone, whatever the machine's: frozen clocks and posted times in the
# tests are UTC. A test about another zone sets it with pytest-django's `settings`.
os.environ["DJANGO_TIME_ZONE"] = "UTC"
# Nobody must use a second factor unless a test says so (tests/clinic/test_two_factor.py),
# so that signing in through the form stays one step for the rest of the suite.
os.environ.setdefault("DJANGO_2FA_REQUIRED_ROLES", "none")
# The CDS Hooks audience: the URL the test client calls (live-server tests override it).
os.environ.setdefault("DJANGO_PUBLIC_BASE_URL", "http://testserver")
# The tests' SMART EHR (tests/interop/smart_server.py) serves plain http on 127.0.0.1.
os.environ.setdefault("DJANGO_SMART_ALLOW_LOOPBACK_HTTP", "1")

from clinic.settings import *  # noqa: F403

# Fast hashing: tests sign in a lot, and MD5 is fine for throwaway passwords.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Plain storage: no collectstatic before tests, and the live server serves files as they are.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Plain-HTTP test client and live server.
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
# Live-server threads must not keep connections open, or PostgreSQL refuses to drop the
# test database at the end of the run.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
# A mailer for the tests that email a questionnaire link (they turn EMAIL_LINKS on); the
# test runner makes it Django's in-memory one.
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
