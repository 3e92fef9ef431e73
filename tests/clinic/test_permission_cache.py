"""Permission sets are cached per user, and dropped the moment a role changes."""

from django.contrib.auth.models import Group, Permission, User
from django.urls import reverse

from clinic.roles import GUIDANCE_ADMINS, STAFF


def fresh(user):
    return User.objects.get(pk=user.pk)  # a new object: no per-request cache


def test_a_user_moved_to_another_role_gets_its_permissions_at_once(as_user, staff):
    assert fresh(staff).has_perm("patients.view_patient")
    staff.groups.set([Group.objects.get(name=GUIDANCE_ADMINS)])
    assert not fresh(staff).has_perm("patients.view_patient")
    assert as_user(fresh(staff)).get(reverse("patients:list")).status_code == 403


def test_a_permission_taken_from_a_group_is_gone_at_once(staff):
    assert fresh(staff).has_perm("patients.add_patient")
    permission = Permission.objects.get(codename="add_patient")
    Group.objects.get(name=STAFF).permissions.remove(permission)
    assert not fresh(staff).has_perm("patients.add_patient")


def test_a_deactivated_user_has_no_permissions(staff):
    staff.is_active = False
    staff.save()
    assert not fresh(staff).has_perm("patients.view_patient")


def test_permission_checks_cost_no_queries_once_cached(
    as_user, clinician, django_assert_num_queries
):
    fresh(clinician).has_perm("patients.view_patient")  # fills the cache
    user = fresh(clinician)
    with django_assert_num_queries(0):
        assert user.has_perm("patients.view_patient")
        assert not user.has_perm("guidance.change_rule")
