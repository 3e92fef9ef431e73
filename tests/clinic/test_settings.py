"""Production configuration, checked in a subprocess with a production-like environment."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    clean["DJANGO_SETTINGS_MODULE"] = "clinic.settings"
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_deploy_passes_with_production_variables():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_SECRET_KEY="x9!Lr2#vQ7@pZ4$kW8^mN1&bT5*hY3(jC6)fG0_sD-eA+uR=iO~lK?nM/qP.wE",
        DJANGO_ALLOWED_HOSTS="clinic.example.org",
    )
    assert result.returncode == 0, result.stderr


def test_no_secret_key_means_no_start_in_production():
    result = run_manage("check")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required" in result.stderr


def test_a_malformed_boolean_is_refused_not_guessed():
    result = run_manage("check", DJANGO_DEBUG="perhaps")
    assert result.returncode != 0
    assert "DJANGO_DEBUG must be a boolean" in result.stderr


def test_gunicorn_loads_the_wsgi_application():
    from django.core.handlers.wsgi import WSGIHandler

    from clinic.wsgi import application

    assert isinstance(application, WSGIHandler)


PRODUCTION = {
    "DJANGO_SECRET_KEY": "x9!Lr2#vQ7@pZ4$kW8^mN1&bT5*hY3(jC6)fG0_sD-eA+uR=iO~lK?nM/qP.wE",
    "DJANGO_ALLOWED_HOSTS": "clinic.example.org",
}
SHOW = (
    "from django.conf import settings as s; "
    "print(sorted(s.TWO_FACTOR_REQUIRED_ROLES), s.TRUSTED_PROXIES, s.SESSION_MAX_SECONDS)"
)


def test_every_role_and_superusers_need_a_second_factor_in_production_by_default():
    result = run_manage("shell", "--no-imports", "-c", SHOW, **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "['Clinicians', 'Guidance admins', 'Staff', 'superuser'] 0 43200"
    )


def test_nobody_needs_a_second_factor_under_make_run():
    result = run_manage("shell", "--no-imports", "-c", SHOW, DJANGO_DEBUG="1")
    assert result.stdout.strip().startswith("[] 0")


def test_the_two_factor_roles_and_proxies_are_read_and_checked():
    named = run_manage(
        "shell",
        "--no-imports",
        "-c",
        SHOW,
        DJANGO_2FA_REQUIRED_ROLES="Clinicians, superuser",
        DJANGO_TRUSTED_PROXIES="1",
        **PRODUCTION,
    )
    assert named.stdout.strip() == "['Clinicians', 'superuser'] 1 43200"
    misspelt = run_manage("check", DJANGO_2FA_REQUIRED_ROLES="Clinician", **PRODUCTION)
    assert misspelt.returncode != 0
    assert "unknown role(s) Clinician" in misspelt.stderr
    negative = run_manage("check", DJANGO_TRUSTED_PROXIES="-1", **PRODUCTION)
    assert negative.returncode != 0
    assert "DJANGO_TRUSTED_PROXIES must be at least 0" in negative.stderr
