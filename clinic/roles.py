"""The three roles of product.md section 1, as Django groups with exact names.

Views check permissions, never group names, so a role's reach is defined here and only
here. The groups are brought in line with this table after every `migrate` (and after a
test database flush), so a permission added to a role with a new model takes effect on
the next deploy without a hand-written data migration.
"""

from typing import Any

CLINICIANS = "Clinicians"
STAFF = "Staff"
GUIDANCE_ADMINS = "Guidance admins"
# Not a group: the word DJANGO_2FA_REQUIRED_ROLES uses for superusers.
SUPERUSER = "superuser"

PATIENT_RECORDS = [
    "patients.view_patient",
    "patients.add_patient",
    "patients.change_patient",
    "patients.archive_patient",
    "patients.view_followup",
    "patients.add_followup",
    "patients.change_followup",
    # Questionnaires patients answer at home (patients.invitations).
    "patients.view_invitation",
    "patients.add_invitation",
    "patients.change_invitation",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    CLINICIANS: [
        *PATIENT_RECORDS,
        "patients.view_assessment",
        "patients.add_assessment",
        "patients.change_assessment",
        "guidance.decide_recommendation",
    ],
    STAFF: [*PATIENT_RECORDS, "patients.view_assessment"],
    GUIDANCE_ADMINS: ["guidance.view_rule", "guidance.add_rule", "guidance.change_rule"],
}


def sync_role_groups(using: str = "default", **kwargs: Any) -> None:
    """Create the role groups and give each exactly the permissions listed above."""
    from django.contrib.auth.models import Group, Permission

    for name, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.using(using).get_or_create(name=name)
        wanted = Permission.objects.none()
        for perm in perms:
            app_label, codename = perm.split(".")
            wanted |= Permission.objects.using(using).filter(
                content_type__app_label=app_label, codename=codename
            )
        group.permissions.set(wanted)
