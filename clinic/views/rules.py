"""The rule editor, for guidance admins. It shows rules and counts, never a patient."""

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from clinic.forms.case_rows import FACT_HINTS, VALUE_WORDS
from clinic.forms.rules import CompareForm, RetireForm, RuleForm
from clinic.pages.rules import (
    compare_rules,
    default_counterpart,
    rule_codes,
    rule_conflict,
    rule_versions,
)
from clinic.requests import AuthenticatedRequest
from guidance import jobs, tasks
from guidance.engine import ConditionError
from guidance.models import Job, JobKind, Rule, RuleNotReady, RuleStatus
from guidance.preview import Preview

# The submit button that adds blank test-case rows instead of saving (no JavaScript needed).
MORE_ROWS_BUTTON = "more_rows"


@permission_required("guidance.view_rule", raise_exception=True)
def rule_list(request: AuthenticatedRequest) -> HttpResponse:
    rules = Rule.objects.order_by("code", "-version")
    return render(request, "guidance/rule_list.html", {"codes": rule_codes(rules)})


@permission_required("guidance.view_rule", raise_exception=True)
def rule_detail(request: AuthenticatedRequest, code: str, version: int) -> HttpResponse:
    rule = get_object_or_404(
        Rule.objects.select_related("created_by", "activated_by"), code=code, version=version
    )
    versions = list(Rule.objects.of(code).select_related("created_by"))
    try:
        cases = rule.run_cases()
    except ConditionError as error:  # a rule saved before a fact changed, say
        cases = []
        messages.error(request, f"This version's condition no longer compiles: {error}")
    active = next((v for v in versions if v.is_active), None)
    job = preview_job(rule, request.GET.get("preview"))
    return render(
        request,
        "guidance/rule_detail.html",
        {
            "rule": rule,
            "versions": rule_versions(versions),
            "cases": cases,
            "cases_pass": bool(cases) and all(case.passed for case in cases),
            "active": active,
            **job_context(job),
        },
    )


def preview_job(rule: Rule, uuid: str | None) -> Job | None:
    """The preview job named in the address, if it is one of this version's."""
    try:
        return Job.objects.get(uuid=uuid, kind=JobKind.PREVIEW, rule=rule) if uuid else None
    except (Job.DoesNotExist, ValidationError):
        return None


def job_context(job: Job | None) -> dict[str, Any]:
    """What the job template needs: the job and, when a preview is done, its counts."""
    preview = None
    if job is not None and job.kind == JobKind.PREVIEW and job.result is not None:
        preview = Preview.from_json(job.result["preview"])
    return {"job": job, "preview": preview}


@permission_required("guidance.view_rule", raise_exception=True)
def job_status(request: AuthenticatedRequest, uuid: UUID) -> HttpResponse:
    """A background job's progress, then its result: polled by the page that started it."""
    job = get_object_or_404(Job.objects.select_related("rule"), uuid=uuid)
    template = "guidance/job.html#job" if request.htmx else "guidance/job.html"
    return render(request, template, job_context(job))


@permission_required("guidance.view_rule", raise_exception=True)
@require_POST
def rule_preview(request: AuthenticatedRequest, code: str, version: int) -> HttpResponse:
    """Count, in the background, how this version would have fired on every assessment."""
    rule = get_object_or_404(Rule, code=code, version=version)
    job = jobs.start(tasks.preview, JobKind.PREVIEW, request.user, rule=rule)
    return redirect(f"{rule.get_absolute_url()}?preview={job.uuid}#preview-heading")


@permission_required("guidance.add_rule", raise_exception=True)
@require_http_methods(["GET", "POST"])
def rule_create(request: AuthenticatedRequest) -> HttpResponse:
    form = RuleForm(request.POST if request.method == "POST" else None)
    if MORE_ROWS_BUTTON in request.POST:
        form = form.with_more_rows()
    elif request.method == "POST" and form.is_valid():
        rule = form.save(commit=False)
        rule.owner = rule.owner or owner_name(request)
        try:
            rule.save_as_new_version(by=request.user)
        except IntegrityError:
            form.add_error("code", "A rule with this code was just created by someone else.")
        else:
            messages.success(
                request, f"{rule} saved as a draft. Run its test cases, then activate it."
            )
            return redirect(rule)
    return form_page(request, form)


