"""The worklist: buckets at their date boundaries, filters, flags, query count."""

from datetime import date, timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse

from guidance.models import Recommendation
from guidance.services import evaluate_assessment
from patients.models import FollowUp
from tests.base import make_assessment, make_patient

TODAY = date(2026, 11, 26)


@pytest.fixture(autouse=True)
def _frozen(frozen_clock):
    """Every test of this module at the shared frozen time (tests/conftest.py)."""


def schedule(days, by, **fields):
    patient = fields.pop("patient", None) or make_patient()
    return FollowUp.objects.create(
        patient=patient, due_date=TODAY + timedelta(days=days), scheduled_by=by, **fields
    )


def buckets(response):
    return {code: [f.due_date for f in rows] for code, _, rows in response.context["buckets"]}


def test_follow_ups_fall_into_overdue_today_and_the_next_seven_days(as_user, staff):
    for days in (-30, -1, 0, 1, 7, 8):
        schedule(days, staff)
    result = buckets(as_user(staff).get(reverse("patients:worklist")))
    assert result == {
        "overdue": [TODAY - timedelta(days=30), TODAY - timedelta(days=1)],
        "today": [TODAY],
        "soon": [TODAY + timedelta(days=1), TODAY + timedelta(days=7)],
    }


def test_the_buckets_move_at_midnight_in_the_clinics_time_zone(as_user, staff, settings):
    settings.TIME_ZONE = "America/New_York"
    schedule(0, staff)  # due 26 Nov
    # 03:00 UTC on the 27th is still the 26th in New York: due today, not overdue.
    with time_machine.travel("2026-11-27 03:00Z", tick=False):
        assert buckets(as_user(staff).get(reverse("patients:worklist")))["today"] == [TODAY]
    with time_machine.travel("2026-11-27 06:00Z", tick=False):
        assert buckets(as_user(staff).get(reverse("patients:worklist")))["overdue"] == [TODAY]


def test_done_cancelled_and_archived_are_left_out(as_user, staff, clinician):
    """Archiving a patient cancels their open follow-ups (test_archive.py)."""
    schedule(0, staff, status="completed", happened_on=TODAY)
    schedule(0, staff, status="cancelled", cancel_reason="Moved away")
    archived = schedule(0, staff)
    archived.patient.archive(by=staff, reason="Duplicate")
    assert buckets(as_user(staff).get(reverse("patients:worklist"))) == {
        "overdue": [],
        "today": [],
        "soon": [],
    }


def test_filter_by_assignee_and_kind(as_user, staff, clinician):
    mine = schedule(0, staff, assigned_to=staff, kind="phone")
    schedule(0, staff, assigned_to=clinician, kind="phone")
    unassigned_visit = schedule(1, staff, kind="visit")
    client = as_user(staff)

    def shown(**params):
        response = client.get(reverse("patients:worklist"), params)
        return {f.pk for _, _, rows in response.context["buckets"] for f in rows}

    assert shown(assignee="me") == {mine.pk}
    assert shown(assignee="none") == {unassigned_visit.pk}
    assert shown(assignee=str(clinician.pk)) == {mine.pk + 1}
    assert shown(kind="visit") == {unassigned_visit.pk}
    assert len(shown()) == 3


