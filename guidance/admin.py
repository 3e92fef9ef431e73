"""Read-only views of guidance records for superusers (the audit trail). Rules are
edited in the rule editor, where versioning and test cases are enforced."""

from django.contrib import admin

from guidance.models import Adherence, Decision, Dismissal, Evaluation, Recommendation, Rule
from patients.admin import ReadOnlyAdmin, ReadOnlyHistoryAdmin


@admin.register(Rule)
class RuleAdmin(ReadOnlyHistoryAdmin):
    list_display = ["code", "version", "status", "category", "indicator", "created_at"]
    list_filter = ["status", "category", "indicator"]
    search_fields = ["code", "title"]


@admin.register(Recommendation)
class RecommendationAdmin(ReadOnlyHistoryAdmin):
    patient_lookup = "assessment__patient"
    list_display = ["uuid", "rule", "status", "still_fires", "created_at"]
    list_filter = ["status", "still_fires"]
    list_select_related = ["rule"]


@admin.register(Adherence)
class AdherenceAdmin(ReadOnlyHistoryAdmin):
    patient_lookup = "followup__patient"
    list_display = ["followup", "recommendation", "answer"]
    list_select_related = ["followup", "recommendation"]


# Decisions are append-only and evaluations are rewritten whole on each run: neither keeps
# a history table, so they use the admin's own history page (Django's change log).
@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdmin[Decision]):
    patient_lookup = "recommendation__assessment__patient"
    list_display = ["recommendation", "status", "decline_reason", "by", "at"]
    list_filter = ["status", "decline_reason"]
    list_select_related = ["recommendation__rule", "recommendation__assessment", "by"]


@admin.register(Dismissal)
class DismissalAdmin(ReadOnlyAdmin[Dismissal]):
    patient_lookup = "recommendation__assessment__patient"
    list_display = ["recommendation", "where", "at"]
    list_select_related = ["recommendation__rule", "recommendation__assessment"]


@admin.register(Evaluation)
class EvaluationAdmin(ReadOnlyAdmin[Evaluation]):
    patient_lookup = "assessment__patient"
    list_display = ["assessment", "evaluated_at", "rules_evaluated"]
    list_select_related = ["assessment"]
