"""The management commands that people run: demo data and the default rules."""

import io

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.test import RequestFactory

from clinic.management.commands.seed_demo import DEMO_PASSWORD
from guidance.default_rules import CONTENT_FIELDS, DEFAULT_RULES
from guidance.models import Recommendation, Rule
from patients.models import Assessment, FollowUp, Patient


def run(*args, **options):
    out = io.StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


def test_seed_demo_refuses_with_debug_off(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG only"):
        call_command("seed_demo")
    assert not Patient.objects.exists()


def test_seed_demo_creates_accounts_patients_and_cards_once(db):
    output = run("seed_demo", force=True)
    assert "Demo patients: 12 added" in output
    request = RequestFactory().post("/sign-in/")  # django-axes throttles by request
    user = authenticate(request, username="clinician", password=DEMO_PASSWORD)
    assert user is not None
    assert user.has_perm("guidance.decide_recommendation")
    assert authenticate(request, username="admin", password=DEMO_PASSWORD).is_superuser
    counts = (
        Patient.objects.count(),
        Assessment.objects.count(),
        FollowUp.objects.count(),
        Recommendation.objects.count(),
    )
    assert all(counts)
    severe = Patient.objects.exclude(latest_irls_total=None)
    assert severe.exists()  # latest scores are kept for the worklist

    again = run("seed_demo", force=True)
    assert "Demo patients: 0 added" in again
    assert (
        Patient.objects.count(),
        Assessment.objects.count(),
        FollowUp.objects.count(),
        Recommendation.objects.count(),
    ) == counts


def test_load_default_rules_adds_missing_codes_and_keeps_an_admins_edits(db, guidance_admin):
    Rule.objects.filter(code="LIFE-DIET").delete()
    default = Rule.objects.get(code="LIFE-SLEEP")
    edited = Rule(code="LIFE-SLEEP", change_note="Our clinic's wording")
    for name in CONTENT_FIELDS:
        setattr(edited, name, getattr(default, name))
    edited.title = "Edited by a guidance admin"
    edited.save_as_new_version(by=guidance_admin)
    edited.activate(by=guidance_admin)

    output = run("load_default_rules")
    assert f"Default rules: 1 added, {len(DEFAULT_RULES)} in the set." in output
    assert Rule.objects.get(code="LIFE-DIET").is_active
    assert Rule.objects.active().get(code="LIFE-SLEEP").title == "Edited by a guidance admin"
    assert run("load_default_rules").startswith("Default rules: 0 added")