def test_an_unknown_filter_is_refused_with_a_message_not_an_error(as_user, staff):
    response = as_user(staff).get(reverse("patients:worklist"), {"assignee": "nobody", "kind": "x"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()


def test_severe_patients_and_undecided_critical_cards_are_marked(as_user, staff, clinician):
    severe = make_patient(family_name="Severe")
    make_assessment(severe, clinician, **{f"irls_{n}": 3 for n in range(1, 11)})  # IRLS 30
    severe.refresh_latest_scores()
    critical = make_patient(family_name="Pregnant")
    assessment = make_assessment(critical, clinician, pregnant=True)
    evaluate_assessment(assessment=assessment)  # SAFE-PREGNANCY: critical, undecided
    calm = make_patient(family_name="Calm")
    for patient in (severe, critical, calm):
        schedule(0, staff, patient=patient)
    page = as_user(staff).get(reverse("patients:worklist")).content.decode()
    rows = {name: page.split(name)[1].split("</tr>")[0] for name in ("Severe", "Pregnant", "Calm")}
    # Coloured as everywhere else: a critical card red, a score in its band's colour.
    assert '<span class="badge band-3 me-1" data-flag="irls">IRLS severe</span>' in rows["Severe"]
    assert (
        '<span class="badge text-bg-danger me-1" data-flag="critical">'
        "Critical card undecided</span>"
    ) in rows["Pregnant"]
    assert "badge" not in rows["Calm"]

    card = Recommendation.objects.get(rule_code="SAFE-PREGNANCY")
    card.decide(status="acknowledged", by=clinician, expected_version=card.version)
    page = as_user(staff).get(reverse("patients:worklist")).content.decode()
    assert "Critical card undecided" not in page


def test_each_row_links_to_the_patient_and_to_recording(as_user, staff):
    followup = schedule(0, staff)
    page = as_user(staff).get(reverse("patients:worklist")).content.decode()
    assert followup.patient.get_absolute_url() in page
    assert reverse("patients:followup_record", args=[followup.uuid]) in page


# session, user, permissions x2, the team for the filter, count, the rows, the critical
# flags, the access log's row (savepoint, row, patients, release), the patients' answers
# awaiting review, session save x3
WORKLIST_QUERIES = 16


def test_the_worklist_query_count_does_not_grow_with_1000_follow_ups(
    as_user, staff, clinician, django_assert_num_queries
):
    patients = [make_patient() for _ in range(50)]
    FollowUp.objects.bulk_create(
        FollowUp(
            patient=patients[n % 50],
            due_date=TODAY + timedelta(days=n % 15 - 7),
            scheduled_by=staff,
            assigned_to=clinician if n % 2 else None,
            kind="visit" if n % 3 else "phone",
        )
        for n in range(1000)
    )
    client = as_user(staff)
    with django_assert_num_queries(WORKLIST_QUERIES):
        response = client.get(reverse("patients:worklist"))
    shown = sum(len(rows) for _, _, rows in response.context["buckets"])
    assert shown == 50
    assert response.context["page"].count == 1000  # all due within the window
    assert not response.context["page"].capped
    assert response.context["page"].has_next
    cache.clear()  # pinned counts are for a cold permission cache (clinic/backends.py)
    # Within the same minute the session is not written again: 3 queries fewer.
    with django_assert_num_queries(WORKLIST_QUERIES - 3):
        last = client.get(reverse("patients:worklist"), {"assignee": str(clinician.pk), "page": 10})
    assert [f.assigned_to for _, _, rows in last.context["buckets"] for f in rows][0] == clinician


def test_a_page_number_past_the_end_or_not_a_number_is_handled(as_user, staff):
    schedule(0, staff)
    client = as_user(staff)
    assert buckets(client.get(reverse("patients:worklist"), {"page": "abc"}))["today"] == [TODAY]
    past = client.get(reverse("patients:worklist"), {"page": "99"})
    assert past.status_code == 200
    assert buckets(past)["today"] == [TODAY]  # the last page, as Django's Paginator does


def test_a_long_worklist_says_more_than_the_cap_instead_of_counting_it_all(as_user, staff):
    from clinic.paging import CappedPage

    patient = make_patient()
    FollowUp.objects.bulk_create(
        FollowUp(patient=patient, due_date=TODAY, scheduled_by=staff)
        for _ in range(CappedPage.COUNT_CAP + 5)
    )
    response = as_user(staff).get(reverse("patients:worklist"))
    assert response.context["page"].capped
    assert f"More than {CappedPage.COUNT_CAP} follow-ups" in response.content.decode()
