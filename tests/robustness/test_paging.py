"""Page numbers from the address bar: whatever is typed, a page of the list, never an error."""

import pytest
from django.urls import reverse

from clinic.paging import CappedPage
from patients.models import FollowUp, Patient
from tests.base import make_patient

HUGE = "99999999999999999999"  # more than a 64-bit integer: SQLite and PostgreSQL overflow


def page_of(response):
    return response.context["page"]


@pytest.mark.parametrize("address", ["patients:list", "patients:worklist"])
@pytest.mark.parametrize("number", [HUGE, "9" * 5000, "-1", "-" + HUGE, "0", "abc", "1.5", ""])
def test_a_hostile_page_number_shows_a_page_not_an_error(as_user, clinician, address, number):
    response = as_user(clinician).get(reverse(address), {"page": number})
    assert response.status_code == 200
    assert page_of(response).number == 1


def test_a_huge_page_number_shows_the_last_page_not_an_error(as_user, clinician):
    for _ in range(30):
        make_patient()
    response = as_user(clinician).get(reverse("patients:list"), {"page": HUGE})
    assert response.status_code == 200
    page = page_of(response)
    assert (page.number, page.start_index, page.end_index) == (2, 26, 30)
    assert page.has_previous
    assert not page.has_next


def test_a_page_past_the_cap_of_a_long_list_counts_exactly_to_find_the_last_page(
    db, clinician, django_assert_num_queries
):
    patient = make_patient()
    FollowUp.objects.bulk_create(
        FollowUp(patient=patient, due_date="2026-11-26", scheduled_by=clinician)
        for _ in range(CappedPage.COUNT_CAP + 30)
    )
    with django_assert_num_queries(3):  # the capped count, the exact count, the rows
        page = CappedPage(FollowUp.objects.order_by("pk"), HUGE, 25)
    assert page.capped
    assert (page.number, len(page.rows), page.has_next) == (42, 5, False)
    with django_assert_num_queries(2):  # within the first thousand: no exact count
        page = CappedPage(FollowUp.objects.order_by("pk"), "40", 25)
    assert page.has_next


def test_an_empty_list_is_page_one_whatever_the_number(db):
    page = CappedPage(Patient.objects.all(), HUGE, 25)
    assert (page.number, page.rows, page.start_index, page.has_previous) == (1, [], 0, False)
