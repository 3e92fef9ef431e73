"""Read-only views of guidance records for superusers (the audit trail). Rules are
edited in the rule editor, where versioning and test cases are enforced."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from guidance.models import Decision, Evaluation, Recommendation, Rule


class ReadOnlyAdmin(SimpleHistoryAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Rule)
class RuleAdmin(ReadOnlyAdmin):
    list_display = ["code", "version", "status", "category", "indicator", "created_at"]
    list_filter = ["status", "category", "indicator"]
    search_fields = ["code", "title"]


@admin.register(Recommendation)
class RecommendationAdmin(ReadOnlyAdmin):
    list_display = ["uuid", "rule", "status", "still_fires", "created_at"]
    list_filter = ["status", "still_fires"]
    list_select_related = ["rule"]


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdmin):
    list_display = ["recommendation", "status", "decline_reason", "by", "at"]
    list_filter = ["status", "decline_reason"]
    list_select_related = ["recommendation__rule", "recommendation__assessment", "by"]


@admin.register(Evaluation)
class EvaluationAdmin(ReadOnlyAdmin):
    list_display = ["assessment", "evaluated_at", "rules_evaluated"]
