"""Permission sets are cached per user and per permissions version, so that a change of
role takes effect on the user's next request in every worker, with no extra query."""

from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from clinic.backends import CachedPermissionsBackend, permissions_key
from clinic.roles import CLINICIANS, GUIDANCE_ADMINS, STAFF


def fresh(user):
    """The user as a new request loads it (a new object: no per-request cache)."""
    return CachedPermissionsBackend().get_user(user.pk)


def test_a_user_moved_to_another_role_gets_its_permissions_at_once(as_user, staff):
    assert fresh(staff).has_perm("patients.view_patient")
    staff.groups.set([Group.objects.get(name=GUIDANCE_ADMINS)])
    assert not fresh(staff).has_perm("patients.view_patient")
    assert as_user(fresh(staff)).get(reverse("patients:list")).status_code == 403


def test_a_role_change_reaches_a_live_session_on_its_next_request_without_clearing_the_cache(
    as_user, staff, superuser
):
    """What another worker sees: its cache still holds the old set under the old key, and
    the user's next request asks for a new key."""
    client = as_user(staff)
    assert client.get(reverse("patients:list")).status_code == 200  # cached: staff may
    old_key = permissions_key(staff.pk, fresh(staff).account.permissions_version)
    assert "patients.view_patient" in cache.get(old_key)

    boss = Client()
    boss.force_login(superuser)
    boss.post(reverse("account_action", args=[staff.pk, "role"]), {"role": GUIDANCE_ADMINS})

    assert "patients.view_patient" in cache.get(old_key)  # nothing was dropped
    assert client.get(reverse("patients:list")).status_code == 403
    assert client.get(reverse("guidance:rules")).status_code == 200


def test_a_permission_taken_from_a_group_is_gone_at_once(staff):
    assert fresh(staff).has_perm("patients.add_patient")
    permission = Permission.objects.get(codename="add_patient")
    Group.objects.get(name=STAFF).permissions.remove(permission)
    assert not fresh(staff).has_perm("patients.add_patient")


def test_a_group_given_to_a_user_from_the_groups_side_takes_effect_at_once(outsider):
    assert not fresh(outsider).has_perm("patients.view_patient")
    Group.objects.get(name=CLINICIANS).user_set.add(outsider)
    assert fresh(outsider).has_perm("patients.view_patient")


def test_a_deactivated_user_has_no_permissions(staff):
    staff.is_active = False
    staff.save()
    assert not staff.has_perm("patients.view_patient")


def test_signing_in_does_not_throw_the_cached_set_away(clinician):
    fresh(clinician).has_perm("patients.view_patient")
    version = fresh(clinician).account.permissions_version
    clinician.save(update_fields=["last_login"])  # what every sign-in does
    assert fresh(clinician).account.permissions_version == version


def test_permission_checks_cost_no_queries_once_cached(clinician, django_assert_num_queries):
    fresh(clinician).has_perm("patients.view_patient")  # fills the cache
    user = fresh(clinician)  # the account comes with the user, in the same query
    with django_assert_num_queries(0):
        assert user.has_perm("patients.view_patient")
        assert not user.has_perm("guidance.change_rule")
