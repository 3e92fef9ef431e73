from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from clinic.requests import AuthenticatedRequest
from guidance.engine import ConditionError, run_cases
from guidance.forms import DecisionForm, RuleForm
from guidance.models import Recommendation, Rule, RuleStatus, StaleDecision
from guidance.preview import preview_counts
from patients.facts import FACTS
from patients.views import render_assessment

RULE_FIELDS = RuleForm.Meta.fields


@permission_required("guidance.decide_recommendation", raise_exception=True)
@require_POST
def card_decide(request: AuthenticatedRequest, uuid: UUID) -> HttpResponse:
    card = get_object_or_404(
        Recommendation.objects.select_related("assessment__patient", "rule"), uuid=uuid
    )
    form = DecisionForm(request.POST)
    if not form.is_valid():
        return render_assessment(request, card.assessment, failed_decision=(card.pk, form))
    try:
        decision = card.decide(
            status=form.cleaned_data["status"],
            reason=form.cleaned_data["reason"],
            comment=form.cleaned_data["comment"],
            by=request.user,
            expected_version=form.cleaned_data["expected_version"],
        )
    except StaleDecision:
        messages.error(
            request,
            f"“{card.rule.title}” was decided by someone else while you were reading. "
            "Their decision is shown below; yours was not recorded.",
        )
    else:
        messages.success(request, f"{decision.get_status_display()}: {card.rule.title}")
    return redirect(f"{card.assessment.get_absolute_url()}#card-{card.uuid}")


# The rule editor, for guidance admins. It shows rules and counts, never a patient.


@permission_required("guidance.view_rule", raise_exception=True)
def rule_list(request: AuthenticatedRequest) -> HttpResponse:
    rules = Rule.objects.order_by("code", "-version")
    codes: dict[str, dict] = {}
    for rule in rules:
        entry = codes.setdefault(rule.code, {"latest": rule, "active": None, "versions": 0})
        entry["versions"] += 1
        if rule.is_active:
            entry["active"] = rule
    return render(request, "guidance/rule_list.html", {"codes": list(codes.values())})


@permission_required("guidance.view_rule", raise_exception=True)
def rule_detail(request: AuthenticatedRequest, code: str, version: int) -> HttpResponse:
    rule = get_object_or_404(
        Rule.objects.select_related("created_by", "activated_by"), code=code, version=version
    )
    versions = list(Rule.objects.of(code).select_related("created_by"))
    try:
        cases = run_cases(rule.condition, rule.test_cases)
    except ConditionError as error:  # a rule saved before a fact changed, say
        cases = []
        messages.error(request, f"This version's condition no longer compiles: {error}")
    preview = None
    if request.GET.get("preview"):
        active = next((v for v in versions if v.is_active), None)
        preview = preview_counts(rule, active)
    return render(
        request,
        "guidance/rule_detail.html",
        {
            "rule": rule,
            "versions": [
                {"rule": v, "changes": changed_fields(v, older)}
                for v, older in zip(versions, [*versions[1:], None], strict=True)
            ],
            "cases": cases,
            "cases_pass": bool(cases) and all(case.passed for case in cases),
            "preview": preview,
        },
    )


def changed_fields(newer: Rule, older: Rule | None) -> list[str]:
    if older is None:
        return []
    return [
        str(getattr(Rule._meta.get_field(name), "verbose_name", name))
        for name in RULE_FIELDS
        if name not in ("code", "change_note") and getattr(newer, name) != getattr(older, name)
    ]


@permission_required("guidance.add_rule", raise_exception=True)
@require_http_methods(["GET", "POST"])
def rule_create(request: AuthenticatedRequest) -> HttpResponse:
    form = RuleForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        rule = form.save(commit=False)
        rule.version = 1
        rule.created_by = request.user
        try:
            rule.save()
        except IntegrityError:
            form.add_error("code", "A rule with this code was just created by someone else.")
        else:
            messages.success(
                request, f"{rule} saved as a draft. Run its test cases, then activate it."
            )
            return redirect(rule)
    return render(request, "guidance/rule_form.html", {"form": form, "facts": FACTS})


@permission_required("guidance.change_rule", raise_exception=True)
@require_http_methods(["GET", "POST"])
def rule_edit(request: AuthenticatedRequest, code: str, version: int) -> HttpResponse:
    """Edit a version: saving makes a new draft version; the one edited stays as it was."""
    base = get_object_or_404(Rule, code=code, version=version)
    initial = {name: getattr(base, name) for name in RULE_FIELDS if name != "change_note"}
    form = RuleForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        instance=Rule(code=base.code),
        code_fixed=True,
    )
    if request.method == "POST" and form.is_valid():
        rule = form.save(commit=False)
        try:
            with transaction.atomic():
                latest = Rule.objects.filter(code=code).aggregate(n=Max("version"))["n"] or 0
                rule.version = latest + 1
                rule.status = RuleStatus.DRAFT
                rule.created_by = request.user
                rule.save()
        except IntegrityError:
            form.add_error(None, "Someone saved another version at the same moment; save again.")
        else:
            messages.success(request, f"Saved as {rule}, a draft. {base} is unchanged.")
            return redirect(rule)
    return render(request, "guidance/rule_form.html", {"form": form, "base": base, "facts": FACTS})


@permission_required("guidance.change_rule", raise_exception=True)
@require_POST
def rule_activate(request: AuthenticatedRequest, code: str, version: int) -> HttpResponse:
    rule = get_object_or_404(Rule, code=code, version=version)
    try:
        cases = run_cases(rule.condition, rule.test_cases)
    except ConditionError as error:
        messages.error(request, f"Not activated: the condition does not compile. {error}")
        return redirect(rule)
    if not cases:
        messages.error(request, "Not activated: add at least one test case first.")
    elif not all(case.passed for case in cases):
        failing = ", ".join(case.name for case in cases if not case.passed)
        messages.error(request, f"Not activated: test cases failing: {failing}.")
    else:
        rule.activate(by=request.user)
        messages.success(request, f"{rule} is now active; the previous version is retired.")
    return redirect(rule)


@permission_required("guidance.change_rule", raise_exception=True)
@require_POST
def rule_retire(request: AuthenticatedRequest, code: str, version: int) -> HttpResponse:
    rule = get_object_or_404(Rule, code=code, version=version)
    if rule.status != RuleStatus.RETIRED:
        rule.retire()
        messages.success(request, f"{rule} is retired: it no longer runs on new assessments.")
    return redirect(rule)
