"""Scheduling, recording, missing and cancelling follow-ups through the test client."""

from datetime import UTC, date, datetime

import pytest
from django.urls import reverse

from guidance.models import Adherence, Recommendation
from guidance.services import evaluate_assessment
from patients.models import FollowUp, FollowUpKind, Patient
from tests.base import COMPLETE_COWS, COMPLETE_IRLS, CRITERIA_MET, make_assessment, make_patient

TODAY = date(2026, 11, 26)


@pytest.fixture(autouse=True)
def _frozen(frozen_clock):
    """Every test of this module at the shared frozen time (tests/conftest.py)."""


@pytest.fixture
def patient(db):
    return make_patient()


@pytest.fixture
def due(patient, clinician):
    """A visit: it may re-score both the IRLS and the COWS."""
    return FollowUp.objects.create(
        patient=patient, due_date=TODAY, scheduled_by=clinician, kind=FollowUpKind.VISIT
    )


@pytest.fixture
def call(patient, clinician):
    return FollowUp.objects.create(
        patient=patient, due_date=TODAY, scheduled_by=clinician, kind=FollowUpKind.PHONE
    )


def record(client, followup, **changes):
    data = {
        "outcome": "completed",
        "happened_on": "2026-11-26",
        "expected_version": followup.version,
        "side_effects": "",
        "notes": "",
    }
    data.update(changes)
    data = {key: value for key, value in data.items() if value is not None}
    return client.post(reverse("patients:followup_record", args=[followup.uuid]), data)


def test_staff_schedule_a_follow_up(as_user, staff, patient):
    response = as_user(staff).post(
        reverse("patients:followup_schedule", args=[patient.uuid]),
        {"due_date": "2026-12-03", "kind": "visit", "assigned_to": staff.pk, "plan_notes": "Sleep"},
    )
    assert response.status_code == 302
    followup = FollowUp.objects.get()
    assert (followup.due_date, followup.kind, followup.assigned_to, followup.status) == (
        date(2026, 12, 3),
        "visit",
        staff,
        "scheduled",
    )
    assert followup.scheduled_by == staff


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"due_date": "2026-11-25", "kind": "phone"}, "due_date", "cannot be due in the past"),
        ({"due_date": "", "kind": "phone"}, "due_date", "required"),
        ({"due_date": "2026-12-01", "kind": "fax"}, "kind", "Select a valid choice"),
        (
            {"due_date": "2026-12-01", "kind": "phone", "assigned_to": 99999},
            "assigned_to",
            "Select a valid choice",
        ),
    ],
)
def test_bad_scheduling_input_is_refused_on_the_field(
    as_user, staff, patient, data, field, message
):
    response = as_user(staff).post(reverse("patients:followup_schedule", args=[patient.uuid]), data)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert not FollowUp.objects.exists()


def test_only_clinicians_and_staff_can_be_assigned(as_user, staff, guidance_admin, patient):
    response = as_user(staff).post(
        reverse("patients:followup_schedule", args=[patient.uuid]),
        {"due_date": "2026-12-01", "kind": "phone", "assigned_to": guidance_admin.pk},
    )
    assert "assigned_to" in response.context["form"].errors


def test_recording_a_completed_follow_up_with_a_cows_re_score(as_user, staff, due):
    cows = {key: str(value) for key, value in COMPLETE_COWS.items()}
    response = record(as_user(staff), due, notes="Sleeping better", **cows)
    assert response.status_code == 302
    due.refresh_from_db()
    assert (due.status, due.cows_total, due.irls_total) == ("completed", 14, None)
    assert (due.recorded_by, due.happened_on, due.notes) == (staff, TODAY, "Sleeping better")
    due.patient.refresh_from_db()
    assert due.patient.latest_cows_total == 14


def test_a_phone_call_re_scores_the_irls_and_never_the_cows(as_user, staff, call):
    """The COWS needs the patient in the room (pupils, gooseflesh, tremor): a phone call
    offers the IRLS only, and COWS values posted anyway are not saved."""
    page = as_user(staff).get(call.get_absolute_url()).content.decode()
    assert 'name="irls_1"' in page
    assert 'name="cows_pulse"' not in page
    assert "COWS re-score" not in page
    items = {key: str(value) for key, value in (COMPLETE_IRLS | COMPLETE_COWS).items()}
    assert record(as_user(staff), call, **items).status_code == 302
    call.refresh_from_db()
    assert (call.status, call.irls_total, call.cows_total, call.cows_pulse) == (
        "completed",
        24,
        None,
        None,
    )
    call.patient.refresh_from_db()
    assert call.patient.latest_cows_total is None


def test_recording_without_a_re_score(as_user, staff, due):
    assert record(as_user(staff), due).status_code == 302
    due.refresh_from_db()
    assert (due.status, due.irls_total, due.cows_total) == ("completed", None, None)


