"""Patients answering at home through a one-time link (issue 24): each test checks what is
stored, not only what is shown."""

import hashlib
import json
import re
from datetime import date, timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clinic.models import LinkAttempt
from guidance.models import Recommendation
from patients.invitations import Invitation, InvitationClosed
from patients.models import Assessment
from patients.scales import IRLS
from tests.base import run_tasks

GAD7_ANSWERS = {f"gad7_{n}": str(v) for n, v in enumerate([2, 2, 1, 2, 1, 1, 0], start=1)}  # 9


@pytest.fixture
def patient(db):
    from tests.base import make_patient

    return make_patient(
        given_name="Philippa",
        family_name="Quartermaine",
        mrn="MRN-SELF-77",
        date_of_birth=date(1988, 3, 14),
    )


def invite(client, patient, **data):
    data = {"questionnaires": ["gad7", "sleep_lifestyle", "last_dose"], "days": 4, **data}
    response = client.post(reverse("patients:invite", args=[patient.uuid]), data)
    assert response.status_code == 302, response.content
    response = client.get(response.url)
    link = re.search(r"data-invitation-link>([^<]+)<", response.content.decode()).group(1)
    return link.removeprefix("http://testserver"), response


@pytest.fixture
def link(as_user, staff, patient):
    path, _ = invite(as_user(staff), patient)
    return path


def token_of(path):
    return path.rstrip("/").rsplit("/", 1)[1]


def confirm(client, dob="1988-03-14"):
    return client.post(reverse("selfreport:answer"), {"date_of_birth": dob})


def answer_all(client, path):
    client.get(path)
    confirm(client)
    answer = reverse("selfreport:answer")
    client.post(answer, GAD7_ANSWERS)
    client.post(answer, {"sleep_hours_per_night": "5.5", "nicotine_use": "False"})
    client.post(answer, {"last_dose_at": "2026-11-25T21:30"})
    return client.post(answer, {"send": "1"})


def test_the_token_is_long_random_and_kept_only_as_its_hash(frozen_clock, link, patient):
    token = token_of(link)
    assert len(token) >= 43  # 32 random bytes: 256 bits
    invitation = Invitation.objects.get()
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    stored = str(Invitation.objects.values().get()) + str(Invitation.history.values().first())
    assert token not in stored
    assert str(patient.uuid) not in link
    assert patient.mrn not in link


def test_opening_the_link_does_not_use_it_up(frozen_clock, link):
    first, second = Client(), Client()
    assert first.get(link).status_code == 302
    assert second.get(link).status_code == 302  # again, elsewhere: still open
    invitation = Invitation.objects.get()
    assert invitation.status == "opened"
    assert (invitation.submitted_at, invitation.answers) == (None, {})


def test_the_patient_answers_step_by_step_and_it_works_once(frozen_clock, link):
    patient_client = Client()
    response = answer_all(patient_client, link)
    assert "your answers were sent" in response.content.decode()
    invitation = Invitation.objects.get()
    assert invitation.submitted_at == timezone.now()
    assert invitation.answers["gad7_1"] == 2
    assert invitation.answers["sleep_hours_per_night"] == 5.5
    assert invitation.answers["nicotine_use"] is False
    assert invitation.answers["last_dose_at"].startswith("2026-11-25T21:30")
    before = Invitation.history.count()
    again = Client().get(link)  # used: the neutral page, nothing written
    assert "This link cannot be used" in again.content.decode()
    assert Invitation.history.count() == before
    assert not LinkAttempt.objects.exists()


def test_patient_input_fires_no_card_and_scores_nothing_until_a_clinician_saves(
    frozen_clock, link, as_user, clinician, patient
):
    answer_all(Client(), link)
    assert not Assessment.objects.exists()
    assert not Recommendation.objects.exists()
    invitation = Invitation.objects.get()
    client = as_user(clinician)
    url = reverse("patients:assessment_create", args=[patient.uuid])
    form = client.get(url, {"from_invitation": str(invitation.uuid)})
    page = form.content.decode()
    assert "Pre-filled with the patient's own answers" in page
    assert (
        form.context["form"].initial.get("gad7_1") == 2
        or form.context["form"]["gad7_1"].value() == 2
    )
    data = {
        "assessed_at": "2026-11-26T10:00",
        "from_invitation": str(invitation.uuid),
        **GAD7_ANSWERS,
        "sleep_hours_per_night": "5.5",
        "nicotine_use": "",
        "last_dose_at": "2026-11-25T21:30",
    }
    response = client.post(url, data)
    assert response.status_code == 302
    assessment = Assessment.objects.get()
    assert assessment.gad7_total == 9
    assert set(assessment.patient_reported) >= {"gad7_1", "gad7_7", "sleep_hours_per_night"}
    assert assessment.history.first().patient_reported == assessment.patient_reported
    invitation.refresh_from_db()
    assert invitation.assessment == assessment
    assert invitation.status == "reviewed"
    # Taken once: the same answers cannot make a second assessment.
    second = client.post(url, data)
    assert second.status_code == 302
    assert second.url == patient.get_absolute_url()
    assert Assessment.objects.count() == 1


