import pytest
import time_machine
from django.conf import settings
from django.urls import reverse

from clinic.models import FailedSignIn
from tests.base import PASSWORD


def sign_in(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_a_user_signs_in_with_the_right_password(client, clinician):
    response = sign_in(client, "clinician", PASSWORD)
    assert response.status_code == 302
    assert response.url == reverse("home")


def test_a_wrong_password_is_refused_with_a_message(client, clinician):
    response = sign_in(client, "clinician", "wrong")
    assert response.status_code == 200
    assert "enter a correct username and password" in response.content.decode()
    assert FailedSignIn.objects.filter(username="clinician").count() == 1


def test_repeated_failures_lock_the_account_even_against_the_right_password(client, clinician):
    for _ in range(settings.SIGNIN_FAILURE_LIMIT):
        sign_in(client, "clinician", "wrong")
    response = sign_in(client, "clinician", PASSWORD)
    assert response.status_code == 200
    assert "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_lock_lifts_after_the_lockout_period(client, clinician):
    with time_machine.travel("2026-11-26 09:00Z", tick=False):
        for _ in range(settings.SIGNIN_FAILURE_LIMIT):
            sign_in(client, "clinician", "wrong")
    later = f"2026-11-26 09:{settings.SIGNIN_LOCKOUT_MINUTES + 1:02d}Z"
    with time_machine.travel(later, tick=False):
        assert sign_in(client, "clinician", PASSWORD).status_code == 302


def test_a_successful_sign_in_clears_earlier_failures(client, clinician):
    sign_in(client, "clinician", "wrong")
    sign_in(client, "clinician", PASSWORD)
    assert not FailedSignIn.objects.filter(username="clinician").exists()


def test_the_admin_sign_in_is_throttled_too(client, superuser):
    for _ in range(settings.SIGNIN_FAILURE_LIMIT):
        client.post(reverse("admin:login"), {"username": "root", "password": "wrong"})
    response = client.post(
        reverse("admin:login"), {"username": "root", "password": "root-password-1"}
    )
    assert "Too many failed sign-ins" in response.content.decode()


def test_sign_out_needs_a_post_and_ends_the_session(as_user, clinician):
    client = as_user(clinician)
    assert client.get(reverse("logout")).status_code == 405
    client.post(reverse("logout"))
    assert client.get(reverse("home")).status_code == 302


def test_sessions_expire_after_thirty_idle_minutes(as_user, clinician):
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    client = as_user(clinician)
    with time_machine.travel("2026-11-26 09:00Z", tick=False):
        client.get(reverse("home"))  # every request pushes the expiry on
    with time_machine.travel("2026-11-26 09:29Z", tick=False):
        assert client.get(reverse("home")).status_code == 200
    with time_machine.travel("2026-11-26 10:00Z", tick=False):
        assert client.get(reverse("home")).status_code == 302


def test_the_session_is_written_at_most_once_a_minute_not_on_every_page(
    as_user, clinician, django_assert_num_queries
):
    from django.contrib.sessions.models import Session

    client = as_user(clinician)
    with time_machine.travel("2026-11-26 09:00:00Z", tick=False):
        client.get(reverse("home"))
        expiry = Session.objects.get().expire_date
    with time_machine.travel("2026-11-26 09:00:30Z", tick=False):
        client.get(reverse("home"))
        assert Session.objects.get().expire_date == expiry  # no write within the minute
    with time_machine.travel("2026-11-26 09:01:30Z", tick=False):
        client.get(reverse("home"))
        assert Session.objects.get().expire_date > expiry  # pushed on after it


@pytest.mark.parametrize(
    "username", ["x" * 151, "İ" * 76, "y" * 100_000], ids=["151 chars", "76 İ", "100,000 chars"]
)
@pytest.mark.parametrize("address", ["login", "admin:login"])
def test_a_user_name_too_long_to_record_is_a_failed_sign_in_not_an_error(
    client, clinician, address, username
):
    """76 × "İ" fits the form's 150 characters but lower-cases to 152 ("i" + a combining
    dot): the throttle's 150-character column overflowed on PostgreSQL."""
    response = client.post(reverse(address), {"username": username, "password": "wrong"})
    assert response.status_code == 200
    assert response.context["form"].errors
    failure = FailedSignIn.objects.get()
    assert failure.username == username.lower()[:150]


def test_a_signed_in_user_trying_a_too_long_name_on_the_admin_sign_in_gets_no_error(
    as_user, clinician
):
    response = as_user(clinician).post(
        reverse("admin:login"), {"username": "İ" * 76, "password": "wrong"}
    )
    assert response.status_code == 200
    assert FailedSignIn.objects.count() == 1
