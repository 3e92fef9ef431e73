"""Production configuration, checked in a subprocess with a production-like environment."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

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


PRODUCTION = {
    "DJANGO_SECRET_KEY": "x9!Lr2#vQ7@pZ4$kW8^mN1&bT5*hY3(jC6)fG0_sD-eA+uR=iO~lK?nM/qP.wE",
    "DJANGO_ALLOWED_HOSTS": "clinic.example.org",
    "DJANGO_TIME_ZONE": "America/New_York",
    "DJANGO_PUBLIC_BASE_URL": "https://clinic.example.org",
}
PRINT_TIME_ZONE = (
    "shell",
    "--no-imports",
    "-c",
    "from django.conf import settings; print(settings.TIME_ZONE)",
)


def test_check_deploy_passes_with_production_variables():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stderr


def test_no_secret_key_means_no_start_in_production():
    result = run_manage("check", **(PRODUCTION | {"DJANGO_SECRET_KEY": ""}))
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required" in result.stderr


def test_no_time_zone_means_no_start_in_production():
    result = run_manage("check", **(PRODUCTION | {"DJANGO_TIME_ZONE": ""}))
    assert result.returncode != 0
    assert "ImproperlyConfigured: DJANGO_TIME_ZONE is required" in result.stderr


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "America", "../etc/passwd", "EST+5"])
def test_an_unknown_time_zone_is_refused_not_guessed(zone):
    result = run_manage("check", **(PRODUCTION | {"DJANGO_TIME_ZONE": zone}))
    assert result.returncode != 0
    assert f"DJANGO_TIME_ZONE must be a time zone name such as America/New_York, not {zone!r}" in (
        result.stderr
    )


def test_production_uses_the_stated_time_zone():
    result = run_manage(*PRINT_TIME_ZONE, **PRODUCTION)
    assert result.stdout.strip() == "America/New_York", result.stderr


def test_debug_without_a_time_zone_uses_the_machines():
    result = run_manage(*PRINT_TIME_ZONE, DJANGO_DEBUG="1", TZ="Asia/Kolkata")
    assert result.stdout.strip() == "Asia/Kolkata", result.stderr


def test_the_machines_time_zone_is_a_zone_name_whatever_tz_says(monkeypatch):
    from clinic.settings import is_time_zone, machine_time_zone

    monkeypatch.setenv("TZ", "not a zone")
    assert is_time_zone(machine_time_zone())  # /etc/localtime's, /etc/timezone's or UTC
    monkeypatch.setenv("TZ", ":Pacific/Auckland")
    assert machine_time_zone() == "Pacific/Auckland"


def test_a_malformed_boolean_is_refused_not_guessed():
    result = run_manage("check", DJANGO_DEBUG="perhaps")
    assert result.returncode != 0
    assert "DJANGO_DEBUG must be a boolean" in result.stderr


def test_gunicorn_loads_the_wsgi_application():
    from django.core.handlers.wsgi import WSGIHandler

    from clinic.wsgi import application

    assert isinstance(application, WSGIHandler)


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
    too_short = run_manage("check", DJANGO_SESSION_IDLE_SECONDS="60", **PRODUCTION)
    assert too_short.returncode != 0
    assert "DJANGO_SESSION_IDLE_SECONDS must be at least 120" in too_short.stderr
    negative = run_manage("check", DJANGO_TRUSTED_PROXIES="-1", **PRODUCTION)
    assert negative.returncode != 0
    assert "DJANGO_TRUSTED_PROXIES must be at least 0" in negative.stderr