@pytest.mark.parametrize("state", ["expired", "revoked"])
def test_an_expired_or_revoked_link_refuses_and_writes_nothing(
    frozen_clock, link, as_user, staff, state
):
    invitation = Invitation.objects.get()
    if state == "revoked":
        as_user(staff).post(reverse("patients:invitation_action", args=[invitation.uuid, "revoke"]))
    else:
        frozen_clock.shift(timedelta(days=4, seconds=1).total_seconds())
    invitation.refresh_from_db()
    before = (Invitation.history.count(), invitation.opened_at, invitation.answers)
    response = Client().get(link)
    assert response.status_code == 200
    assert "This link cannot be used" in response.content.decode()
    invitation.refresh_from_db()
    assert (Invitation.history.count(), invitation.opened_at, invitation.answers) == before
    assert not LinkAttempt.objects.exists()


def test_revoking_midway_stops_the_patient_at_the_next_step(frozen_clock, link, as_user, staff):
    patient_client = Client()
    patient_client.get(link)
    confirm(patient_client)
    invitation = Invitation.objects.get()
    as_user(staff).post(reverse("patients:invitation_action", args=[invitation.uuid, "revoke"]))
    response = patient_client.post(reverse("selfreport:answer"), GAD7_ANSWERS)
    assert "This link cannot be used" in response.content.decode()
    invitation.refresh_from_db()
    assert invitation.answers == {}
    assert invitation.revoked_by == staff


def test_five_wrong_dates_of_birth_lock_it_and_staff_see_that(
    frozen_clock, link, as_user, staff, patient
):
    patient_client = Client()
    patient_client.get(link)
    for n in range(4):
        response = confirm(patient_client, dob=f"1990-01-0{n + 1}")
        assert "not the date of birth the clinic has" in response.content.decode()
    last = confirm(patient_client, dob="1990-01-09")
    assert "This link cannot be used" in last.content.decode()
    invitation = Invitation.objects.get()
    assert (invitation.date_of_birth_failures, invitation.status) == (5, "locked")
    assert confirm(patient_client).status_code == 200  # the right date now: still locked
    invitation.refresh_from_db()
    assert (invitation.confirmed_at, invitation.answers) == (None, {})
    page = as_user(staff).get(patient.get_absolute_url()).content.decode()
    assert 'data-status="locked"' in page


def test_sending_again_makes_a_new_link_and_the_old_one_stops(
    frozen_clock, link, as_user, staff, patient
):
    invitation = Invitation.objects.get()
    client = as_user(staff)
    response = client.post(reverse("patients:invitation_action", args=[invitation.uuid, "resend"]))
    response = client.get(response.url)
    new = re.search(r"data-invitation-link>([^<]+)<", response.content.decode()).group(1)
    assert token_of(new) != token_of(link)
    assert "This link cannot be used" in Client().get(link).content.decode()
    assert Client().get(new.removeprefix("http://testserver")).status_code == 302


def test_tries_from_one_address_are_throttled(frozen_clock, link):
    guesser = Client()
    for n in range(20):
        guesser.get(reverse("selfreport:open", args=[f"guess-{n}"]))
    assert LinkAttempt.objects.count() == 20
    blocked = guesser.get(link)  # even the right link, from there, for a while
    assert "Too many tries" in blocked.content.decode()
    assert blocked.status_code == 200  # a 429 would put the token in Django's log
    invitation = Invitation.objects.get()
    assert invitation.opened_at is None


def test_tries_older_than_the_window_are_forgotten_at_the_next_failure(frozen_clock, link):
    guesser = Client()
    for n in range(3):
        guesser.get(reverse("selfreport:open", args=[f"guess-{n}"]))
    frozen_clock.shift(timedelta(minutes=16))  # past the 15-minute window
    guesser.get(reverse("selfreport:open", args=["guess-late"]))
    assert LinkAttempt.objects.count() == 1


