from unittest import mock

from django.db import OperationalError
from django.urls import reverse


def test_the_health_probe_answers_ok_when_the_database_answers(client, db):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.content == b"ok\n"


def test_the_health_probe_fails_when_the_database_does_not(client, db):
    with mock.patch("django.db.backends.utils.CursorWrapper.execute", side_effect=OperationalError):
        response = client.get(reverse("healthz"))
    assert response.status_code == 503


def test_every_page_starts_with_a_skip_link_to_the_main_content(as_user, clinician, staff):
    from django.urls import reverse

    for user, name in [(clinician, "patients:list"), (staff, "patients:worklist")]:
        page = as_user(user).get(reverse(name)).content.decode()
        body = page[page.index("<body") :]
        first_link = body[body.index("<a ") : body.index("</a>")]
        assert 'href="#main"' in first_link
        assert "Skip to the main content" in first_link
        assert '<main class="container pb-5" id="main"' in page


def test_no_table_has_an_empty_header(as_user, clinician, staff):
    """axe's empty-table-header: a header a screen reader reads as nothing."""
    import re

    from django.urls import reverse

    from patients.models import FollowUp
    from tests.base import make_patient

    patient = make_patient()
    FollowUp.objects.create(patient=patient, due_date="2026-01-01", scheduled_by=staff)
    for user, name in [(clinician, "patients:list"), (staff, "patients:worklist")]:
        page = as_user(user).get(reverse(name)).content.decode()
        assert "<th" in page
        assert not re.search(r"<th[^>]*>\s*</th>", page), name
