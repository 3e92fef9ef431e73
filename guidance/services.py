"""Workflows that span records and guidance, each all or nothing."""

import itertools
from collections.abc import Mapping
from datetime import date

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Case, Value, When
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from guidance import engine
from guidance.models import Adherence, Evaluation, Recommendation, Rule
from patients.models import Assessment, FollowUp, FollowUpStatus


def save_assessment(
    *, assessment: Assessment, expected_version: int | None = None, reason: str = ""
) -> Evaluation:
    """Save a new assessment, or a correction of one, then run the rules on it and
    refresh the patient's latest scores.

    A correction is saved only if nobody else saved the assessment since the clinician
    opened `expected_version` (EditConflict otherwise); the earlier version is kept in
    its history, and the new one with the clinician's `reason`.
    """
    with transaction.atomic():
        previous = assessment.previous_irls_total()
        if assessment.pk is None:
            assessment.irls_previous_total = previous
            assessment.save()
        else:
            assessment.save_edit(
                expected_version=expected_version,
                irls_previous_total=previous,
                _change_reason=reason,  # django-simple-history keeps it with the version
            )
        evaluation = evaluate_assessment(assessment=assessment)
        assessment.patient.refresh_latest_scores()
        refresh_irls_changes(assessment)
    return evaluation


def refresh_irls_changes(assessment: Assessment) -> None:
    """Bring the IRLS change at the next score (Recommendation.irls_change) of the
    patient's cards in line with their IRLS scores, after `assessment` was saved: it may
    be the next score of an earlier one, or have a next score itself. One read of the
    patient's scores, one update of the cards of those assessments."""
    scores = [
        (pk, total)
        for pk, total in Assessment.objects.filter(patient_id=assessment.patient_id)
        .order_by("assessed_at", "pk")
        .values_list("pk", "irls_total")
        if total is not None
    ]
    changes = {pk: later - total for (pk, total), (_, later) in itertools.pairwise(scores)}
    whens = [When(assessment_id=pk, then=Value(change)) for pk, change in changes.items()]
    Recommendation.objects.filter(
        assessment_id__in={assessment.pk, *(pk for pk, _ in scores)}
    ).update(irls_change=Case(*whens, default=None) if whens else None)


def refresh_every_irls_change(chunk: int = 5000) -> None:
    """refresh_irls_changes for every patient at once (the benchmark's seeding; migration
    guidance/0015 did the same for the databases of the time): the scores read once in
    order, then one update a change value (-40 to 40) and chunk of assessments."""
    by_change: dict[int, list[int]] = {}
    scores = (
        Assessment.objects.filter(irls_total__isnull=False)
        .order_by("patient_id", "assessed_at", "pk")
        .values_list("patient_id", "pk", "irls_total")
    )
    for (patient, pk, total), (next_patient, _, later) in itertools.pairwise(
        scores.iterator(chunk_size=chunk)
    ):
        if patient == next_patient and total is not None and later is not None:
            by_change.setdefault(later - total, []).append(pk)
    for change, assessments in by_change.items():
        for start in range(0, len(assessments), chunk):
            Recommendation.objects.filter(
                assessment_id__in=assessments[start : start + chunk]
            ).update(irls_change=change)