def test_no_name_or_mrn_appears_on_the_patient_pages(frozen_clock, link, patient):
    patient_client = Client()
    pages = [patient_client.get(link, follow=True)]
    pages.append(confirm(patient_client))
    pages.append(patient_client.get(reverse("selfreport:answer")))
    answer = reverse("selfreport:answer")
    pages.append(patient_client.post(answer, {"gad7_1": "9"}))  # refused: kept, said so
    for page in pages:
        text = page.content.decode()
        assert "Quartermaine" not in text
        assert "Philippa" not in text
        assert "MRN-SELF-77" not in text
        assert str(patient.uuid) not in text
        assert "1988" not in text


def test_a_refused_step_loses_nothing_and_says_so(frozen_clock, link):
    patient_client = Client()
    patient_client.get(link)
    confirm(patient_client)
    partial = {key: value for key, value in GAD7_ANSWERS.items() if key != "gad7_7"}
    response = patient_client.post(reverse("selfreport:answer"), partial)
    text = response.content.decode()
    assert "nothing was lost" in text
    assert 'value="2" checked' in text or "checked" in text
    assert Invitation.objects.get().answers == {}  # a scale is complete or absent


def test_partial_answers_are_kept_and_resumed(frozen_clock, link):
    first = Client()
    first.get(link)
    confirm(first)
    first.post(reverse("selfreport:answer"), GAD7_ANSWERS)
    later = Client()  # another day, another browser
    later.get(link)
    confirm(later)
    page = later.get(reverse("selfreport:answer")).content.decode()
    assert "Sleep and lifestyle" in page  # the next step, the first one kept
    assert Invitation.objects.get().status == "in_progress"


def test_the_invitation_form_explains_why_the_irls_is_not_offered(as_user, staff, patient):
    page = as_user(staff).get(reverse("patients:invite", args=[patient.uuid])).content.decode()
    assert "data-irls-not-offered" in page
    assert 'value="irls"' not in page
    _, response = invite(as_user(staff), patient, questionnaires=["gad7"])
    refused = as_user(staff).post(
        reverse("patients:invite", args=[patient.uuid]), {"questionnaires": ["irls"], "days": 4}
    )
    assert "irls is not one of the available choices" in refused.content.decode()
    assert Invitation.objects.count() == 1


@pytest.mark.parametrize("days", ["0", "31", "x"])
def test_an_expiry_out_of_range_is_refused(as_user, staff, patient, days):
    response = as_user(staff).post(
        reverse("patients:invite", args=[patient.uuid]), {"questionnaires": ["gad7"], "days": days}
    )
    assert response.status_code == 200
    assert "days" in response.context["form"].errors
    assert not Invitation.objects.exists()


def test_home_and_worklist_show_answers_awaiting_review(frozen_clock, link, as_user, clinician):
    answer_all(Client(), link)
    client = as_user(clinician)
    assert "Patient answers awaiting review: <strong>1</strong>" in client.get("/").content.decode()
    worklist = client.get(reverse("patients:worklist")).content.decode()
    assert 'data-bucket="patient-answers"' in worklist


def test_the_link_is_shown_once_and_a_reload_does_not_show_it_again(as_user, staff, patient):
    client = as_user(staff)
    made = client.post(
        reverse("patients:invite", args=[patient.uuid]), {"questionnaires": ["gad7"], "days": 4}
    )
    first = client.get(made.url).content.decode()
    again = client.get(made.url).content.decode()
    assert "data-invitation-link" in first
    assert "<svg" in first
    assert "data-invitation-link" not in again
    assert "data-link-shown" in again
    assert Invitation.objects.count() == 1


def test_the_assessment_page_says_which_values_the_patient_gave(
    frozen_clock, link, as_user, clinician, patient
):
    answer_all(Client(), link)
    invitation = Invitation.objects.get()
    client = as_user(clinician)
    url = reverse("patients:assessment_create", args=[patient.uuid])
    data = {
        "assessed_at": "2026-11-26T10:00",
        "from_invitation": str(invitation.uuid),
        **GAD7_ANSWERS,
        "sleep_hours_per_night": "7",  # the clinician's own, after asking again
    }
    saved = client.post(url, data)
    assessment = Assessment.objects.get()
    assert "sleep_hours_per_night" not in assessment.patient_reported  # changed: theirs
    assert "gad7_1" in assessment.patient_reported
    page = client.get(saved.url).content.decode()
    assert "data-patient-reported" in page


