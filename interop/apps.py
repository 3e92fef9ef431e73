from django.apps import AppConfig


class InteropConfig(AppConfig):
    """The EHR side: a CDS Hooks 2.0 service and FHIR R4 export and import. Sits above
    guidance and patients; the screens (clinic) sit above it."""

    name = "interop"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from interop import checks  # noqa: F401  (registers the deploy checks)
