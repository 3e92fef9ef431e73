"""The database going away mid-request: an error page and a failing probe, no traceback."""

from unittest import mock

from django.db import OperationalError
from django.urls import reverse

from tests.base import make_patient


def fail_queries():
    return mock.patch(
        "django.db.backends.utils.CursorWrapper.execute",
        side_effect=OperationalError("server closed the connection unexpectedly"),
    )


def test_a_page_gets_the_error_page_not_a_stack_trace(as_user, clinician):
    patient = make_patient()
    client = as_user(clinician)
    client.raise_request_exception = False
    with fail_queries():
        response = client.get(patient.get_absolute_url())
    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong" in page
    assert "Traceback" not in page
    assert "OperationalError" not in page
    assert "server closed" not in page


def test_the_health_probe_fails_while_the_database_is_away(client, db):
    with fail_queries():
        response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert client.get(reverse("healthz")).status_code == 200  # and recovers after