def test_a_missed_follow_up_needs_a_reason(as_user, staff, due):
    response = record(as_user(staff), due, outcome="missed")
    assert "Say why the follow-up was missed." in response.context["form"].errors["missed_reason"]
    due.refresh_from_db()
    assert due.status == "scheduled"
    record(as_user(staff), due, outcome="missed", missed_reason="No answer, voicemail left")
    due.refresh_from_db()
    assert (due.status, due.missed_reason) == ("missed", "No answer, voicemail left")


def test_a_missed_follow_up_cannot_carry_a_re_score(as_user, staff, due):
    cows = {key: str(value) for key, value in COMPLETE_COWS.items()}
    response = record(as_user(staff), due, outcome="missed", missed_reason="No answer", **cows)
    assert "A missed follow-up has no re-score" in response.content.decode()
    due.refresh_from_db()
    assert due.status == "scheduled"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"cows_pulse": "3", **{k: "0" for k in COMPLETE_COWS if k != "cows_pulse"}},
            "cows_pulse",
            "Select a valid choice",
        ),
        ({"irls_1": "5"}, "irls_1", "Select a valid choice"),
        ({"irls_1": "2"}, "irls_2", "answer every IRLS item"),
        ({"happened_on": "2026-11-27"}, "happened_on", "cannot be in the future"),
        (
            {"happened_on": "2026-11-25"},
            "happened_on",
            "cannot be before the follow-up was scheduled (26 Nov 2026)",
        ),
        ({"next_due_date": "2026-11-26"}, "next_due_date", "must be after this one"),
        (
            {"happened_on": "2026-11-20", "next_due_date": "2026-11-24"},
            "next_due_date",
            "cannot be due in the past",
        ),
        ({"outcome": "rescheduled"}, "outcome", "Select a valid choice"),
    ],
)
def test_bad_recording_input_is_refused_and_nothing_is_saved(
    as_user, staff, due, changes, field, message
):
    response = record(as_user(staff), due, **changes)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    due.refresh_from_db()
    assert (due.status, due.version, due.cows_total) == ("scheduled", 1, None)
    assert FollowUp.objects.count() == 1


def test_the_contact_can_be_on_any_day_from_scheduling_to_today(as_user, staff, patient, due):
    FollowUp.objects.filter(pk=due.pk).update(scheduled_at=datetime(2026, 11, 10, 9, tzinfo=UTC))
    Patient.objects.filter(pk=patient.pk).update(created_at=datetime(2026, 11, 1, 9, tzinfo=UTC))
    due.refresh_from_db()
    response = record(as_user(staff), due, happened_on="2026-11-09")
    assert response.context["form"].errors["happened_on"] == [
        "The date of the contact cannot be before the follow-up was scheduled (10 Nov 2026)."
    ]
    assert record(as_user(staff), due, happened_on="2026-11-10").status_code == 302
    due.refresh_from_db()
    assert (due.status, due.happened_on) == ("completed", date(2026, 11, 10))


def test_the_contact_cannot_be_before_the_patient_was_registered(as_user, staff, patient, due):
    # A follow-up carried over from an earlier system, scheduled before the record here.
    FollowUp.objects.filter(pk=due.pk).update(scheduled_at=datetime(2026, 10, 1, 9, tzinfo=UTC))
    Patient.objects.filter(pk=patient.pk).update(created_at=datetime(2026, 11, 20, 9, tzinfo=UTC))
    due.refresh_from_db()
    response = record(as_user(staff), due, happened_on="2026-11-19")
    assert response.context["form"].errors["happened_on"] == [
        "The date of the contact cannot be before the patient was registered (20 Nov 2026)."
    ]
    due.refresh_from_db()
    assert due.status == "scheduled"


def test_the_scheduling_date_is_the_clinics_not_utcs(as_user, staff, patient, due, settings):
    # Scheduled at 21:30 in New York on 20 November: 02:30 UTC on the 21st.
    settings.TIME_ZONE = "America/New_York"
    FollowUp.objects.filter(pk=due.pk).update(
        scheduled_at=datetime(2026, 11, 21, 2, 30, tzinfo=UTC)
    )
    Patient.objects.filter(pk=patient.pk).update(created_at=datetime(2026, 11, 1, 9, tzinfo=UTC))
    due.refresh_from_db()
    assert record(as_user(staff), due, happened_on="2026-11-20").status_code == 302


def test_the_next_due_date_schedules_the_next_follow_up(as_user, staff, due):
    due.assigned_to = staff
    due.save()
    record(as_user(staff), due, next_due_date="2026-12-10", next_kind="visit")
    following = FollowUp.objects.exclude(pk=due.pk).get()
    assert (following.due_date, following.kind, following.status) == (
        date(2026, 12, 10),
        "visit",
        "scheduled",
    )
    assert (following.assigned_to, following.scheduled_from) == (staff, due)


