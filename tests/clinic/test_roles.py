from django.contrib.auth.models import Group

from clinic.roles import ROLE_PERMISSIONS


def test_migrate_creates_the_three_groups_with_their_exact_names(db):
    assert set(Group.objects.values_list("name", flat=True)) >= {
        "Clinicians",
        "Staff",
        "Guidance admins",
    }


def test_each_group_has_exactly_the_permissions_of_its_role(db):
    for name, perms in ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=name)
        granted = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
        assert granted == set(perms), name


def test_guidance_admins_have_no_patient_permission(db):
    group = Group.objects.get(name="Guidance admins")
    assert not group.permissions.filter(content_type__app_label="patients").exists()
