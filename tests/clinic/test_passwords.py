"""People change their own password (the old one first, Django's validators), and a
superuser can require a new one at the next page."""

from django.test import Client
from django.urls import reverse

from clinic.models import AccountEvent
from tests.base import PASSWORD

NEW = "a-new-and-longer-passphrase"


def change(client, old=PASSWORD, new=NEW, again=None):
    return client.post(
        reverse("password_change"),
        {"old_password": old, "new_password1": new, "new_password2": again or new},
    )


def signs_in(username, password):
    client = Client()
    client.post(reverse("login"), {"username": username, "password": password})
    return "_auth_user_id" in client.session


def test_a_user_changes_their_password_and_stays_signed_in(as_user, staff):
    client = as_user(staff)
    response = change(client)
    assert response.url == reverse("account")
    assert client.get(reverse("patients:list")).status_code == 200  # the session goes on
    assert signs_in("staff", NEW)
    assert not signs_in("staff", PASSWORD)
    event = AccountEvent.objects.get()
    assert (event.action, event.user, event.by) == (
        AccountEvent.Action.PASSWORD_CHANGED,
        staff,
        staff,
    )


def test_the_old_password_is_required(as_user, staff):
    response = change(as_user(staff), old="not-my-password")
    assert "Your old password was entered incorrectly" in response.content.decode()
    assert signs_in("staff", PASSWORD)


def test_djangos_validators_apply(as_user, staff):
    for weak, message in [
        ("short1", "too short"),
        ("password1234", "too common"),
        ("123456789012345", "entirely numeric"),
    ]:
        response = change(as_user(staff), new=weak)
        assert message in response.content.decode(), weak
    assert signs_in("staff", PASSWORD)


def test_a_superuser_requires_a_new_password_and_the_user_can_do_nothing_else_until_done(
    as_user, superuser, staff
):
    client = as_user(staff)
    assert client.get(reverse("patients:list")).status_code == 200
    boss = Client()
    boss.force_login(superuser)
    boss.post(reverse("account_action", args=[staff.pk, "force-password-change"]))

    for name in ["home", "patients:list", "account"]:
        response = client.get(reverse(name))
        assert response.url == reverse("password_change"), name
    assert client.get(reverse("password_change")).status_code == 200
    change(client)
    assert client.get(reverse("patients:list")).status_code == 200
    assert [e.action for e in AccountEvent.objects.order_by("at", "id")] == [
        AccountEvent.Action.PASSWORD_CHANGE_FORCED,
        AccountEvent.Action.PASSWORD_CHANGED,
    ]


def test_a_required_password_change_also_applies_at_the_next_sign_in(superuser, staff):
    staff.account.must_change_password = True
    staff.account.save()
    client = Client()
    client.post(reverse("login"), {"username": "staff", "password": PASSWORD})
    assert client.get(reverse("home")).url == reverse("password_change")
    assert client.post(reverse("logout")).status_code == 302  # signing out still works