def evaluate_assessment(*, assessment: Assessment) -> Evaluation:
    """Run the active rules on a saved assessment and bring its cards in line.

    New fired rules get a card awaiting review. On a correction, undecided cards follow
    the new data: they move to the version that fires now, or go when their rule no
    longer fires. Decided cards stay, marked when their rule no longer fires.

    The cards are written together, each with its history row, so that a save runs the
    same queries however many rules there are or fire; only the cards a correction
    withdraws add a query each (their history rows), after the one delete of them all.
    """
    # No savepoint of its own: inside save_assessment, a failure here undoes the save.
    with transaction.atomic(savepoint=False):
        rules = list(Rule.objects.active())
        facts = assessment.facts()
        result = engine.evaluate(facts, rules)
        fired = {rule.code: rule for rule in result.fired}
        failed = {item.rule.code for item in result.not_evaluated}
        cards = {
            card.rule_code: card
            for card in Recommendation.objects.select_for_update().filter(assessment=assessment)
        }

        changed, gone = [], []
        for code, card in cards.items():
            if code in failed:
                continue  # no verdict this time: leave the card as it was
            if code in fired:
                before = (card.rule_id, card.because, card.still_fires)
                if not card.is_decided:
                    # Undecided cards follow the data: the version and the reason of now.
                    card.rule = fired[code]
                    card.indicator_rank = card.rule.rank
                    card.because = engine.because(card.rule.condition, facts)
                card.still_fires = True
                if (card.rule_id, card.because, card.still_fires) != before:
                    changed.append(card)
            elif card.is_decided:
                if card.still_fires:
                    card.still_fires = False
                    changed.append(card)
            else:
                gone.append(card.pk)  # never decided; its history keeps the record
        if gone:
            # One delete; django-simple-history still writes each card's history row.
            Recommendation.objects.filter(pk__in=gone).delete()
        if changed:
            bulk_update_with_history(
                changed,
                Recommendation,
                ["rule", "indicator_rank", "because", "still_fires"],
            )
        new_cards = [
            Recommendation(
                assessment=assessment,
                patient_id=assessment.patient_id,
                rule=rule,
                rule_code=code,
                indicator_rank=rule.rank,
                because=engine.because(rule.condition, facts),
            )
            for code, rule in fired.items()
            if code not in cards
        ]
        if new_cards:
            bulk_create_with_history(new_cards, Recommendation)

        evaluation = Evaluation.objects.filter(assessment=assessment).first() or Evaluation(
            assessment=assessment
        )
        evaluation.evaluated_at = timezone.now()
        evaluation.rules_evaluated = len(rules)
        # Title and indicator too, so that the notice says which advice is missing
        # (entries saved before they were stored have only code and version).
        evaluation.not_evaluated = [
            {
                "rule": item.rule.code,
                "version": item.rule.version,
                "title": item.rule.title,
                "indicator": item.rule.indicator,
                "reason": item.reason,
            }
            for item in result.not_evaluated
        ]
        evaluation.save()
    return evaluation


def record_followup(
    *,
    followup: FollowUp,
    outcome: str,
    by: User,
    expected_version: int | None,
    adherence: Mapping[Recommendation, str],
    next_due_date: date | None = None,
    next_kind: str = "",
) -> FollowUp | None:
    """Record what happened at a follow-up (its fields as a form set them on `followup`)
    with the adherence answers, and schedule the next one if a date is given. Returns the
    next follow-up. Raises EditConflict if someone else recorded or cancelled it since
    `expected_version`."""
    with transaction.atomic():
        followup.save_edit(
            expected_version=expected_version,
            status=outcome,
            recorded_by=by,
            recorded_at=timezone.now(),
        )
        if followup.status == FollowUpStatus.COMPLETED:
            for card, answer in adherence.items():
                Adherence.objects.create(followup=followup, recommendation=card, answer=answer)
        following = None
        if next_due_date:
            following = FollowUp.objects.create(
                patient=followup.patient,
                due_date=next_due_date,
                kind=next_kind or followup.kind,
                assigned_to=followup.assigned_to,
                scheduled_by=by,
                scheduled_from=followup,
            )
        followup.patient.refresh_latest_scores()
    return following


def decide_together(
    *, cards: list[Recommendation], status: str, by: User, expected: Mapping[int, int]
) -> list[Recommendation]:
    """One decision for several cards (the lifestyle advice, product.md 5.5), each still
    recorded as its own decision, all or none: a card decided by someone else since its
    version in `expected` was shown raises EditConflict and nothing is recorded."""
    with transaction.atomic():
        for card in cards:
            card.decide(status=status, by=by, expected_version=expected.get(card.pk, -1))
    return cards
