"""Per-client rate limits on hook calls (interop.limits): calls a minute, and distinct
patients an hour. Past either, a 429 with Retry-After, as an OperationOutcome, and nothing
recorded; a chart reopened is not a new patient; another client is not slowed."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from interop.models import HookCall
from tests.interop.ehr import (
    MRN_SYSTEM,
    Ehr,
    assert_outcome,
    hook_body,
    patient_resource,
    register,
)

PATIENT_VIEW = "/cds-services/rls-patient-view"


def ask(client, ehr, mrn: str, patient_id: str = "p1"):
    body = hook_body(patient=patient_resource(mrn, id=patient_id), patientId=patient_id)
    return ehr.post(client, PATIENT_VIEW, body)


def test_calls_past_the_limit_of_a_minute_are_refused_until_it_has_passed(
    client, ehr, seeded, settings
):
    settings.CDS_MAX_CALLS_PER_MINUTE = 3
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for _ in range(3):
            assert ask(client, ehr, "RLS-0042").json()["cards"]
        refused = ask(client, ehr, "RLS-0042")
        assert_outcome(refused, 429, "More than 3 hook calls in a minute")
        assert refused.json()["issue"][0]["code"] == "throttled"
        assert refused["Retry-After"] == "60"
        assert HookCall.objects.count() == 3  # the refused call wrote nothing

        other = Ehr(register(iss="https://b.example.org", name="B"), iss="https://b.example.org")
        assert ask(client, other, "RLS-0042").status_code == 200  # its own count

        clock.shift(timedelta(seconds=61))
        assert ask(client, ehr, "RLS-0042").status_code == 200


def test_patients_past_the_limit_of_an_hour_are_refused_but_a_reopened_chart_is_not(
    client, ehr, seeded, settings
):
    """An EHR walking through record numbers (the finding: 6 of 6 patients' cards by
    sequential MRNs) is stopped after the limit, whatever patient id it sends them under."""
    settings.CDS_MAX_PATIENTS_PER_HOUR = 3
    with time_machine.travel(timezone.now(), tick=False) as clock:
        assert ask(client, ehr, "RLS-0042").json()["cards"]
        assert ask(client, ehr, "MRN-00002").status_code == 200
        assert ask(client, ehr, "MRN-00003", patient_id="p3").status_code == 200
        assert_outcome(ask(client, ehr, "MRN-00004"), 429, "More than 3 distinct patients")
        assert_outcome(ask(client, ehr, "RLS-0042", patient_id="p9"), 429, "distinct patients")
        assert HookCall.objects.count() == 3

        # Our patient's chart, opened again: the same patient, not a new one.
        assert ask(client, ehr, "RLS-0042").json()["cards"]

        clock.shift(timedelta(hours=1, seconds=1))
        assert ask(client, ehr, "MRN-00004").status_code == 200


@pytest.mark.parametrize(("name", "value"), [("CALLS_PER_MINUTE", "0"), ("PATIENTS_PER_HOUR", "x")])
def test_a_limit_that_is_not_a_positive_number_stops_the_start(name, value):
    from tests.clinic.test_settings import PRODUCTION, run_manage

    result = run_manage("check", **(PRODUCTION | {f"DJANGO_CDS_MAX_{name}": value}))
    assert result.returncode != 0
    assert f"DJANGO_CDS_MAX_{name}" in result.stderr


def test_a_patient_carrying_two_of_our_numbers_matches_nobody_and_cannot_dodge_the_limit(
    client, ehr, seeded, settings
):
    """A review found the patient limit dodged with a decoy: the same first number on every
    call ("a chart reopened"), the number tried second. A Patient with two current numbers
    under the client's system is no patient to guess from."""
    settings.CDS_MAX_PATIENTS_PER_HOUR = 2
    for n in range(4):
        patient = patient_resource("DECOY-1")
        patient["identifier"].append({"system": MRN_SYSTEM, "value": f"MRN-{n:05d}"})
        patient["identifier"].append({"system": MRN_SYSTEM, "value": "RLS-0042"})
        body = hook_body(patient=patient)
        assert ehr.post(client, PATIENT_VIEW, body).json() == {"cards": []}
    assert set(HookCall.objects.values_list("ehr_mrn", "patient")) == {("", None)}


def test_the_number_recorded_is_the_one_asked_for(client, ehr, seeded):
    patient = patient_resource("RLS-0042")
    patient["identifier"].append({"system": MRN_SYSTEM, "value": "OLD-7", "use": "old"})
    assert ehr.post(client, PATIENT_VIEW, hook_body(patient=patient)).json()["cards"]
    call = HookCall.objects.get()
    assert (call.ehr_mrn, call.patient) == ("RLS-0042", seeded.patient)
