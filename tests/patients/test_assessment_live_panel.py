"""The assessment form's live panel: totals with their bands' meanings, and the derived
facts (age, hours since the last dose and the window, creatinine clearance, criteria met,
IRLS change) as the server's fact table derives them, on the new and the correction form."""

from datetime import UTC, date, datetime

import pytest
from django.urls import reverse

from patients.facts import WINDOW_LABELS
from patients.models import Assessment, FollowUp, FollowUpStatus, PatientAccess
from tests.base import (
    COMPLETE_COWS,
    COMPLETE_IRLS,
    CRITERIA_MET,
    make_assessment,
    make_patient,
    record,
)

IRLS_18 = {f"irls_{n}": v for n, v in enumerate([2, 2, 2, 2, 2, 2, 2, 2, 1, 1], start=1)}
IRLS_30 = {f"irls_{n}": v for n, v in enumerate([3] * 10, start=1)}


@pytest.fixture(autouse=True)
def _frozen(frozen_clock):
    """Every test of this module at the shared frozen time (tests/conftest.py)."""


@pytest.fixture
def patient():
    """68 on the day of the assessment; female, so Cockcroft-Gault is x 0.85."""
    return make_patient(date_of_birth=date(1958, 3, 1), sex="female")


def at(day, hour=10):
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def items(values):
    return {key: str(value) for key, value in values.items()}


def live(client, patient, data, **headers):
    url = reverse("patients:assessment_create_live", args=[patient.uuid])
    return client.post(url, data, headers={"HX-Request": "true", **headers})


def facts_of(response):
    """The panel's facts by name: (value, note)."""
    return {fact.name: (fact.value, fact.note) for fact in response.context["panel"].facts}


TYPED = {
    "assessed_at": "2026-11-26T10:00",
    "last_dose_at": "2026-11-24T20:00",  # 38 h before
    "weight_kg": "70",
    "serum_creatinine_mg_dl": "1.2",
    "rls_urge_to_move": "on",
    "rls_worse_at_rest": "on",
    "rls_relief_with_movement": "on",
    "rls_worse_evening": "on",  # E5 not ticked: 4 of 5
    **items(COMPLETE_IRLS),  # 24, severe
    **items(COMPLETE_COWS),  # 14, moderate
}