def test_an_emailed_link_names_no_one_and_gets_one_reminder_two_days_later(
    frozen_clock, settings, as_user, staff, patient
):
    settings.EMAIL_LINKS = True
    patient.email = "someone@example.org"
    patient.save()
    path, _ = invite(as_user(staff), patient, email="on")
    [message] = mail.outbox  # read live: Django 6.1's mailers replace the list
    assert message.to == ["someone@example.org"]
    assert token_of(path) in message.body
    for private in ("Philippa", "Quartermaine", "MRN-SELF-77", "GAD", "kratom", "anxiety"):
        assert private not in message.body + message.subject
    invitation = Invitation.objects.get()
    assert invitation.emailed_to == "someone@example.org"
    run_tasks()  # not yet due
    assert len(mail.outbox) == 1
    frozen_clock.shift(timedelta(days=2, minutes=1).total_seconds())
    run_tasks()
    assert len(mail.outbox) == 2
    reminder = mail.outbox[1]
    assert token_of(path) not in reminder.body  # the clinic does not keep it
    assert "Philippa" not in reminder.body
    invitation.refresh_from_db()
    assert invitation.reminded_at == timezone.now()
    assert invitation.history.filter(reminded_at__isnull=False).exists()  # in the trail


def test_a_finished_invitation_gets_no_reminder(frozen_clock, settings, as_user, staff, patient):
    settings.EMAIL_LINKS = True
    patient.email = "someone@example.org"
    patient.save()
    path, _ = invite(as_user(staff), patient, email="on")
    answer_all(Client(), path)
    frozen_clock.shift(timedelta(days=3).total_seconds())
    run_tasks()
    assert len(mail.outbox) == 1
    assert Invitation.objects.get().reminded_at is None


def test_without_email_settings_the_form_offers_no_email(settings, as_user, staff, patient):
    settings.EMAIL_LINKS = False
    patient.email = "someone@example.org"
    patient.save()
    page = as_user(staff).get(reverse("patients:invite", args=[patient.uuid])).content.decode()
    assert 'name="email"' not in page


def licensed_file(tmp_path, items=10):
    """A stand-in for a clinic's licensed copy: invented words, not the instrument's."""
    wording = {
        "title": "Leg questionnaire (licensed copy)",
        "instructions": "Think about the past week.",
        "items": [
            {"text": f"Licensed question number {n}", "answers": [f"L{n}-{v}" for v in range(5)]}
            for n in range(1, items + 1)
        ],
    }
    path = tmp_path / "irls.json"
    path.write_text(json.dumps(wording))
    return str(path)


def test_with_the_clinics_licensed_wording_the_irls_is_offered_in_that_wording(
    frozen_clock, settings, tmp_path, as_user, staff, clinician, patient
):
    settings.IRLS_LICENSED_WORDING = licensed_file(tmp_path)
    form = as_user(staff).get(reverse("patients:invite", args=[patient.uuid])).content.decode()
    assert 'value="irls"' in form
    assert "data-irls-not-offered" not in form
    path, _ = invite(as_user(staff), patient, questionnaires=["irls"])
    answering = Client()
    answering.get(path)
    confirm(answering)
    page = answering.get(reverse("selfreport:answer")).content.decode()
    assert "Licensed question number 1" in page
    assert "L1-4" in page
    assert "Think about the past week." in page
    for item in IRLS.items:  # our own paraphrases are the clinician's, not the patient's
        assert item.label not in page
    answering.post(reverse("selfreport:answer"), {f"irls_{n}": "2" for n in range(1, 11)})
    answering.post(reverse("selfreport:answer"), {"send": "1"})
    invitation = Invitation.objects.get()
    assert {invitation.answers[f"irls_{n}"] for n in range(1, 11)} == {2}
    start = as_user(clinician).get(
        reverse("patients:assessment_create", args=[patient.uuid]),
        {"from_invitation": str(invitation.uuid)},
    )
    assert start.context["form"]["irls_1"].value() == 2


def test_without_the_wording_an_irls_asked_for_anyway_is_not_put_to_the_patient(
    frozen_clock, settings, staff, patient
):
    settings.IRLS_LICENSED_WORDING = ""
    invitation, token = Invitation.make(patient=patient, questionnaires=["irls", "gad7"], by=staff)
    answering = Client()
    answering.get(reverse("selfreport:open", args=[token]))
    confirm(answering)
    page = answering.get(reverse("selfreport:answer")).content.decode()
    assert "Step 1 of 1" in page
    assert "GAD-7" in page


