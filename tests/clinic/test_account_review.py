"""The account review for superusers: every account at a glance; deactivate (never
delete), reactivate, reset the second factor, require a new password, change the role;
each recorded in the audit trail."""

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic.models import AccountEvent
from clinic.roles import CLINICIANS, STAFF
from tests.base import PASSWORD, make_user

ACTIONS = ["deactivate", "reactivate", "reset-second-factor", "force-password-change", "role"]
ROLES = ["clinician", "staff", "guidance_admin", "outsider"]


def act(client, user, action, **data):
    return client.post(reverse("account_action", args=[user.pk, action]), data)


def test_the_page_lists_every_account_with_role_last_sign_in_second_factor_and_status(
    as_user, superuser, clinician, staff
):
    TOTPDevice.objects.create(user=clinician, confirmed=True)
    staff.is_active = False
    staff.save()
    client = as_user(superuser)
    users = {user.username: user for user in client.get(reverse("account_list")).context["users"]}
    assert set(users) == {"root", "clinician", "staff"}
    assert [g.name for g in users["clinician"].groups.all()] == [CLINICIANS]
    assert users["clinician"].enrolled
    assert not users["staff"].enrolled
    assert not users["staff"].is_active
    assert users["root"].last_login is not None
    page = client.get(reverse("account_list")).content.decode()
    assert "deactivated" in page
    assert "Reactivate" in page


def test_the_page_query_count_does_not_grow_with_accounts(
    as_user, superuser, django_assert_num_queries
):
    client = as_user(superuser)
    client.get(reverse("account_list"))  # warm the permission cache and the session
    for n in range(40):
        user = make_user(f"user{n}", [CLINICIANS, STAFF][n % 2])
        act(client, user, "force-password-change")
    # session, user, users with accounts and enrolment, their groups, the events with
    # their people; the session saved back at most once a minute (not here).
    with django_assert_num_queries(5):
        response = client.get(reverse("account_list"))
    assert len(response.context["users"]) == 41
    assert len(response.context["events"]) == 40


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ACTIONS)
def test_only_superusers_may_act_on_accounts(request, as_user, role, action, outsider):
    client = as_user(request.getfixturevalue(role))
    assert client.get(reverse("account_list")).status_code == 403
    assert act(client, outsider, action, role=STAFF).status_code == 403
    outsider.refresh_from_db()
    assert outsider.is_active
    assert not outsider.account.must_change_password
    assert not AccountEvent.objects.exists()


@pytest.mark.parametrize("action", ACTIONS)
def test_actions_need_a_post_with_a_csrf_token(superuser, staff, action):
    client = Client(enforce_csrf_checks=True)
    client.force_login(superuser)
    url = reverse("account_action", args=[staff.pk, action])
    assert client.get(url).status_code == 405
    assert client.post(url, {"role": CLINICIANS}).status_code == 403
    assert not AccountEvent.objects.exists()


def test_an_unknown_action_is_refused(as_user, superuser, staff):
    assert act(as_user(superuser), staff, "delete").status_code == 403
    assert User.objects.filter(pk=staff.pk).exists()


def test_deactivation_ends_a_live_session_at_once_and_keeps_the_account(superuser, clinician):
    person = Client()
    person.post(reverse("login"), {"username": "clinician", "password": PASSWORD})
    assert person.get(reverse("patients:list")).status_code == 200
    boss = Client()
    boss.force_login(superuser)

    act(boss, clinician, "deactivate")

    response = person.get(reverse("patients:list"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    response = person.post(reverse("login"), {"username": "clinician", "password": PASSWORD})
    assert "enter a correct username and password" in response.content.decode()
    assert person.get(reverse("patients:list")).status_code == 302
    clinician.refresh_from_db()
    assert not clinician.is_active  # kept: the records name who did what
    event = AccountEvent.objects.get()
    assert (event.user, event.by, event.action) == (
        clinician,
        superuser,
        AccountEvent.Action.DEACTIVATED,
    )

    act(boss, clinician, "reactivate")
    person.post(reverse("login"), {"username": "clinician", "password": PASSWORD})
    assert person.get(reverse("patients:list")).status_code == 200


def test_a_superuser_cannot_deactivate_themselves(as_user, superuser):
    response = as_user(superuser).post(
        reverse("account_action", args=[superuser.pk, "deactivate"]), follow=True
    )
    assert "You cannot deactivate your own account." in response.content.decode()
    superuser.refresh_from_db()
    assert superuser.is_active


def test_changing_a_role_is_recorded_with_before_and_after(as_user, superuser, staff):
    client = as_user(superuser)
    act(client, staff, "role", role=CLINICIANS)
    assert list(staff.groups.values_list("name", flat=True)) == [CLINICIANS]
    act(client, staff, "role", role="")
    assert not staff.groups.exists()
    assert [e.detail for e in AccountEvent.objects.order_by("id")] == [
        "Staff → Clinicians",
        "Clinicians → no role",
    ]


def test_a_role_that_is_not_one_of_the_three_is_refused(as_user, superuser, staff):
    Group.objects.create(name="Everything")
    act(as_user(superuser), staff, "role", role="Everything")
    assert list(staff.groups.values_list("name", flat=True)) == [STAFF]
    assert not AccountEvent.objects.exists()


def test_the_audit_trail_is_shown_on_the_page_and_read_only_in_the_admin(as_user, superuser, staff):
    client = as_user(superuser)
    act(client, staff, "force-password-change")
    assert "Password change required" in client.get(reverse("account_list")).content.decode()
    event = AccountEvent.objects.get()
    assert client.get(reverse("admin:clinic_accountevent_changelist")).status_code == 200
    assert client.get(reverse("admin:clinic_accountevent_add")).status_code == 403
    assert (
        client.post(reverse("admin:clinic_accountevent_change", args=[event.pk]), {}).status_code
        == 403
    )
    assert (
        client.post(
            reverse("admin:clinic_accountevent_delete", args=[event.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert AccountEvent.objects.filter(pk=event.pk).exists()
