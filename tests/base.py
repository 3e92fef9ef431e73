"""The cast: one user per role, plus an outsider with no role, and factories for records."""

import itertools
from datetime import date
from unittest import mock

from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.urls import reverse

from clinic.roles import CLINICIANS, GUIDANCE_ADMINS, STAFF
from patients.models import Assessment, Patient

PASSWORD = "correct-horse-battery"
# "Now" for tests that freeze the clock (the frozen_clock fixture, tests/conftest.py).
NOW = "2026-11-26 12:00Z"

ROLES = {
    "clinician": CLINICIANS,
    "staff": STAFF,
    "guidance_admin": GUIDANCE_ADMINS,
    "outsider": None,
}

_numbers = itertools.count(1)


def make_user(username: str, group: str | None = None, **fields) -> User:
    user = User.objects.create_user(username=username, password=PASSWORD, **fields)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


def make_patient(**fields) -> Patient:
    n = next(_numbers)
    values = {
        "mrn": f"MRN-{n:05d}",
        "given_name": f"Given{n}",
        "family_name": f"Family{n}",
        "date_of_birth": date(1980, 1, 1),
        "sex": "female",
    }
    values.update(fields)
    return Patient.objects.create(**values)


CRITERIA_MET = {
    "rls_urge_to_move": True,
    "rls_worse_at_rest": True,
    "rls_relief_with_movement": True,
    "rls_worse_evening": True,
    "rls_not_explained_by_mimic": True,
}

# A complete IRLS totalling 24 (severe) and a complete COWS totalling 14 (moderate).
COMPLETE_IRLS = {f"irls_{n}": v for n, v in enumerate([3, 3, 2, 3, 2, 3, 2, 2, 2, 2], start=1)}
COMPLETE_COWS = {
    "cows_pulse": 1,
    "cows_sweating": 1,
    "cows_restlessness": 3,
    "cows_pupils": 1,
    "cows_aches": 2,
    "cows_runny_nose": 1,
    "cows_gi_upset": 2,
    "cows_tremor": 1,
    "cows_yawning": 1,
    "cows_anxiety": 1,
    "cows_gooseflesh": 0,
}


def make_assessment(patient: Patient, by, **fields) -> Assessment:
    return Assessment.objects.create(patient=patient, assessed_by=by, **fields)


# A complete, valid assessment as the form posts it (criteria met, IRLS 24, COWS 14).
VALID = {
    "assessed_at": "2026-11-26T10:00",
    "kratom_grams_per_day": "12.5",
    "kratom_doses_per_day": "4",
    "kratom_use_months": "30",
    "kratom_product": "leaf_powder",
    "last_dose_at": "2026-11-24T20:00",
    "rls_urge_to_move": "on",
    "rls_worse_at_rest": "on",
    "rls_relief_with_movement": "on",
    "rls_worse_evening": "on",
    "rls_not_explained_by_mimic": "on",
    "mimics": ["leg_cramps"],
    **{key: str(value) for key, value in (COMPLETE_IRLS | COMPLETE_COWS).items()},
    "sleep_hours_per_night": "5.5",
    "caffeine_mg_per_day": "200",
    "alcohol_drinks_per_week": "0",
    "exercise_minutes_per_week": "60",
    "ferritin_ng_ml": "45",
    "tsat_percent": "18",
    "serum_creatinine_mg_dl": "0.9",
    "weight_kg": "68",
}


def record(client, patient, **changes):
    """Post the assessment form: VALID with changes; a change to None drops the field."""
    data = {**VALID, **changes}
    data = {key: value for key, value in data.items() if value is not None}
    return client.post(reverse("patients:assessment_create", args=[patient.uuid]), data)


def resubmit(form) -> dict:
    """What a browser posts back from a form as shown: each field's shown value."""
    from datetime import date, datetime

    from django.utils import timezone

    data: dict = {}
    for field in form:
        value = field.value()
        if value is None or value is False or value == "":
            continue
        if value is True:
            data[field.html_name] = "on"
        elif isinstance(value, list):
            data[field.html_name] = [str(item) for item in value]
        elif isinstance(value, datetime):
            local = value if timezone.is_naive(value) else timezone.localtime(value)
            data[field.html_name] = local.strftime("%Y-%m-%dT%H:%M")
        elif isinstance(value, date):
            data[field.html_name] = value.isoformat()
        else:
            data[field.html_name] = str(value)
    return data


def realistic_assessment(clinician, *, at):
    """Issue 21's patient, its rules evaluated: severe RLS (IRLS 24), last dose 30 h before
    `at`, COWS 15, on sertraline, creatinine clearance 57 mL/min, ferritin 40, TSAT 22."""
    from datetime import timedelta

    from guidance.services import evaluate_assessment

    patient = make_patient(
        given_name="Rae", family_name="Listic", date_of_birth=date(1981, 6, 1), sex="female"
    )
    assessment = make_assessment(
        patient,
        clinician,
        assessed_at=at,
        last_dose_at=at - timedelta(hours=30),
        **CRITERIA_MET,
        **COMPLETE_IRLS,
        **(COMPLETE_COWS | {"cows_sweating": 2}),
        on_serotonergic_antidepressant=True,
        weight_kg=70,
        serum_creatinine_mg_dl=1.38,
        ferritin_ng_ml=40,
        tsat_percent=22,
    )
    evaluate_assessment(assessment=assessment)
    return assessment


def run_tasks() -> None:
    """Run every queued background task, as `manage.py db_worker` does, then stop. The
    worker closes old connections between tasks, as a long-running process should; inside
    a test's transaction that would close the test's own connection on PostgreSQL."""
    with mock.patch("django_tasks_db.management.commands.db_worker.close_old_connections"):
        call_command(
            "db_worker", batch=True, interval=0, startup_delay=False, reload=False, verbosity=0
        )