@permission_required("guidance.change_rule", raise_exception=True)
@require_http_methods(["GET", "POST"])
def rule_edit(request: AuthenticatedRequest, code: str, version: int) -> HttpResponse:
    """Edit a version: saving makes a new draft version; the one edited stays as it was."""
    base = get_object_or_404(Rule, code=code, version=version)
    newest = Rule.objects.of(base.code).first()
    assert newest is not None
    initial = {name: getattr(base, name) for name in RuleForm.Meta.fields if name != "change_note"}
    initial["latest_seen"] = newest.version
    form = RuleForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        instance=Rule(code=base.code),
        code_fixed=True,
    )
    if MORE_ROWS_BUTTON in request.POST:
        form = form.with_more_rows()
    elif request.method == "POST" and form.is_valid():
        rule = form.save(commit=False)
        seen = form.cleaned_data.get("latest_seen")
        if newest.version > (seen if seen is not None else base.version):
            # A version was saved since the editor opened this one: show what it changed,
            # merged with theirs, and save nothing yet.
            conflict = rule_conflict(base, newest, rule)
            merged = RuleForm(
                initial={**conflict.merged, "code": base.code, "latest_seen": newest.version},
                instance=Rule(code=base.code),
                code_fixed=True,
            )
            merged.initial["change_note"] = form.cleaned_data.get("change_note", "")
            # Saved again, it is a version made from the newest one, with both changes.
            action = reverse("guidance:rule_edit", args=[newest.code, newest.version])
            return form_page(request, merged, base, conflict=conflict, newest=newest, action=action)
        rule.based_on = base
        rule.owner = rule.owner or owner_name(request)
        try:
            rule.save_as_new_version(by=request.user)
        except IntegrityError:
            form.add_error(None, "Someone saved another version at the same moment; save again.")
        else:
            messages.success(request, f"Saved as {rule}, a draft. {base} is unchanged.")
            return redirect(rule)
    return form_page(request, form, base, newer=newest if newest.version > base.version else None)


@permission_required("guidance.view_rule", raise_exception=True)
def rule_compare(request: AuthenticatedRequest, code: str) -> HttpResponse:
    """Two versions of a rule side by side, any two: by default the one asked for (else the
    newest) against the active version, or else the one before it."""
    versions = list(Rule.objects.of(code).select_related("created_by", "activated_by"))
    if not versions:
        raise Http404("No such rule.")
    form = CompareForm(request.GET or None, versions=versions)
    right = form.chosen("version") or versions[0]
    left = form.chosen("against") or default_counterpart(right, versions)
    if not form.errors:  # show the versions compared, defaults included, as chosen
        initial = {"version": right.version, "against": left.version if left else None}
        form = CompareForm(versions=versions, initial=initial)
    fields = compare_rules(left, right) if left else []
    return render(
        request,
        "guidance/rule_compare.html",
        {
            "code": versions[0].code,
            "form": form,
            "left": left,
            "right": right,
            "versions": [left, right],
            "fields": fields,
            "changes": [field.label for field in fields if field.changed],
        },
    )


def owner_name(request: AuthenticatedRequest) -> str:
    """A version saved without an owner is owned by whoever saved it."""
    return request.user.get_full_name() or request.user.get_username()


def form_page(
    request: AuthenticatedRequest,
    form: RuleForm,
    base: Rule | None = None,
    **context: Any,
) -> HttpResponse:
    return render(
        request,
        "guidance/rule_form.html",
        {
            **context,
            "form": form,
            "base": base,
            "facts": FACT_HINTS,
            "hints": {fact.name: hint for fact, hint in FACT_HINTS},
            "value_words": VALUE_WORDS,
        },
    )


@permission_required("guidance.change_rule", raise_exception=True)
@require_POST
def rule_activate(request: AuthenticatedRequest, code: str, version: int) -> HttpResponse:
    rule = get_object_or_404(Rule.objects.select_related("based_on"), code=code, version=version)
    newer = rule.newer_than_base()
    if newer is not None and not request.POST.get("confirmed"):
        # Made from an older version than one saved since: activating it would undo what
        # that one changed. Show the three-way difference first.
        assert rule.based_on is not None
        conflict = rule_conflict(rule.based_on, newer, rule)
        return render(
            request,
            "guidance/rule_activate_confirm.html",
            {"rule": rule, "newer": newer, "conflict": conflict},
        )
    try:
        retired = rule.activate(by=request.user)
    except RuleNotReady as problem:
        messages.error(request, f"{rule} was not activated: {problem}")
    else:
        was = (
            f"{', '.join(str(old) for old in retired)} retired."
            if retired
            else "No version was active before."
        )
        messages.success(request, f"{rule} is now active, for new assessments. {was}")
    return redirect(rule)


@permission_required("guidance.change_rule", raise_exception=True)
@require_http_methods(["GET", "POST"])
def rule_retire(request: AuthenticatedRequest, code: str, version: int) -> HttpResponse:
    """Retire a version, with a reason, after a confirmation page that says what it means
    (a critical rule's retirement says so)."""
    rule = get_object_or_404(Rule, code=code, version=version)
    if rule.status == RuleStatus.RETIRED:
        messages.info(request, f"{rule} is already retired.")
        return redirect(rule)
    form = RetireForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        rule.retire(reason=form.cleaned_data["reason"])
        messages.success(
            request, f"{rule} is retired: it no longer runs on new assessments. Cards it made stay."
        )
        return redirect(rule)
    return render(request, "guidance/rule_retire.html", {"rule": rule, "form": form})