def test_each_derived_fact_is_shown_as_the_fact_table_derives_it(as_user, clinician, patient):
    make_assessment(patient, clinician, assessed_at=at(12), **IRLS_18)
    response = live(as_user(clinician), patient, TYPED)
    assert response.status_code == 200
    facts = facts_of(response)
    assert facts["age_years"] == ("68 years", "on 26 Nov 2026")
    assert facts["hours_since_last_dose"] == ("38 h ago", "")
    assert facts["withdrawal_window"] == (WINDOW_LABELS["onset"], "")
    # (140 - 68) x 70 / (72 x 1.2) x 0.85 = 49.6
    assert facts["crcl_ml_min"] == ("50 mL/min", "Cockcroft–Gault")
    assert facts["rls_criteria_met"] == (
        "4 of 5 essential criteria met",
        "RLS criteria not all met",
    )
    assert facts["irls_change"] == (
        "IRLS 6 points worse than last time",
        "previous IRLS 18 (moderate), assessment of 12 Nov 2026",
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="live-panel"')
    assert 'data-fact="crcl_ml_min"><span data-value>50 mL/min</span>' in html
    assert "data-total>24</span> / 40" in html
    assert "severe RLS symptoms (21–30)" in html
    assert "moderate withdrawal (13–24)" in html
    assert not Assessment.objects.exclude(irls_total=18).exists()  # nothing saved


def test_a_male_patient_is_not_multiplied_by_0_85(as_user, clinician):
    patient = make_patient(date_of_birth=date(1958, 3, 1), sex="male")
    facts = facts_of(live(as_user(clinician), patient, TYPED))
    assert facts["crcl_ml_min"][0] == "58 mL/min"  # 72 x 70 / 86.4 = 58.3


def test_the_previous_irls_can_be_a_follow_up_re_score(as_user, clinician, patient):
    make_assessment(patient, clinician, assessed_at=at(12), **IRLS_18)
    FollowUp.objects.create(
        patient=patient,
        due_date=date(2026, 11, 20),
        scheduled_by=clinician,
        status=FollowUpStatus.COMPLETED,
        happened_on=date(2026, 11, 20),
        recorded_by=clinician,
        recorded_at=at(20),
        **IRLS_30,
    )
    facts = facts_of(live(as_user(clinician), patient, TYPED))
    assert facts["irls_change"] == (
        "IRLS 6 points better than last time",
        "previous IRLS 30 (severe), follow-up re-score of 20 Nov 2026",
    )


def test_the_previous_irls_is_the_one_before_the_time_entered(as_user, clinician, patient):
    make_assessment(patient, clinician, assessed_at=at(12), **IRLS_18)
    make_assessment(patient, clinician, assessed_at=at(20), **IRLS_30)
    facts = facts_of(
        live(as_user(clinician), patient, {**TYPED, "assessed_at": "2026-11-15T09:00"})
    )
    assert facts["irls_change"][0] == "IRLS 6 points worse than last time"  # against 18
    assert facts["age_years"][1] == "on 15 Nov 2026"


@pytest.mark.parametrize(
    ("typed", "needs"),
    [
        ({}, "needs weight and serum creatinine"),
        ({"weight_kg": "70"}, "needs serum creatinine"),
        ({"serum_creatinine_mg_dl": "1.2"}, "needs weight"),
        (
            {"weight_kg": "7", "serum_creatinine_mg_dl": "1.2"},
            "needs a valid weight (20 to 400 kg)",
        ),
        (
            {"weight_kg": "70", "serum_creatinine_mg_dl": "0"},  # no division by zero
            "needs a valid serum creatinine (0.1 to 20 mg/dL)",
        ),
    ],
)
def test_creatinine_clearance_says_what_it_still_needs(as_user, clinician, patient, typed, needs):
    facts = facts_of(live(as_user(clinician), patient, typed))
    assert facts["crcl_ml_min"] == (needs, "")


def test_without_a_last_dose_time_the_window_is_unknown(as_user, clinician, patient):
    facts = facts_of(live(as_user(clinician), patient, {**TYPED, "last_dose_at": ""}))
    assert facts["hours_since_last_dose"] == ("last dose time unknown", "")
    assert facts["withdrawal_window"] == ("needs the last dose time", "")


@pytest.mark.parametrize(
    ("last_dose_at", "problem"),
    [
        ("2026-11-26T11:00", "The last dose cannot be after the assessment time."),
        ("2025-01-01T10:00", "More than a year before the assessment"),
        ("yesterday", "The last dose time is not a valid date and time."),
    ],
)
def test_a_last_dose_time_that_cannot_be_used_says_why(
    as_user, clinician, patient, last_dose_at, problem
):
    facts = facts_of(live(as_user(clinician), patient, {**TYPED, "last_dose_at": last_dose_at}))
    value, note = facts["hours_since_last_dose"]
    assert value == "last dose time unknown"
    assert note.startswith(problem)


def test_the_window_follows_the_hours(as_user, clinician, patient):
    client = as_user(clinician)
    for last_dose_at, window, hours in [
        ("2026-11-26T09:00", "before_onset", "1 h ago"),
        ("2026-11-25T10:06", "before_onset", "23.9 h ago"),  # not rounded up to 24
        ("2026-11-23T10:00", "peak", "72 h ago"),
        ("2026-11-01T10:00", "protracted", "600 h ago"),
    ]:
        facts = facts_of(live(client, patient, {**TYPED, "last_dose_at": last_dose_at}))
        assert facts["hours_since_last_dose"][0] == hours
        assert facts["withdrawal_window"][0] == WINDOW_LABELS[window]


def test_the_criteria_count_and_whether_all_are_met(as_user, clinician, patient):
    client = as_user(clinician)
    every = dict.fromkeys(CRITERIA_MET, "on")
    assert facts_of(live(client, patient, every))["rls_criteria_met"] == (
        "5 of 5 essential criteria met",
        "RLS criteria met",
    )
    assert facts_of(live(client, patient, {}))["rls_criteria_met"][0] == (
        "0 of 5 essential criteria met"
    )


def test_the_irls_change_waits_for_a_complete_irls(as_user, clinician, patient):
    client = as_user(clinician)
    partial = {"irls_1": "3", "irls_2": "3"}
    assert facts_of(live(client, patient, partial))["irls_change"] == ("no earlier IRLS", "")
    make_assessment(patient, clinician, assessed_at=at(12), **IRLS_18)
    value, note = facts_of(live(client, patient, partial))["irls_change"]
    assert value == "complete the IRLS to compare"
    assert note == "previous IRLS 18 (moderate), assessment of 12 Nov 2026"


def test_an_assessment_time_that_is_not_valid_falls_back_to_now(as_user, clinician, patient):
    client = as_user(clinician)
    for assessed_at in ["", "2026-11-27T10:00", "1900-01-01T10:00", "not a time"]:
        facts = facts_of(live(client, patient, {**TYPED, "assessed_at": assessed_at}))
        assert facts["age_years"] == (
            "68 years",
            "on 26 Nov 2026; no valid assessment time entered",
        )
        # The last dose is then measured against now (12:00), not the time typed.
        assert facts["hours_since_last_dose"][0] == "40 h ago"


# The correction form


@pytest.fixture
def three_assessments(clinician, patient):
    """IRLS 18 on the 12th, 24 on the 20th (the one corrected), 30 on the 25th."""
    make_assessment(patient, clinician, assessed_at=at(12), **IRLS_18)
    corrected = make_assessment(
        patient, clinician, assessed_at=at(20), weight_kg=70, **COMPLETE_IRLS
    )
    make_assessment(patient, clinician, assessed_at=at(25), **IRLS_30)
    return corrected


def test_a_correction_compares_with_the_irls_before_it_not_with_itself(
    as_user, clinician, three_assessments
):
    client = as_user(clinician)
    page = client.get(reverse("patients:assessment_edit", args=[three_assessments.uuid]))
    facts = facts_of(page)
    assert facts["irls_change"] == (
        "IRLS 6 points worse than last time",
        "previous IRLS 18 (moderate), assessment of 12 Nov 2026",
    )
    assert facts["crcl_ml_min"] == ("needs serum creatinine", "")  # its saved weight
    html = page.content.decode()
    url = reverse("patients:assessment_edit_live", args=[three_assessments.uuid])
    assert f'hx-post="{url}"' in html

    typed = {**TYPED, "assessed_at": "2026-11-20T10:00", "irls_1": "0", "irls_2": "0"}  # 18
    response = client.post(url, typed, headers={"HX-Request": "true"})
    assert facts_of(response)["irls_change"][0] == "IRLS unchanged since last time"
    three_assessments.refresh_from_db()
    assert (three_assessments.irls_total, three_assessments.version) == (24, 1)  # unchanged


def test_the_create_page_posts_its_panel_to_the_patients_live_address(as_user, clinician, patient):
    page = as_user(clinician).get(reverse("patients:assessment_create", args=[patient.uuid]))
    url = reverse("patients:assessment_create_live", args=[patient.uuid])
    html = page.content.decode()
    assert f'hx-post="{url}"' in html
    assert 'aria-live="polite"' in html
    assert facts_of(page)["crcl_ml_min"] == ("needs weight and serum creatinine", "")


def test_without_javascript_update_shows_the_facts_and_saves_nothing(as_user, clinician, patient):
    response = record(as_user(clinician), patient, preview="1")
    assert response.status_code == 200
    assert not Assessment.objects.exists()
    facts = facts_of(response)
    # VALID: 68 kg, creatinine 0.9, last dose 38 h before; (140 - 68) x 68 / 64.8 x 0.85
    assert facts["crcl_ml_min"][0] == "64 mL/min"
    assert facts["withdrawal_window"][0] == WINDOW_LABELS["onset"]
    assert response.context["panel"].announcement == ""  # a whole page is not an update


# Screen readers hear what changed, not the whole panel


def test_an_update_announces_only_what_changed(as_user, clinician, patient):
    client = as_user(clinician)
    page = client.get(reverse("patients:assessment_create", args=[patient.uuid]))
    said = page.context["panel"].said
    shown = page.context["form"]["assessed_at"].value()  # now, as the form shows it
    typed = {
        "assessed_at": shown.strftime("%Y-%m-%dT%H:%M"),
        "weight_kg": "70",
        "serum_creatinine_mg_dl": "1.2",
        "panel_said": said,
    }
    response = live(client, patient, typed)
    panel = response.context["panel"]
    assert panel.announcement == "Creatinine clearance: 50 mL/min (Cockcroft–Gault)"
    html = response.content.decode()
    assert 'id="panel-status"' in html
    assert 'hx-swap-oob="innerHTML"' in html

    again = live(client, patient, {**typed, "panel_said": panel.said, "irls_1": "2"})
    assert again.context["panel"].announcement == "IRLS 2 so far, 1 of 10 answered"


# Who may ask, and what is logged


def test_each_update_is_logged_as_an_access_to_the_patient(as_user, clinician, patient):
    live(as_user(clinician), patient, TYPED)
    assert [(a.user, a.patient, a.view) for a in PatientAccess.objects.all()] == [
        (clinician, patient, "patients:assessment_create_live")
    ]


@pytest.mark.parametrize("role", ["staff", "guidance_admin", "outsider"])
def test_only_clinicians_get_the_panel(request, as_user, role, clinician, patient):
    assessment = make_assessment(patient, clinician, **COMPLETE_IRLS)
    client = as_user(request.getfixturevalue(role))
    assert live(client, patient, TYPED).status_code == 403
    url = reverse("patients:assessment_edit_live", args=[assessment.uuid])
    assert client.post(url, TYPED).status_code == 403
    assert not PatientAccess.objects.exists()


def test_anonymous_is_sent_to_sign_in(client, clinician, patient):
    response = live(client, patient, TYPED)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    assert not PatientAccess.objects.exists()


def test_an_unknown_patient_or_assessment_is_not_found(as_user, clinician):
    client = as_user(clinician)
    unknown = "0b9e3a52-8a0f-4c1e-9d39-0d4b0f6f2b11"
    for name in ("patients:assessment_create_live", "patients:assessment_edit_live"):
        assert client.post(reverse(name, args=[unknown]), TYPED).status_code == 404
    assert client.get(reverse("patients:assessment_create_live", args=[unknown])).status_code == 405
    assert not PatientAccess.objects.exists()


def test_an_archived_patient_is_refused_with_the_whole_page(as_user, clinician, staff, patient):
    assessment = make_assessment(patient, clinician, **COMPLETE_IRLS)
    patient.archive(by=staff, reason="Moved away")
    client = as_user(clinician)
    response = live(client, patient, TYPED)
    # htmx is told to load the patient's page, where the message says why.
    assert response.headers["HX-Redirect"] == patient.get_absolute_url()
    url = reverse("patients:assessment_edit_live", args=[assessment.uuid])
    plain = client.post(url, TYPED)
    assert (plain.status_code, plain.url) == (302, patient.get_absolute_url())
    assert "archived" in client.get(patient.get_absolute_url()).content.decode()


HUGE = "9" * 5000
HOSTILE = [
    {"assessed_at": "9999-12-31T23:59", "last_dose_at": "0001-01-01T00:00"},
    {"assessed_at": "0001-01-01T00:00", "last_dose_at": "9999-12-31T23:59"},
    {"assessed_at": "inf", "last_dose_at": "NaN", "weight_kg": "Infinity"},
    {"weight_kg": "1e308", "serum_creatinine_mg_dl": "1e-308"},
    {"weight_kg": HUGE, "serum_creatinine_mg_dl": "-" + HUGE, "irls_1": HUGE},
    {"weight_kg": "\u0663\u0665", "irls_1": "\u00b2", "rls_urge_to_move": "\x00"},
    {"weight_kg": ["70", "x"], "irls_1": ["1", "9"], "assessed_at": ["2026-11-26T10:00", ""]},
    {"panel_said": "x" * 100_000},
    {"panel_said": "=;;=;irls=;==="},
    {"assessed_at": "2026-11-26T10:00\x00", "last_dose_at": "<script>alert(1)</script>"},
]


@pytest.mark.parametrize("hostile", HOSTILE)
@pytest.mark.parametrize("time_zone", ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_hostile_or_partial_input_gets_a_panel_never_an_error(
    as_user, clinician, patient, settings, hostile, time_zone
):
    settings.TIME_ZONE = time_zone
    assessment = make_assessment(patient, clinician, **COMPLETE_IRLS)
    client = as_user(clinician)
    for url in (
        reverse("patients:assessment_create_live", args=[patient.uuid]),
        reverse("patients:assessment_edit_live", args=[assessment.uuid]),
    ):
        response = client.post(url, {**TYPED, **hostile}, headers={"HX-Request": "true"})
        assert response.status_code == 200
        assert "<script>" not in response.content.decode()
        response = client.post(url, hostile)  # only the hostile part
        assert response.status_code == 200
    assert Assessment.objects.get().version == 1


# Pinned: session, user, patient, the access-log insert, the previous IRLS (an assessment,
# a follow-up re-score). Permissions come from the cache after the first request.
LIVE_QUERIES = 6


def test_the_live_panel_query_count(as_user, clinician, patient, django_assert_num_queries):
    for day in range(1, 20):
        make_assessment(patient, clinician, assessed_at=at(day), **IRLS_18)
    client = as_user(clinician)
    live(client, patient, TYPED)  # permissions cached, session touched
    with django_assert_num_queries(LIVE_QUERIES):
        live(client, patient, TYPED)
