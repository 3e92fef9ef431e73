"""The patient list's rows: what each line shows and where it leads, now that the lines are
shaped in clinic.pages.patients (one URL reverse a page) rather than by model methods in the
template."""

import re
from datetime import date

from django.urls import clear_script_prefix, reverse, set_script_prefix
from django.utils.dateformat import format as date_filter_format

from clinic.pages.patients import day_month_year, patient_rows
from tests.base import make_patient


def table_rows(response):
    body = response.content.decode()
    return re.findall(r"<tr>\s*(.*?)\s*</tr>", body[body.index("<tbody>") :], re.S)


def links(response):
    return [re.search(r'href="([^"]*)"', row).group(1) for row in table_rows(response)]


def test_each_row_links_to_that_patients_own_page(as_user, clinician):
    patients = sorted(
        (make_patient(family_name=f"Row{i:02d}") for i in range(30)), key=lambda p: p.family_name
    )
    client = as_user(clinician)
    response = client.get(reverse("patients:list"))
    assert links(response) == [patient.get_absolute_url() for patient in patients[:25]]
    second = client.get(reverse("patients:list"), {"page": 2})
    assert links(second) == [patient.get_absolute_url() for patient in patients[25:]]
    opened = client.get(links(response)[3])
    assert opened.status_code == 200
    assert opened.context["patient"] == patients[3]


def test_a_row_shows_the_name_mrn_date_of_birth_and_sex(as_user, clinician):
    make_patient(
        family_name="Lindqvist",
        given_name="Avery",
        mrn="MRN-7001",
        date_of_birth=date(1988, 3, 14),
        sex="other",
    )
    (row,) = table_rows(as_user(clinician).get(reverse("patients:list")))
    cells = [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td>(.*?)</td>", row)]
    assert cells == ["Lindqvist, Avery", "MRN-7001", "14 Mar 1988", "Other", ""]


def test_only_an_archived_patients_row_is_marked_archived(as_user, clinician):
    make_patient(family_name="Kept")
    make_patient(family_name="Gone").archive(by=clinician, reason="Moved away")
    client = as_user(clinician)
    client.post(reverse("patients:list"), {"q": "", "archived": "on"})
    rows = table_rows(client.get(reverse("patients:list")))
    assert [("Gone" in row, "Archived" in row) for row in rows] == [(True, True), (False, False)]


def test_rows_link_under_the_prefix_the_app_is_served_at(db):
    """Behind a proxy at /clinic/, the one reverse per page carries the prefix to every row."""
    patients = [make_patient(), make_patient()]
    set_script_prefix("/clinic/")
    try:
        urls = [row.url for row in patient_rows(patients)]
        expected = [patient.get_absolute_url() for patient in patients]
    finally:
        clear_script_prefix()
    assert urls == expected
    assert all(url.startswith("/clinic/patients/") for url in urls)


def test_the_date_of_birth_reads_as_the_date_filter_writes_it():
    days = [
        date(1900 + year, month, day)
        for year in (5, 48, 99, 124)
        for month in range(1, 13)
        for day in (1, 9, 28)
    ]
    days += [date(1, 1, 1), date(999, 12, 31), date(2024, 2, 29)]
    assert [day_month_year(day) for day in days] == [
        date_filter_format(day, "j M Y") for day in days
    ]
