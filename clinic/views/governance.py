"""The governance page: what each rule version did over a period, for guidance admins.
Figures are worked out in the background (clinic.tasks.governance) and protected
(clinic.pages.governance); no patient is named or counted exactly on the page or in its
CSV."""

import csv
from typing import Any
from uuid import UUID

from django.contrib.auth.decorators import permission_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from clinic import tasks
from clinic.forms.governance import PeriodForm
from clinic.pages.governance import DEFINITIONS
from clinic.requests import AuthenticatedRequest
from guidance import jobs
from guidance.disclosure import FEWER_THAN_SMALLEST
from guidance.models import Job, JobKind

RECENT_JOBS = 5


@permission_required("guidance.view_rule", raise_exception=True)
@require_http_methods(["GET", "POST"])
def governance(request: AuthenticatedRequest) -> HttpResponse:
    form = PeriodForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        period = {key: form.cleaned_data[key].isoformat() for key in ("since", "until")}
        job = jobs.start(tasks.governance, JobKind.GOVERNANCE, request.user, parameters=period)
        return redirect("guidance:governance_job", job.uuid)
    return page(request, form, None)


@permission_required("guidance.view_rule", raise_exception=True)
def governance_job(request: AuthenticatedRequest, uuid: UUID) -> HttpResponse:
    job = get_object_or_404(Job, uuid=uuid, kind=JobKind.GOVERNANCE)
    initial = {"period": "dates", **job.parameters}
    return page(request, PeriodForm(initial=initial), job)


def page(request: AuthenticatedRequest, form: PeriodForm, job: Job | None) -> HttpResponse:
    recent = Job.objects.filter(kind=JobKind.GOVERNANCE, finished_at__isnull=False, error="")
    return render(
        request,
        "guidance/governance.html",
        {
            "form": form,
            "job": job,
            "recent": recent.select_related("requested_by")[:RECENT_JOBS],
            "definitions": DEFINITIONS,
        },
    )


@permission_required("guidance.view_rule", raise_exception=True)
def governance_csv(request: AuthenticatedRequest, uuid: UUID) -> HttpResponse:
    """The same figures as the page, one row a rule version."""
    job = get_object_or_404(
        Job, uuid=uuid, kind=JobKind.GOVERNANCE, finished_at__isnull=False, error=""
    )
    result = job.result or {}
    filename = f"rule-governance-{result['since']}-to-{result['until']}.csv"
    response = HttpResponse(
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
    writer = csv.writer(response)
    rows = [csv_row(row) for row in result["rows"]]
    columns = list(dict.fromkeys(column for row in rows for column in row))
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell(row.get(column)) for column in columns])
    return response


def csv_row(row: dict[str, Any]) -> dict[str, Any]:
    """A page row, flat. Counts under 5 are "fewer than 5", as on the page."""
    flat = {
        "rule": row["rule"],
        "version": row["version"],
        "status": row["status"],
        "indicator": row["indicator"],
        "owner": row["owner"],
        "review_by": row["review_by"],
        "review_overdue": "yes" if row["review_overdue"] else "no",
        **{name: hidden(count) for name, count in row["counts"].items()},
        "firing_rate": row["firing_rate"],
        "acceptance_rate": row["acceptance_rate"],
        "decline_rate": row["decline_rate"],
        "comment_share": row["comment_share"],
        "time_to_decision_median": row["time_median"],
        "time_to_decision_p90": row["time_p90"],
        "oldest_pending_days": row["oldest_pending_days"],
    }
    flat |= {f"declined: {reason}": hidden(n) for reason, (n, _) in row["reasons"].items()}
    flat |= {f"EHR override: {code}": hidden(n) for code, n in row["override_codes"].items()}
    flat |= {f"adherence: {answer}": hidden(n) for answer, n in row["adherence"].items()}
    for status, change in row["irls_change"].items():
        flat[f"IRLS change, {status.lower()}: n"] = hidden(change["n"])
        flat[f"IRLS change, {status.lower()}: mean"] = change["mean"]
    return flat


def hidden(count: int | None) -> int | str:
    return FEWER_THAN_SMALLEST if count is None else count


def cell(value: Any) -> Any:
    """A CSV cell: empty for a figure not shown, and text that a spreadsheet would run as a
    formula (=, +, -, @ first) made plain text."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
