import re
from datetime import date

import pytest
from django.urls import reverse

from tests.base import make_patient


def search(client, q, archived=False):
    data = {"q": q, **({"archived": "on"} if archived else {})}
    client.post(reverse("patients:list"), data)
    return client.get(reverse("patients:list"))


def names(response):
    return [p.family_name for p in response.context["page"].rows]


def test_patients_are_found_by_family_name_prefix_in_any_case(as_user, clinician):
    make_patient(family_name="Okonkwo")
    make_patient(family_name="Olsen")
    make_patient(family_name="Baker")
    assert names(search(as_user(clinician), "ok")) == ["Okonkwo"]


def test_patients_are_found_by_given_and_family_name_together(as_user, clinician):
    make_patient(given_name="Ann", family_name="Smith")
    make_patient(given_name="Bob", family_name="Smith")
    assert names(search(as_user(clinician), "ann smith")) == ["Smith"]
    assert len(names(search(as_user(clinician), "Smith, Ann"))) == 1


def test_patients_are_found_by_mrn_prefix_however_it_is_typed(as_user, staff):
    make_patient(mrn="ABC-123", family_name="Found")
    make_patient(mrn="XYZ-999", family_name="Other")
    assert names(search(as_user(staff), "abc-1")) == ["Found"]


def test_patients_are_found_by_part_of_their_mrn(as_user, staff):
    make_patient(mrn="MRN-00421", family_name="Found")
    make_patient(mrn="MRN-01042", family_name="Also")
    make_patient(mrn="MRN-99999", family_name="Other")
    client = as_user(staff)
    assert names(search(client, "0042")) == ["Found"]
    assert names(search(client, "042")) == ["Also", "Found"]
    # Two characters look at the beginning only: "42" is inside both, the start of none.
    assert names(search(client, "42")) == []


def test_a_name_search_does_not_look_inside_mrns(as_user, staff):
    """Names hold no digits: a word without one is a name's or an MRN's beginning."""
    make_patient(mrn="XSMITHX", family_name="Jones")
    make_patient(mrn="SMITH1", family_name="Brown")
    assert names(search(as_user(staff), "smith")) == ["Brown"]


@pytest.mark.parametrize("typed", ["14/03/1988", "1988-03-14", "14 Mar 1988", " 14 march  1988 "])
def test_patients_are_found_by_date_of_birth_as_it_is_typed(as_user, clinician, typed):
    make_patient(family_name="Born", date_of_birth=date(1988, 3, 14))
    make_patient(family_name="Twin", date_of_birth=date(1988, 3, 14))
    make_patient(family_name="Later", date_of_birth=date(1988, 3, 15))
    assert names(search(as_user(clinician), typed)) == ["Born", "Twin"]


def test_a_date_that_does_not_exist_is_searched_as_words(as_user, clinician):
    make_patient(family_name="Born", date_of_birth=date(1988, 3, 14))
    response = search(as_user(clinician), "31/02/1988")
    assert response.status_code == 200
    assert names(response) == []


def test_the_search_term_never_appears_in_a_url(as_user, clinician):
    make_patient(family_name="Secretname")
    client = as_user(clinician)
    response = client.post(reverse("patients:list"), {"q": "Secretname"})
    assert response.status_code == 302
    assert "Secretname" not in response.url
    page = client.get(reverse("patients:list"))
    assert names(page) == ["Secretname"]
    links = re.findall(r'(?:href|action)="([^"]*)"', page.content.decode())
    assert links
    assert not [link for link in links if "Secretname" in link]


def test_results_are_paginated_and_the_search_is_kept_across_pages(as_user, clinician):
    for i in range(30):
        make_patient(family_name=f"Pager{i:02d}")
    make_patient(family_name="Elsewhere")
    client = as_user(clinician)
    first = search(client, "pager")
    assert first.context["page"].count == 30
    assert len(names(first)) == 25
    second = client.get(reverse("patients:list"), {"page": 2})
    assert names(second) == [f"Pager{i:02d}" for i in range(25, 30)]


def test_archived_patients_are_found_only_when_asked_for(as_user, clinician):
    make_patient(family_name="Gone").archive(by=clinician, reason="Moved away")
    client = as_user(clinician)
    assert names(search(client, "gone")) == []
    assert names(search(client, "gone", archived=True)) == ["Gone"]


def test_clearing_the_search_shows_everyone_again(as_user, clinician):
    make_patient(family_name="Alpha")
    make_patient(family_name="Beta")
    client = as_user(clinician)
    search(client, "alpha")
    client.post(reverse("patients:search_clear"))
    assert names(client.get(reverse("patients:list"))) == ["Alpha", "Beta"]


def test_an_overlong_search_is_refused_with_a_message(as_user, clinician):
    response = as_user(clinician).post(reverse("patients:list"), {"q": "x" * 101})
    assert response.status_code == 200
    assert "q" in response.context["form"].errors
