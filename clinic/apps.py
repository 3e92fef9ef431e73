from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ClinicConfig(AppConfig):
    name = "clinic"
    verbose_name = "Clinic"

    def ready(self) -> None:
        # Registers the lookup, connects the receivers, registers the wording's check.
        from clinic import licensed_irls, lookups, signals  # noqa: F401
        from clinic.roles import sync_role_groups

        post_migrate.connect(sync_role_groups, dispatch_uid="clinic.sync_role_groups")