def test_adherence_is_asked_for_each_accepted_card(as_user, staff, clinician, patient, due):
    assessment = make_assessment(patient, clinician, **CRITERIA_MET, **COMPLETE_IRLS)
    evaluate_assessment(assessment=assessment)
    exercise = Recommendation.objects.get(rule_code="LIFE-EXERCISE")
    exercise.decide(status="accepted", by=clinician, expected_version=exercise.version)
    pending = Recommendation.objects.get(rule_code="LIFE-SLEEP")
    client = as_user(staff)
    form = client.get(reverse("patients:followup_record", args=[due.uuid])).context["form"]
    assert [card.rule_code for card in form.accepted_cards] == ["LIFE-EXERCISE"]
    record(
        client, due, **{f"adherence_{exercise.uuid}": "partly", f"adherence_{pending.uuid}": "yes"}
    )
    answer = Adherence.objects.get()
    assert (answer.recommendation, answer.answer) == (exercise, "partly")


def test_a_follow_up_recorded_twice_is_refused_the_second_time(as_user, staff, clinician, due):
    stale = due.version
    record(as_user(staff), due)
    response = as_user(clinician).post(
        reverse("patients:followup_record", args=[due.uuid]),
        {
            "outcome": "missed",
            "missed_reason": "x",
            "happened_on": "2026-11-26",
            "expected_version": stale,
        },
    )
    # The second person sees the recorded follow-up, not an editable form.
    assert response.status_code == 200
    assert "completed this follow-up while you were recording it" in response.content.decode()
    assert response.context["note_form"]["text"].value() == "Why missed: x"
    due.refresh_from_db()
    assert due.status == "completed"


def test_cancelling_keeps_the_record_with_a_reason(as_user, staff, due):
    client = as_user(staff)
    response = client.post(reverse("patients:followup_cancel", args=[due.uuid]), {"reason": ""})
    assert "reason" in response.context["form"].errors
    due.refresh_from_db()
    assert due.status == "scheduled"
    client.post(
        reverse("patients:followup_cancel", args=[due.uuid]), {"reason": "Admitted to hospital"}
    )
    due.refresh_from_db()
    assert (due.status, due.cancel_reason) == ("cancelled", "Admitted to hospital")
    assert due.history.count() == 2


def test_every_change_is_kept_with_who_and_when(as_user, staff, due):
    record(as_user(staff), due)
    versions = list(due.history.order_by("history_id"))
    assert [v.status for v in versions] == ["scheduled", "completed"]
    assert versions[-1].history_user == staff


def test_staff_record_follow_ups_but_still_cannot_decide_cards(
    as_user, staff, clinician, patient, due
):
    assessment = make_assessment(patient, clinician, **CRITERIA_MET)
    evaluate_assessment(assessment=assessment)
    card = Recommendation.objects.first()
    client = as_user(staff)
    assert record(client, due).status_code == 302
    response = client.post(
        reverse("guidance:decide", args=[card.uuid]), {"status": "accepted", "expected_version": 1}
    )
    assert response.status_code == 403


def test_guidance_admins_see_none_of_it(as_user, guidance_admin, due):
    client = as_user(guidance_admin)
    assert client.get(reverse("patients:worklist")).status_code == 403
    assert client.get(reverse("patients:followup_record", args=[due.uuid])).status_code == 403
    assert client.get(reverse("patients:summary", args=[due.patient.uuid])).status_code == 403


def test_the_record_form_starts_with_today_as_the_date_of_the_contact(as_user, staff, due):
    form = as_user(staff).get(reverse("patients:followup_record", args=[due.uuid])).context["form"]
    assert form["happened_on"].value() == TODAY
    assert form["outcome"].value() == "completed"


def test_recording_returns_to_the_worklist_but_never_to_another_site(
    as_user, staff, patient, clinician
):
    first = FollowUp.objects.create(patient=patient, due_date=TODAY, scheduled_by=clinician)
    second = FollowUp.objects.create(patient=patient, due_date=TODAY, scheduled_by=clinician)
    client = as_user(staff)
    assert record(client, first, next="/patients/worklist/").url == "/patients/worklist/"
    assert record(client, second, next="https://evil.example/").url == patient.get_absolute_url()


@pytest.mark.parametrize(
    "back",
    [
        "//evil.example/",
        "/\\evil.example/",
        "https://testserver/patients/worklist/",
        "javascript:alert(1)",
        "/patients/worklist/\r\nSet-Cookie: a=b",
        "/patients/worklist/\x00",
        " /patients/worklist/",
        "\u202e/patients/worklist/",
        "/no-such-page/",
        "/patients/worklist/?" + "a" * 100_000,
        "",
    ],
    ids=[
        "scheme-relative",
        "backslash",
        "absolute",
        "javascript",
        "header injection",
        "NUL",
        "leading space",
        "RTL override",
        "not a page",
        "huge",
        "empty",
    ],
)
def test_a_return_address_that_is_not_a_local_page_falls_back_to_the_patient_page(
    as_user, staff, due, back
):
    response = record(as_user(staff), due, next=back)
    assert response.status_code == 302
    assert response.url == due.patient.get_absolute_url()
    due.refresh_from_db()
    assert due.status == "completed"


def test_a_return_address_keeps_the_worklist_filters_and_page(as_user, staff, due):
    back = "/patients/worklist/?assignee=me&kind=phone&page=2"
    assert record(as_user(staff), due, next=back).url == back
