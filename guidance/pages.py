"""What the assessment page shows of guidance: cards by indicator, and rules that failed."""

from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch

from guidance.forms import DecisionForm
from guidance.models import Decision, DeclineReason, Indicator, Recommendation
from patients.models import Assessment


@dataclass(frozen=True)
class CardView:
    card: Recommendation
    form: DecisionForm | None  # only for a card whose decision just failed validation


def guidance_for_page(assessment: Assessment, failed_decision: tuple[int, Any] | None) -> dict:
    cards = list(
        Recommendation.objects.filter(assessment=assessment)
        .for_assessment_page()
        .prefetch_related(Prefetch("decisions", queryset=Decision.objects.select_related("by")))
    )
    failed_id, failed_form = failed_decision or (None, None)
    items = [CardView(card, failed_form if card.pk == failed_id else None) for card in cards]
    groups = [
        {
            "indicator": indicator,
            "cards": [item for item in items if item.card.rule.indicator == indicator],
        }
        for indicator in Indicator
    ]
    evaluation = getattr(assessment, "evaluation", None)
    return {
        "groups": [group for group in groups if group["cards"]],
        "count": len(cards),
        "not_evaluated": evaluation.not_evaluated if evaluation else [],
        "evaluated": evaluation is not None,
        "decline_reasons": [("", "Choose a reason"), *DeclineReason.choices],
    }
