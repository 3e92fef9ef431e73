"""Read-only views of the EHR side for superusers: the registered clients (key ids and
algorithms only, never key material), and every hook call, card and feedback. Clients are
registered and removed with `manage.py cds_client`, which checks their keys."""

from django.contrib import admin

from interop.models import CdsClient, HookCall, HookCard, HookFeedback
from patients.admin import ReadOnlyAdmin


@admin.register(CdsClient)
class CdsClientAdmin(ReadOnlyAdmin[CdsClient]):
    list_display = ["name", "iss", "key_summary", "mrn_system", "active", "created_at"]
    list_filter = ["active"]
    fields = ["name", "iss", "key_summary", "mrn_system", "user", "active", "created_at"]
    readonly_fields = ["key_summary", "created_at"]


@admin.register(HookCall)
class HookCallAdmin(ReadOnlyAdmin[HookCall]):
    patient_lookup = "patient"
    list_display = ["at", "client", "service", "ehr_user", "ehr_patient", "ehr_mrn", "patient"]
    list_filter = ["service", "client"]
    list_select_related = ["client", "patient"]
    date_hierarchy = "at"


@admin.register(HookCard)
class HookCardAdmin(ReadOnlyAdmin[HookCard]):
    patient_lookup = "call__patient"
    list_display = ["uuid", "call", "rule", "card_version"]
    list_select_related = ["call__client", "rule"]


@admin.register(HookFeedback)
class HookFeedbackAdmin(ReadOnlyAdmin[HookFeedback]):
    patient_lookup = "hook_card__call__patient"
    list_display = [
        "received_at",
        "hook_card",
        "outcome",
        "override_code",
        "stale",
        "decision",
        "dismissal",
    ]
    list_filter = ["outcome", "stale"]
    list_select_related = ["hook_card", "decision__by"]
