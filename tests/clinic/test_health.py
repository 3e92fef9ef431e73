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
