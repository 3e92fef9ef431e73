"""Workflows over several patient records."""

from datetime import datetime, time
from typing import Any

from django.db import transaction
from django.utils import timezone

from patients.models import Assessment, FollowUp, FollowUpStatus, Patient


def refresh_latest_scores(patient: Patient) -> None:
    """Store the patient's latest IRLS and COWS totals, from assessments and completed
    follow-up re-scores alike (a follow-up counts at the end of its day)."""
    latest: dict[str, Any] = {}
    for code in ("irls", "cows"):
        field = f"{code}_total"
        measured: list[tuple[datetime, int]] = []
        assessment = (
            Assessment.objects.filter(patient=patient, **{f"{field}__isnull": False})
            .order_by("-assessed_at")
            .first()
        )
        if assessment:
            measured.append((assessment.assessed_at, getattr(assessment, field)))
        followup = (
            FollowUp.objects.filter(
                patient=patient, status=FollowUpStatus.COMPLETED, **{f"{field}__isnull": False}
            )
            .order_by("-happened_on")
            .first()
        )
        if followup and followup.happened_on:
            end_of_day = timezone.make_aware(datetime.combine(followup.happened_on, time.max))
            measured.append((end_of_day, getattr(followup, field)))
        latest[f"latest_{field}"] = max(measured)[1] if measured else None
    with transaction.atomic():
        Patient.objects.filter(pk=patient.pk).update(**latest)


def record_followup(*, followup: FollowUp, form: Any, by: Any) -> FollowUp | None:
    """Record what happened at a follow-up (from a valid FollowUpRecordForm), with the
    adherence answers, and schedule the next one if a date was given. Returns the next
    follow-up. Raises EditConflict if someone else recorded it meanwhile."""
    from guidance.models import Adherence

    data = form.cleaned_data
    with transaction.atomic():
        followup.status = data["outcome"]
        followup.recorded_by = by
        followup.recorded_at = timezone.now()
        followup.save_edit(expected_version=data["expected_version"])
        if followup.status == FollowUpStatus.COMPLETED:
            for card, answer in form.adherence_answers().items():
                Adherence.objects.create(followup=followup, recommendation=card, answer=answer)
        following = None
        if data.get("next_due_date"):
            following = FollowUp.objects.create(
                patient=followup.patient,
                due_date=data["next_due_date"],
                kind=data.get("next_kind") or followup.kind,
                assigned_to=followup.assigned_to,
                scheduled_by=by,
                scheduled_from=followup,
            )
        refresh_latest_scores(followup.patient)
    return following
