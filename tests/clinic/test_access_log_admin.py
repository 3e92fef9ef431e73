"""The access log without gaps in the admin: a superuser walks every admin page of every
registered model, and each page that shows patient data writes a row naming the patients
it showed; a page that shows none writes nothing."""

from datetime import date

import pytest
from axes.models import AccessFailureLog
from django.contrib import admin
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from guidance import jobs, tasks
from guidance.models import Adherence, AdherenceAnswer, JobKind, Recommendation
from interop.models import HookCard, HookFeedback
from patients.models import FollowUp, PatientAccess, PatientListAccess
from tests.base import PASSWORD, make_patient, record
from tests.interop.ehr import recorded_call


@pytest.fixture
def records(as_user, clinician, superuser):
    """At least one record of every model the admin lists, each tied to a known patient."""
    patient = make_patient(mrn="MRN-77001")
    record(as_user(clinician), patient)
    card = Recommendation.objects.filter(assessment__patient=patient).first()
    card.decide(status="accepted", by=clinician, expected_version=card.version)
    card.refresh_from_db()
    card.dismiss(by=clinician, where="Test EHR")
    followup = FollowUp.objects.create(
        patient=patient, due_date=date(2026, 11, 26), scheduled_by=clinician
    )
    Adherence.objects.create(followup=followup, recommendation=card, answer=AdherenceAnswer.YES)
    Client().post(reverse("login"), {"username": "clinician", "password": "wrong"})
    Client().post(reverse("login"), {"username": "staff-x", "password": PASSWORD})
    AccessFailureLog.objects.create(username="clinician", ip_address="192.0.2.1", locked_out=False)
    call = recorded_call(patient=patient)
    hook_card = HookCard.objects.create(call=call, rule=card.rule, recommendation=card)
    HookFeedback.objects.create(
        hook_card=hook_card, outcome="overridden", outcome_timestamp=timezone.now()
    )
    jobs.start(tasks.preview, JobKind.PREVIEW, superuser, rule=card.rule)  # a queued task
    as_user(clinician).get(reverse("patients:list"))  # a list access
    clinician.account.force_password_change(by=superuser)  # an account event
    return patient


def admin_pages(model, model_admin):
    """Every page the admin has for one record of the model, and its list."""
    info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    obj = model._default_manager.order_by("pk").first()
    assert obj is not None, model
    pages = [
        ("list", reverse(f"{info}_changelist")),
        ("list", reverse(f"{info}_changelist") + "?q=MRN-77001"),
        ("record", reverse(f"{info}_change", args=[obj.pk])),
        ("record", reverse(f"{info}_history", args=[obj.pk])),
    ]
    if isinstance(model_admin, SimpleHistoryAdmin) and hasattr(model, "history"):
        version = obj.history.order_by("history_id").first()
        if version is not None:
            pages.append(
                ("record", reverse(f"{info}_simple_history", args=[obj.pk, version.history_id]))
            )
    return pages


def test_every_admin_page_with_patient_data_writes_an_access_log_row(as_user, superuser, records):
    client = as_user(superuser)
    walked = logged = 0
    for model, model_admin in admin.site._registry.items():
        shows_patients = getattr(model_admin, "patient_lookup", None) is not None
        for kind, url in admin_pages(model, model_admin):
            opened = PatientAccess.objects.count()
            listed = PatientListAccess.objects.count()
            response = client.get(url)
            assert response.status_code == 200, url
            assert "no-store" in response["Cache-Control"], url
            walked += 1
            new_opened = PatientAccess.objects.count() - opened
            new_listed = PatientListAccess.objects.count() - listed
            if not shows_patients:
                assert (new_opened, new_listed) == (0, 0), url
                continue
            logged += 1
            if kind == "record" and new_opened:
                # One patient's record (a list-access row of several logs a list).
                assert (new_opened, new_listed) == (1, 0), url
                entry = PatientAccess.objects.order_by("-pk").first()
                assert (entry.user, entry.patient) == (superuser, records), url
                assert entry.view.startswith("admin:")
            else:
                assert (new_opened, new_listed) == (0, 1), url
                entry = PatientListAccess.objects.order_by("-pk").first()
                assert entry.user == superuser
                assert records in entry.patients.all(), url
                assert entry.searched == ("?q=" in url)
    # Patients, assessments, follow-ups, cards, decisions, dismissals, adherence,
    # evaluations, both access logs, hook calls, their cards and feedback show patient
    # data; rules, accounts, groups, EHR clients and sign-in records do not.
    assert logged >= 12 * 4
    assert walked > logged


def test_an_admin_search_by_mrn_logs_the_patients_it_found(as_user, superuser, records):
    other = make_patient(mrn="MRN-88001")
    client = as_user(superuser)
    client.get(reverse("admin:patients_patient_changelist") + "?q=MRN-88001")
    entry = PatientListAccess.objects.order_by("-pk").first()
    assert (entry.view, entry.searched) == ("admin:patients_patient_changelist", True)
    assert list(entry.patients.all()) == [other]


def test_an_admin_search_that_finds_nobody_logs_nothing(as_user, superuser, records):
    before = PatientListAccess.objects.count()
    as_user(superuser).get(reverse("admin:patients_patient_changelist") + "?q=NOBODY-HERE")
    assert PatientListAccess.objects.count() == before