@pytest.mark.parametrize("items", [9, 0])
def test_a_wording_file_of_the_wrong_shape_stops_the_checks(db, settings, tmp_path, items):
    settings.IRLS_LICENSED_WORDING = licensed_file(tmp_path, items=items)
    with pytest.raises(SystemCheckError, match="clinic.E010"):
        call_command("check")


def test_a_wording_file_that_cannot_be_read_stops_the_checks(db, settings, tmp_path):
    settings.IRLS_LICENSED_WORDING = str(tmp_path / "missing.json")
    with pytest.raises(SystemCheckError, match="cannot read"):
        call_command("check")


def test_a_patient_can_change_or_empty_an_earlier_answer(frozen_clock, link):
    patient_client = Client()
    patient_client.get(link)
    confirm(patient_client)
    answer = reverse("selfreport:answer")
    patient_client.post(answer, GAD7_ANSWERS)
    patient_client.post(answer, {"sleep_hours_per_night": "5.5", "alcohol_drinks_per_week": "4"})
    patient_client.post(answer, {"last_dose_at": "2026-11-25T21:30"})
    shown = patient_client.get(answer, {"step": "last_dose"}).content.decode()
    assert 'value="2026-11-25T21:30"' in shown  # as the input takes it back
    patient_client.post(answer + "?step=sleep_lifestyle", {"sleep_hours_per_night": "6"})
    patient_client.post(answer + "?step=last_dose", {"skip": "1"})
    kept = Invitation.objects.get().answers
    assert kept["sleep_hours_per_night"] == 6
    assert "alcohol_drinks_per_week" not in kept  # emptied: gone
    assert "last_dose_at" not in kept  # skipped: gone


def test_answering_keeps_the_session_alive_and_a_timed_out_one_says_what_to_do(
    frozen_clock, link, settings
):
    patient_client = Client()
    patient_client.get(link)
    confirm(patient_client)
    answer = reverse("selfreport:answer")
    for _ in range(4):  # 40 minutes of answering, a page every 10
        frozen_clock.shift(600)
        assert "GAD-7" in patient_client.get(answer).content.decode()
    patient_client.post(answer, GAD7_ANSWERS)
    assert "gad7_1" in Invitation.objects.get().answers
    ended = Client().get(answer).content.decode()
    assert "Open your link again" in ended


def test_a_copy_read_before_a_revocation_cannot_write_after_it(frozen_clock, link, staff):
    stale = Invitation.objects.get()
    Invitation.objects.get().revoke(by=staff)
    with pytest.raises(InvitationClosed):
        stale.keep_answers({"gad7_1": 1})
    with pytest.raises(InvitationClosed):
        stale.submit()
    fresh = Invitation.objects.get()
    assert (fresh.answers, fresh.submitted_at, fresh.status) == ({}, None, "revoked")


def test_without_a_client_address_tries_are_still_counted_and_throttled(frozen_clock, link):
    nowhere = Client(REMOTE_ADDR="")
    for n in range(20):
        nowhere.get(reverse("selfreport:open", args=[f"guess-{n}"]))
    assert "Too many tries" in nowhere.get(link).content.decode()
    assert Invitation.objects.get().opened_at is None


def test_when_the_mail_server_refuses_the_link_is_still_shown(
    frozen_clock, settings, monkeypatch, as_user, staff, patient
):
    settings.EMAIL_LINKS = True
    patient.email = "someone@example.org"
    patient.save()

    def refused(*args, **kwargs):
        raise OSError("connection refused")

    monkeypatch.setattr("clinic.views.invitations.send_mail", refused)
    path, page = invite(as_user(staff), patient, email="on")
    assert "could not be sent" in page.content.decode()
    invitation = Invitation.objects.get()
    assert (invitation.emailed_to, invitation.token_hash != "") == ("", True)
    assert Client().get(path).status_code == 302  # the link itself works


def test_sending_an_emailed_link_again_emails_the_new_one(
    frozen_clock, settings, as_user, staff, patient
):
    settings.EMAIL_LINKS = True
    patient.email = "someone@example.org"
    patient.save()
    client = as_user(staff)
    first, _ = invite(client, patient, email="on")
    invitation = Invitation.objects.get()
    again = client.post(reverse("patients:invitation_action", args=[invitation.uuid, "resend"]))
    new = re.search(r"data-invitation-link>([^<]+)<", client.get(again.url).content.decode())
    assert len(mail.outbox) == 2
    assert token_of(new.group(1)) in mail.outbox[1].body
    assert token_of(first) not in mail.outbox[1].body
