"""Parallel wrong passwords for one (user name, address) pair, on PostgreSQL: exactly
AXES_FAILURE_LIMIT passwords are checked, however many arrive at once."""

import threading

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.db import connection, connections
from django.test import Client
from django.urls import reverse

from clinic.backends import CachedPermissionsBackend
from tests.base import PASSWORD, make_user

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="advisory locks and real concurrency: PostgreSQL"
    ),
]

PARALLEL = 12


def race(action, times):
    start = threading.Barrier(times)
    outcomes = [None] * times

    def run(index):
        try:
            start.wait()
            outcomes[index] = action()
        except Exception as error:
            outcomes[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


@pytest.fixture
def checked_passwords(monkeypatch):
    """Counts the passwords actually checked (the backend behind django-axes' check)."""
    checked = []
    authenticate = CachedPermissionsBackend.authenticate

    def counting(self, request, username=None, password=None, **kwargs):
        checked.append(password)
        return authenticate(self, request, username=username, password=password, **kwargs)

    monkeypatch.setattr(CachedPermissionsBackend, "authenticate", counting)
    return checked


def sign_in(password, address="198.51.100.7"):
    def action():
        response = Client().post(
            reverse("login"),
            {"username": "clinician", "password": password},
            REMOTE_ADDR=address,
        )
        return response.status_code

    return action


def test_parallel_wrong_passwords_for_one_pair_get_no_sixth_try(checked_passwords):
    make_user("clinician", "Clinicians")
    outcomes = race(sign_in("wrong-password"), PARALLEL)
    assert all(isinstance(o, int) for o in outcomes), outcomes
    limit = settings.AXES_FAILURE_LIMIT
    assert len(checked_passwords) == limit
    assert sorted(outcomes) == [200] * (limit - 1) + [429] * (PARALLEL - limit + 1)
    assert AccessAttempt.objects.get().failures_since_start == limit


def test_the_right_password_among_parallel_wrong_ones_is_checked_only_within_the_limit(
    checked_passwords,
):
    make_user("clinician", "Clinicians")
    outcomes = race(sign_in("wrong-password"), PARALLEL)
    assert len(checked_passwords) == settings.AXES_FAILURE_LIMIT
    assert sign_in(PASSWORD)() == 429  # locked: the right password is not even checked
    assert len(checked_passwords) == settings.AXES_FAILURE_LIMIT
    assert sign_in(PASSWORD, address="198.51.100.8")() == 302  # another address: fine
    assert outcomes.count(429) == PARALLEL - settings.AXES_FAILURE_LIMIT + 1
